using Microsoft.Extensions.Logging;
using VfioMigration.ConsoleMigrator.Cli;
using VfioMigration.Planner;
using VfioMigration.Planner.Hypervisor;
using VfioMigration.Planner.Json;

namespace VfioMigration.ConsoleMigrator.Commands;

/// <summary><c>migrate</c>: plans, then migrates with the plan's destination XML; a failed migration removes what the plan created.</summary>
internal sealed class MigrateCommand : Command
{
    public override string Name => "migrate";

    public override string Summary => "Plan, then live-migrate the guest with the rewritten XML (virDomainMigrateToURI3); never post-copy.";

    public override IReadOnlyList<OptionSpec> Options { get; } =
    [
        .. HostSet.Options,
        new("--domain", "NAME", "Guest name or UUID on the source host.", Required: true),
        .. PlanOptionsParser.Options,
        .. StateOption.Options,
        new("--dry-run", null, "Stop after the plan (and remove what it created)."),
        new("--offline", null, "Migrate a paused or shut-off guest without VIR_MIGRATE_LIVE."),
        new("--peer-to-peer", null, "Let the source libvirtd reach the destination itself (VIR_MIGRATE_PEER2PEER)."),
        new("--undefine-source", null, "Undefine the guest on the source after success (VIR_MIGRATE_UNDEFINE_SOURCE)."),
    ];

    public override string Example =>
        "vfio-migrator migrate --source qemu:///system --dest qemu+ssh://root@host2/system --dest-sysfs /mnt/host2-sys --domain vgpu-guest --dry-run";

    public override async Task<int> RunAsync(Arguments args, CommandContext context, CancellationToken cancellationToken)
    {
        var options = PlanOptionsParser.Parse(args);
        var guest = InspectCommand.ParseGuest(args.Required("--domain"));
        using var hosts = HostSet.FromArguments(args);
        using var state = StateOption.Open(args, hosts);
        var planner = new MigrationPlanner(
            Microsoft.Extensions.Options.Options.Create(options),
            context.Logging.CreateLogger<MigrationPlanner>(),
            claims: state.Store);
        PlanResult result;
        using (PlanProgress.Start(context, $"planning {guest} against {hosts.Destinations.Count} destination(s)"))
        {
            result = await planner.PlanAsync(new PlanRequest(hosts.Source, guest, hosts.Destinations, options), cancellationToken).ConfigureAwait(false);
        }

        try
        {
            if (!result.Succeeded || args.Flag("--dry-run"))
            {
                await WritePlanAsync(context, result).ConfigureAwait(false);
                return result.Succeeded ? ExitCodes.Success : ExitCodes.NoValidPlan;
            }

            // Persisting on the destination keeps the rewritten XML as the guest's definition there;
            // post-copy is never requested: VFIO devices cannot be migrated post-copy.
            var flags = MigrationMode.PersistDestination
                | (args.Flag("--offline") ? MigrationMode.None : MigrationMode.Live)
                | (args.Flag("--peer-to-peer") ? MigrationMode.PeerToPeer : MigrationMode.None)
                | (args.Flag("--undefine-source") ? MigrationMode.UndefineSource : MigrationMode.None);
            if (!context.Json)
            {
                await context.Error.WriteLineAsync($"migrating {result.Best.GuestName} to {result.Best.Destination.Name} ({result.Best.Destination.Hypervisor.Uri})...").ConfigureAwait(false);
            }

            try
            {
                await result.Best.ExecuteAsync(flags, cancellationToken).ConfigureAwait(false);
            }
            catch (HypervisorException e) when (e is not HypervisorNotSupportedException)
            {
                throw new HypervisorException($"migration of {result.Best.GuestName} to {result.Best.Destination.Name} failed, so the devices created for it are removed: {e.Message}", e);
            }

            await WritePlanAsync(context, result).ConfigureAwait(false);
            if (!context.Json)
            {
                await context.Out.WriteLineAsync($"Migrated {result.Best.GuestName} to {result.Best.Destination.Name}.").ConfigureAwait(false);
            }

            return ExitCodes.Success;
        }
        finally
        {
            await PlanCommand.ReleaseAsync(result, context).ConfigureAwait(false);
        }
    }

    private static Task WritePlanAsync(CommandContext context, PlanResult result) =>
        context.Out.WriteAsync(context.Json ? PlanJson.Serialize(result) + Environment.NewLine : PlanPrinter.Render(result));
}
