using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using VfioMigration.Bench;
using VfioMigration.ConsoleMigrator.Cli;
using VfioMigration.Planner;

namespace VfioMigration.ConsoleMigrator.Commands;

/// <summary>
/// <c>economy</c>: what write and ask, write and test and an exhaustive search each write into one
/// destination's version attributes for a guest, counted where the writes reach the host
/// (docs/reference-driver.md). Each removes what it created.
/// </summary>
internal sealed class EconomyCommand : CliCommand
{
    public EconomyCommand()
        : base("economy", "Count the version writes and questions of write and ask, write and test and an exhaustive search on one destination (removes what each creates).")
    {
        AddOptions([
            .. HostSet.Options,
            CliOption.Repeatable("--domain", "NAME", "Guest name or UUID on the source host; several guests are counted one after the other."),
            .. PlanOptionsParser.Options,
        ]);
    }

    public override string Example =>
        "vfio-migrator economy --source-scenario examples/scenarios/kernel/migref-source.json --dest test:///HOST.xml --dest-sysfs /sys --domain accepted --domain refused";

    public override async Task<int> RunAsync(ParseResult args, CommandContext context, CancellationToken cancellationToken)
    {
        var options = PlanOptionsParser.Parse(args);
        var guests = args.Values("--domain").Select(InspectCommand.ParseGuest).ToList();
        if (guests.Count == 0)
        {
            throw new UsageException("give at least one guest (--domain NAME).");
        }

        using var hosts = HostSet.FromArguments(args);
        var destination = AskCommand.SingleDestination(hosts);
        var results = new List<(DomainSelector Guest, IReadOnlyList<EconomyCounts> Counts)>();
        foreach (var guest in guests)
        {
            results.Add((guest, await EconomyRunner.RunAsync(hosts.Source, guest, destination, options, context.Logging.CreateLogger<MigrationPlanner>(), cancellationToken).ConfigureAwait(false)));
        }

        if (context.Json)
        {
            var json = new JsonObject
            {
                ["schema"] = "vfio-migration-economy/1",
                ["destination"] = destination.Name,
                ["guests"] = new JsonArray([.. results.Select(r => (JsonNode)new JsonObject
                {
                    ["guest"] = r.Guest.ToString(),
                    ["strategies"] = new JsonArray([.. r.Counts.Select(c => (JsonNode)new JsonObject
                    {
                        ["strategy"] = c.Strategy,
                        ["complete"] = c.Complete,
                        ["versionWrites"] = c.VersionWrites,
                        ["questions"] = c.Questions,
                        ["answerReads"] = c.AnswerReads,
                        ["parentVersionPairs"] = c.ParentVersionPairs,
                        ["mostQuestionsPerPair"] = c.MostQuestionsPerPair,
                        ["plannerProbes"] = c.PlannerProbes,
                    })]),
                })]),
            };
            await context.Out.WriteLineAsync(json.ToJsonString(DeviceJson.Options)).ConfigureAwait(false);
            return ExitCodes.Success;
        }

        var table = Screen.Table(context.Console, "GUEST", "STRATEGY", "COMPLETE", "VERSION WRITES", "QUESTIONS", "ANSWER READS", "(PARENT, VERSION) ASKED", "PLANNER PROBES");
        foreach (var (guest, counts) in results)
        {
            foreach (var c in counts)
            {
                table.Row(guest.ToString(), c.Strategy, c.Complete ? "yes" : "no", Number(c.VersionWrites), Number(c.Questions), Number(c.AnswerReads), Number(c.ParentVersionPairs), c.PlannerProbes is { } probes ? Number(probes) : null);
            }
        }

        Screen.Write(context, table);
        return ExitCodes.Success;
    }

    private static string Number(int value) => value.ToString(CultureInfo.InvariantCulture);
}
