using System.Runtime.InteropServices;

namespace VfioMigration.Libvirt.Interop;

// virterror.h: the thread-local last error and the global error handler.
internal static unsafe partial class NativeMethods
{
    /// <summary><c>virErrorPtr virGetLastError(void)</c>: this thread's last error, owned by libvirt; NULL when none.</summary>
    [LibraryImport(LibraryName)]
    internal static partial VirError* virGetLastError();

    /// <summary><c>void virResetLastError(void)</c></summary>
    [LibraryImport(LibraryName)]
    internal static partial void virResetLastError();

    /// <summary><c>void virSetErrorFunc(void *userData, virErrorFunc handler)</c>, with <c>void (*virErrorFunc)(void *userData, virErrorPtr error)</c>.</summary>
    [LibraryImport(LibraryName)]
    internal static partial void virSetErrorFunc(void* userData, delegate* unmanaged[Cdecl]<void*, VirError*, void> handler);
}

/// <summary>
/// <c>struct _virError { int code; int domain; char *message; virErrorLevel level;
/// virConnectPtr conn; virDomainPtr dom; char *str1; char *str2; char *str3; int int1; int int2;
/// virNetworkPtr net; }</c> (80 bytes on LP64). The strings belong to libvirt.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct VirError
{
    public int Code;
    public int Domain;
    public byte* Message;
    public int Level;
    public nint Connection;
    public nint DomainObject;
    public byte* Str1;
    public byte* Str2;
    public byte* Str3;
    public int Int1;
    public int Int2;
    public nint Network;
}
