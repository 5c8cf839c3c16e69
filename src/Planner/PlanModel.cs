using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.Planner;

/// <summary>What kind of host device a source device is.</summary>
public enum SourceDeviceKind
{
    /// <summary>A mediated device.</summary>
    Mdev,

    /// <summary>A whole PCI function.</summary>
    Pci,

    /// <summary>A device the planner does not handle (USB, SCSI, ...).</summary>
    Unsupported,

    /// <summary>An NVIDIA vGPU on an SR-IOV virtual function: a PCI function with a non-zero <c>nvidia/current_vgpu_type</c> (docs/nvidia-vf.md).</summary>
    VfVgpu,
}

/// <summary>How the target of a source device comes to be.</summary>
public enum DeviceAction
{
    /// <summary>An existing idle device on the destination is used (<c>reuse</c>).</summary>
    Reuse,

    /// <summary>The planner created a new mdev with a new UUID (<c>create</c>).</summary>
    Create,

    /// <summary>The planner created a new mdev with the source's UUID, so the XML keeps it (<c>preserve-uuid</c>).</summary>
    PreserveUuid,
}

/// <summary>Whether a probe confirmed a mapping.</summary>
public enum Verification
{
    /// <summary>A probe succeeded: the target's driver accepted the source's version.</summary>
    Verified,

    /// <summary>Nothing could verify (no version attribute); accepted on type match by policy.</summary>
    Unverified,
}

/// <summary>Where a probe wrote the source version.</summary>
public enum ProbePoint
{
    /// <summary>A type's <c>migration_version</c>, before creating (<c>type</c>).</summary>
    MdevType,

    /// <summary>An mdev's <c>migration_version</c> (<c>mdev</c>).</summary>
    MdevDevice,

    /// <summary>A PCI function's <c>vfio_migration_version</c> (<c>pci</c>).</summary>
    PciDevice,

    /// <summary>A parent's <c>migration_query</c>, write and ask (<c>query</c>): one question per parent and source version answers for all its types and idle devices.</summary>
    ParentQuery,
}

/// <summary>The probe that decided a verdict.</summary>
/// <param name="Point">Which attribute kind.</param>
/// <param name="Path">The attribute's sysfs path on the destination.</param>
/// <param name="Errno">The write's result: <see cref="Errno.None"/> when it was accepted.</param>
/// <param name="FromCache">True when the verdict came from the cross-plan verdict cache instead of a write.</param>
public sealed record ProbeRecord(ProbePoint Point, SysfsPath Path, Errno Errno, bool FromCache);

/// <summary>Why a candidate or a device was rejected; serialised in UPPER_SNAKE case.</summary>
public enum RejectionCode
{
    /// <summary>The candidate's type (mdev type and device API, or PCI migration type / ids) differs from the source's.</summary>
    TypeMismatch,

    /// <summary>The candidate is used by a guest defined on the host, or claimed by another plan in this process.</summary>
    InUse,

    /// <summary>No instance of the type can be created on the parent (advisory count, one-type-at-a-time card, or the create's errno).</summary>
    NoCapacity,

    /// <summary>The target's driver refused the source version; the errno name is in the message.</summary>
    VersionRejected,

    /// <summary>The source device cannot migrate: its version attribute is unreadable or not a valid version string, or it is absent and the policy requires verification.</summary>
    NotMigratable,

    /// <summary>A probe failed for a reason other than a refusal (the host could not be reached).</summary>
    ProbeFailed,

    /// <summary>A probe did not answer within the bound; the verdict is unknown, never compatible.</summary>
    ProbeTimeout,

    /// <summary>Creating the mdev failed (libvirt and sysfs).</summary>
    CreateFailed,

    /// <summary>Nothing can verify this target and the policy, or the kind of match (cross-type, hybrid), requires a verified one.</summary>
    Unverifiable,

    /// <summary>The planner does not handle this kind of host device.</summary>
    UnsupportedDevice,

    /// <summary>The source device got no target: every accepted candidate is needed by another device, or none was accepted.</summary>
    NotPlaced,
}

/// <summary>A source device of the guest.</summary>
/// <param name="Kind">mdev, PCI or unsupported.</param>
/// <param name="Ordinal">Its position among the guest's host devices (the XML writer's key).</param>
/// <param name="Alias">Its alias, when any.</param>
/// <param name="Uuid">The mdev UUID (mdevs).</param>
/// <param name="Address">The PCI address (PCI functions).</param>
/// <param name="Type">The mdev type id; for PCI the <c>vfio_migration_type</c>, else <c>vendor:device</c> ids; for unsupported devices their kind.</param>
/// <param name="DeviceApi">The mdev's device API (<c>vfio-pci</c>, ...), when known.</param>
/// <param name="Parent">The mdev's parent on the source host, when known.</param>
public sealed record SourceDeviceInfo(SourceDeviceKind Kind, int Ordinal, string? Alias, MdevUuid? Uuid, PciAddress? Address, string Type, string? DeviceApi, string? Parent)
{
    /// <summary>The device's identity for messages: its UUID or address.</summary>
    public string Id => Uuid?.Value ?? Address?.ToString() ?? $"hostdev #{Ordinal}";
}

