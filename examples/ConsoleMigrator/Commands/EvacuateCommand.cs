using System.CommandLine;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using VfioMigration.ConsoleMigrator.Cli;
using VfioMigration.Etcd;
using VfioMigration.Planner;
using VfioMigration.Planner.Evacuation;
using VfioMigration.Planner.Json;

namespace VfioMigration.ConsoleMigrator.Commands;

/// <summary><c>evacuate</c>: plans every guest of the source onto the destinations with shared capacity, prints the plans, and removes what planning created unless told to keep it.</summary>
internal sealed class EvacuateCommand : CliCommand
{
    public EvacuateCommand()
        : base("evacuate", "Plan the evacuation of a host: every guest with host devices onto one of the destinations, capacity shared.")
    {
        AddOptions([
            .. HostSet.Options,
            .. PlanOptionsParser.Options,
            .. StateOption.Options,
            CliOption.Value("--plans-per-host", "N", "Guests each destination plans at once, 1-16 (default 1: strictly one after the other)."),
            CliOption.Flag("--keep", "Keep the mdevs the plans created when every guest has a plan (default: remove them when the command ends)."),
        ]);
    }

    public override string Example =>
        "vfio-migrator evacuate --source-scenario examples/scenarios/demo-source.json --dest-scenario examples/scenarios/demo-dest-a.json --dest-scenario examples/scenarios/demo-dest-b.json";

    public override async Task<int> RunAsync(ParseResult args, CommandContext context, CancellationToken cancellationToken)
    {
        var options = PlanOptionsParser.Parse(args);
        using var hosts = HostSet.FromArguments(args);
        using var state = StateOption.Open(args, hosts);
        var planner = new MigrationPlanner(
            Microsoft.Extensions.Options.Options.Create(options),
            context.Logging.CreateLogger<MigrationPlanner>(),
            claims: state.Store);
        var result = await new HostEvacuator(planner)
            .EvacuateAsync(new EvacuationRequest(hosts.Source, hosts.Destinations, Options: options, PlansPerHost: PlansPerHost(args)), cancellationToken)
            .ConfigureAwait(false);
        try
        {
            if (context.Json)
            {
                await context.Out.WriteAsync(ToJson(result, state.Store as EtcdStateStore)).ConfigureAwait(false);
            }
            else
            {
                Write(context, result);
            }

            if (result.Succeeded && args.Flag("--keep"))
            {
                await result.CommitAllAsync(CancellationToken.None).ConfigureAwait(false);
                await context.Error.WriteLineAsync($"kept the {result.Guests.Sum(g => g.Plan.Best.Created.Count)} mdev(s) the plans created").ConfigureAwait(false);
            }
        }
        finally
        {
            foreach (var failure in await result.ReleaseAllAsync().ConfigureAwait(false))
            {
                await context.Error.WriteLineAsync($"error: could not remove mdev {failure.Uuid} on {failure.Host}: {failure.Message}; remove it by hand").ConfigureAwait(false);
            }
        }

        return result.Succeeded ? ExitCodes.Success : ExitCodes.NoValidPlan;
    }

    private static int PlansPerHost(ParseResult args)
    {
        var text = args.Value("--plans-per-host");
        if (text is null)
        {
            return 1;
        }

        return int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var value) && value is >= 1 and <= 16
            ? value
            : throw new UsageException($"--plans-per-host '{text}' is not a whole number from 1 to 16.");
    }

    private static void Write(CommandContext context, EvacuationResult result)
    {
        var table = Screen.Table(context.Console, "GUEST", "DESTINATION", "DEVICES", "REUSE", "CREATE", "RETRIED", "RESULT");
        foreach (var guest in result.Guests)
        {
            var best = guest.Plan.Best;
            table.Row(
                guest.Guest.Value,
                best.Destination.Name,
                best.Devices.Count == 0 ? "0" : $"{best.Devices.Count} ({string.Join(", ", best.Devices.GroupBy(d => PlanJson.Name(d.Source.Kind)).Select(kind => $"{kind.Count()} {kind.Key}"))})",
                best.Devices.Count(d => d.Action == DeviceAction.Reuse).ToString(System.Globalization.CultureInfo.InvariantCulture),
                best.CreationCount.ToString(System.Globalization.CultureInfo.InvariantCulture),
                guest.Retried ? "yes" : "no",
                guest.Succeeded ? "complete" : string.Join("; ", best.Reasons));
        }

        var verdict = result.Succeeded
            ? $"every guest has a plan ({result.Guests.Count} guest(s), {result.Elapsed.TotalMilliseconds:F0} ms)"
            : $"{result.Guests.Count(g => !g.Succeeded)} of {result.Guests.Count} guests have no complete plan";
        Screen.Write(context, table);
        context.Out.Write($"\n{verdict}\n");
    }

    /// <summary>The plans as JSON; with the etcd store, also the round trips to etcd so far (<c>etcdRoundTrips</c>: the bench's split evacuation adds them up).</summary>
    private static string ToJson(EvacuationResult result, EtcdStateStore? etcd)
    {
        var guests = new JsonArray();
        foreach (var guest in result.Guests)
        {
            guests.Add(new JsonObject
            {
                ["guest"] = guest.Guest.Value,
                ["succeeded"] = guest.Succeeded,
                ["retried"] = guest.Retried,
                ["destination"] = guest.Plan.Best.Destination.Name,
                ["plan"] = JsonNode.Parse(PlanJson.Serialize(guest.Plan)),
            });
        }

        var document = new JsonObject
        {
            ["succeeded"] = result.Succeeded,
            ["elapsedMs"] = Math.Round(result.Elapsed.TotalMilliseconds, 1),
            ["guests"] = guests,
        };
        if (etcd is not null)
        {
            document["etcdRoundTrips"] = etcd.RoundTrips;
        }

        return document.ToJsonString(DeviceJson.Options) + "\n";
    }
}
