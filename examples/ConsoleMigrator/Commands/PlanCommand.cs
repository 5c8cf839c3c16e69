using System.CommandLine;
using Microsoft.Extensions.Logging;
using VfioMigration.ConsoleMigrator.Cli;
using VfioMigration.Planner;
using VfioMigration.Planner.Json;

namespace VfioMigration.ConsoleMigrator.Commands;

/// <summary><c>plan</c>: plans a guest's migration to the best of one or more destinations, prints the plan, and removes what planning created.</summary>
internal sealed class PlanCommand : CliCommand
{
    public PlanCommand()
        : base("plan", "Plan a guest's migration: map every host device to a validated destination device and rewrite the XML.")
    {
        AddOptions([
            .. HostSet.Options,
            CliOption.Value("--domain", "NAME", "Guest name or UUID on the source host.", required: true),
            .. PlanOptionsParser.Options,
            .. StateOption.Options,
            CliOption.Flag("--keep", "Keep the mdevs the plan created (default: remove them when the command ends)."),
            PlanReport.Option,
        ]);
    }

    public override string Example =>
        "vfio-migrator plan --source-scenario examples/scenarios/demo-source.json --dest-scenario examples/scenarios/demo-dest-a.json --dest-scenario examples/scenarios/demo-dest-b.json --domain render-1";

    public override async Task<int> RunAsync(ParseResult args, CommandContext context, CancellationToken cancellationToken)
    {
        var options = PlanOptionsParser.Parse(args);
        var guest = InspectCommand.ParseGuest(args.Required("--domain"));
        using var hosts = HostSet.FromArguments(args);
        using var state = StateOption.Open(args, hosts);
        var planner = new MigrationPlanner(
            Microsoft.Extensions.Options.Options.Create(options),
            context.Logging.CreateLogger<MigrationPlanner>(),
            claims: state.Store);
        var result = await Screen.WithPlanProgressAsync(
            context,
            $"planning {guest} against {hosts.Destinations.Count} destination(s)",
            () => planner.PlanAsync(new PlanRequest(hosts.Source, guest, hosts.Destinations, options), cancellationToken)).ConfigureAwait(false);

        // The printed plan says what is true when the command ends: kept (committed), or already released.
        var keep = result.Succeeded && args.Flag("--keep");
        try
        {
            if (keep)
            {
                await result.Best.CommitAsync(CancellationToken.None).ConfigureAwait(false);
            }
            else
            {
                await ReleaseAsync(result, context).ConfigureAwait(false);
            }

            if (context.Json)
            {
                await context.Out.WriteLineAsync(PlanJson.Serialize(result)).ConfigureAwait(false);
            }
            else
            {
                PlanPrinter.Write(context, result, options.VerificationPolicy);
            }

            await PlanReport.WriteIfAskedAsync(args, result, hosts.Source, cancellationToken).ConfigureAwait(false);
            if (keep)
            {
                foreach (var created in result.Best.Created)
                {
                    await context.Error.WriteLineAsync($"kept mdev {created.Uuid} ({created.Type}) on {created.Host}").ConfigureAwait(false);
                }
            }
        }
        finally
        {
            await ReleaseAsync(result, context).ConfigureAwait(false);
        }

        return result.Succeeded ? ExitCodes.Success : ExitCodes.NoValidPlan;
    }

    /// <summary>Removes what an uncommitted plan created and says so on stderr; a failed removal is reported, never swallowed.</summary>
    internal static async Task ReleaseAsync(PlanResult result, CommandContext context)
    {
        if (result.Best.State != PlanState.Ready)
        {
            return;
        }

        var created = result.Best.Created.Count;
        var failures = await result.Best.ReleaseAsync().ConfigureAwait(false);
        if (created > 0 && !context.Json)
        {
            await context.Error.WriteLineAsync($"removed the {created - failures.Count} device(s) the plan created (mdevs removed, VFs reset)").ConfigureAwait(false);
        }

        foreach (var failure in failures)
        {
            await context.Error.WriteLineAsync($"error: could not remove mdev {failure.Uuid} on {failure.Host}: {failure.Message}; remove it by hand").ConfigureAwait(false);
        }
    }
}
