namespace VfioMigration.Libvirt;

/// <summary>
/// The common values of libvirt's <c>virErrorNumber</c> (virterror.h). A code libvirt adds later
/// is still carried, as its numeric value cast to this type.
/// </summary>
public enum LibvirtErrorCode
{
    /// <summary><c>VIR_ERR_OK</c>: no error.</summary>
    Ok = 0,

    /// <summary><c>VIR_ERR_INTERNAL_ERROR</c></summary>
    InternalError = 1,

    /// <summary><c>VIR_ERR_NO_MEMORY</c></summary>
    NoMemory = 2,

    /// <summary><c>VIR_ERR_NO_SUPPORT</c>: the connection's driver does not implement the function.</summary>
    NoSupport = 3,

    /// <summary><c>VIR_ERR_UNKNOWN_HOST</c></summary>
    UnknownHost = 4,

    /// <summary><c>VIR_ERR_NO_CONNECT</c>: cannot connect to the hypervisor.</summary>
    NoConnect = 5,

    /// <summary><c>VIR_ERR_INVALID_CONN</c></summary>
    InvalidConnection = 6,

    /// <summary><c>VIR_ERR_INVALID_DOMAIN</c></summary>
    InvalidDomain = 7,

    /// <summary><c>VIR_ERR_INVALID_ARG</c>: includes "unsupported flags".</summary>
    InvalidArgument = 8,

    /// <summary><c>VIR_ERR_OPERATION_FAILED</c></summary>
    OperationFailed = 9,

    /// <summary><c>VIR_ERR_XML_ERROR</c>: an XML description is malformed.</summary>
    XmlError = 27,

    /// <summary><c>VIR_ERR_DOM_EXIST</c></summary>
    DomainExists = 28,

    /// <summary><c>VIR_ERR_OPERATION_DENIED</c>: e.g. a write on a read-only connection.</summary>
    OperationDenied = 29,

    /// <summary><c>VIR_ERR_OPEN_FAILED</c></summary>
    OpenFailed = 30,

    /// <summary><c>VIR_ERR_XML_DETAIL</c></summary>
    XmlDetail = 35,

    /// <summary><c>VIR_ERR_SYSTEM_ERROR</c>: a system call failed.</summary>
    SystemError = 38,

    /// <summary><c>VIR_ERR_RPC</c></summary>
    Rpc = 39,

    /// <summary><c>VIR_ERR_NO_DOMAIN</c>: domain not found.</summary>
    NoDomain = 42,

    /// <summary><c>VIR_ERR_NO_NETWORK</c>: network not found.</summary>
    NoNetwork = 43,

    /// <summary><c>VIR_ERR_AUTH_FAILED</c></summary>
    AuthFailed = 45,

    /// <summary><c>VIR_ERR_NO_STORAGE_POOL</c></summary>
    NoStoragePool = 49,

    /// <summary><c>VIR_ERR_NO_STORAGE_VOL</c></summary>
    NoStorageVolume = 50,

    /// <summary><c>VIR_ERR_INVALID_NODE_DEVICE</c></summary>
    InvalidNodeDevice = 52,

    /// <summary><c>VIR_ERR_NO_NODE_DEVICE</c>: node device not found.</summary>
    NoNodeDevice = 53,

    /// <summary><c>VIR_ERR_OPERATION_INVALID</c>: not applicable in the object's current state.</summary>
    OperationInvalid = 55,

    /// <summary><c>VIR_ERR_NO_INTERFACE</c></summary>
    NoInterface = 57,

    /// <summary><c>VIR_ERR_NO_SECRET</c></summary>
    NoSecret = 66,

    /// <summary><c>VIR_ERR_CONFIG_UNSUPPORTED</c>: a configuration construct is not supported.</summary>
    ConfigUnsupported = 67,

    /// <summary><c>VIR_ERR_OPERATION_TIMEOUT</c></summary>
    OperationTimeout = 68,

    /// <summary><c>VIR_ERR_MIGRATE_PERSIST_FAILED</c>: migrated, but persisting on the destination failed.</summary>
    MigratePersistFailed = 69,

    /// <summary><c>VIR_ERR_NO_DOMAIN_SNAPSHOT</c></summary>
    NoDomainSnapshot = 72,

