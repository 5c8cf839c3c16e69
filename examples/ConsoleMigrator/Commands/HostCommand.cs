using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using VfioMigration.ConsoleMigrator.Cli;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Hypervisor;

namespace VfioMigration.ConsoleMigrator.Commands;

/// <summary><c>host</c>: a host's mdev parents and types with capacity, its mdevs and who uses them, and its PCI functions.</summary>
internal sealed class HostCommand : CliCommand
{
    public HostCommand()
        : base("host", "Show a host's mdev parents (types, capacity), its mdevs (and which guest uses each) and its PCI functions.")
    {
        AddOptions([
            CliOption.Value("--connect", "URI", "libvirt URI of the host.", required: true),
        ]);
    }

    public override string Example => "vfio-migrator host --connect test:///$PWD/examples/hosts/demo-host.xml";

    public override async Task<int> RunAsync(ParseResult args, CommandContext context, CancellationToken cancellationToken)
    {
        using var hypervisor = LibvirtHypervisor.Open(args.Required("--connect"), readOnly: true);
        var inventory = await hypervisor.GetInventoryAsync(InventoryScope.All, cancellationToken).ConfigureAwait(false);
        var owners = DeviceOwners.FromDomains(await hypervisor.ListDomainsAsync(cancellationToken).ConfigureAwait(false));
        if (context.Json)
        {
            await context.Out.WriteLineAsync(ToJson(inventory, owners).ToJsonString(DeviceJson.Options)).ConfigureAwait(false);
        }
        else
        {
            WriteText(context, hypervisor.HostName, inventory, owners);
        }

        return ExitCodes.Success;
    }

    private static JsonObject ToJson(HostInventory inventory, DeviceOwners owners) => new()
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
    };

    private static void WriteText(CommandContext context, string hostName, HostInventory inventory, DeviceOwners owners)
    {
        context.Out.WriteLine($"Host {hostName}: {inventory.Parents.Count} mdev parent(s), {inventory.Mdevs.Count} mdev(s), {inventory.PciDevices.Count} PCI function(s)");
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
    }
}
