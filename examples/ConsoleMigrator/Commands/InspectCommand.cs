using System.CommandLine;
using System.Text.Json.Nodes;
using VfioMigration.ConsoleMigrator.Cli;
using VfioMigration.Planner;
using VfioMigration.Planner.Devices;

namespace VfioMigration.ConsoleMigrator.Commands;

/// <summary><c>inspect</c>: a guest's host devices as the library reads them.</summary>
internal sealed class InspectCommand : CliCommand
{
    public InspectCommand()
        : base("inspect", "Show a guest's host devices (mdevs, PCI functions, SR-IOV interfaces, vGPUs on SR-IOV VFs) as the planner reads them.")
    {
        AddOptions([
            .. HostSet.OneHostOptions("libvirt URI of the host that defines the guest"),
            CliOption.Value("--domain", "NAME", "Guest name or UUID.", required: true),
        ]);
    }

    public override string Example => "vfio-migrator inspect --scenario examples/scenarios/mixed-source.json --domain train-1 --json";

    public override async Task<int> RunAsync(ParseResult args, CommandContext context, CancellationToken cancellationToken)
    {
        var selector = ParseGuest(args.Required("--domain"));
        using var hosts = HostSet.FromOneHost(args);
        var host = hosts.Source;
        var guest = await host.Hypervisor.GetDomainAsync(selector, cancellationToken).ConfigureAwait(false);
        var devices = guest.Devices;

        // A PCI hostdev whose function has a vGPU type set is a vGPU on a VF (docs/nvidia-vf.md): its sysfs says so, libvirt does not.
        var vfs = (await VfVgpuInfo.ReadAsync(host.FileSystem, [.. devices.HostDevices.OfType<PciHostDevice>().Select(p => p.Address)], cancellationToken).ConfigureAwait(false))
            .Where(vf => vf.Current is not null)
            .ToDictionary(vf => vf.Address);
        VfVgpuInfo? VgpuOf(HostDevice device) => device is PciHostDevice pci ? vfs.GetValueOrDefault(pci.Address) : null;
        if (context.Json)
        {
            var json = new JsonObject
            {
                ["domain"] = new JsonObject { ["name"] = devices.Name, ["uuid"] = devices.Uuid },
                ["hostdevs"] = new JsonArray([.. devices.HostDevices.Select(d => DeviceJson.Describe(d, VgpuOf(d)))]),
            };
            await context.Out.WriteLineAsync(json.ToJsonString(DeviceJson.Options)).ConfigureAwait(false);
            return ExitCodes.Success;
        }

        await context.Out.WriteLineAsync($"Guest {devices.Name} ({devices.Uuid}) on {host.Name}: {devices.HostDevices.Count} host device(s)").ConfigureAwait(false);
        if (devices.HostDevices.Count == 0)
        {
            return ExitCodes.Success;
        }

        var table = Screen.Table(context.Console, "#", "KIND", "DEVICE", "DETAILS", "ALIAS", "GUEST ADDRESS");
        foreach (var device in devices.HostDevices)
        {
            var vgpu = VgpuOf(device);
            table.Row(device.Ordinal.ToString(System.Globalization.CultureInfo.InvariantCulture), DeviceJson.Kind(device, vgpu), DeviceJson.Identity(device), DeviceJson.Details(device, vgpu), device.Alias, DeviceJson.GuestAddressText(device.GuestAddress));
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
