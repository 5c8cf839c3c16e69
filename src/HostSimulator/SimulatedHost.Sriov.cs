using System.Globalization;
using System.Text;
using VfioMigration.HostSimulator.Model;
using VfioMigration.HostSimulator.Scenarios;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.HostSimulator;

/// <content>NVIDIA GPUs with vGPUs on SR-IOV virtual functions (docs/nvidia-vf.md).</content>
public sealed partial class SimulatedHost
{
    private readonly List<SriovGpuModel> _gpus = [];

    private void AddSriovGpus(IReadOnlyList<SriovGpuSpec> gpus)
    {
        for (var i = 0; i < gpus.Count; i++)
        {
            var path = $"$.sriovGpus[{i}]";
            var spec = ScenarioValues.Required(gpus[i], path);
            var address = ScenarioValues.Pci(spec.Address, $"{path}.address");
            var productId = ScenarioValues.PciId(spec.ProductId, $"{path}.productId");
            var total = ScenarioValues.Positive(spec.TotalVfs, $"{path}.totalVfs");
            var enabled = spec.NumVfs is null ? total : ScenarioValues.NonNegative(spec.NumVfs, $"{path}.numVfs");
            if (enabled > total)
            {
                throw new ScenarioException($"{path}.numVfs", $"is {enabled}, more than totalVfs ({total}).");
            }

            var gpu = new SriovGpuModel(
                address,
                spec.VendorId is null ? "0x10de" : ScenarioValues.PciId(spec.VendorId, $"{path}.vendorId"),
                productId,
                total,
                VersionBehaviour.From(spec.Migration, $"{path}.migration"));
            ReadVgpuTypes(gpu, ScenarioValues.Required(spec.Types, $"{path}.types"), $"{path}.types");
            var firstOffset = spec.FirstVfOffset is null ? 4 : ScenarioValues.Positive(spec.FirstVfOffset, $"{path}.firstVfOffset");
            var vfProduct = spec.VfProductId is null ? productId : ScenarioValues.PciId(spec.VfProductId, $"{path}.vfProductId");
            var vfDriver = spec.VfDriver is null ? "nvidia" : ScenarioValues.Name(spec.VfDriver, $"{path}.vfDriver").Value;
            for (var n = 0; n < enabled; n++)
            {
                gpu.Vfs.Add(new VfModel(gpu, n, VfAddress(address, firstOffset + n, $"{path}.totalVfs")));
            }

            if (_gpus.Any(g => g.Address == address) || _parents.Any(p => p.Address == address) || _pciFunctions.Any(f => f.Address == address || gpu.Vfs.Any(v => v.Address == f.Address)))
            {
                throw new ScenarioException($"{path}.address", $"PCI address {address} or one of its VFs is already used by another device of this host.");
            }

            _gpus.Add(gpu);
            BuildGpuDirectory(gpu, enabled, vfDriver, vfProduct);
            ConfigureInitialVfs(gpu, spec.Vfs ?? [], $"{path}.vfs");
        }
    }

    private static void ReadVgpuTypes(SriovGpuModel gpu, IReadOnlyList<VgpuTypeSpec> types, string path)
    {
        if (types.Count == 0)
        {
            throw new ScenarioException(path, "must list at least one vGPU type.");
        }

        for (var t = 0; t < types.Count; t++)
        {
            var spec = ScenarioValues.Required(types[t], $"{path}[{t}]");
            var id = (uint)ScenarioValues.Positive(spec.Id, $"{path}[{t}].id");
            if (gpu.Types.Any(existing => existing.Id == id))
            {
                throw new ScenarioException($"{path}[{t}].id", $"vGPU type {id} is listed twice.");
            }

            gpu.Types.Add(new VgpuTypeModel(
                id,
                ScenarioValues.AttributeText(ScenarioValues.Required(spec.Name, $"{path}[{t}].name"), $"{path}[{t}].name"),
                ScenarioValues.Positive(spec.FramebufferMiB, $"{path}[{t}].framebufferMiB"),
                ScenarioValues.Positive(spec.MaxInstances, $"{path}[{t}].maxInstances")));
        }
    }

    /// <summary>The address <paramref name="offset"/> routing IDs after the PF (stride 1, as NVIDIA's GPUs have), on the PF's bus.</summary>
    private static PciAddress VfAddress(PciAddress pf, int offset, string path)
    {
        var devfn = (pf.Slot * 8) + pf.Function + offset;
        if (devfn > 255)
        {
            throw new ScenarioException(path, $"the VFs of {pf} would run past its bus (the simulator keeps VFs on the PF's bus).");
        }

        return PciAddress.Parse(string.Create(CultureInfo.InvariantCulture, $"{pf.Domain:x4}:{pf.Bus:x2}:{devfn / 8:x2}.{devfn % 8:x}"));
    }

