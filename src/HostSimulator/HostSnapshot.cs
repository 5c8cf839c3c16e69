using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.HostSimulator;

/// <summary>
/// The whole simulated host at one moment. Compare <see cref="State"/> before and after a run
/// (<c>Assert.AreEqual(before.State, after.State)</c>) to prove nothing leaked or changed; read
/// <see cref="Operations"/> to see what the run did.
/// </summary>
/// <param name="State">Devices and capacity; compares by value.</param>
/// <param name="Operations">Every read and write so far, in completion order.</param>
public sealed record HostSnapshot(HostState State, ValueList<OperationRecord> Operations)
{
    /// <summary>The operations recorded after <paramref name="earlier"/> was taken.</summary>
    public IEnumerable<OperationRecord> OperationsSince(HostSnapshot earlier)
    {
        ArgumentNullException.ThrowIfNull(earlier);
        return Operations.Skip(earlier.Operations.Count);
    }
}

/// <summary>The devices and capacity of a host; compares by value.</summary>
/// <param name="Parents">Present parents, in scenario order.</param>
/// <param name="Mdevs">Existing mdevs, ordered by UUID.</param>
public sealed record HostState(ValueList<ParentSnapshot> Parents, ValueList<MdevSnapshot> Mdevs)
{
    /// <summary>Every enabled VF of the host's SR-IOV GPUs and its vGPU type id (0: none), GPU by GPU (docs/nvidia-vf.md).</summary>
    public ValueList<VfSnapshot> Vfs { get; init; } = new([]);
}

/// <summary>One VF of an SR-IOV GPU.</summary>
/// <param name="Address">The VF.</param>
/// <param name="Pf">Its GPU (physical function).</param>
/// <param name="VgpuType">Its <c>current_vgpu_type</c>: 0 without a vGPU.</param>
public sealed record VfSnapshot(PciAddress Address, PciAddress Pf, uint VgpuType);

/// <summary>A parent and the capacity of each of its types.</summary>
/// <param name="Name">The parent's sysfs name.</param>
/// <param name="Types">Its types, in scenario order.</param>
public sealed record ParentSnapshot(string Name, ValueList<TypeSnapshot> Types);

/// <summary>One type of a parent.</summary>
/// <param name="Type">The type id.</param>
/// <param name="Instances">How many mdevs of this type exist on the parent.</param>
/// <param name="AvailableInstances">What <c>available_instances</c> shows.</param>
public sealed record TypeSnapshot(MdevTypeId Type, int Instances, int AvailableInstances);

/// <summary>An existing mdev.</summary>
/// <param name="Uuid">Its UUID.</param>
/// <param name="Parent">Its parent's sysfs name.</param>
/// <param name="Type">Its type id.</param>
public sealed record MdevSnapshot(MdevUuid Uuid, string Parent, MdevTypeId Type);

/// <summary>One read or write the host served (including those refused at open).</summary>
/// <param name="Sequence">1-based position in the log.</param>
/// <param name="Path">The path as the caller gave it, relative to the sysfs root.</param>
/// <param name="Data">For a write, the text written (newlines escaped as <c>\n</c>, shortened to 120 characters); null for a read.</param>
/// <param name="Result">The errno returned; <see cref="Errno.None"/> for success.</param>
public sealed record OperationRecord(long Sequence, string Path, string? Data, Errno Result)
{
    /// <summary>True for a write, false for a read.</summary>
    public bool IsWrite => Data is not null;
}
