using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using VfioMigration.ConsoleMigrator.Cli;
using VfioMigration.Etcd;
using VfioMigration.Planner;
using VfioMigration.Planner.State;

namespace VfioMigration.ConsoleMigrator.Commands;

/// <summary>The state store the planning commands share (docs/state.md): SQLite in the state directory, or etcd for a fleet (<c>--state-store etcd</c>), unless a host is simulated in this process.</summary>
internal static class StateOption
{
    /// <summary>The environment variable that overrides the default state directory.</summary>
    public const string EnvironmentVariable = "VFIO_MIGRATION_STATE_DIR";

    /// <summary>The environment variable that holds the etcd user's password when no <c>--etcd-password-file</c> is given.</summary>
    public const string EtcdPasswordVariable = "VFIO_MIGRATOR_ETCD_PASSWORD";

    /// <summary>The options that pick and place the state store.</summary>
    public static IReadOnlyList<Option> Options =>
    [
        CliOption.Value("--state-dir", "DIR", $"Where claims and the journal of created mdevs are kept, shared by every vfio-migrator on this node (default ${EnvironmentVariable}, else /var/lib/vfio-migration as root, $XDG_STATE_HOME/vfio-migration otherwise)."),
        CliOption.Value("--state-store", "KIND", "sqlite (default: a file in the state directory, for one management node) or etcd (shared by every management node; needs --etcd-endpoints)."),
        CliOption.Value("--etcd-endpoints", "URLS", "etcd v3 client URLs, comma-separated (e.g. http://10.0.0.1:2379,http://10.0.0.2:2379), for --state-store etcd."),
        CliOption.Value("--etcd-lease-ttl", "SECONDS", "How long after this process stops (or loses etcd) its claims are freed and its plans become recoverable (default 10)."),
        CliOption.Value("--etcd-timeout", "SECONDS", "How long one request to etcd may take, its retry included, before the command stops with a state store error and creates nothing more (default 10; raise it for a slow link or a heavily loaded node)."),
        CliOption.Value("--etcd-ca", "FILE", "PEM file of the CA that signs the etcd members' certificates, for https:// endpoints (default: the system's trusted roots)."),
        CliOption.Value("--etcd-cert", "FILE", "PEM client certificate for etcd's --client-cert-auth (mutual TLS); with --etcd-key."),
        CliOption.Value("--etcd-key", "FILE", "PEM private key (unencrypted) of --etcd-cert."),
        CliOption.Value("--etcd-user", "NAME", $"etcd user when etcd's authentication is on; the password is read from --etcd-password-file or ${EtcdPasswordVariable}, never from the command line."),
        CliOption.Value("--etcd-password-file", "FILE", "File whose first line is the password of --etcd-user (keep it mode 0600)."),
    ];

    /// <summary>The durable store the arguments name: etcd, or SQLite in the state directory.</summary>
    public static OpenedState OpenDurable(ParseResult args)
    {
        switch (args.Value("--state-store") ?? "sqlite")
        {
            case "sqlite" when EtcdOnly.FirstOrDefault(o => args.Value(o) is not null) is { } option:
                throw new UsageException($"{option} is for --state-store etcd; the store is sqlite.");
            case "sqlite":
                return Opened(new SqliteStateStore(args.Value("--state-dir") ?? NonEmpty(Environment.GetEnvironmentVariable(EnvironmentVariable)) ?? SqliteStateStore.DefaultDirectory()));
            case "etcd":
                var endpoints = args.Value("--etcd-endpoints") ?? throw new UsageException("--state-store etcd needs --etcd-endpoints URLS.");
                var ttl = Seconds(args, "--etcd-lease-ttl", 2);
                var timeout = Seconds(args, "--etcd-timeout", 1);
                var user = args.Value("--etcd-user");
                return Opened(new EtcdStateStore(new EtcdStateStoreOptions
                {
                    Endpoints = endpoints,
                    LeaseTtl = TimeSpan.FromSeconds(ttl),
                    CallTimeout = TimeSpan.FromSeconds(timeout),
                    CaCertificateFile = args.Value("--etcd-ca"),
                    ClientCertificateFile = args.Value("--etcd-cert"),
                    ClientKeyFile = args.Value("--etcd-key"),
                    User = user,
                    Password = user is null ? NoPasswordWithoutUser(args) : EtcdPassword(args),
                }));
            case var other:
                throw new UsageException($"--state-store takes sqlite or etcd, not '{other}'.");
        }
    }

