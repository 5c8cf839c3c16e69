namespace VfioMigration.Libvirt;

/// <summary><c>virConnectListAllDomainsFlags</c>: filters for <see cref="LibvirtConnection.ListAllDomains"/>. Groups combine with AND, bits within a group with OR.</summary>
[Flags]
public enum DomainListFilters : uint
{
    /// <summary>All domains.</summary>
    None = 0,

    /// <summary><c>VIR_CONNECT_LIST_DOMAINS_ACTIVE</c></summary>
    Active = 1 << 0,

    /// <summary><c>VIR_CONNECT_LIST_DOMAINS_INACTIVE</c></summary>
    Inactive = 1 << 1,

    /// <summary><c>VIR_CONNECT_LIST_DOMAINS_PERSISTENT</c></summary>
    Persistent = 1 << 2,

    /// <summary><c>VIR_CONNECT_LIST_DOMAINS_TRANSIENT</c></summary>
    Transient = 1 << 3,

    /// <summary><c>VIR_CONNECT_LIST_DOMAINS_RUNNING</c></summary>
    Running = 1 << 4,

    /// <summary><c>VIR_CONNECT_LIST_DOMAINS_PAUSED</c></summary>
    Paused = 1 << 5,

    /// <summary><c>VIR_CONNECT_LIST_DOMAINS_SHUTOFF</c></summary>
    Shutoff = 1 << 6,

    /// <summary><c>VIR_CONNECT_LIST_DOMAINS_OTHER</c></summary>
    Other = 1 << 7,

    /// <summary><c>VIR_CONNECT_LIST_DOMAINS_MANAGEDSAVE</c></summary>
    ManagedSave = 1 << 8,

    /// <summary><c>VIR_CONNECT_LIST_DOMAINS_NO_MANAGEDSAVE</c></summary>
    NoManagedSave = 1 << 9,

    /// <summary><c>VIR_CONNECT_LIST_DOMAINS_AUTOSTART</c></summary>
    Autostart = 1 << 10,

    /// <summary><c>VIR_CONNECT_LIST_DOMAINS_NO_AUTOSTART</c></summary>
    NoAutostart = 1 << 11,

    /// <summary><c>VIR_CONNECT_LIST_DOMAINS_HAS_SNAPSHOT</c></summary>
    HasSnapshot = 1 << 12,

    /// <summary><c>VIR_CONNECT_LIST_DOMAINS_NO_SNAPSHOT</c></summary>
    NoSnapshot = 1 << 13,

    /// <summary><c>VIR_CONNECT_LIST_DOMAINS_HAS_CHECKPOINT</c></summary>
    HasCheckpoint = 1 << 14,

    /// <summary><c>VIR_CONNECT_LIST_DOMAINS_NO_CHECKPOINT</c></summary>
    NoCheckpoint = 1 << 15,
}

/// <summary><c>virDomainXMLFlags</c>: what <see cref="LibvirtDomain.GetXmlDescription"/> returns.</summary>
[Flags]
public enum DomainXmlOptions : uint
{
    /// <summary>The live definition, without secrets.</summary>
    None = 0,

    /// <summary><c>VIR_DOMAIN_XML_SECURE</c>: include secrets (not allowed on read-only connections).</summary>
    Secure = 1 << 0,

    /// <summary><c>VIR_DOMAIN_XML_INACTIVE</c>: the persistent definition, not the live one.</summary>
    Inactive = 1 << 1,

    /// <summary><c>VIR_DOMAIN_XML_UPDATE_CPU</c>: update the guest CPU from the host CPU.</summary>
    UpdateCpu = 1 << 2,

    /// <summary><c>VIR_DOMAIN_XML_MIGRATABLE</c>: the form to use as a migration destination XML.</summary>
    Migratable = 1 << 3,
}

/// <summary><c>virDomainState</c></summary>
public enum DomainState
{
    /// <summary><c>VIR_DOMAIN_NOSTATE</c></summary>
    NoState = 0,

    /// <summary><c>VIR_DOMAIN_RUNNING</c></summary>
    Running = 1,

    /// <summary><c>VIR_DOMAIN_BLOCKED</c>: blocked on a resource.</summary>
    Blocked = 2,

    /// <summary><c>VIR_DOMAIN_PAUSED</c></summary>
    Paused = 3,

