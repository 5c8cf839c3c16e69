using System.Runtime.InteropServices;
using System.Runtime.InteropServices.Marshalling;

namespace VfioMigration.Libvirt.Interop;

// libvirt-host.h: library initialisation, connections, versions.
internal static unsafe partial class NativeMethods
{
    /// <summary><c>int virInitialize(void)</c></summary>
    [LibraryImport(LibraryName)]
    internal static partial int virInitialize();

    /// <summary><c>virConnectPtr virConnectOpen(const char *name)</c></summary>
    [LibraryImport(LibraryName, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial LibvirtConnectionHandle virConnectOpen(string? name);

    /// <summary><c>virConnectPtr virConnectOpenReadOnly(const char *name)</c></summary>
    [LibraryImport(LibraryName, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial LibvirtConnectionHandle virConnectOpenReadOnly(string? name);

    /// <summary><c>virConnectPtr virConnectOpenAuth(const char *name, virConnectAuthPtr auth, unsigned int flags)</c></summary>
    [LibraryImport(LibraryName, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial LibvirtConnectionHandle virConnectOpenAuth(string? name, VirConnectAuth* auth, uint flags);

    /// <summary><c>int virConnectClose(virConnectPtr conn)</c>: returns the remaining reference count, or -1.</summary>
    [LibraryImport(LibraryName)]
    internal static partial int virConnectClose(nint conn);

    /// <summary><c>int virGetVersion(unsigned long *libVer, const char *type, unsigned long *typeVer)</c></summary>
    [LibraryImport(LibraryName, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int virGetVersion(CULong* libVer, string? type, CULong* typeVer);

    /// <summary><c>int virConnectGetLibVersion(virConnectPtr conn, unsigned long *libVer)</c></summary>
    [LibraryImport(LibraryName)]
    internal static partial int virConnectGetLibVersion(LibvirtConnectionHandle conn, CULong* libVer);

    /// <summary><c>int virConnectGetVersion(virConnectPtr conn, unsigned long *hvVer)</c>: the hypervisor's version (QEMU's for the qemu driver).</summary>
    [LibraryImport(LibraryName)]
    internal static partial int virConnectGetVersion(LibvirtConnectionHandle conn, CULong* hvVer);

    /// <summary><c>const char *virConnectGetType(virConnectPtr conn)</c>: the driver's name (<c>QEMU</c>, <c>Test</c>); not to be freed.</summary>
    [LibraryImport(LibraryName)]
    [return: MarshalUsing(typeof(BorrowedUtf8StringMarshaller))]
    internal static partial string? virConnectGetType(LibvirtConnectionHandle conn);

    /// <summary><c>char *virConnectGetHostname(virConnectPtr conn)</c></summary>
    [LibraryImport(LibraryName)]
    [return: MarshalUsing(typeof(OwnedUtf8StringMarshaller))]
    internal static partial string? virConnectGetHostname(LibvirtConnectionHandle conn);

    /// <summary><c>char *virConnectGetURI(virConnectPtr conn)</c></summary>
    [LibraryImport(LibraryName)]
    [return: MarshalUsing(typeof(OwnedUtf8StringMarshaller))]
    internal static partial string? virConnectGetURI(LibvirtConnectionHandle conn);

    /// <summary><c>int virConnectIsAlive(virConnectPtr conn)</c>: 1 alive, 0 dead, -1 error.</summary>
    [LibraryImport(LibraryName)]
    internal static partial int virConnectIsAlive(LibvirtConnectionHandle conn);
}

/// <summary><c>virConnectFlags</c></summary>
[Flags]
internal enum VirConnectFlags : uint
{
    /// <summary>Read-write.</summary>
    None = 0,

    /// <summary><c>VIR_CONNECT_RO</c></summary>
    ReadOnly = 1 << 0,
}

/// <summary>
/// <c>struct _virConnectCredential { int type; const char *prompt; const char *challenge;
/// const char *defresult; char *result; unsigned int resultlen; }</c>. <c>result</c> must be
/// allocated with <c>malloc</c>: libvirt frees it.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct VirConnectCredential
{
    public int Type;
    public byte* Prompt;
    public byte* Challenge;
    public byte* DefaultResult;
    public byte* Result;
    public uint ResultLength;
}

/// <summary>
/// <c>struct _virConnectAuth { int *credtype; unsigned int ncredtype;
/// virConnectAuthCallbackPtr cb; void *cbdata; }</c>, with
/// <c>int (*virConnectAuthCallbackPtr)(virConnectCredentialPtr cred, unsigned int ncred, void *cbdata)</c>.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct VirConnectAuth
{
    public int* CredentialTypes;
    public uint CredentialTypeCount;
    public delegate* unmanaged[Cdecl]<VirConnectCredential*, uint, void*, int> Callback;
    public void* CallbackData;
}
