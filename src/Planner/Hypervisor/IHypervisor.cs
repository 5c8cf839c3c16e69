using VfioMigration.Planner.Devices;

namespace VfioMigration.Planner.Hypervisor;

/// <summary>
/// The planner's view of one host's hypervisor (a libvirt connection): the guest definitions, the
/// node devices, mdev creation through the node-device API, and migration. Methods return parsed
/// records so the planner never handles libvirt XML except the guest's own. Implementations: the
/// libvirt binding, and in-memory fakes in tests. Implementations must be safe for concurrent use.
/// </summary>
public interface IHypervisor
{
    /// <summary>The connection URI, e.g. <c>qemu+ssh://host2/system</c>; used to address this host as a migration destination.</summary>
    string Uri { get; }

    /// <summary>The host's name as the hypervisor reports it, for messages.</summary>
    string HostName { get; }

    /// <summary>How many libvirt API calls this connection has made so far (diagnostics).</summary>
    long LibvirtCalls { get; }

    /// <summary>Reads a guest's definition: its XML in migratable form and its parsed host devices.</summary>
    /// <exception cref="HypervisorException">The guest does not exist, or the call failed.</exception>
    Task<GuestDefinition> GetDomainAsync(DomainSelector guest, CancellationToken cancellationToken = default);

    /// <summary>Lists every defined guest, running or not, with its host devices (to tell which devices are in use).</summary>
    Task<IReadOnlyList<DomainHostDevices>> ListDomainsAsync(CancellationToken cancellationToken = default);

    /// <summary>Reads the host's node devices of the requested kinds, parsed.</summary>
    /// <param name="scope">Which kinds to list; kinds not requested come back empty.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    Task<HostInventory> GetInventoryAsync(InventoryScope scope, CancellationToken cancellationToken = default);

    /// <summary>
    /// Creates a mediated device through the node-device API: transient (<c>virNodeDeviceCreateXML</c>),
    /// or defined and started (<c>virNodeDeviceDefineXML</c> + <c>virNodeDeviceCreate</c>) when
    /// <see cref="MdevCreation.Persistent"/> is set.
    /// </summary>
    /// <exception cref="HypervisorNotSupportedException">This hypervisor cannot create mdevs (libvirt's test driver, libvirt older than 7.3 for persistent devices); the caller may fall back to sysfs.</exception>
    /// <exception cref="HypervisorException">The call failed. The device may still have been created (libvirt can time out waiting for mdevctl): re-list before concluding.</exception>
    Task CreateMdevAsync(MdevCreation request, CancellationToken cancellationToken = default);

    /// <summary>Destroys a mediated device created through <see cref="CreateMdevAsync"/>, and undefines it when <paramref name="persistent"/>.</summary>
    /// <exception cref="HypervisorException">The device could not be destroyed or undefined.</exception>
    Task DestroyMdevAsync(MdevUuid uuid, bool persistent, CancellationToken cancellationToken = default);

    /// <summary>
    /// The driver and versions behind this connection, for the preflight (libvirt at least 8.6, QEMU
    /// at least 8.1). The default reports nothing (null): the version checks then do not apply.
    /// </summary>
    /// <exception cref="HypervisorException">The call failed.</exception>
    Task<HypervisorVersions?> GetVersionsAsync(CancellationToken cancellationToken = default) => Task.FromResult<HypervisorVersions?>(null);

    /// <summary>
    /// Migrates a guest from this host to <see cref="MigrationCall.Destination"/> with <c>destination_xml</c>:
    /// client-driven through the destination's connection (<c>virDomainMigrate3</c>), or peer-to-peer
    /// when <see cref="MigrationSettings.Flags"/> has <see cref="MigrationMode.PeerToPeer"/>
    /// (<c>virDomainMigrateToURI3</c> to <see cref="MigrationSettings.DestinationUri"/>).
    /// A cancellation during the migration aborts it where the hypervisor can, and the method returns
    /// only once the outcome is known or given up: normally when the guest runs on the destination,
    /// with an <see cref="OperationCanceledException"/> when it stays on the source, and with a
    /// <see cref="MigrationOutcomeUnknownException"/> when that is not known (<see cref="LibvirtHypervisor.MigrateAsync"/>).
    /// </summary>
    /// <exception cref="HypervisorNotSupportedException">This driver cannot migrate, or cannot migrate this way.</exception>
    /// <exception cref="HypervisorException">The migration failed.</exception>
    Task MigrateAsync(MigrationCall migration, CancellationToken cancellationToken = default);
}

