using System.Runtime.InteropServices;
using System.Runtime.InteropServices.Marshalling;

namespace VfioMigration.Libvirt.Interop;

// libvirt-domain.h: listing, lookup, description, lifecycle and migration of domains.
internal static unsafe partial class NativeMethods
{
    /// <summary><c>int virConnectListAllDomains(virConnectPtr conn, virDomainPtr **domains, unsigned int flags)</c></summary>
    [LibraryImport(LibraryName)]
    internal static partial int virConnectListAllDomains(LibvirtConnectionHandle conn, nint* domains, uint flags);

    /// <summary><c>virDomainPtr virDomainLookupByName(virConnectPtr conn, const char *name)</c></summary>
    [LibraryImport(LibraryName, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial LibvirtDomainHandle virDomainLookupByName(LibvirtConnectionHandle conn, string name);

    /// <summary><c>virDomainPtr virDomainLookupByUUIDString(virConnectPtr conn, const char *uuidstr)</c></summary>
    [LibraryImport(LibraryName, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial LibvirtDomainHandle virDomainLookupByUUIDString(LibvirtConnectionHandle conn, string uuidstr);

    /// <summary><c>virDomainPtr virDomainDefineXML(virConnectPtr conn, const char *xml)</c></summary>
    [LibraryImport(LibraryName, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial LibvirtDomainHandle virDomainDefineXML(LibvirtConnectionHandle conn, string xml);

    /// <summary><c>int virDomainUndefine(virDomainPtr domain)</c></summary>
    [LibraryImport(LibraryName)]
    internal static partial int virDomainUndefine(LibvirtDomainHandle domain);

    /// <summary><c>int virDomainCreate(virDomainPtr domain)</c>: starts a defined domain.</summary>
    [LibraryImport(LibraryName)]
    internal static partial int virDomainCreate(LibvirtDomainHandle domain);

    /// <summary><c>int virDomainDestroy(virDomainPtr domain)</c>: stops a running domain.</summary>
    [LibraryImport(LibraryName)]
    internal static partial int virDomainDestroy(LibvirtDomainHandle domain);

    /// <summary><c>int virDomainAbortJob(virDomainPtr domain)</c>: cancels the domain's running job (a migration, say).</summary>
    [LibraryImport(LibraryName)]
    internal static partial int virDomainAbortJob(LibvirtDomainHandle domain);

    /// <summary><c>int virDomainFree(virDomainPtr domain)</c></summary>
    [LibraryImport(LibraryName)]
    internal static partial int virDomainFree(nint domain);

    /// <summary><c>char *virDomainGetXMLDesc(virDomainPtr domain, unsigned int flags)</c></summary>
    [LibraryImport(LibraryName)]
    [return: MarshalUsing(typeof(OwnedUtf8StringMarshaller))]
    internal static partial string? virDomainGetXMLDesc(LibvirtDomainHandle domain, uint flags);

    /// <summary><c>char *virDomainGetXMLDesc(virDomainPtr domain, unsigned int flags)</c>, the text left in libvirt's buffer (the caller frees it).</summary>
    [LibraryImport(LibraryName, EntryPoint = "virDomainGetXMLDesc")]
    internal static partial byte* virDomainGetXMLDescUtf8(LibvirtDomainHandle domain, uint flags);

    /// <summary><c>const char *virDomainGetName(virDomainPtr domain)</c></summary>
    [LibraryImport(LibraryName)]
    [return: MarshalUsing(typeof(BorrowedUtf8StringMarshaller))]
    internal static partial string? virDomainGetName(LibvirtDomainHandle domain);

    /// <summary><c>int virDomainGetUUIDString(virDomainPtr domain, char *buf)</c>; <c>buf</c> holds VIR_UUID_STRING_BUFLEN (37) bytes.</summary>
    [LibraryImport(LibraryName)]
    internal static partial int virDomainGetUUIDString(LibvirtDomainHandle domain, byte* buf);

    /// <summary><c>int virDomainGetState(virDomainPtr domain, int *state, int *reason, unsigned int flags)</c></summary>
    [LibraryImport(LibraryName)]
    internal static partial int virDomainGetState(LibvirtDomainHandle domain, int* state, int* reason, uint flags);

    /// <summary>
    /// <c>int virDomainMigrateToURI3(virDomainPtr domain, const char *dconnuri,
    /// virTypedParameterPtr params, unsigned int nparams, unsigned int flags)</c>
    /// </summary>
    [LibraryImport(LibraryName, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int virDomainMigrateToURI3(LibvirtDomainHandle domain, string? dconnuri, nint @params, uint nparams, uint flags);

    /// <summary>
    /// <c>virDomainPtr virDomainMigrate3(virDomainPtr domain, virConnectPtr dconn,
    /// virTypedParameterPtr params, unsigned int nparams, unsigned int flags)</c>
    /// </summary>
    [LibraryImport(LibraryName)]
    internal static partial LibvirtDomainHandle virDomainMigrate3(LibvirtDomainHandle domain, LibvirtConnectionHandle dconn, nint @params, uint nparams, uint flags);

    /// <summary><c>VIR_UUID_STRING_BUFLEN</c>: 36 characters and the terminating NUL.</summary>
    internal const int UuidStringBufferLength = 37;
}
