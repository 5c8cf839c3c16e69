using VfioMigration.Libvirt.Interop;

namespace VfioMigration.Libvirt;

/// <summary>
/// A connection to a libvirt hypervisor driver (<c>virConnectPtr</c>). Dispose it to close it.
/// Domains and node devices obtained from it hold their own reference, so they stay usable
/// after the connection is disposed, until they are disposed themselves.
/// </summary>
/// <remarks>
/// Calls are synchronous and report failures as <see cref="LibvirtException"/> subclasses.
/// An instance may be used from several threads; each failure is reported on its own thread.
/// </remarks>
public sealed class LibvirtConnection : IDisposable
{
    private readonly LibvirtConnectionHandle handle;

    private LibvirtConnection(LibvirtConnectionHandle handle) => this.handle = handle;

    /// <summary>Opens a read-write connection (<c>virConnectOpen</c>).</summary>
    /// <param name="uri">The connection URI, e.g. <c>qemu:///system</c>, <c>test:///default</c> or <c>test:///abs/path/host.xml</c>; null lets libvirt choose its default.</param>
    /// <exception cref="ArgumentException"><paramref name="uri"/> contains a NUL character.</exception>
    /// <exception cref="LibvirtException">libvirt refused or failed to connect.</exception>
    /// <exception cref="LibvirtLibraryNotFoundException">libvirt.so.0 is not installed.</exception>
    public static LibvirtConnection Open(string? uri)
    {
        Arguments.OptionalCString(uri);
        return new(Proxy.virConnectOpen(uri));
    }

    /// <summary>Opens a read-only connection (<c>virConnectOpenReadOnly</c>): listing and XML dumps work, changes are refused.</summary>
    /// <inheritdoc cref="Open" path="/param"/>
    /// <inheritdoc cref="Open" path="/exception"/>
    public static LibvirtConnection OpenReadOnly(string? uri)
    {
        Arguments.OptionalCString(uri);
        return new(Proxy.virConnectOpenReadOnly(uri));
    }

    /// <summary>
    /// Opens a connection whose URI may ask for credentials (<c>virConnectOpenAuth</c>);
    /// <paramref name="authentication"/>'s callback answers them during this call.
    /// </summary>
    /// <param name="uri">The connection URI; null lets libvirt choose its default.</param>
    /// <param name="authentication">The credential types to offer and the callback that answers them.</param>
    /// <param name="readOnly">Open read-only (<c>VIR_CONNECT_RO</c>).</param>
    /// <exception cref="LibvirtAuthException">The credentials were refused, the callback declined, or it threw (then wrapped as the inner exception).</exception>
    /// <exception cref="LibvirtException">libvirt failed to connect.</exception>
    /// <exception cref="LibvirtLibraryNotFoundException">libvirt.so.0 is not installed.</exception>
    public static LibvirtConnection OpenWithAuthentication(string? uri, LibvirtAuthentication authentication, bool readOnly = false)
    {
        Arguments.OptionalCString(uri);
        ArgumentNullException.ThrowIfNull(authentication);
        return new(Proxy.virConnectOpenAuth(uri, authentication, readOnly ? VirConnectFlags.ReadOnly : VirConnectFlags.None));
    }

    /// <summary>The version of libvirt behind this connection (<c>virConnectGetLibVersion</c>): the daemon's for a remote URI.</summary>
    public Version GetLibraryVersion() => LibvirtLibrary.DecodeVersion(Proxy.virConnectGetLibVersion(handle));

    /// <summary>
    /// The version of the hypervisor behind this connection (<c>virConnectGetVersion</c>): QEMU's for
    /// the qemu driver; the test driver reports its own (2.0.0).
    /// </summary>
    public Version GetHypervisorVersion() => LibvirtLibrary.DecodeVersion(Proxy.virConnectGetVersion(handle));

    /// <summary>The name of the driver behind this connection (<c>virConnectGetType</c>), e.g. <c>QEMU</c> or <c>Test</c>.</summary>
    public string GetDriverName() => Proxy.virConnectGetType(handle);

    /// <summary>The hypervisor host's name (<c>virConnectGetHostname</c>).</summary>
    public string GetHostname() => Proxy.virConnectGetHostname(handle);

    /// <summary>The canonical URI of this connection (<c>virConnectGetURI</c>), e.g. <c>test:///default</c>.</summary>
    public string GetUri() => Proxy.virConnectGetURI(handle);

    /// <summary>Whether the connection still works (<c>virConnectIsAlive</c>); a local driver is always alive.</summary>
    public bool IsAlive() => Proxy.virConnectIsAlive(handle);

