using System.CommandLine;
using VfioMigration.Bench;
using VfioMigration.ConsoleMigrator.Cli;

namespace VfioMigration.ConsoleMigrator.Commands;

/// <summary><c>bench</c>: whole-plan figures (planner against the exhaustive baseline, libvirt against sysfs inventory), evacuation, type-only placement, fleet-scale figures and the evacuation split across planner processes sharing one etcd.</summary>
internal sealed class BenchCommand : CliCommand
{
    public BenchCommand()
        : base("bench", "Measure whole plans (planner vs exhaustive search, libvirt vs sysfs inventory), an evacuation, type-only placement beside the planner, fleets of 10-1,000 hosts on generated simulated hosts, and one evacuation split across 1, 2 and 4 planner processes sharing one etcd (FUSE, root).")
    {
        AddOptions([
            CliOption.Flag("--quick", "A reduced run (fewer iterations), about half the time of the full one."),
            CliOption.Value("--markdown", "FILE", "Also write the figures as a Markdown page (docs/benchmarks.md)."),
        ]);
    }

    /// <summary>The command line that regenerates <c>docs/benchmarks.md</c>, quoted in the page.</summary>
    public const string DocsCommand = "dotnet run -c Release --project examples/ConsoleMigrator -- bench --markdown docs/benchmarks.md";

    private const string QuickDocsCommand = "dotnet run -c Release --project examples/ConsoleMigrator -- bench --quick --markdown docs/benchmarks.md";

    public override string Example => DocsCommand;

    public override async Task<int> RunAsync(ParseResult args, CommandContext context, CancellationToken cancellationToken)
    {
        var settings = new BenchSettings(args.Flag("--quick"));
        var results = await BenchRunner.RunAsync(settings, step => context.Error.WriteLine($"bench: {step}"), cancellationToken).ConfigureAwait(false);
        var split = await FleetSplitRunner.RunAsync(Self(), FleetSplitRunner.BenchShape, step => context.Error.WriteLine($"bench: {step}"), cancellationToken).ConfigureAwait(false);
        var report = new BenchReport(DateTimeOffset.UtcNow, settings.Quick, results.Plans, results.Evacuation, results.Peers, results.Fleet, split);
        var markdown = report.ToMarkdown(settings.Quick ? QuickDocsCommand : DocsCommand);
        if (args.Value("--markdown") is { } file)
        {
            await File.WriteAllTextAsync(file, markdown, cancellationToken).ConfigureAwait(false);
            await context.Error.WriteLineAsync($"bench: wrote {file}").ConfigureAwait(false);
        }

        await context.Out.WriteLineAsync(context.Json ? report.ToJson() : markdown).ConfigureAwait(false);
        return ExitCodes.Success;
    }

    /// <summary>This very program as the split evacuation's planner processes: the apphost, or <c>dotnet</c> with this assembly (a .NET tool, <c>dotnet vfio-migrator.dll</c>).</summary>
    private static PlannerCommand Self() =>
        Environment.ProcessPath is { } path && Path.GetFileNameWithoutExtension(path) != "dotnet"
            ? new PlannerCommand(path, [])
            : new PlannerCommand("dotnet", [typeof(BenchCommand).Assembly.Location]);
}