    /// <summary><c>VIR_ERR_ARGUMENT_UNSUPPORTED</c>: valid use, but not supported by this driver.</summary>
    ArgumentUnsupported = 74,

    /// <summary><c>VIR_ERR_OPERATION_ABORTED</c></summary>
    OperationAborted = 78,

    /// <summary><c>VIR_ERR_AUTH_CANCELLED</c></summary>
    AuthCancelled = 79,

    /// <summary><c>VIR_ERR_NO_DOMAIN_METADATA</c></summary>
    NoDomainMetadata = 80,

    /// <summary><c>VIR_ERR_MIGRATE_UNSAFE</c></summary>
    MigrateUnsafe = 81,

    /// <summary><c>VIR_ERR_OPERATION_UNSUPPORTED</c></summary>
    OperationUnsupported = 84,

    /// <summary><c>VIR_ERR_RESOURCE_BUSY</c></summary>
    ResourceBusy = 87,

    /// <summary><c>VIR_ERR_ACCESS_DENIED</c></summary>
    AccessDenied = 88,

    /// <summary><c>VIR_ERR_CPU_INCOMPATIBLE</c></summary>
    CpuIncompatible = 91,

    /// <summary><c>VIR_ERR_XML_INVALID_SCHEMA</c></summary>
    XmlInvalidSchema = 92,

    /// <summary><c>VIR_ERR_AUTH_UNAVAILABLE</c></summary>
    AuthUnavailable = 94,

    /// <summary><c>VIR_ERR_DEVICE_MISSING</c></summary>
    DeviceMissing = 99,

    /// <summary><c>VIR_ERR_NO_HOSTNAME</c></summary>
    NoHostname = 108,
}

/// <summary>
/// The common values of libvirt's <c>virErrorDomain</c>: which part of libvirt raised the error.
/// Other values are carried as their numeric value.
/// </summary>
public enum LibvirtErrorDomain
{
    /// <summary><c>VIR_FROM_NONE</c>: the public API layer.</summary>
    None = 0,

    /// <summary><c>VIR_FROM_XML</c></summary>
    Xml = 5,

    /// <summary><c>VIR_FROM_DOM</c></summary>
    Dom = 6,

    /// <summary><c>VIR_FROM_RPC</c></summary>
    Rpc = 7,

    /// <summary><c>VIR_FROM_CONF</c></summary>
    Conf = 9,

    /// <summary><c>VIR_FROM_QEMU</c></summary>
    Qemu = 10,

    /// <summary><c>VIR_FROM_TEST</c>: the test driver.</summary>
    Test = 12,

    /// <summary><c>VIR_FROM_REMOTE</c></summary>
    Remote = 13,

    /// <summary><c>VIR_FROM_STORAGE</c></summary>
    Storage = 18,

    /// <summary><c>VIR_FROM_NETWORK</c></summary>
    Network = 19,

    /// <summary><c>VIR_FROM_DOMAIN</c>: domain configuration.</summary>
    Domain = 20,

    /// <summary><c>VIR_FROM_NODEDEV</c></summary>
    NodeDevice = 22,

    /// <summary><c>VIR_FROM_SECURITY</c></summary>
    Security = 24,

    /// <summary><c>VIR_FROM_CPU</c></summary>
    Cpu = 31,

    /// <summary><c>VIR_FROM_URI</c></summary>
    Uri = 45,

    /// <summary><c>VIR_FROM_AUTH</c></summary>
    Auth = 46,

    /// <summary><c>VIR_FROM_DEVICE</c></summary>
    Device = 49,

    /// <summary><c>VIR_FROM_SSH</c></summary>
    Ssh = 50,

    /// <summary><c>VIR_FROM_ACCESS</c>: access control.</summary>
    Access = 55,

    /// <summary><c>VIR_FROM_LIBSSH</c></summary>
    LibSsh = 66,
}

/// <summary><c>virErrorLevel</c>: how serious the error is.</summary>
public enum LibvirtErrorLevel
{
    /// <summary><c>VIR_ERR_NONE</c></summary>
    None = 0,

    /// <summary><c>VIR_ERR_WARNING</c></summary>
    Warning = 1,

    /// <summary><c>VIR_ERR_ERROR</c></summary>
    Error = 2,
}
