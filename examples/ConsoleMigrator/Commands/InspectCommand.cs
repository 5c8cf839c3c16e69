using System.CommandLine;
using System.Text.Json.Nodes;
using VfioMigration.ConsoleMigrator.Cli;
using VfioMigration.Planner;
using VfioMigration.Planner.Hypervisor;

namespace VfioMigration.ConsoleMigrator.Commands;

/// <summary><c>inspect</c>: a guest's host devices as the library reads them.</summary>
internal sealed class InspectCommand : CliCommand
{
    public InspectCommand()
        : base("inspect", "Show a guest's host devices (mdevs, PCI functions, SR-IOV interfaces) as the planner reads them.")
    {
        AddOptions([
            CliOption.Value("--connect", "URI", "libvirt URI of the host that defines the guest.", required: true),
            CliOption.Value("--domain", "NAME", "Guest name or UUID.", required: true),
        ]);
    }

    public override string Example => "vfio-migrator inspect --connect test:///$PWD/examples/hosts/demo-host.xml --domain vgpu-guest --json";

    public override async Task<int> RunAsync(ParseResult args, CommandContext context, CancellationToken cancellationToken)
    {
        using var hypervisor = LibvirtHypervisor.Open(args.Required("--connect"), readOnly: true);
        var guest = await hypervisor.GetDomainAsync(ParseGuest(args.Required("--domain")), cancellationToken).ConfigureAwait(false);
        var devices = guest.Devices;
        if (context.Json)
        {
            var json = new JsonObject
            {
                ["domain"] = new JsonObject { ["name"] = devices.Name, ["uuid"] = devices.Uuid },
                ["hostdevs"] = new JsonArray([.. devices.HostDevices.Select(DeviceJson.Describe)]),
            };
            await context.Out.WriteLineAsync(json.ToJsonString(DeviceJson.Options)).ConfigureAwait(false);
            return ExitCodes.Success;
        }

        await context.Out.WriteLineAsync($"Guest {devices.Name} ({devices.Uuid}) on {hypervisor.HostName}: {devices.HostDevices.Count} host device(s)").ConfigureAwait(false);
        if (devices.HostDevices.Count == 0)
        {
            return ExitCodes.Success;
        }

        var table = Screen.Table(context.Console, "#", "KIND", "DEVICE", "DETAILS", "ALIAS", "GUEST ADDRESS");
        foreach (var device in devices.HostDevices)
        {
            table.Row(device.Ordinal.ToString(System.Globalization.CultureInfo.InvariantCulture), DeviceJson.Kind(device), DeviceJson.Identity(device), DeviceJson.Details(device), device.Alias, DeviceJson.GuestAddressText(device.GuestAddress));
        }

        Screen.Write(context, table);
        return ExitCodes.Success;
    }

    internal static DomainSelector ParseGuest(string text)
    {
        try
        {
            return DomainSelector.Parse(text);
        }
        catch (ArgumentException e)
        {
            throw new UsageException($"--domain: {e.Message}");
        }
    }
}
