using System.Text.Json.Serialization;

namespace VfioMigration.HostSimulator.Scenarios;

/// <summary>
/// One simulated host, as read from a scenario file (JSON, <c>"version": 1</c>). Described in
/// <c>docs/simulator.md</c>; the JSON schema is <c>docs/simulator.schema.json</c>. Load it with
/// <see cref="ScenarioLoader"/>, which validates it and names the JSON path of any problem.
/// </summary>
public sealed record Scenario
{
    /// <summary>The JSON schema the file follows, for editors (e.g. <c>../../docs/simulator.schema.json</c>); ignored.</summary>
    [JsonPropertyName("$schema")]
    public string? Schema { get; init; }

    /// <summary>Free text for the reader of the file (JSON Schema's <c>$comment</c>); ignored.</summary>
    [JsonPropertyName("$comment")]
    public string? Comment { get; init; }

    /// <summary>The scenario format version; only <c>1</c> exists.</summary>
    public int? Version { get; init; }

    /// <summary>The host's name (the libvirt host name and the simulator's description).</summary>
    public string? Name { get; init; }

    /// <summary>The mdev-capable parent devices (GPUs, the kernel's sample drivers).</summary>
    public IReadOnlyList<ParentSpec>? Parents { get; init; }

    /// <summary>Mediated devices that exist when the host starts.</summary>
    public IReadOnlyList<MdevSpec>? Mdevs { get; init; }

    /// <summary>Whole PCI functions bound to a VFIO driver, assignable as <c>type='pci'</c> hostdevs.</summary>
    public IReadOnlyList<PciDeviceSpec>? PciDevices { get; init; }

    /// <summary>NVIDIA GPUs whose vGPUs live on SR-IOV virtual functions (no mdev; docs/nvidia-vf.md).</summary>
    public IReadOnlyList<SriovGpuSpec>? SriovGpus { get; init; }

    /// <summary>The guests defined on this host (for the libvirt side).</summary>
    public IReadOnlyList<GuestSpec>? Guests { get; init; }

    /// <summary>Simulated latency per operation.</summary>
    public LatencySpec? Latency { get; init; }

    /// <summary>Injected faults.</summary>
    public IReadOnlyList<FaultSpec>? Faults { get; init; }
}

/// <summary>How the instances of a parent's types share its capacity.</summary>
public enum CapacityMode
{
    /// <summary>Each type has its own <see cref="MdevTypeSpec.MaxInstances"/>, independent of the others.</summary>
    [JsonStringEnumMemberName("perType")]
    PerType,

    /// <summary>One pool (<see cref="ParentSpec.PoolSize"/>) shared by every type; an instance of a type takes <see cref="MdevTypeSpec.PoolUnits"/> of it (the kernel's mtty and mdpy samples).</summary>
    [JsonStringEnumMemberName("sharedPool")]
    SharedPool,

    /// <summary>Only one type at a time: while any instance of one type exists, every other type offers 0 instances (NVIDIA cards).</summary>
    [JsonStringEnumMemberName("oneTypeAtATime")]
    OneTypeAtATime,
}

/// <summary>An mdev-capable parent device and its mdev types.</summary>
public sealed record ParentSpec
{
    /// <summary>The PCI address (<c>dddd:bb:ss.f</c>), which is also its sysfs name; absent for a virtual parent.</summary>
    public string? Address { get; init; }

    /// <summary>The sysfs name of a virtual parent (such as the kernel's <c>mtty</c>); absent for a PCI parent.</summary>
    public string? Name { get; init; }

    /// <summary>PCI vendor id, e.g. <c>0x8086</c> (PCI parents only).</summary>
    public string? VendorId { get; init; }

    /// <summary>PCI device id, e.g. <c>0x3e92</c> (PCI parents only).</summary>
    public string? ProductId { get; init; }

    /// <summary>The host driver bound to the parent (<c>i915</c>, <c>nvidia</c>, <c>mtty</c>).</summary>
    public string? Driver { get; init; }

    /// <summary>How the types share capacity; <see cref="CapacityMode.PerType"/> when absent.</summary>
    public CapacityMode? Capacity { get; init; }

    /// <summary>The shared pool's size (required with <see cref="CapacityMode.SharedPool"/>).</summary>
    public int? PoolSize { get; init; }

    /// <summary>The errno <c>create</c> returns when no instance is left: <c>EUSERS</c> (the mdev core's counter) when absent, or the driver's own, e.g. <c>ENOSPC</c>.</summary>
    public string? ExhaustionErrno { get; init; }

    /// <summary>The default version behaviour of every type of this parent (a type's own <see cref="MdevTypeSpec.Migration"/> wins).</summary>
    public MigrationSpec? Migration { get; init; }

    /// <summary>The parent's mdev types.</summary>
    public IReadOnlyList<MdevTypeSpec>? Types { get; init; }