    private void BuildGpuDirectory(SriovGpuModel gpu, int enabled, string vfDriver, string vfProduct)
    {
        var pfOwner = new AttributeOwner(gpu.Address.ToString(), null, gpu.Address.ToString());
        var pfDirectory = _root.Directories(gpu.DevicePath);
        AddPciAttributes(pfDirectory, pfOwner, gpu.Address, gpu.VendorId, gpu.ProductId, gpu.DevicePath, "nvidia");
        pfDirectory.Add("sriov_totalvfs", new TextAttribute(pfOwner, gpu.TotalVfs.ToString(CultureInfo.InvariantCulture)));
        pfDirectory.Add("sriov_numvfs", new TextAttribute(pfOwner, enabled.ToString(CultureInfo.InvariantCulture)));
        foreach (var vf in gpu.Vfs)
        {
            pfDirectory.Add($"virtfn{vf.Index}", new LinkNode("../" + vf.Address));
            var function = new PciFunctionModel(vf.Address, gpu.VendorId, vfProduct, vfDriver, null, null) { PhysicalFunction = gpu.Address };
            _pciFunctions.Add(function);
            BuildPciFunctionDirectory(function);
            var directory = _root.Directories(function.DevicePath);
            var owner = new AttributeOwner(gpu.Address.ToString(), null, vf.Address.ToString());
            directory.Add("physfn", new LinkNode("../" + gpu.Address));
            var nvidia = directory.Directory("nvidia");
            nvidia.Add("current_vgpu_type", new CurrentVgpuTypeAttribute(owner, vf, this));
            nvidia.Add("creatable_vgpu_types", new CreatableVgpuTypesAttribute(owner, vf));
            if (gpu.Version is not null)
            {
                directory.Add("vfio_migration_version", new VfVersionAttribute(owner, vf, gpu.Version));
            }
        }
    }

    private static void ConfigureInitialVfs(SriovGpuModel gpu, IReadOnlyList<VfSpec> vfs, string path)
    {
        for (var i = 0; i < vfs.Count; i++)
        {
            var spec = ScenarioValues.Required(vfs[i], $"{path}[{i}]");
            var index = ScenarioValues.NonNegative(spec.Index, $"{path}[{i}].index");
            var vf = gpu.Vfs.Find(v => v.Index == index)
                ?? throw new ScenarioException($"{path}[{i}].index", $"GPU {gpu.Address} has no enabled VF {index}.");
            var id = (uint)ScenarioValues.Positive(spec.Type, $"{path}[{i}].type");
            var error = SetVgpuTypeLocked(vf, id);
            if (error != Errno.None)
            {
                throw new ScenarioException($"{path}[{i}]", $"VF {index} of {gpu.Address} cannot take vGPU type {id} ({error}): already configured, a type the GPU lacks, a second framebuffer size, or no capacity left.");
            }
        }
    }

    /// <summary>
    /// A write to a VF's <c>current_vgpu_type</c>, under the lock: a decimal number (one trailing
    /// newline allowed) or EINVAL; 0 destroys the vGPU (EBUSY while a running guest holds the VF);
    /// another id on a VF with a vGPU is EBUSY, an id its creatable list lacks EINVAL.
    /// </summary>
    internal Errno StoreVgpuType(VfModel vf, ReadOnlySpan<byte> data)
    {
        var text = Encoding.ASCII.GetString(data);
        if (text.EndsWith('\n'))
        {
            text = text[..^1];
        }

        if (text.Length == 0 || text.Length > 10 || !text.All(char.IsAsciiDigit) || !uint.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var id))
        {
            return Errno.EINVAL;
        }

        if (id == 0)
        {
            if (vf.Current is not null && _guests.Any(g => g.Running && g.Hostdevs.Any(h => h.Pci == vf.Address)))
            {
                return Errno.EBUSY;
            }

            vf.Current = null;
            return Errno.None;
        }

        return SetVgpuTypeLocked(vf, id);
    }

    private static Errno SetVgpuTypeLocked(VfModel vf, uint id)
    {
        if (vf.Current is not null)
        {
            return Errno.EBUSY;
        }

        if (vf.Creatable().FirstOrDefault(t => t.Id == id) is not { } type)
        {
            return Errno.EINVAL;
        }

        vf.Current = type;
        return Errno.None;
    }
}

/// <summary>A VF's <c>nvidia/current_vgpu_type</c> (0644): the id, or 0.</summary>
internal sealed class CurrentVgpuTypeAttribute(AttributeOwner owner, VfModel vf, SimulatedHost host) : AttributeNode(owner, 0b110_100_100)
{
    public override SimulatedOperation? WriteOperation => SimulatedOperation.Create;

    public override SysfsResult<byte[]> Show() => SysfsResult.Of(Encoding.ASCII.GetBytes($"{vf.Current?.Id ?? 0}\n"));

    public override Errno Store(ReadOnlySpan<byte> data) => host.StoreVgpuType(vf, data);
}

/// <summary>A VF's <c>nvidia/creatable_vgpu_types</c> (0444): <c>id : name</c> lines of what it can make now.</summary>
internal sealed class CreatableVgpuTypesAttribute(AttributeOwner owner, VfModel vf) : AttributeNode(owner, 0b100_100_100)
{
    public override SimulatedOperation? WriteOperation => null;

    public override SysfsResult<byte[]> Show() =>
        SysfsResult.Of(Encoding.ASCII.GetBytes(string.Concat(vf.Creatable().Select(t => $"{t.Id} : {t.Name}\n"))));
}

/// <summary>A VF's <c>vfio_migration_version</c>: the GPU's behaviour while the VF has a vGPU; ENODEV without one (nothing to migrate).</summary>
internal sealed class VfVersionAttribute(AttributeOwner owner, VfModel vf, VersionBehaviour behaviour) : AttributeNode(owner, 0b110_100_100)
{
    public override SimulatedOperation? WriteOperation => SimulatedOperation.VersionWrite;

    public override SysfsResult<byte[]> Show() => vf.Current is null ? SysfsResult.Failed<byte[]>(Errno.ENODEV) : behaviour.Read();

    public override Errno Store(ReadOnlySpan<byte> data) => vf.Current is null ? Errno.ENODEV : behaviour.Write(data);

    public override SimulatedWriteOutcome StoreForOpenFile(ReadOnlySpan<byte> data) =>
        vf.Current is null ? new(Errno.ENODEV, null, null) : new(behaviour.Write(data, out var reason), reason, null);
}