    /// <summary>The store for a planning command: the durable one, or the process's in-memory registry when a host is a scenario (nothing of it outlives the process).</summary>
    public static OpenedState Open(ParseResult args, HostSet hosts) =>
        hosts.Ephemeral ? new OpenedState(TargetClaimRegistry.Shared, null) : OpenDurable(args);

    private static OpenedState Opened<T>(T store)
        where T : IPlannerStateStore, IDisposable => new(store, store);

    private static readonly string[] EtcdOnly = ["--etcd-endpoints", "--etcd-lease-ttl", "--etcd-timeout", "--etcd-ca", "--etcd-cert", "--etcd-key", "--etcd-user", "--etcd-password-file"];

    /// <summary>The whole seconds of <paramref name="option"/>, from <paramref name="least"/> to 3600; 10 when it is not given.</summary>
    /// <exception cref="UsageException">The value is not a whole number in that range.</exception>
    private static int Seconds(ParseResult args, string option, int least) =>
        args.Value(option) is { } text
            ? int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) && seconds >= least && seconds <= 3600 ? seconds : throw new UsageException($"{option} takes whole seconds from {least.ToString(CultureInfo.InvariantCulture)} to 3600, not '{text}'.")
            : 10;

    /// <summary>The etcd password: the first line of <c>--etcd-password-file</c>, else the environment variable; never an argument (it would show in <c>ps</c>).</summary>
    /// <exception cref="UsageException">Neither gives a non-empty password, or the file cannot be read.</exception>
    private static string EtcdPassword(ParseResult args)
    {
        string? password;
        if (args.Value("--etcd-password-file") is { } file)
        {
            try
            {
                using var reader = new StreamReader(file);
                password = reader.ReadLine();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new UsageException($"--etcd-password-file '{TerminalText.Escape(file)}' cannot be read: {e.Message}");
            }
        }
        else
        {
            password = Environment.GetEnvironmentVariable(EtcdPasswordVariable);
        }

        return NonEmpty(password) ?? throw new UsageException($"--etcd-user needs a password: the first line of --etcd-password-file FILE, or ${EtcdPasswordVariable}.");
    }

    private static string? NoPasswordWithoutUser(ParseResult args) =>
        args.Value("--etcd-password-file") is null ? null : throw new UsageException("--etcd-password-file is the password of --etcd-user; give both.");

    private static string? NonEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}

/// <summary>A state store a command opened; disposing closes it when the command opened it (not the process's in-memory registry).</summary>
internal sealed class OpenedState(IPlannerStateStore store, IDisposable? owned) : IDisposable
{
    /// <summary>The store.</summary>
    public IPlannerStateStore Store => store;

    /// <summary>Closes the store the command opened.</summary>
    public void Dispose() => owned?.Dispose();
}

/// <summary><c>recover</c>: removes what dead plans left on hosts (docs/state.md).</summary>
internal sealed class RecoverCommand : CliCommand
{
    public RecoverCommand()
        : base("recover", "Remove the mdevs of plans whose process is gone (a device a guest now uses is kept), and forget kept plans guests now use.")
    {
        AddOptions(HostOptions);
    }

    /// <summary>The options that name the hosts of a state command.</summary>
    public static IReadOnlyList<Option> HostOptions =>
    [
        CliOption.Repeatable("--host", "URI", "libvirt URI of a host to act on (default: every host the state store has entries for)."),
        CliOption.Repeatable("--host-sysfs", "DIR", "A host's sysfs as a local directory, in the order of --host (default /sys locally, SSH remotely)."),
        CliOption.Repeatable("--host-ssh", "[USER@]HOST[:PORT]", "Where a host's sysfs is reached over SSH, in the order of --host (default as for --dest-ssh of plan)."),
        .. HostSet.SharedSshOptions,
        .. StateOption.Options,
    ];