    /// <summary><c>VIR_DOMAIN_SHUTDOWN</c>: being shut down.</summary>
    Shutdown = 4,

    /// <summary><c>VIR_DOMAIN_SHUTOFF</c></summary>
    Shutoff = 5,

    /// <summary><c>VIR_DOMAIN_CRASHED</c></summary>
    Crashed = 6,

    /// <summary><c>VIR_DOMAIN_PMSUSPENDED</c>: suspended by guest power management.</summary>
    PMSuspended = 7,
}

/// <summary>A domain's state and the reason for it.</summary>
/// <param name="State">The state.</param>
/// <param name="Reason">The state's reason, a value of the <c>virDomain*Reason</c> enum that matches <paramref name="State"/> (e.g. <c>virDomainRunningReason</c>).</param>
public readonly record struct DomainStateInfo(DomainState State, int Reason);

/// <summary>
/// <c>virConnectListAllNodeDeviceFlags</c>: filters for <see cref="LibvirtConnection.ListAllNodeDevices"/>.
/// Capability bits combine with OR. Not every driver accepts every bit (the test driver refuses
/// <see cref="Inactive"/> and <see cref="Active"/>).
/// </summary>
[Flags]
public enum NodeDeviceListFilters : uint
{
    /// <summary>All devices.</summary>
    None = 0,

    /// <summary><c>VIR_CONNECT_LIST_NODE_DEVICES_CAP_SYSTEM</c></summary>
    System = 1u << 0,

    /// <summary><c>VIR_CONNECT_LIST_NODE_DEVICES_CAP_PCI_DEV</c></summary>
    PciDevice = 1u << 1,

    /// <summary><c>VIR_CONNECT_LIST_NODE_DEVICES_CAP_USB_DEV</c></summary>
    UsbDevice = 1u << 2,

    /// <summary><c>VIR_CONNECT_LIST_NODE_DEVICES_CAP_USB_INTERFACE</c></summary>
    UsbInterface = 1u << 3,

    /// <summary><c>VIR_CONNECT_LIST_NODE_DEVICES_CAP_NET</c></summary>
    Net = 1u << 4,

    /// <summary><c>VIR_CONNECT_LIST_NODE_DEVICES_CAP_SCSI_HOST</c></summary>
    ScsiHost = 1u << 5,

    /// <summary><c>VIR_CONNECT_LIST_NODE_DEVICES_CAP_SCSI_TARGET</c></summary>
    ScsiTarget = 1u << 6,

    /// <summary><c>VIR_CONNECT_LIST_NODE_DEVICES_CAP_SCSI</c></summary>
    Scsi = 1u << 7,

    /// <summary><c>VIR_CONNECT_LIST_NODE_DEVICES_CAP_STORAGE</c></summary>
    Storage = 1u << 8,

    /// <summary><c>VIR_CONNECT_LIST_NODE_DEVICES_CAP_FC_HOST</c></summary>
    FcHost = 1u << 9,

    /// <summary><c>VIR_CONNECT_LIST_NODE_DEVICES_CAP_VPORTS</c></summary>
    Vports = 1u << 10,

    /// <summary><c>VIR_CONNECT_LIST_NODE_DEVICES_CAP_SCSI_GENERIC</c></summary>
    ScsiGeneric = 1u << 11,

    /// <summary><c>VIR_CONNECT_LIST_NODE_DEVICES_CAP_DRM</c></summary>
    Drm = 1u << 12,

    /// <summary><c>VIR_CONNECT_LIST_NODE_DEVICES_CAP_MDEV_TYPES</c>: devices that can create mdevs (mdev parents).</summary>
    MdevTypes = 1u << 13,

    /// <summary><c>VIR_CONNECT_LIST_NODE_DEVICES_CAP_MDEV</c>: mediated devices.</summary>
    Mdev = 1u << 14,

    /// <summary><c>VIR_CONNECT_LIST_NODE_DEVICES_CAP_CCW_DEV</c></summary>
    CcwDevice = 1u << 15,

    /// <summary><c>VIR_CONNECT_LIST_NODE_DEVICES_CAP_CSS_DEV</c></summary>
    CssDevice = 1u << 16,

