using VfioMigration.Libvirt.Interop;

namespace VfioMigration.Libvirt;

/// <summary>A host device known to libvirt (<c>virNodeDevicePtr</c>): a PCI function, an mdev parent, an mdev. Dispose it to release the reference.</summary>
public sealed class LibvirtNodeDevice : IDisposable
{
    private readonly LibvirtNodeDeviceHandle handle;

    internal LibvirtNodeDevice(LibvirtNodeDeviceHandle handle) => this.handle = handle;

    /// <summary>The device's libvirt name (<c>virNodeDeviceGetName</c>), e.g. <c>pci_0000_00_02_0</c> or <c>mdev_&lt;uuid&gt;_0000_00_02_0</c>.</summary>
    public string Name => Proxy.virNodeDeviceGetName(handle);

    /// <summary>The parent device's name (<c>virNodeDeviceGetParent</c>), e.g. the PCI function of an mdev.</summary>
    /// <exception cref="LibvirtException">The device has no parent (the root <c>computer</c> device), reported by libvirt as an error.</exception>
    public string ParentName => Proxy.virNodeDeviceGetParent(handle);

    /// <summary>The device's XML (<c>virNodeDeviceGetXMLDesc</c>).</summary>
    public string GetXmlDescription() => Proxy.virNodeDeviceGetXMLDesc(handle);

    /// <summary>
    /// Reads the device's XML (<c>virNodeDeviceGetXMLDesc</c>) without copying it into a managed string:
    /// <paramref name="read"/> gets libvirt's UTF-8 text as a read-only, seekable stream over libvirt's
    /// own buffer, which is freed when <paramref name="read"/> returns (the stream must not outlive it).
    /// </summary>
    /// <typeparam name="T">What <paramref name="read"/> makes of the text.</typeparam>
    /// <param name="read">Reads the stream; called once, on the calling thread.</param>
    /// <returns>What <paramref name="read"/> returned.</returns>
    public T ReadXmlDescription<T>(Func<Stream, T> read)
    {
        ArgumentNullException.ThrowIfNull(read);
        return Proxy.virNodeDeviceGetXMLDesc(handle, read);
    }

    /// <summary>Starts a defined device, e.g. creates a persistent mdev (<c>virNodeDeviceCreate</c>, libvirt 7.3+).</summary>
    public void Start() => Proxy.virNodeDeviceCreate(handle);

    /// <summary>Stops the device, e.g. removes an mdev (<c>virNodeDeviceDestroy</c>); a defined device keeps its definition.</summary>
    public void Destroy() => Proxy.virNodeDeviceDestroy(handle);

    /// <summary>Removes the persistent definition (<c>virNodeDeviceUndefine</c>, libvirt 7.3+).</summary>
    public void Undefine() => Proxy.virNodeDeviceUndefine(handle);

    /// <summary>Releases this reference to the device (<c>virNodeDeviceFree</c>); the device itself is untouched.</summary>
    public void Dispose() => handle.Dispose();
}