    public override string Example => "vfio-migrator recover --host qemu:///system";

    public override async Task<int> RunAsync(ParseResult args, CommandContext context, CancellationToken cancellationToken)
    {
        using var durable = StateOption.OpenDurable(args);
        var store = durable.Store;
        var uris = args.Values("--host");
        if (uris.Count == 0)
        {
            uris = [.. (await store.ListPlansAsync(cancellationToken).ConfigureAwait(false)).Where(p => p.Owner != PlanOwnerState.Alive).SelectMany(p => p.Entries).Select(e => e.HostKey).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];
        }

        using var hosts = HostSet.FromUris(uris, args);
        var planner = new MigrationPlanner(logger: context.Logging.CreateLogger<MigrationPlanner>(), claims: store);
        var reports = new List<RecoveryReport>();
        foreach (var host in hosts.Destinations)
        {
            reports.Add(await planner.RecoverAsync(host, includeCommitted: true, cancellationToken).ConfigureAwait(false));
        }

        await context.Out.WriteAsync(context.Json ? StateOutput.Json(reports) : StateOutput.Text(reports)).ConfigureAwait(false);
        return reports.SelectMany(r => r.Devices).Any(d => d.Action == RecoveryAction.RemoveFailed) ? ExitCodes.Unexpected : ExitCodes.Success;
    }
}

/// <summary><c>plans</c>: lists the plans the state store holds.</summary>
internal sealed class PlansCommand : CliCommand
{
    public PlansCommand()
        : base("plans", "List the plans the state store holds: kept plans, running ones, and entries recovery has not yet resolved.")
    {
        AddOptions(StateOption.Options);
    }

    public override string Example => "vfio-migrator plans --json";

    public override async Task<int> RunAsync(ParseResult args, CommandContext context, CancellationToken cancellationToken)
    {
        using var durable = StateOption.OpenDurable(args);
        var plans = await durable.Store.ListPlansAsync(cancellationToken).ConfigureAwait(false);
        await context.Out.WriteAsync(context.Json ? StateOutput.Json(plans) : StateOutput.Text(plans)).ConfigureAwait(false);
        return ExitCodes.Success;
    }
}

/// <summary><c>plans release ID</c>: removes what a kept plan created and forgets it.</summary>
internal sealed class PlansReleaseCommand : CliCommand
{
    public PlansReleaseCommand()
        : base("release", "Remove the mdevs a kept plan created (a device a guest uses stays) and forget the plan and its claims.")
    {
        Arguments.Add(new Argument<string>("ID") { Description = "The plan's id, as 'vfio-migrator plans' lists it." });
        AddOptions(RecoverCommand.HostOptions);
    }

    public override string Example => "vfio-migrator plans release 3f2a9c1e-0000-4000-8000-000000000000";

    public override async Task<int> RunAsync(ParseResult args, CommandContext context, CancellationToken cancellationToken)
    {
        if (!Guid.TryParse(args.Required("ID"), out var id))
        {
            throw new UsageException($"'{args.Required("ID")}' is not a plan id (a UUID, as 'vfio-migrator plans' lists it).");
        }

        using var durable = StateOption.OpenDurable(args);
        var store = durable.Store;
        var plan = (await store.ListPlansAsync(cancellationToken).ConfigureAwait(false)).FirstOrDefault(p => p.Id == id) ?? throw new UsageException($"the state store {store.Location} holds no plan {id}.");
        if (plan.Owner == PlanOwnerState.Alive)
        {
            throw new UsageException($"plan {id} is running ({plan.Where}); it is not released from outside.");
        }

        var uris = args.Values("--host");
        if (uris.Count == 0)
        {
            uris = [.. plan.Entries.Select(e => e.HostKey).Distinct(StringComparer.Ordinal)];
        }

        var reports = new List<RecoveryReport>();
        if (plan.Entries.Count == 0)
        {
            // Only claims (it reused existing devices): nothing to remove.
            await store.ForgetPlanAsync(id, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            using var hosts = HostSet.FromUris(uris, args);
            var planner = new MigrationPlanner(logger: context.Logging.CreateLogger<MigrationPlanner>(), claims: store);
            foreach (var host in hosts.Destinations)
            {
                reports.Add(await planner.ReleaseKeptPlanAsync(id, host, cancellationToken).ConfigureAwait(false));
            }
        }

        await context.Out.WriteAsync(context.Json ? StateOutput.Json(reports) : StateOutput.Text(reports)).ConfigureAwait(false);
        return reports.SelectMany(r => r.Devices).Any(d => d.Action == RecoveryAction.RemoveFailed) ? ExitCodes.Unexpected : ExitCodes.Success;
    }
}

/// <summary>How the state commands print plans and recovery reports.</summary>
internal static class StateOutput
{
    public static string Text(IReadOnlyList<RecoveryReport> reports)
    {
        var text = new StringBuilder();
        foreach (var report in reports)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"{report.Host}: {(report.Devices.Count == 0 ? "nothing pending" : $"{report.Devices.Count} device(s)")}");
            foreach (var device in report.Devices)
            {
                var what = device.Action switch
                {
                    RecoveryAction.Removed => "removed",
                    RecoveryAction.UsedByGuest => $"kept: guest {device.Detail} uses it",
                    _ => $"could not remove it ({device.Detail}); still journaled",
                };
                text.AppendLine(CultureInfo.InvariantCulture, $"  mdev {device.Uuid} of plan {device.Plan} (guest {device.Guest}): {what}");
            }
        }

