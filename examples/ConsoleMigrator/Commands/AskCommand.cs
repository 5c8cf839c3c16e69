using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using VfioMigration.ConsoleMigrator.Cli;
using VfioMigration.Planner;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Json;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.ConsoleMigrator.Commands;

/// <summary><c>ask</c>: write and ask: every configuration on a destination that accepts each device of a guest, creating nothing.</summary>
internal sealed class AskCommand : CliCommand
{
    public AskCommand()
        : base("ask", "Which configurations on a destination accept each device of a guest? (in the planner's order; creates nothing)")
    {
        AddOptions([
            .. HostSet.Options,
            CliOption.Value("--domain", "NAME", "Guest name or UUID on the source host.", required: true),
            CliOption.Value("--device", "ID", "Only this device of the guest: mdev UUID, PCI address or alias (default: every host device)."),
            .. PlanOptionsParser.Options,
        ]);
    }

    public override string Example =>
        "vfio-migrator ask --source-scenario examples/scenarios/demo-source.json --dest-scenario examples/scenarios/demo-dest-a.json --domain render-1";

    public override async Task<int> RunAsync(ParseResult args, CommandContext context, CancellationToken cancellationToken)
    {
        var options = PlanOptionsParser.Parse(args);
        var guest = InspectCommand.ParseGuest(args.Required("--domain"));
        using var hosts = HostSet.FromArguments(args);
        var destination = SingleDestination(hosts);
        var planner = new MigrationPlanner(Microsoft.Extensions.Options.Options.Create(options), context.Logging.CreateLogger<MigrationPlanner>());
        var answers = await planner.AskAsync(hosts.Source, guest, destination, args.Value("--device"), options, cancellationToken).ConfigureAwait(false);
        if (context.Json)
        {
            var json = new JsonObject
            {
                ["schema"] = "vfio-migration-ask/1",
                ["destination"] = destination.Name,
                ["devices"] = new JsonArray([.. answers.Select(AnswerJson)]),
            };
            await context.Out.WriteLineAsync(json.ToJsonString(DeviceJson.Options)).ConfigureAwait(false);
            return ExitCodes.Success;
        }

        foreach (var answer in answers)
        {
            await context.Out.WriteLineAsync($"{answer.Source.Id} ({answer.Source.Type}): {answer.Targets.Count} configuration(s) on {destination.Name} accept it").ConfigureAwait(false);
            if (answer.Targets.Count > 0)
            {
                var table = Screen.Table(context.Console, "#", "KIND", "TARGET", "TYPE", "FREE", "VERIFICATION", "DECIDED BY");
                foreach (var (target, i) in answer.Targets.Select((t, i) => (t, i + 1)))
                {
                    table.Row(i.ToString(CultureInfo.InvariantCulture), KindName(target.Kind), TargetName(target), target.Type, target.AvailableInstances?.ToString(CultureInfo.InvariantCulture), target.Verification.ToString().ToLowerInvariant(), target.DecidedBy is { } probe ? ProbeText(probe) : target.Note);
                }

                Screen.Write(context, table);
            }

            foreach (var rejection in answer.Rejections)
            {
                await context.Out.WriteLineAsync($"  not {rejection.Candidate ?? "any"}: {rejection.Message}").ConfigureAwait(false);
            }
        }

        return ExitCodes.Success;
    }

    /// <summary>The one destination <c>check</c> and <c>ask</c> question.</summary>
    /// <exception cref="UsageException">Not exactly one destination was given.</exception>
    internal static MigrationHost SingleDestination(HostSet hosts) =>
        hosts.Destinations.Count == 1
            ? hosts.Destinations[0]
            : throw new UsageException($"give exactly one destination (--dest URI or --dest-scenario FILE); {hosts.Destinations.Count} were given.");

    internal static JsonObject SourceJson(SourceDeviceInfo source) => new()
    {
        ["id"] = source.Id,
        ["kind"] = PlanJson.Name(source.Kind),
        ["type"] = source.Type,
        ["alias"] = source.Alias,
    };

    /// <summary>A probe as the plan's JSON writes it: point (<c>mdev-type</c>, <c>mdev-device</c>, <c>pci-device</c>), path, result (<c>accepted</c> or the errno), from cache.</summary>
    internal static JsonObject? ProbeJson(ProbeRecord? probe) => probe is null ? null : new JsonObject
    {
        ["point"] = JsonNamingPolicy.KebabCaseLower.ConvertName(probe.Point.ToString()),
        ["path"] = probe.Path.Value,
        ["result"] = ProbeResult(probe),
        ["fromCache"] = probe.FromCache,
    };

    internal static string ProbeText(ProbeRecord probe) =>
        $"wrote the source version to {probe.Path}: {ProbeResult(probe)}{(probe.FromCache ? " (cached)" : string.Empty)}";

    private static string ProbeResult(ProbeRecord probe) => probe.Errno == Errno.None ? "accepted" : probe.Errno.ToString();

    private static JsonObject AnswerJson(CompatibleTargets answer) => new()
    {
        ["source"] = SourceJson(answer.Source),
        ["targets"] = new JsonArray([.. answer.Targets.Select(t => (JsonNode)new JsonObject
        {
            ["kind"] = KindName(t.Kind),
            ["target"] = TargetName(t),
            ["type"] = t.Type,
            ["availableInstances"] = t.AvailableInstances,
            ["verification"] = t.Verification.ToString().ToLowerInvariant(),
            ["probe"] = ProbeJson(t.DecidedBy),
            ["note"] = t.Note,
        })]),
        ["rejections"] = new JsonArray([.. answer.Rejections.Select(r => (JsonNode)new JsonObject
        {
            ["candidate"] = r.Candidate,
            ["code"] = PlanJson.Name(r.Code),
            ["message"] = r.Message,
        })]),
        ["probes"] = answer.Statistics.Probes,
        ["creates"] = answer.Statistics.Creates,
    };

    private static string KindName(CompatibleTargetKind kind) => kind switch
    {
        CompatibleTargetKind.ExistingMdev => "idle-mdev",
        CompatibleTargetKind.NewMdev => "new-mdev",
        _ => "pci-function",
    };

    private static string TargetName(CompatibleTarget target) => target.Existing switch
    {
        MdevTarget mdev => mdev.Uuid.Value,
        PciTarget pci => pci.Address.ToString(),
        _ => $"{target.Parent}/{target.Type}",
    };
}
