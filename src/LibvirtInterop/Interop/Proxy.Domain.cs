namespace VfioMigration.Libvirt.Interop;

// Checked calls of libvirt-domain.h.
internal static unsafe partial class Proxy
{
    /// <inheritdoc cref="NativeMethods.virConnectListAllDomains"/>
    internal static LibvirtDomainHandle[] virConnectListAllDomains(LibvirtConnectionHandle conn, uint flags)
    {
        nint array;
        var count = Check(NativeMethods.virConnectListAllDomains(conn, &array, flags), nameof(NativeMethods.virConnectListAllDomains));
        return AdoptArray<LibvirtDomainHandle>(array, count);
    }

    /// <inheritdoc cref="NativeMethods.virDomainLookupByName"/>
    internal static LibvirtDomainHandle virDomainLookupByName(LibvirtConnectionHandle conn, string name) =>
        Adopt(NativeMethods.virDomainLookupByName(conn, name), nameof(NativeMethods.virDomainLookupByName), name);

    /// <inheritdoc cref="NativeMethods.virDomainLookupByUUIDString"/>
    internal static LibvirtDomainHandle virDomainLookupByUUIDString(LibvirtConnectionHandle conn, string uuid) =>
        Adopt(NativeMethods.virDomainLookupByUUIDString(conn, uuid), nameof(NativeMethods.virDomainLookupByUUIDString), uuid);

    /// <inheritdoc cref="NativeMethods.virDomainDefineXML"/>
    internal static LibvirtDomainHandle virDomainDefineXML(LibvirtConnectionHandle conn, string xml) =>
        Adopt(NativeMethods.virDomainDefineXML(conn, xml), nameof(NativeMethods.virDomainDefineXML));

    /// <inheritdoc cref="NativeMethods.virDomainUndefine"/>
    internal static void virDomainUndefine(LibvirtDomainHandle domain) =>
        Check(NativeMethods.virDomainUndefine(domain), nameof(NativeMethods.virDomainUndefine));

    /// <inheritdoc cref="NativeMethods.virDomainCreate"/>
    internal static void virDomainCreate(LibvirtDomainHandle domain) =>
        Check(NativeMethods.virDomainCreate(domain), nameof(NativeMethods.virDomainCreate));

    /// <inheritdoc cref="NativeMethods.virDomainDestroy"/>
    internal static void virDomainDestroy(LibvirtDomainHandle domain) =>
        Check(NativeMethods.virDomainDestroy(domain), nameof(NativeMethods.virDomainDestroy));

    /// <inheritdoc cref="NativeMethods.virDomainAbortJob"/>
    internal static void virDomainAbortJob(LibvirtDomainHandle domain) =>
        Check(NativeMethods.virDomainAbortJob(domain), nameof(NativeMethods.virDomainAbortJob));

    /// <inheritdoc cref="NativeMethods.virDomainGetXMLDesc"/>
    internal static string virDomainGetXMLDesc(LibvirtDomainHandle domain, uint flags) =>
        Check(NativeMethods.virDomainGetXMLDesc(domain, flags), nameof(NativeMethods.virDomainGetXMLDesc));

    /// <summary>
    /// Calls <c>virDomainGetXMLDesc</c> and hands <paramref name="read"/> libvirt's UTF-8 text as a
    /// read-only stream over the native buffer (no managed copy), then frees the buffer.
    /// </summary>
    internal static T virDomainGetXMLDesc<T>(LibvirtDomainHandle domain, uint flags, Func<Stream, T> read) =>
        ReadOwnedText(NativeMethods.virDomainGetXMLDescUtf8(domain, flags), nameof(NativeMethods.virDomainGetXMLDesc), read);

    /// <inheritdoc cref="NativeMethods.virDomainGetName"/>
    internal static string virDomainGetName(LibvirtDomainHandle domain) =>
        Check(NativeMethods.virDomainGetName(domain), nameof(NativeMethods.virDomainGetName));

    /// <inheritdoc cref="NativeMethods.virDomainGetUUIDString"/>
    internal static string virDomainGetUUIDString(LibvirtDomainHandle domain)
    {
        var buffer = stackalloc byte[NativeMethods.UuidStringBufferLength];
        Check(NativeMethods.virDomainGetUUIDString(domain, buffer), nameof(NativeMethods.virDomainGetUUIDString));
        return System.Runtime.InteropServices.Marshal.PtrToStringUTF8((nint)buffer)!;
    }

    internal static (int State, int Reason) virDomainGetState(LibvirtDomainHandle domain)
    {
        int state, reason;
        Check(NativeMethods.virDomainGetState(domain, &state, &reason, 0), nameof(NativeMethods.virDomainGetState));
        return (state, reason);
    }

    /// <inheritdoc cref="NativeMethods.virDomainMigrateToURI3"/>
    internal static void virDomainMigrateToURI3(LibvirtDomainHandle domain, string? destinationUri, TypedParameterList parameters, uint flags) =>
        Check(
            NativeMethods.virDomainMigrateToURI3(domain, destinationUri, parameters.Parameters, (uint)parameters.Count, flags),
            nameof(NativeMethods.virDomainMigrateToURI3));

    /// <inheritdoc cref="NativeMethods.virDomainMigrate3"/>
    internal static LibvirtDomainHandle virDomainMigrate3(LibvirtDomainHandle domain, LibvirtConnectionHandle destination, TypedParameterList parameters, uint flags) =>
        Adopt(
            NativeMethods.virDomainMigrate3(domain, destination, parameters.Parameters, (uint)parameters.Count, flags),
            nameof(NativeMethods.virDomainMigrate3));
}