    /// <summary>Write and ask: the parent's per-open <c>migration_query</c> attribute (as the reference driver migref has it); no attribute when absent.</summary>
    public MigrationQuerySpec? MigrationQuery { get; init; }
}

/// <summary>
/// A parent's <c>migration_query</c> (write and ask, docs/reference-driver.md): a write of a source
/// version asks which configurations accept it; the same open file then reads as the question
/// followed by one line per accepting configuration (<c>mdev &lt;uuid&gt;</c> for an instance no
/// running guest uses, then <c>type &lt;id&gt;</c> when the type has an instance left).
/// </summary>
public sealed record MigrationQuerySpec
{
    /// <summary>A .NET regular expression the whole written text (without one trailing newline) must match to be a question; any other write fails with <see cref="RejectErrno"/>.</summary>
    public string? Questions { get; init; }

    /// <summary>The errno of a write that is not a question: <c>EINVAL</c> when absent.</summary>
    public string? RejectErrno { get; init; }

    /// <summary>The reason kept for a refused write or an empty answer: the first rule whose pattern matches the written text.</summary>
    public IReadOnlyList<ReasonSpec>? Reasons { get; init; }

    /// <summary>The reason when a type accepts the state but has no idle instance and no capacity left; <c>{type}</c> stands for the type id.</summary>
    public string? NoCapacityReason { get; init; }
}

/// <summary>
/// One rule of a driver's human-readable reasons: when <see cref="Match"/> (a .NET regular
/// expression) matches the whole written text, the reason is <see cref="Reason"/> with <c>$1</c>,
/// <c>$2</c>... replaced by the match's groups.
/// </summary>
public sealed record ReasonSpec
{
    /// <summary>The pattern the whole written text (without one trailing newline) must match.</summary>
    public string? Match { get; init; }

    /// <summary>The reason text, one line; <c>$n</c> is group n of the match.</summary>
    public string? Reason { get; init; }
}

/// <summary>One mdev type of a parent.</summary>
public sealed record MdevTypeSpec
{
    /// <summary>The type id (the directory name, <c>&lt;driver&gt;-&lt;name&gt;</c>, e.g. <c>i915-GVTg_V5_4</c>).</summary>
    public string? Id { get; init; }

    /// <summary>The content of the <c>name</c> attribute.</summary>
    public string? Name { get; init; }

    /// <summary>The content of the optional <c>description</c> attribute; no file when absent.</summary>
    public string? Description { get; init; }

    /// <summary>The <c>device_api</c>: <c>vfio-pci</c> when absent, or <c>vfio-ccw</c>, <c>vfio-ap</c>.</summary>
    public string? DeviceApi { get; init; }

    /// <summary>The most instances of this type the parent can hold (optional in a shared pool: the pool size divided by <see cref="PoolUnits"/>).</summary>
    public int? MaxInstances { get; init; }

    /// <summary>How much of a shared pool one instance takes (1 when absent; mtty's dual-port type takes 2).</summary>
    public int? PoolUnits { get; init; }

    /// <summary>The type-level <c>migration_version</c> behaviour; no attribute when this and the parent's are absent.</summary>
    public MigrationSpec? Migration { get; init; }

    /// <summary>The behaviour of the <c>migration_version</c> of devices created with this type; the type-level one when absent.</summary>
    public MigrationSpec? DeviceMigration { get; init; }
}

/// <summary>
/// A vendor driver's behaviour behind one <c>migration_version</c> (or <c>vfio_migration_version</c>)
/// attribute. Absent altogether: the attribute does not exist (ENOENT: migration not supported).
/// </summary>
public sealed record MigrationSpec
{
    /// <summary>The version string a read returns (a newline is appended). Required unless <see cref="ReadErrno"/> is set.</summary>
    public string? Version { get; init; }

    /// <summary>When set, every read fails with this errno (e.g. <c>EIO</c>).</summary>
    public string? ReadErrno { get; init; }

    /// <summary>When set, every write fails with this errno (e.g. <c>ENODEV</c>: migration not supported).</summary>
    public string? WriteErrno { get; init; }

    /// <summary>Which source versions a write accepts besides <see cref="Version"/> itself.</summary>
    public AcceptSpec? Accepts { get; init; }

    /// <summary>The errno of a rejected write: <c>EINVAL</c> when absent.</summary>
    public string? RejectErrno { get; init; }

    /// <summary>The reason a rejected write leaves on its open file (read at offset 4096, as the reference driver migref does): the first rule whose pattern matches the written text. No reason when absent.</summary>
    public IReadOnlyList<ReasonSpec>? Reasons { get; init; }
}

/// <summary>Source versions a version write accepts; a version matching any rule is accepted.</summary>
public sealed record AcceptSpec
{
    /// <summary>Exact version strings.</summary>
    public IReadOnlyList<string>? Versions { get; init; }

