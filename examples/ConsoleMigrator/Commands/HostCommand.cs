using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using VfioMigration.ConsoleMigrator.Cli;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Hypervisor;

namespace VfioMigration.ConsoleMigrator.Commands;

/// <summary>
/// <c>host</c>: a host's mdev parents and types with capacity, its mdevs and who uses them, its PCI
/// functions, and its SR-IOV GPUs with their VFs' vGPUs (docs/nvidia-vf.md).
/// </summary>
internal sealed class HostCommand : CliCommand
{
    public HostCommand()
        : base("host", "Show a host's mdev parents (types, capacity), its mdevs (and which guest uses each), its PCI functions, and its GPUs' vGPUs on SR-IOV VFs (type per VF, what each GPU can still make).")
    {
        AddOptions(HostSet.OneHostOptions("libvirt URI of the host"));
    }

    public override string Example => "vfio-migrator host --scenario examples/scenarios/mixed-dest.json";

    public override async Task<int> RunAsync(ParseResult args, CommandContext context, CancellationToken cancellationToken)
    {
        using var hosts = HostSet.FromOneHost(args);
        var host = hosts.Source;
        var inventory = await host.Hypervisor.GetInventoryAsync(InventoryScope.All, cancellationToken).ConfigureAwait(false);
        var owners = DeviceOwners.FromDomains(await host.Hypervisor.ListDomainsAsync(cancellationToken).ConfigureAwait(false));
        var nvidia = inventory.PciDevices.Where(d => d.VendorId == VfVgpuInfo.NvidiaVendorId).Select(d => d.Address).ToList();
        var gpus = SriovGpu.Group(await VfVgpuInfo.ReadAsync(host.FileSystem, nvidia, cancellationToken).ConfigureAwait(false));
        if (context.Json)
        {
            await context.Out.WriteLineAsync(ToJson(inventory, gpus, owners).ToJsonString(DeviceJson.Options)).ConfigureAwait(false);
        }
        else
        {
            WriteText(context, host.Name, inventory, gpus, owners);
        }

        return ExitCodes.Success;
    }

    private static JsonObject ToJson(HostInventory inventory, IReadOnlyList<SriovGpu> gpus, DeviceOwners owners) => new()
    {
        ["parents"] = new JsonArray([.. inventory.Parents.Select(parent => new JsonObject
        {
            ["name"] = parent.Name.Value,
            ["sysfsName"] = parent.SysfsName.Value,
            ["address"] = parent.Address?.ToString(),
            ["vendorId"] = parent.VendorId,
            ["productId"] = parent.ProductId,
            ["driver"] = parent.Driver,
            ["types"] = new JsonArray([.. parent.Types.Select(type => new JsonObject
            {
                ["id"] = type.Id.Value,
                ["name"] = type.Name,
                ["deviceApi"] = type.DeviceApi,
                ["availableInstances"] = type.AvailableInstances,
            })]),
        })]),
        ["mdevs"] = new JsonArray([.. inventory.Mdevs.Select(mdev => new JsonObject
        {
            ["uuid"] = mdev.Uuid.Value,
            ["type"] = mdev.Type.Value,
            ["parent"] = mdev.Parent?.Value,
            ["name"] = mdev.Name.Value,
            ["iommuGroup"] = mdev.IommuGroup,
            ["inUseBy"] = owners.OwnerOf(mdev.Uuid),
        })]),
        ["pciDevices"] = new JsonArray([.. inventory.PciDevices.Select(pci => new JsonObject
        {
            ["name"] = pci.Name.Value,
            ["address"] = pci.Address.ToString(),
            ["driver"] = pci.Driver,
            ["vendorId"] = pci.VendorId,
            ["productId"] = pci.ProductId,
            ["inUseBy"] = owners.OwnerOf(pci.Address),
        })]),
        ["sriovGpus"] = new JsonArray([.. gpus.Select(gpu => new JsonObject
        {
            ["address"] = gpu.Address?.ToString(),
            ["vfs"] = new JsonArray([.. gpu.Vfs.Select(vf => new JsonObject
            {
                ["address"] = vf.Address.ToString(),
                ["vgpuType"] = vf.Current?.Id,
                ["profile"] = vf.Current?.Name,
                ["inUseBy"] = owners.OwnerOf(vf.Address),
            })]),
            ["freeVfs"] = gpu.FreeVfs,
            ["full"] = gpu.Full,
            ["creatable"] = new JsonArray([.. gpu.Creatable.Select(type => new JsonObject { ["id"] = type.Id, ["profile"] = type.Name })]),
        })]),
    };

