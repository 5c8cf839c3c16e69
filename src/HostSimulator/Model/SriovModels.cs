using VfioMigration.Planner.Devices;

namespace VfioMigration.HostSimulator.Model;

/// <summary>An NVIDIA GPU (SR-IOV PF) whose VFs carry vGPUs. State changes only under the host's lock.</summary>
internal sealed class SriovGpuModel(PciAddress address, string vendorId, string productId, int totalVfs, VersionBehaviour? version)
{
    public PciAddress Address { get; } = address;

    public string VendorId { get; } = vendorId;

    public string ProductId { get; } = productId;

    public int TotalVfs { get; } = totalVfs;

    /// <summary>The <c>vfio_migration_version</c> of its VFs with a vGPU; null for no attribute.</summary>
    public VersionBehaviour? Version { get; } = version;

    public List<VgpuTypeModel> Types { get; } = [];

    public List<VfModel> Vfs { get; } = [];

    public string DevicePath => ParentModel.DevicePathOf(default, Address);

    /// <summary>
    /// What one more vGPU on this GPU may be (the default, time-sliced mode): with no vGPU, every
    /// type; otherwise the types of the framebuffer size already there, while fewer than their
    /// maximum exist.
    /// </summary>
    public IEnumerable<VgpuTypeModel> CreatableTypes()
    {
        var made = Vfs.Where(v => v.Current is not null).Select(v => v.Current!).ToList();
        return made.Count == 0
            ? Types
            : Types.Where(t => t.FramebufferMiB == made[0].FramebufferMiB && made.Count < t.MaxInstances);
    }
}

/// <summary>One vGPU type (profile) of a GPU.</summary>
internal sealed record VgpuTypeModel(uint Id, string Name, int FramebufferMiB, int MaxInstances);

/// <summary>One enabled VF and its vGPU, if any.</summary>
internal sealed class VfModel(SriovGpuModel gpu, int index, PciAddress address)
{
    public SriovGpuModel Gpu { get; } = gpu;

    public int Index { get; } = index;

    public PciAddress Address { get; } = address;

    public VgpuTypeModel? Current { get; set; }

    /// <summary>
    /// What <c>creatable_vgpu_types</c> shows: for a VF with a vGPU its own type (so the profile
    /// name of the id in <c>current_vgpu_type</c> can be read; an assumption, docs/nvidia-vf.md);
    /// otherwise what the GPU can still make.
    /// </summary>
    public IEnumerable<VgpuTypeModel> Creatable() => Current is { } own ? [own] : Gpu.CreatableTypes();
}
