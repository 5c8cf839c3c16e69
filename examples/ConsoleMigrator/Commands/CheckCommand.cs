using System.CommandLine;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using VfioMigration.ConsoleMigrator.Cli;
using VfioMigration.Planner;

namespace VfioMigration.ConsoleMigrator.Commands;

/// <summary><c>check</c>: is one device of a guest compatible with one target on a destination? At most one probe, nothing created.</summary>
internal sealed class CheckCommand : CliCommand
{
    public CheckCommand()
        : base("check", "Is one device of a guest compatible with one target on a destination? (one probe at most, creates nothing)")
    {
        AddOptions([
            .. HostSet.Options,
            CliOption.Value("--domain", "NAME", "Guest name or UUID on the source host.", required: true),
            CliOption.Value("--device", "ID", "The guest's device: mdev UUID, PCI address or alias.", required: true),
            CliOption.Value("--target", "ID|PARENT/TYPE", "An mdev UUID or PCI address on the destination, or PARENT/TYPE (parent as pci_0000_3b_00_0 or 0000:3b:00.0).", required: true),
            .. PlanOptionsParser.Options,
        ]);
    }

    /// <summary>The exit code when the target refuses the device (README's table).</summary>
    public const int Incompatible = 10;

    /// <summary>The exit code when nothing could verify either way (README's table).</summary>
    public const int Unknown = 11;

    public override string Example =>
        "vfio-migrator check --source-scenario examples/scenarios/demo-source.json --dest-scenario examples/scenarios/demo-dest-a.json --domain render-1 --device ua-vgpu0 --target 0000:3b:00.0/nvidia-223";

    public override async Task<int> RunAsync(ParseResult args, CommandContext context, CancellationToken cancellationToken)
    {
        var options = PlanOptionsParser.Parse(args);
        var guest = InspectCommand.ParseGuest(args.Required("--domain"));
        using var hosts = HostSet.FromArguments(args);
        var destination = AskCommand.SingleDestination(hosts);
        var planner = new MigrationPlanner(Microsoft.Extensions.Options.Options.Create(options), context.Logging.CreateLogger<MigrationPlanner>());
        var check = await planner.CheckCompatibilityAsync(hosts.Source, guest, args.Required("--device"), destination, args.Required("--target"), options, cancellationToken).ConfigureAwait(false);
        var outcome = check.Outcome.ToString().ToLowerInvariant();
        if (context.Json)
        {
            var json = new JsonObject
            {
                ["schema"] = "vfio-migration-check/1",
                ["outcome"] = outcome,
                ["source"] = AskCommand.SourceJson(check.Source),
                ["destination"] = destination.Name,
                ["target"] = check.Target,
                ["probe"] = AskCommand.ProbeJson(check.DecidedBy),
                ["reason"] = check.Reason,
                ["probes"] = check.Statistics.Probes,
            };
            await context.Out.WriteLineAsync(json.ToJsonString(DeviceJson.Options)).ConfigureAwait(false);
        }
        else
        {
            await context.Out.WriteLineAsync($"{outcome}: {check.Source.Id} ({check.Source.Type}) -> {check.Target} on {destination.Name}").ConfigureAwait(false);
            if (check.DecidedBy is { } probe)
            {
                await context.Out.WriteLineAsync($"  probe: {AskCommand.ProbeText(probe)}").ConfigureAwait(false);
            }

            await context.Out.WriteLineAsync($"  why: {check.Reason}").ConfigureAwait(false);
        }

        return check.Outcome switch
        {
            CompatibilityOutcome.Compatible => ExitCodes.Success,
            CompatibilityOutcome.Incompatible => Incompatible,
            _ => Unknown,
        };
    }
}