    private static void WriteText(CommandContext context, string hostName, HostInventory inventory, IReadOnlyList<SriovGpu> gpus, DeviceOwners owners)
    {
        var sriov = gpus.Count == 0 ? string.Empty : $", {gpus.Count} SR-IOV GPU(s) with {gpus.Sum(g => g.Vfs.Count)} vGPU VF(s)";
        context.Out.WriteLine($"Host {hostName}: {inventory.Parents.Count} mdev parent(s), {inventory.Mdevs.Count} mdev(s), {inventory.PciDevices.Count} PCI function(s){sriov}");
        context.Out.WriteLine();
        var types = Screen.Table(context.Console, "PARENT", "ADDRESS", "TYPE", "NAME", "API", "AVAILABLE");
        foreach (var parent in inventory.Parents)
        {
            foreach (var type in parent.Types)
            {
                types.Row(parent.Name.Value, parent.Address?.ToString(), type.Id.Value, type.Name, type.DeviceApi, type.AvailableInstances.ToString(CultureInfo.InvariantCulture));
            }
        }

        Screen.Write(context, types);
        context.Out.WriteLine();
        var mdevs = Screen.Table(context.Console, "MDEV", "TYPE", "PARENT", "IN USE BY");
        foreach (var mdev in inventory.Mdevs)
        {
            mdevs.Row(mdev.Uuid.Value, mdev.Type.Value, mdev.Parent?.Value, owners.OwnerOf(mdev.Uuid) ?? "(idle)");
        }

        Screen.Write(context, mdevs);
        context.Out.WriteLine();
        var pci = Screen.Table(context.Console, "PCI", "NAME", "DRIVER", "VENDOR:PRODUCT", "IN USE BY");
        foreach (var device in inventory.PciDevices)
        {
            pci.Row(device.Address.ToString(), device.Name.Value, device.Driver, $"{device.VendorId}:{device.ProductId}", owners.OwnerOf(device.Address) ?? "-");
        }

        Screen.Write(context, pci);
        if (gpus.Count == 0)
        {
            return;
        }

        context.Out.WriteLine();
        var gpuTable = Screen.Table(context.Console, "GPU", "VFS", "CONFIGURED", "FREE VFS", "FREE CAPACITY", "CREATABLE NOW");
        foreach (var gpu in gpus)
        {
            var capacity = gpu.Full ? "full" : gpu.FreeVfs == 1 ? "1 more vGPU" : $"1 to {gpu.FreeVfs} more vGPUs";
            var creatable = gpu.Creatable.Count == 0 ? "-" : string.Join(", ", gpu.Creatable.Select(Profile));
            gpuTable.Row(gpu.Address?.ToString() ?? "(no physfn)", Count(gpu.Vfs.Count), Count(gpu.Vfs.Count - gpu.FreeVfs), Count(gpu.FreeVfs), capacity, creatable);
        }

        Screen.Write(context, gpuTable);
        context.Out.WriteLine();
        var vfTable = Screen.Table(context.Console, "VF", "GPU", "VGPU TYPE", "IN USE BY");
        foreach (var gpu in gpus)
        {
            foreach (var vf in gpu.Vfs)
            {
                vfTable.Row(vf.Address.ToString(), gpu.Address?.ToString(), vf.Current is { } type ? Profile(type) : "-", owners.OwnerOf(vf.Address) ?? (vf.Current is null ? "-" : "(idle)"));
            }
        }

        Screen.Write(context, vfTable);
    }

    private static string Count(int n) => n.ToString(CultureInfo.InvariantCulture);

    private static string Profile(VgpuTypeInfo type) => type.Name is null ? $"{type.Id}" : $"{type.Id} {type.Name}";
}

/// <summary>
/// One GPU (SR-IOV PF) with its vGPU VFs, and what it can still make: the types its unconfigured VFs
/// list. The capacity is not a number in sysfs (docs/nvidia-vf.md): a VF lists a type when one more
/// vGPU of it fits now, so a GPU whose free VFs list a type takes at least one more and at most one per free VF.
/// </summary>
internal sealed record SriovGpu(PciAddress? Address, IReadOnlyList<VfVgpuInfo> Vfs, int FreeVfs, IReadOnlyList<VgpuTypeInfo> Creatable)
{
    /// <summary>No free VF can take a vGPU now.</summary>
    public bool Full => Creatable.Count == 0;

    /// <summary>Groups VFs by their PF, in address order (VFs with no PF last, one group).</summary>
    public static IReadOnlyList<SriovGpu> Group(IReadOnlyList<VfVgpuInfo> vfs) =>
    [
        .. vfs.GroupBy(vf => vf.PhysicalFunction)
            .OrderBy(g => g.Key is null)
            .ThenBy(g => g.Key?.ToString(), StringComparer.Ordinal)
            .Select(g =>
            {
                var members = g.OrderBy(vf => vf.Address.ToString(), StringComparer.Ordinal).ToList();
                var free = members.Where(vf => vf.Current is null).ToList();
                return new SriovGpu(g.Key, members, free.Count, [.. free.SelectMany(vf => vf.Creatable).DistinctBy(t => t.Id)]);
            }),
    ];
}
