using System.CommandLine;
using System.Globalization;
using Microsoft.Extensions.Logging;
using VfioMigration.ConsoleMigrator.Cli;
using VfioMigration.HostSimulator;
using VfioMigration.HostSimulator.Scenarios;
using VfioMigration.Planner;
using VfioMigration.Planner.Json;

namespace VfioMigration.ConsoleMigrator.Commands;

/// <summary>
/// <c>demo</c>: the whole flow on bundled example hosts (libvirt's test driver plus the in-process
/// simulator: no root, no FUSE): a guest with several devices on a source host, two destinations.
/// </summary>
internal sealed class DemoCommand : CliCommand
{
    public DemoCommand()
        : base("demo", "Plan a guest's migration on bundled simulated hosts (a source, two destinations) and show every decision.")
    {
        AddOptions([PlanReport.Option]);
    }

    /// <summary>The guest the demo migrates.</summary>
    public const string Guest = "render-1";

    public override string Example => "vfio-migrator demo";

    public override async Task<int> RunAsync(ParseResult args, CommandContext context, CancellationToken cancellationToken)
    {
        var source = LoadBundled("demo-source.json");
        SimulatedHost[] destinations = [LoadBundled("demo-dest-a.json"), LoadBundled("demo-dest-b.json")];
        using var hosts = HostSet.FromSimulated(source, destinations);
        var before = destinations.Select(d => d.Snapshot().State).ToList();

        var options = new PlanOptions();
        var planner = new MigrationPlanner(Microsoft.Extensions.Options.Options.Create(options), context.Logging.CreateLogger<MigrationPlanner>());
        var guest = DomainSelector.Parse(Guest);
        var sourceXml = (await hosts.Source.Hypervisor.GetDomainAsync(guest, cancellationToken).ConfigureAwait(false)).MigratableXml;
        var result = await Screen.WithPlanProgressAsync(
            context,
            $"planning {Guest} against {hosts.Destinations.Count} destination(s)",
            () => planner.PlanAsync(new PlanRequest(hosts.Source, guest, hosts.Destinations, options), cancellationToken)).ConfigureAwait(false);

        var created = result.Best.Created.Count;
        try
        {
            if (context.Json)
            {
                await context.Out.WriteLineAsync(PlanJson.Serialize(result)).ConfigureAwait(false);
            }
            else
            {
                await WriteStoryAsync(context, hosts, result, sourceXml).ConfigureAwait(false);
            }

            await PlanReport.WriteIfAskedAsync(args, result, hosts.Source, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await PlanCommand.ReleaseAsync(result, context with { Json = true }).ConfigureAwait(false);
        }

        var restored = destinations.Select(d => d.Snapshot().State).SequenceEqual(before);
        if (!context.Json)
        {
            await context.Out.WriteLineAsync(created == 0
                ? "Cleanup: the plan created no device; nothing to remove."
                : $"Cleanup: removed the {created} mdev(s) created for this plan (the demo does not migrate). {(restored ? "Every destination is back exactly as it was (compared by snapshot)." : "WARNING: a destination differs from its state before planning.")}").ConfigureAwait(false);
        }

        return !restored ? ExitCodes.HostData : result.Succeeded ? ExitCodes.Success : ExitCodes.NoValidPlan;
    }

    private static async Task WriteStoryAsync(CommandContext context, HostSet hosts, PlanResult result, string sourceXml)
    {
        var output = context.Out;
        await output.WriteLineAsync($"Demo: migrate guest '{Guest}' from {hosts.Source.Name} to the best of {string.Join(" and ", hosts.Destinations.Select(d => d.Name))}.").ConfigureAwait(false);
        await output.WriteLineAsync("Hosts are simulated (libvirt's test driver + the in-process sysfs simulator); every probe and create below really ran against them.").ConfigureAwait(false);
        await output.WriteLineAsync().ConfigureAwait(false);
        PlanPrinter.Write(context, result, new PlanOptions().VerificationPolicy);
        await output.WriteLineAsync().ConfigureAwait(false);
        await output.WriteLineAsync(Verdict(result)).ConfigureAwait(false);
        await output.WriteLineAsync().ConfigureAwait(false);
        if (result.Best.DestinationXml is { } destinationXml)
        {
            await output.WriteLineAsync("Destination XML: only the host devices' <source> changes; guest addresses and aliases stay.").ConfigureAwait(false);
            await output.WriteAsync(LineDiff.Unified(sourceXml, destinationXml, $"{Guest} on {hosts.Source.Name}", $"{Guest} on {result.Best.Destination.Name}", context: 3)).ConfigureAwait(false);
            await output.WriteLineAsync().ConfigureAwait(false);
        }
    }

    private static string Verdict(PlanResult result)
    {
        if (!result.Succeeded)
        {
            return "Verdict: no destination can take this guest; the reasons above say why.";
        }

        var best = result.Best;
        var why = result.Alternatives.Select(other => other.IsComplete
            ? $"{other.Destination.Name} could also take it but ranks lower ({Rank(other)} against {Rank(best)})"
            : $"{other.Destination.Name} cannot take every device");
        return string.Create(CultureInfo.InvariantCulture, $"Verdict: {best.Destination.Name} wins ({Rank(best)}); {string.Join("; ", why)}.");
    }

    private static string Rank(MigrationPlan plan) =>
        string.Create(CultureInfo.InvariantCulture, $"{plan.UnverifiedCount} unverified, {plan.CreationCount} to create, {plan.ParentsTouched} parent(s) touched");

    private static SimulatedHost LoadBundled(string name)
    {
        using var stream = typeof(DemoCommand).Assembly.GetManifestResourceStream($"demo/{name}")
            ?? throw new InvalidOperationException($"The bundled demo scenario '{name}' is missing from the build.");
        using var reader = new StreamReader(stream);
        return SimulatedHost.FromScenario(ScenarioLoader.Parse(reader.ReadToEnd()));
    }
}