        return text.ToString();
    }

    public static string Json(IReadOnlyList<RecoveryReport> reports) =>
        new JsonArray([.. reports.Select(r => (JsonNode)new JsonObject
        {
            ["host"] = r.Host,
            ["devices"] = new JsonArray([.. r.Devices.Select(d => (JsonNode)new JsonObject
            {
                ["plan"] = d.Plan.ToString("D"),
                ["guest"] = d.Guest,
                ["uuid"] = d.Uuid.Value,
                ["action"] = d.Action.ToString(),
                ["detail"] = d.Detail,
            })]),
        })]).ToJsonString() + Environment.NewLine;

    public static string Text(IReadOnlyList<StoredPlan> plans)
    {
        if (plans.Count == 0)
        {
            return "no plans in the state store" + Environment.NewLine;
        }

        var text = new StringBuilder();
        foreach (var plan in plans)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"plan {plan.Id}  guest {plan.Guest}  {plan.Owner.ToString().ToLowerInvariant()}  {plan.Where}  {plan.Claims.Count} claim(s)");
            foreach (var entry in plan.Entries)
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"  mdev {entry.Uuid} on {entry.HostName} ({entry.HostKey}) {entry.Type} via {entry.Method.ToString().ToLowerInvariant()}: {State(entry.State)}{(entry.Error is null ? "" : $" ({entry.Error})")}");
            }
        }

        return text.ToString();
    }

    public static string Json(IReadOnlyList<StoredPlan> plans) =>
        new JsonArray([.. plans.Select(p => (JsonNode)new JsonObject
        {
            ["id"] = p.Id.ToString("D"),
            ["guest"] = p.Guest,
            ["owner"] = p.Owner.ToString(),
            ["where"] = p.Where,
            ["claims"] = new JsonArray([.. p.Claims.Select(c => (JsonNode)new JsonObject { ["host"] = c.Key, ["device"] = c.Value })]),
            ["entries"] = new JsonArray([.. p.Entries.Select(e => (JsonNode)new JsonObject
            {
                ["host"] = e.HostKey,
                ["uuid"] = e.Uuid.Value,
                ["type"] = e.Type.Value,
                ["state"] = e.State switch
                {
                    JournalState.Intent => "intent",
                    JournalState.Created => "created",
                    JournalState.Removed => "removed",
                    JournalState.RemoveFailed => "remove_failed",
                    _ => "committed",
                },
                ["error"] = e.Error,
            })]),
        })]).ToJsonString() + Environment.NewLine;

    private static string State(JournalState state) => state switch
    {
        JournalState.Intent => "intent (create issued, outcome not recorded)",
        JournalState.Created => "created",
        JournalState.Removed => "removed",
        JournalState.RemoveFailed => "removal failed",
        _ => "committed",
    };
}