/// <summary>The driver and versions behind a hypervisor connection.</summary>
/// <param name="Driver">libvirt's driver name (<c>virConnectGetType</c>): <c>QEMU</c>, <c>Test</c>, ...</param>
/// <param name="Libvirt">The libvirt version serving the connection (<c>virConnectGetLibVersion</c>: the daemon's for a remote URI).</param>
/// <param name="Hypervisor">The hypervisor's version (<c>virConnectGetVersion</c>): QEMU's for the qemu driver; the test driver reports its own.</param>
public sealed record HypervisorVersions(string Driver, Version Libvirt, Version Hypervisor)
{
    /// <summary>Whether the driver is QEMU's (the checks about QEMU and the host kernel apply).</summary>
    public bool IsQemu => string.Equals(Driver, "QEMU", StringComparison.OrdinalIgnoreCase);
}

/// <summary>A guest's definition as the planner needs it.</summary>
/// <param name="MigratableXml">The domain XML in migratable form (<c>VIR_DOMAIN_XML_MIGRATABLE</c>), the input of the destination XML rewrite.</param>
/// <param name="Devices">The guest's name, UUID and host devices, parsed from that XML.</param>
public sealed record GuestDefinition(string MigratableXml, DomainHostDevices Devices);

/// <summary>Which node devices <see cref="IHypervisor.GetInventoryAsync"/> lists.</summary>
[Flags]
public enum InventoryScope
{
    /// <summary>Devices that can host mdevs (capability <c>mdev_types</c>).</summary>
    MdevParents = 1,

    /// <summary>Existing mediated devices (capability <c>mdev</c>).</summary>
    Mdevs = 2,

    /// <summary>PCI functions (capability <c>pci</c>).</summary>
    PciDevices = 4,

    /// <summary>Everything above.</summary>
    All = MdevParents | Mdevs | PciDevices,

    /// <summary>
    /// Only the mediated devices the hypervisor has defined but not started (libvirt's
    /// <c>VIR_CONNECT_LIST_NODE_DEVICES_INACTIVE</c>: mdevctl definitions with no device in sysfs);
    /// alone, never combined with another kind. The kinds above list defined devices too.
    /// </summary>
    DefinedInactiveMdevs = 8,
}

/// <summary>A request to create one mediated device.</summary>
/// <param name="Parent">The parent's libvirt node device name (<see cref="MdevParent.Name"/>).</param>
/// <param name="Type">The mdev type to create.</param>
/// <param name="Uuid">The new device's UUID.</param>
/// <param name="Persistent">Define the device (it survives reboots) instead of creating it transiently.</param>
public sealed record MdevCreation(DeviceName Parent, MdevTypeId Type, MdevUuid Uuid, bool Persistent);

/// <summary>libvirt's migration flags that the planner uses (<c>virDomainMigrateFlags</c>).</summary>
[Flags]
public enum MigrationMode
{
    /// <summary>No flag.</summary>
    None = 0,

    /// <summary><c>VIR_MIGRATE_LIVE</c>.</summary>
    Live = 1,

    /// <summary><c>VIR_MIGRATE_PEER2PEER</c>.</summary>
    PeerToPeer = 2,

    /// <summary><c>VIR_MIGRATE_PERSIST_DEST</c>.</summary>
    PersistDestination = 8,

    /// <summary><c>VIR_MIGRATE_UNDEFINE_SOURCE</c>.</summary>
    UndefineSource = 16,
}

/// <summary>One migration call.</summary>
/// <param name="Guest">The guest on the source host.</param>
/// <param name="Destination">The destination host's hypervisor: the connection a client-driven migration goes through, and the default peer-to-peer URI.</param>
/// <param name="DestinationXml">The guest XML to use on the destination (<c>destination_xml</c>; also <c>persistent_xml</c> with <see cref="MigrationMode.PersistDestination"/>).</param>
/// <param name="Settings">Flags and addresses. VFIO devices cannot use post-copy, so it is not offered.</param>
public sealed record MigrationCall(DomainSelector Guest, IHypervisor Destination, string DestinationXml, MigrationSettings Settings);
