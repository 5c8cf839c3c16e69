using System.CommandLine;
using Microsoft.Extensions.Logging;
using VfioMigration.ConsoleMigrator.Cli;
using VfioMigration.Planner;
using VfioMigration.Planner.Hypervisor;
using VfioMigration.Planner.Json;

namespace VfioMigration.ConsoleMigrator.Commands;

/// <summary><c>migrate</c>: plans, then migrates with the plan's destination XML; a failed migration removes what the plan created.</summary>
internal sealed class MigrateCommand : CliCommand
{
    public MigrateCommand()
        : base("migrate", "Plan, then live-migrate the guest with the rewritten XML (client-driven virDomainMigrate3, or peer-to-peer); never post-copy.")
    {
        AddOptions([
            .. HostSet.Options,
            CliOption.Value("--domain", "NAME", "Guest name or UUID on the source host.", required: true),
            .. PlanOptionsParser.Options,
            .. StateOption.Options,
            CliOption.Flag("--dry-run", "Stop after the plan (and remove what it created)."),
            CliOption.Flag("--offline", "Migrate a paused or shut-off guest without VIR_MIGRATE_LIVE."),
            CliOption.Flag("--peer-to-peer", "Let the source host's libvirtd reach the destination itself (VIR_MIGRATE_PEER2PEER), at --desturi or else the --dest URI. Default: client-driven through this program's own --dest connection."),
            CliOption.Repeatable("--desturi", "URI", "Peer-to-peer: the destination's libvirt URI as the source host reaches it (e.g. qemu+tcp://10.0.0.2/system); implies --peer-to-peer. One per destination, in the order of --dest (then --dest-scenario)."),
            CliOption.Repeatable("--migrateuri", "URI", "Where the migration data goes (libvirt's migrate_uri, e.g. tcp://10.0.0.2), for a migration network; default: the destination's host name. One per destination, as --desturi."),
            CliOption.Flag("--undefine-source", "Undefine the guest on the source after success (VIR_MIGRATE_UNDEFINE_SOURCE)."),
        ]);
    }

    public override string Example =>
        "vfio-migrator migrate --source qemu:///system --dest qemu+ssh://root@host2/system --dest-sysfs /mnt/host2-sys --domain vgpu-guest --dry-run";

    public override async Task<int> RunAsync(ParseResult args, CommandContext context, CancellationToken cancellationToken)
    {
        var options = PlanOptionsParser.Parse(args);
        var guest = InspectCommand.ParseGuest(args.Required("--domain"));
        var destinationUris = PerDestination(args, "--desturi");
        var migrateUris = PerDestination(args, "--migrateuri");
        for (var i = 0; i < Math.Max(destinationUris.Count, migrateUris.Count); i++)
        {
            Settings(args, destinationUris, migrateUris, i);
        }

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

        try
        {
            if (!result.Succeeded || args.Flag("--dry-run"))
            {
                await WritePlanAsync(context, result, options.VerificationPolicy).ConfigureAwait(false);
                return result.Succeeded ? ExitCodes.Success : ExitCodes.NoValidPlan;
            }

            // Persisting on the destination keeps the rewritten XML as the guest's definition there;
            // post-copy is never requested: VFIO devices cannot be migrated post-copy.
            var settings = Settings(args, destinationUris, migrateUris, hosts.Destinations.ToList().IndexOf(result.Best.Destination));
            if (!context.Json)
            {
                await context.Error.WriteLineAsync($"migrating {result.Best.GuestName} to {result.Best.Destination.Name}: {Describe(settings, result.Best.Destination.Hypervisor.Uri)}...").ConfigureAwait(false);
            }

            try
            {
                await result.Best.ExecuteAsync(settings, cancellationToken).ConfigureAwait(false);
            }
            catch (HypervisorException e) when (e is not HypervisorNotSupportedException)
            {
                throw new HypervisorException($"migration of {result.Best.GuestName} to {result.Best.Destination.Name} failed, so the devices created for it are removed: {e.Message}", e);
            }

            await WritePlanAsync(context, result, options.VerificationPolicy).ConfigureAwait(false);
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

    /// <summary>The values of a per-destination option; at most one per destination, in the order of <see cref="HostSet.Destinations"/>.</summary>
    private static IReadOnlyList<string> PerDestination(ParseResult args, string option) =>
        HostSet.PerHost(args, option, args.Values("--dest").Count + args.Values("--dest-scenario").Count, "destination (--dest, then --dest-scenario)");

    /// <summary>The migration settings for the destination at <paramref name="index"/> among the hosts, checked.</summary>
    /// <exception cref="UsageException">A URI is not one.</exception>
    private static MigrationSettings Settings(ParseResult args, IReadOnlyList<string> destinationUris, IReadOnlyList<string> migrateUris, int index)
    {
        var settings = new MigrationSettings
        {
            Flags = MigrationMode.PersistDestination
                | (args.Flag("--offline") ? MigrationMode.None : MigrationMode.Live)
                | (args.Flag("--peer-to-peer") || destinationUris.Count > 0 ? MigrationMode.PeerToPeer : MigrationMode.None)
                | (args.Flag("--undefine-source") ? MigrationMode.UndefineSource : MigrationMode.None),
            DestinationUri = index >= 0 && index < destinationUris.Count ? destinationUris[index] : null,
            MigrateUri = index >= 0 && index < migrateUris.Count ? migrateUris[index] : null,
        };
        try
        {
            settings.Validate();
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.ParamName == nameof(MigrationSettings.MigrateUri) ? $"--migrateuri: {e.Message}" : $"--desturi: {e.Message}");
        }

        return settings;
    }

    /// <summary>How the migration goes, in the words of the options.</summary>
    private static string Describe(MigrationSettings settings, string destinationUri)
    {
        var control = settings.IsPeerToPeer
            ? $"peer-to-peer, the source's libvirtd connects to {settings.DestinationUri ?? destinationUri}"
            : $"client-driven through {destinationUri}";
        return settings.MigrateUri is null ? control : $"{control}, data to {settings.MigrateUri}";
    }

    private static async Task WritePlanAsync(CommandContext context, PlanResult result, VerificationPolicy policy)
    {
        if (context.Json)
        {
            await context.Out.WriteAsync(PlanJson.Serialize(result) + Environment.NewLine).ConfigureAwait(false);
        }
        else
        {
            PlanPrinter.Write(context, result, policy);
        }
    }
}