/// <summary>The destination device a source device maps to.</summary>
/// <param name="Target">The mdev UUID or PCI address the destination XML names.</param>
/// <param name="Parent">The mdev's parent (libvirt node device name), when an mdev.</param>
/// <param name="Type">Its type, in the same terms as <see cref="SourceDeviceInfo.Type"/>.</param>
public sealed record TargetDeviceInfo(DeviceTarget Target, string? Parent, string Type)
{
    /// <summary>The target's identity for messages: its UUID or address.</summary>
    public string Id => Target switch
    {
        MdevTarget mdev => mdev.Uuid.Value,
        PciTarget pci => pci.Address.ToString(),
        _ => Target.ToString(),
    };
}

/// <summary>One line of the device mapping.</summary>
/// <param name="Source">The guest's device.</param>
/// <param name="Target">Its destination device.</param>
/// <param name="Action">Reuse, create or preserve-uuid.</param>
/// <param name="Verification">Verified (with <paramref name="DecidedBy"/>) or unverified.</param>
/// <param name="DecidedBy">The probe that verified it; null when unverified.</param>
/// <param name="Note">Why the mapping is unverified, or another remark; null when there is nothing to add.</param>
public sealed record PlannedDevice(SourceDeviceInfo Source, TargetDeviceInfo Target, DeviceAction Action, Verification Verification, ProbeRecord? DecidedBy, string? Note);

/// <summary>A rejected candidate (or a source device that could not be placed), with a reason a person understands.</summary>
/// <param name="Source">The source device's UUID or address.</param>
/// <param name="Candidate">The candidate (an mdev UUID, a PCI address, or <c>parent/type</c>); null when the rejection concerns the source device itself.</param>
/// <param name="Code">The machine-readable reason.</param>
/// <param name="Message">A sentence saying why.</param>
/// <param name="Errno">The errno behind it, when one was returned.</param>
public sealed record Rejection(string Source, string? Candidate, RejectionCode Code, string Message, Errno? Errno = null);

/// <summary>How a planner-created mdev was made (and is removed).</summary>
public enum CreationMethod
{
    /// <summary>libvirt's node-device API.</summary>
    Libvirt,

    /// <summary>A write of the UUID to the type's <c>create</c> attribute.</summary>
    Sysfs,

    /// <summary>A vGPU type id written to a VF's <c>nvidia/current_vgpu_type</c> (removed by writing 0; docs/nvidia-vf.md).</summary>
    Vf,
}

/// <summary>What became of a planner-created mdev.</summary>
public enum CreatedDeviceState
{
    /// <summary>It exists and belongs to the plan.</summary>
    Kept,

    /// <summary>The planner removed it (rejected on confirmation, or rolled back).</summary>
    Removed,

    /// <summary>Removing it failed: it is still on the host; see the error.</summary>
    RemoveFailed,
}

/// <summary>An mdev the planner created on the destination.</summary>
/// <param name="Host">The destination host's name.</param>
/// <param name="Uuid">Its UUID.</param>
/// <param name="Parent">Its parent (libvirt node device name).</param>
/// <param name="Type">Its type.</param>
/// <param name="Method">libvirt or sysfs.</param>
/// <param name="Persistent">Whether it was defined (persistent) rather than transient.</param>
/// <param name="State">Kept, removed, or removal failed.</param>
/// <param name="Error">Why the removal failed, when it did.</param>
public sealed record CreatedDevice(string Host, MdevUuid Uuid, string Parent, MdevTypeId Type, CreationMethod Method, bool Persistent, CreatedDeviceState State, string? Error);

/// <summary>What a plan cost.</summary>
/// <param name="Probes">Version writes made (cache hits excluded).</param>
/// <param name="ProbeCacheHits">Probe verdicts taken from the per-plan memo or the cross-plan cache instead of a write.</param>
/// <param name="Creates">mdevs created.</param>
/// <param name="Removes">mdevs removed.</param>
/// <param name="LibvirtCalls">Calls the planner made through the hypervisor interface for this plan.</param>
/// <param name="SysfsReads">sysfs reads made.</param>
/// <param name="ElapsedMs">Wall time of the plan, in milliseconds (connecting to the hosts before it not included: see <see cref="ConnectMs"/>).</param>
public sealed record PlanStatistics(int Probes, int ProbeCacheHits, int Creates, int Removes, int LibvirtCalls, int SysfsReads, long ElapsedMs)
{
    /// <summary>
    /// Time spent opening the source's and this destination's connections before the plan started
    /// (<see cref="MigrationHost.ConnectTime"/>), in milliseconds; not part of <see cref="ElapsedMs"/>.
    /// Zero when the caller did not measure it.
    /// </summary>
    public long ConnectMs { get; init; }

    /// <summary>
    /// Round trips to the source host's file system while its facts were read
    /// (<see cref="Sysfs.IHostFileSystem.RoundTrips"/>; 0 for a local one).
    /// </summary>
    public long SourceRoundTrips { get; init; }

    /// <summary>
    /// Round trips to this destination's file system from the start of the plan until it was returned
    /// (removals at release come after); 0 for a local one. Other plans on the same host at the same
    /// time count too.
    /// </summary>
    public long DestinationRoundTrips { get; init; }
}

/// <summary>A device the planner could not remove.</summary>
/// <param name="Host">The host's name.</param>
/// <param name="Uuid">The mdev left behind.</param>
/// <param name="Message">What failed.</param>
public sealed record RemovalFailure(string Host, MdevUuid Uuid, string Message);