    /// <summary>Any version that starts with this text.</summary>
    public string? Prefix { get; init; }

    /// <summary>A .NET regular expression the whole version must match.</summary>
    public string? Pattern { get; init; }

    /// <summary>Versions <c>&lt;prefix&gt;&lt;dotted numbers&gt;</c> within an inclusive numeric range.</summary>
    public VersionRangeSpec? Range { get; init; }
}

/// <summary>
/// Versions made of a fixed prefix and dotted decimal numbers (<c>nvidia-535.104.05</c>), compared
/// number by number; both bounds are inclusive and optional.
/// </summary>
public sealed record VersionRangeSpec
{
    /// <summary>The fixed text before the numbers (may be empty).</summary>
    public string? Prefix { get; init; }

    /// <summary>The lowest accepted number part, e.g. <c>535.0</c>.</summary>
    public string? Min { get; init; }

    /// <summary>The highest accepted number part, e.g. <c>535.999</c>.</summary>
    public string? Max { get; init; }
}

/// <summary>A mediated device present when the host starts.</summary>
public sealed record MdevSpec
{
    /// <summary>The mdev UUID (any case; sysfs shows it in lower case).</summary>
    public string? Uuid { get; init; }

    /// <summary>The parent: a PCI address or a virtual parent's name.</summary>
    public string? Parent { get; init; }

    /// <summary>The type id.</summary>
    public string? Type { get; init; }

    /// <summary>This device's own <c>migration_version</c> behaviour; the type's device-level one when absent.</summary>
    public MigrationSpec? Migration { get; init; }
}

/// <summary>A whole PCI function bound to a VFIO driver.</summary>
public sealed record PciDeviceSpec
{
    /// <summary>The PCI address, <c>dddd:bb:ss.f</c>.</summary>
    public string? Address { get; init; }

    /// <summary>PCI vendor id, e.g. <c>0x15b3</c>.</summary>
    public string? VendorId { get; init; }

    /// <summary>PCI device id, e.g. <c>0x101e</c>.</summary>
    public string? ProductId { get; init; }

    /// <summary>The bound driver; <c>vfio-pci</c> when absent.</summary>
    public string? Driver { get; init; }

    /// <summary>The content of <c>vfio_migration_type</c> (e.g. <c>vfio-pci:mlx5</c>); no file when absent.</summary>
    public string? MigrationType { get; init; }

    /// <summary>The <c>vfio_migration_version</c> behaviour; no file when absent.</summary>
    public MigrationSpec? Migration { get; init; }
}

/// <summary>
/// An NVIDIA GPU as an SR-IOV physical function bound to <c>nvidia</c>, with virtual functions that
/// each take one vGPU through <c>nvidia/current_vgpu_type</c> (docs/nvidia-vf.md). In the default
/// (time-sliced) mode every vGPU on the GPU has the same framebuffer size.
/// </summary>
public sealed record SriovGpuSpec
{
    /// <summary>The PF's PCI address, <c>dddd:bb:ss.f</c>.</summary>
    public string? Address { get; init; }

    /// <summary>PCI vendor id; <c>0x10de</c> when absent.</summary>
    public string? VendorId { get; init; }

    /// <summary>The PF's PCI device id, e.g. <c>0x2335</c> (H200).</summary>
    public string? ProductId { get; init; }

    /// <summary>The VFs' PCI device id; the PF's when absent.</summary>
    public string? VfProductId { get; init; }

    /// <summary>The driver of the VFs (NVIDIA's vendor-specific VFIO); <c>nvidia</c> when absent.</summary>
    public string? VfDriver { get; init; }

    /// <summary><c>sriov_totalvfs</c>.</summary>
    public int? TotalVfs { get; init; }

    /// <summary><c>sriov_numvfs</c>: the VFs enabled (by <c>sriov-manage -e</c>); all of them when absent.</summary>
    public int? NumVfs { get; init; }

    /// <summary>The first VF's routing-ID offset from the PF (PCI's First VF Offset, stride 1); 4 when absent (as NVIDIA data-center GPUs show).</summary>
    public int? FirstVfOffset { get; init; }

    /// <summary>The vGPU types the GPU supports.</summary>
    public IReadOnlyList<VgpuTypeSpec>? Types { get; init; }

    /// <summary>The <c>vfio_migration_version</c> of every VF with a vGPU; no file when absent.</summary>
    public MigrationSpec? Migration { get; init; }

    /// <summary>VFs that have a vGPU when the host starts.</summary>
    public IReadOnlyList<VfSpec>? Vfs { get; init; }
}