    /// <summary>Lists the domains that match <paramref name="filters"/> (<c>virConnectListAllDomains</c>); the caller disposes each.</summary>
    /// <param name="filters">Filters; <see cref="DomainListFilters.None"/> lists all.</param>
    public IReadOnlyList<LibvirtDomain> ListAllDomains(DomainListFilters filters = DomainListFilters.None) =>
        Array.ConvertAll(Proxy.virConnectListAllDomains(handle, (uint)filters), domain => new LibvirtDomain(domain));

    /// <summary>Finds a domain by name (<c>virDomainLookupByName</c>).</summary>
    /// <exception cref="LibvirtNotFoundException">No domain has that name.</exception>
    public LibvirtDomain LookupDomainByName(string name)
    {
        Arguments.RequireCString(name);
        return new(Proxy.virDomainLookupByName(handle, name));
    }

    /// <summary>Finds a domain by UUID (<c>virDomainLookupByUUIDString</c>).</summary>
    /// <param name="uuid">The UUID text, e.g. <c>6695eb01-f6a4-8304-79aa-97f2502e193f</c>.</param>
    /// <exception cref="LibvirtNotFoundException">No domain has that UUID.</exception>
    /// <exception cref="LibvirtInvalidArgumentException"><paramref name="uuid"/> is not a UUID.</exception>
    public LibvirtDomain LookupDomainByUuid(string uuid)
    {
        Arguments.RequireCString(uuid);
        return new(Proxy.virDomainLookupByUUIDString(handle, uuid));
    }

    /// <summary>Defines (or redefines) a persistent domain from XML without starting it (<c>virDomainDefineXML</c>).</summary>
    /// <param name="xml">The domain XML, as written for libvirt's domain schema.</param>
    /// <exception cref="LibvirtException">libvirt rejected the XML (typically <see cref="LibvirtErrorCode.XmlError"/> or <see cref="LibvirtErrorCode.ConfigUnsupported"/>).</exception>
    public LibvirtDomain DefineDomain(string xml)
    {
        Arguments.RequireCString(xml);
        return new(Proxy.virDomainDefineXML(handle, xml));
    }

    /// <summary>Lists the host devices that match <paramref name="filters"/> (<c>virConnectListAllNodeDevices</c>); the caller disposes each.</summary>
    /// <param name="filters">Capability filters; <see cref="NodeDeviceListFilters.None"/> lists all.</param>
    /// <exception cref="LibvirtInvalidArgumentException">The driver does not accept one of the filters ("unsupported flags").</exception>
    public IReadOnlyList<LibvirtNodeDevice> ListAllNodeDevices(NodeDeviceListFilters filters = NodeDeviceListFilters.None) =>
        Array.ConvertAll(Proxy.virConnectListAllNodeDevices(handle, (uint)filters), device => new LibvirtNodeDevice(device));

    /// <summary>Finds a host device by its libvirt name (<c>virNodeDeviceLookupByName</c>), e.g. <c>pci_0000_00_02_0</c>.</summary>
    /// <exception cref="LibvirtNotFoundException">No device has that name.</exception>
    public LibvirtNodeDevice LookupNodeDeviceByName(string name)
    {
        Arguments.RequireCString(name);
        return new(Proxy.virNodeDeviceLookupByName(handle, name));
    }

    /// <summary>Creates a transient device, e.g. an mdev, from XML (<c>virNodeDeviceCreateXML</c>).</summary>
    /// <param name="xml"><c>&lt;device&gt;&lt;parent&gt;NODEDEV&lt;/parent&gt;&lt;capability type='mdev'&gt;...&lt;/capability&gt;&lt;/device&gt;</c>.</param>
    public LibvirtNodeDevice CreateNodeDevice(string xml)
    {
        Arguments.RequireCString(xml);
        return new(Proxy.virNodeDeviceCreateXML(handle, xml));
    }

    /// <summary>Defines a persistent device, e.g. an mdev, from XML without starting it (<c>virNodeDeviceDefineXML</c>, libvirt 7.3+).</summary>
    /// <inheritdoc cref="CreateNodeDevice" path="/param"/>
    public LibvirtNodeDevice DefineNodeDevice(string xml)
    {
        Arguments.RequireCString(xml);
        return new(Proxy.virNodeDeviceDefineXML(handle, xml));
    }

    /// <summary>The handle, for a migration's destination connection.</summary>
    internal LibvirtConnectionHandle Handle => handle;

    /// <summary>Closes the connection (<c>virConnectClose</c>) once nothing else references it.</summary>
    public void Dispose() => handle.Dispose();
}
