namespace VfioMigration.Libvirt.Interop;

// Checked calls of libvirt-nodedev.h.
internal static unsafe partial class Proxy
{
    /// <inheritdoc cref="NativeMethods.virConnectListAllNodeDevices"/>
    internal static LibvirtNodeDeviceHandle[] virConnectListAllNodeDevices(LibvirtConnectionHandle conn, uint flags)
    {
        nint array;
        var count = Check(NativeMethods.virConnectListAllNodeDevices(conn, &array, flags), nameof(NativeMethods.virConnectListAllNodeDevices));
        return AdoptArray<LibvirtNodeDeviceHandle>(array, count);
    }

    /// <inheritdoc cref="NativeMethods.virNodeDeviceLookupByName"/>
    internal static LibvirtNodeDeviceHandle virNodeDeviceLookupByName(LibvirtConnectionHandle conn, string name) =>
        Adopt(NativeMethods.virNodeDeviceLookupByName(conn, name), nameof(NativeMethods.virNodeDeviceLookupByName), name);

    /// <inheritdoc cref="NativeMethods.virNodeDeviceGetXMLDesc"/>
    internal static string virNodeDeviceGetXMLDesc(LibvirtNodeDeviceHandle device) =>
        Check(NativeMethods.virNodeDeviceGetXMLDesc(device, 0), nameof(NativeMethods.virNodeDeviceGetXMLDesc));

    /// <summary>
    /// Calls <c>virNodeDeviceGetXMLDesc</c> and hands <paramref name="read"/> libvirt's UTF-8 text as a
    /// read-only stream over the native buffer (no managed copy), then frees the buffer.
    /// </summary>
    internal static T virNodeDeviceGetXMLDesc<T>(LibvirtNodeDeviceHandle device, Func<Stream, T> read) =>
        ReadOwnedText(NativeMethods.virNodeDeviceGetXMLDescUtf8(device, 0), nameof(NativeMethods.virNodeDeviceGetXMLDesc), read);

    /// <inheritdoc cref="NativeMethods.virNodeDeviceGetName"/>
    internal static string virNodeDeviceGetName(LibvirtNodeDeviceHandle device) =>
        Check(NativeMethods.virNodeDeviceGetName(device), nameof(NativeMethods.virNodeDeviceGetName));

    /// <inheritdoc cref="NativeMethods.virNodeDeviceGetParent"/>
    internal static string virNodeDeviceGetParent(LibvirtNodeDeviceHandle device) =>
        Check(NativeMethods.virNodeDeviceGetParent(device), nameof(NativeMethods.virNodeDeviceGetParent));

    /// <inheritdoc cref="NativeMethods.virNodeDeviceCreateXML"/>
    internal static LibvirtNodeDeviceHandle virNodeDeviceCreateXML(LibvirtConnectionHandle conn, string xml) =>
        Adopt(NativeMethods.virNodeDeviceCreateXML(conn, xml, 0), nameof(NativeMethods.virNodeDeviceCreateXML));

    /// <inheritdoc cref="NativeMethods.virNodeDeviceDefineXML"/>
    internal static LibvirtNodeDeviceHandle virNodeDeviceDefineXML(LibvirtConnectionHandle conn, string xml) =>
        Adopt(NativeMethods.virNodeDeviceDefineXML(conn, xml, 0), nameof(NativeMethods.virNodeDeviceDefineXML));

    /// <inheritdoc cref="NativeMethods.virNodeDeviceCreate"/>
    internal static void virNodeDeviceCreate(LibvirtNodeDeviceHandle device) =>
        Check(NativeMethods.virNodeDeviceCreate(device, 0), nameof(NativeMethods.virNodeDeviceCreate));

    /// <inheritdoc cref="NativeMethods.virNodeDeviceDestroy"/>
    internal static void virNodeDeviceDestroy(LibvirtNodeDeviceHandle device) =>
        Check(NativeMethods.virNodeDeviceDestroy(device), nameof(NativeMethods.virNodeDeviceDestroy));

    /// <inheritdoc cref="NativeMethods.virNodeDeviceUndefine"/>
    internal static void virNodeDeviceUndefine(LibvirtNodeDeviceHandle device) =>
        Check(NativeMethods.virNodeDeviceUndefine(device, 0), nameof(NativeMethods.virNodeDeviceUndefine));
}