/// <summary>One vGPU type of a GPU, as NVIDIA's profile tables give it.</summary>
public sealed record VgpuTypeSpec
{
    /// <summary>The numeric type id the driver uses in <c>current_vgpu_type</c> (positive).</summary>
    public int? Id { get; init; }

    /// <summary>The profile name, e.g. <c>NVIDIA H200X-1-18C</c>.</summary>
    public string? Name { get; init; }

    /// <summary>The framebuffer of one vGPU in MiB; a GPU in the default mode holds vGPUs of one size only.</summary>
    public int? FramebufferMiB { get; init; }

    /// <summary>How many vGPUs of this type fit on the GPU.</summary>
    public int? MaxInstances { get; init; }
}

/// <summary>A VF configured when the host starts.</summary>
public sealed record VfSpec
{
    /// <summary>The VF's index (0-based; <c>virtfn&lt;index&gt;</c>).</summary>
    public int? Index { get; init; }

    /// <summary>Its vGPU type id.</summary>
    public int? Type { get; init; }
}

/// <summary>A libvirt guest defined on the host.</summary>
public sealed record GuestSpec
{
    /// <summary>The domain name.</summary>
    public string? Name { get; init; }

    /// <summary>The domain UUID.</summary>
    public string? Uuid { get; init; }

    /// <summary>True when the guest runs; false for shut off.</summary>
    public bool? Running { get; init; }

    /// <summary>Guest memory in MiB (1024 when absent).</summary>
    public int? MemoryMiB { get; init; }

    /// <summary>The guest's host devices, in document order.</summary>
    public IReadOnlyList<HostdevSpec>? Hostdevs { get; init; }
}

/// <summary>One host device of a guest: exactly one of <see cref="Mdev"/> and <see cref="Pci"/>.</summary>
public sealed record HostdevSpec
{
    /// <summary>The UUID of an mdev of this host.</summary>
    public string? Mdev { get; init; }

    /// <summary>The address of a PCI function of this host.</summary>
    public string? Pci { get; init; }

    /// <summary>The mdev model (<c>vfio-pci</c> when absent).</summary>
    public string? Model { get; init; }

    /// <summary>A user alias (<c>ua-</c> prefix, the only aliases libvirt keeps from a defined domain); none when absent.</summary>
    public string? Alias { get; init; }

    /// <summary>The device's PCI address inside the guest (<c>dddd:bb:ss.f</c>), which a migration must keep; none when absent.</summary>
    public string? GuestAddress { get; init; }
}

/// <summary>Simulated latency in milliseconds per operation (0 when absent).</summary>
public sealed record LatencySpec
{
    /// <summary>Every attribute read.</summary>
    public int? ReadMs { get; init; }

    /// <summary>Every write of a version attribute.</summary>
    public int? VersionWriteMs { get; init; }

    /// <summary>Every write of a type's <c>create</c>.</summary>
    public int? CreateMs { get; init; }

    /// <summary>Every write of an mdev's <c>remove</c>.</summary>
    public int? RemoveMs { get; init; }
}

/// <summary>The operations a fault can target.</summary>
public enum SimulatedOperation
{
    /// <summary>A read of any attribute.</summary>
    [JsonStringEnumMemberName("read")]
    Read,

    /// <summary>A write of a <c>migration_version</c> or <c>vfio_migration_version</c> attribute.</summary>
    [JsonStringEnumMemberName("versionWrite")]
    VersionWrite,

    /// <summary>A write of a type's <c>create</c>.</summary>
    [JsonStringEnumMemberName("create")]
    Create,

    /// <summary>A write of an mdev's <c>remove</c>.</summary>
    [JsonStringEnumMemberName("remove")]
    Remove,
}

/// <summary>
/// An injected fault: on matching operations (optionally only the <see cref="Nth"/> one), wait
/// <see cref="HangMs"/>, make the parent disappear, and/or fail with <see cref="Errno"/>.
/// </summary>
public sealed record FaultSpec
{
    /// <summary>The operation this fault targets.</summary>
    public SimulatedOperation? Operation { get; init; }

    /// <summary>Only operations on attributes of this parent (address or name).</summary>
    public string? Parent { get; init; }

    /// <summary>Only operations on attributes of this type (or of devices of this type).</summary>
    public string? Type { get; init; }

    /// <summary>Only operations on attributes of this device (an mdev UUID or a PCI address).</summary>
    public string? Device { get; init; }

    /// <summary>Only the n-th matching operation (1-based); every matching one when absent.</summary>
    public int? Nth { get; init; }

    /// <summary>The errno the operation fails with, after any hang.</summary>
    public string? Errno { get; init; }

    /// <summary>How long the operation hangs before it completes (or fails).</summary>
    public int? HangMs { get; init; }

    /// <summary>When true, <see cref="Parent"/> disappears (as on hot-unplug) while the operation is in flight.</summary>
    public bool? ParentDisappears { get; init; }
}
