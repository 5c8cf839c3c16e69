using VfioMigration.Planner.Planning;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.Planner.Devices;

/// <summary>An NVIDIA vGPU type as a VF's <c>nvidia/creatable_vgpu_types</c> names it (docs/nvidia-vf.md).</summary>
/// <param name="Id">The driver's numeric type id (never 0).</param>
/// <param name="Name">The profile name (<c>NVIDIA H200X-1-18C</c>): printable ASCII of at most 100 characters; null when no list named the id.</param>
public sealed record VgpuTypeInfo(uint Id, string? Name);

/// <summary>
/// A PCI function with NVIDIA's vGPU-on-VF interface, as its sysfs says (docs/nvidia-vf.md): its
/// physical function, its vGPU type, and the types it can take now.
/// </summary>
/// <param name="Address">The function (a VF).</param>
/// <param name="PhysicalFunction">Its PF, from the <c>physfn</c> link; null when the link names none.</param>
/// <param name="Current">Its <c>current_vgpu_type</c>, named from its own creatable list where that lists it; null when unconfigured (0).</param>
/// <param name="Creatable">Its <c>creatable_vgpu_types</c>, in the driver's order (lines that are not an id and a printable name are left out).</param>
public sealed record VfVgpuInfo(PciAddress Address, PciAddress? PhysicalFunction, VgpuTypeInfo? Current, IReadOnlyList<VgpuTypeInfo> Creatable)
{
    /// <summary>NVIDIA's PCI vendor id, as <see cref="PciDevice.VendorId"/> has it: only such functions have the interface.</summary>
    public const string NvidiaVendorId = "0x10de";

    /// <summary>
    /// Reads the vGPU state of those of <paramref name="functions"/> that have the interface, in one
    /// batch (two reads each, then a <c>physfn</c> readlink for each that has it); the others are left
    /// out, in the order given. Ask NVIDIA functions only (<see cref="NvidiaVendorId"/>): every other is two reads for nothing.
    /// </summary>
    /// <param name="fileSystem">The host's sysfs.</param>
    /// <param name="functions">The PCI functions to ask.</param>
    /// <param name="cancellationToken">Cancels the reads.</param>
    public static async Task<IReadOnlyList<VfVgpuInfo>> ReadAsync(IHostFileSystem fileSystem, IReadOnlyList<PciAddress> functions, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(fileSystem);
        ArgumentNullException.ThrowIfNull(functions);
        var states = await new NvidiaSysfsVfControl(fileSystem, new PlanCounters()).ReadAsync(functions, cancellationToken).ConfigureAwait(false);
        return [.. states.Select(s => new VfVgpuInfo(s.Vf, s.Pf, s.CurrentType is { } current ? Public(current) : null, [.. s.Creatable.Select(Public)]))];
    }

    private static VgpuTypeInfo Public(VgpuType type) => new(type.Id, type.Name);
}
