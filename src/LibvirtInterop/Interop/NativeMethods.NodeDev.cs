using System.Runtime.InteropServices;
using System.Runtime.InteropServices.Marshalling;

namespace VfioMigration.Libvirt.Interop;

// libvirt-nodedev.h: host devices (PCI functions, mdev parents, mdevs).
internal static unsafe partial class NativeMethods
{
    /// <summary><c>int virConnectListAllNodeDevices(virConnectPtr conn, virNodeDevicePtr **devices, unsigned int flags)</c></summary>
    [LibraryImport(LibraryName)]
    internal static partial int virConnectListAllNodeDevices(LibvirtConnectionHandle conn, nint* devices, uint flags);

    /// <summary><c>virNodeDevicePtr virNodeDeviceLookupByName(virConnectPtr conn, const char *name)</c></summary>
    [LibraryImport(LibraryName, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial LibvirtNodeDeviceHandle virNodeDeviceLookupByName(LibvirtConnectionHandle conn, string name);

    /// <summary><c>char *virNodeDeviceGetXMLDesc(virNodeDevicePtr dev, unsigned int flags)</c></summary>
    [LibraryImport(LibraryName)]
    [return: MarshalUsing(typeof(OwnedUtf8StringMarshaller))]
    internal static partial string? virNodeDeviceGetXMLDesc(LibvirtNodeDeviceHandle dev, uint flags);

    /// <summary><c>char *virNodeDeviceGetXMLDesc(virNodeDevicePtr dev, unsigned int flags)</c>, the text left in libvirt's buffer (the caller frees it).</summary>
    [LibraryImport(LibraryName, EntryPoint = "virNodeDeviceGetXMLDesc")]
    internal static partial byte* virNodeDeviceGetXMLDescUtf8(LibvirtNodeDeviceHandle dev, uint flags);

    /// <summary><c>const char *virNodeDeviceGetName(virNodeDevicePtr dev)</c></summary>
    [LibraryImport(LibraryName)]
    [return: MarshalUsing(typeof(BorrowedUtf8StringMarshaller))]
    internal static partial string? virNodeDeviceGetName(LibvirtNodeDeviceHandle dev);

    /// <summary><c>const char *virNodeDeviceGetParent(virNodeDevicePtr dev)</c>: NULL when the device has no parent.</summary>
    [LibraryImport(LibraryName)]
    [return: MarshalUsing(typeof(BorrowedUtf8StringMarshaller))]
    internal static partial string? virNodeDeviceGetParent(LibvirtNodeDeviceHandle dev);

    /// <summary><c>virNodeDevicePtr virNodeDeviceCreateXML(virConnectPtr conn, const char *xmlDesc, unsigned int flags)</c></summary>
    [LibraryImport(LibraryName, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial LibvirtNodeDeviceHandle virNodeDeviceCreateXML(LibvirtConnectionHandle conn, string xmlDesc, uint flags);

    /// <summary><c>virNodeDevicePtr virNodeDeviceDefineXML(virConnectPtr conn, const char *xmlDesc, unsigned int flags)</c></summary>
    [LibraryImport(LibraryName, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial LibvirtNodeDeviceHandle virNodeDeviceDefineXML(LibvirtConnectionHandle conn, string xmlDesc, uint flags);

    /// <summary><c>int virNodeDeviceCreate(virNodeDevicePtr dev, unsigned int flags)</c>: starts a defined device.</summary>
    [LibraryImport(LibraryName)]
    internal static partial int virNodeDeviceCreate(LibvirtNodeDeviceHandle dev, uint flags);

    /// <summary><c>int virNodeDeviceDestroy(virNodeDevicePtr dev)</c></summary>
    [LibraryImport(LibraryName)]
    internal static partial int virNodeDeviceDestroy(LibvirtNodeDeviceHandle dev);

    /// <summary><c>int virNodeDeviceUndefine(virNodeDevicePtr dev, unsigned int flags)</c></summary>
    [LibraryImport(LibraryName)]
    internal static partial int virNodeDeviceUndefine(LibvirtNodeDeviceHandle dev, uint flags);

    /// <summary><c>int virNodeDeviceFree(virNodeDevicePtr dev)</c></summary>
    [LibraryImport(LibraryName)]
    internal static partial int virNodeDeviceFree(nint dev);
}