    /// <summary><c>VIR_CONNECT_LIST_NODE_DEVICES_CAP_VDPA</c></summary>
    Vdpa = 1u << 17,

    /// <summary><c>VIR_CONNECT_LIST_NODE_DEVICES_CAP_AP_CARD</c></summary>
    ApCard = 1u << 18,

    /// <summary><c>VIR_CONNECT_LIST_NODE_DEVICES_CAP_AP_QUEUE</c></summary>
    ApQueue = 1u << 19,

    /// <summary><c>VIR_CONNECT_LIST_NODE_DEVICES_CAP_AP_MATRIX</c></summary>
    ApMatrix = 1u << 20,

    /// <summary><c>VIR_CONNECT_LIST_NODE_DEVICES_CAP_VPD</c></summary>
    Vpd = 1u << 21,

    /// <summary><c>VIR_CONNECT_LIST_NODE_DEVICES_INACTIVE</c>: defined but not started (e.g. persistent mdevs not created).</summary>
    Inactive = 1u << 30,

    /// <summary><c>VIR_CONNECT_LIST_NODE_DEVICES_ACTIVE</c></summary>
    Active = 1u << 31,
}

/// <summary><c>virDomainMigrateFlags</c></summary>
[Flags]
public enum MigrationOptions : uint
{
    /// <summary>Offline-style defaults: the guest is paused while its memory is copied.</summary>
    None = 0,

    /// <summary><c>VIR_MIGRATE_LIVE</c>: keep the guest running while copying memory.</summary>
    Live = 1u << 0,

    /// <summary><c>VIR_MIGRATE_PEER2PEER</c>: the source libvirtd talks to the destination directly.</summary>
    PeerToPeer = 1u << 1,

    /// <summary><c>VIR_MIGRATE_TUNNELLED</c>: tunnel migration data over the libvirt connection (needs <see cref="PeerToPeer"/>).</summary>
    Tunnelled = 1u << 2,

    /// <summary><c>VIR_MIGRATE_PERSIST_DEST</c>: define the domain persistently on the destination.</summary>
    PersistDestination = 1u << 3,

    /// <summary><c>VIR_MIGRATE_UNDEFINE_SOURCE</c>: undefine the domain on the source on success.</summary>
    UndefineSource = 1u << 4,

    /// <summary><c>VIR_MIGRATE_PAUSED</c>: leave the domain paused on the destination.</summary>
    Paused = 1u << 5,

    /// <summary><c>VIR_MIGRATE_NON_SHARED_DISK</c>: copy all disks.</summary>
    NonSharedDisk = 1u << 6,

    /// <summary><c>VIR_MIGRATE_NON_SHARED_INC</c>: copy disks incrementally over a shared base.</summary>
    NonSharedIncremental = 1u << 7,

    /// <summary><c>VIR_MIGRATE_CHANGE_PROTECTION</c>: refuse configuration changes during the migration.</summary>
    ChangeProtection = 1u << 8,

    /// <summary><c>VIR_MIGRATE_UNSAFE</c>: skip libvirt's safety checks.</summary>
    Unsafe = 1u << 9,

    /// <summary><c>VIR_MIGRATE_OFFLINE</c>: migrate the definition only.</summary>
    Offline = 1u << 10,

    /// <summary><c>VIR_MIGRATE_COMPRESSED</c></summary>
    Compressed = 1u << 11,

    /// <summary><c>VIR_MIGRATE_ABORT_ON_ERROR</c>: abort on I/O errors during the migration.</summary>
    AbortOnError = 1u << 12,

    /// <summary><c>VIR_MIGRATE_AUTO_CONVERGE</c>: throttle the guest so the migration converges.</summary>
    AutoConverge = 1u << 13,

    /// <summary><c>VIR_MIGRATE_RDMA_PIN_ALL</c></summary>
    RdmaPinAll = 1u << 14,

    /// <summary><c>VIR_MIGRATE_POSTCOPY</c>: allow switching to post-copy. VFIO devices cannot use post-copy.</summary>
    Postcopy = 1u << 15,

    /// <summary><c>VIR_MIGRATE_TLS</c>: encrypt the migration stream with TLS.</summary>
    Tls = 1u << 16,

    /// <summary><c>VIR_MIGRATE_PARALLEL</c>: use several parallel connections.</summary>
    Parallel = 1u << 17,
}
