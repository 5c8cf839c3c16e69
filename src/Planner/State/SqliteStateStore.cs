using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.ExceptionServices;
using Microsoft.Data.Sqlite;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Planning;

namespace VfioMigration.Planner.State;

/// <summary>
/// The embedded <see cref="IPlannerStateStore"/>: one SQLite file (<c>state.db</c>) in a state
/// directory, in WAL mode, shared by every planner process on the node that opens the same
/// directory. Intents (one transaction for a batch of them) and commits of kept plans are durable
/// (<c>synchronous=FULL</c>) when they return, every other write survives the crash of the process
/// (<c>synchronous=NORMAL</c>); the
/// writes that plans of one process make at the same time share one transaction and one sync
/// (group commit; the writes that need no sync commit apart, without waiting for it), and a plan
/// waiting for its write awaits it without holding a thread; reads go through a connection of their
/// own; a write waits at most <see cref="BusyTimeout"/> for another process. Plans of a process that is
/// gone lose their claims and are recovered. Schema and guarantees: docs/state.md.
/// </summary>
public sealed class SqliteStateStore : IPlannerStateStore, IDisposable
{
    /// <summary>The schema version this code writes; a file with a higher one is refused.</summary>
    public const int SchemaVersion = 1;

    /// <summary>How long a write waits for another process's transaction before it fails.</summary>
    public static readonly TimeSpan BusyTimeout = TimeSpan.FromSeconds(5);

    private const string Schema = """
        CREATE TABLE IF NOT EXISTS plans(id TEXT PRIMARY KEY, guest TEXT NOT NULL, node TEXT NOT NULL, boot_id TEXT NOT NULL,
            pid INTEGER NOT NULL, start_ticks INTEGER NOT NULL, committed INTEGER NOT NULL DEFAULT 0, created_utc TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS claims(host TEXT NOT NULL, device TEXT NOT NULL, plan TEXT NOT NULL, PRIMARY KEY(host, device));
        CREATE INDEX IF NOT EXISTS claims_plan ON claims(plan);
        CREATE TABLE IF NOT EXISTS journal(plan TEXT NOT NULL, host TEXT NOT NULL, uuid TEXT NOT NULL, host_name TEXT NOT NULL,
            parent TEXT NOT NULL, type TEXT NOT NULL, method TEXT NOT NULL, persistent INTEGER NOT NULL, ord INTEGER NOT NULL,
            state TEXT NOT NULL, error TEXT, PRIMARY KEY(plan, host, uuid));
        CREATE INDEX IF NOT EXISTS journal_host_state ON journal(host, state);
        """;

    private const string RequestSavepoint = "request";

    private const string PlanColumns = "p.id, p.guest, p.node, p.boot_id, p.pid, p.start_ticks, p.committed";

    private readonly SqliteConnection _connection;
    private readonly SqliteConnection _reader;
    private readonly ConcurrentDictionary<Guid, string> _guests = [];
    private readonly ProcessOwner _owner;
    private readonly Lock _gate = new();
    private readonly Lock _readGate = new();
    private readonly Lock _queueGate = new();
    private List<WriteRequest> _queue = [];
    private bool _leading;

    /// <summary>Opens (creating when needed) the store in <paramref name="directory"/>.</summary>
    /// <param name="directory">The state directory; created with mode 0700 when absent.</param>
    /// <exception cref="StateStoreException">The directory or file cannot be created or opened, or its schema is newer than this code.</exception>
    public SqliteStateStore(string directory)
        : this(directory, ProcessOwner.Current)
    {
    }

    /// <summary>Opens the store as <paramref name="owner"/> (tests stand in for a process that is gone).</summary>
    internal SqliteStateStore(string directory, ProcessOwner owner)
    {
        _owner = owner;
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        var full = Path.GetFullPath(directory);
        FilePath = Path.Combine(full, "state.db");
        try
        {
            if (OperatingSystem.IsWindows())
            {
                Directory.CreateDirectory(full);
            }
            else
            {
                Directory.CreateDirectory(full, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }

            _connection = Open(SqliteOpenMode.ReadWriteCreate, "PRAGMA journal_mode = WAL;");
            // Nobody else holds the store yet: the schema's write runs here, alone.
            var schema = new WriteRequest<int>(durable: true, transaction =>
            {
                var version = Convert.ToInt32(Scalar(transaction, "PRAGMA user_version"), CultureInfo.InvariantCulture);
                if (version > SchemaVersion)
                {
                    throw new StateStoreException($"The state store {FilePath} has schema version {version}; this planner knows version {SchemaVersion} and leaves it alone.");
                }

                Command(transaction, Schema + $"PRAGMA user_version = {SchemaVersion};").ExecuteNonQuery();
                return 0;
            });
            RunGroup([schema]);
            schema.Outcome();
            // Reads go through a connection of their own, so a read never waits for a write's sync to the disk (WAL readers do not block on the writer).
            _reader = Open(SqliteOpenMode.ReadWrite, "PRAGMA query_only = 1;");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or SqliteException)
        {
            _connection?.Dispose();
            throw new StateStoreException($"Cannot open the planner's state store in {full}: {e.Message}", e);
        }
        catch (StateStoreException)
        {
            _connection?.Dispose();
            throw;
        }
    }

    /// <summary>The database file.</summary>
    public string FilePath { get; }

    /// <inheritdoc />
    public string Location => $"SQLite {FilePath}";

    /// <summary>Writes asked of this store (each call that writes counts once).</summary>
    internal int Writes { get; private set; }

    /// <summary>Write transactions this store committed (a group of concurrent writes counts once).</summary>
    internal int WriteTransactions { get; private set; }

    /// <summary>Of <see cref="WriteTransactions"/>, those that waited for the disk (<c>synchronous=FULL</c>).</summary>
    internal int DurableTransactions { get; private set; }

    /// <summary>Writes queued and not yet taken by a leader.</summary>
    internal int QueuedWrites
    {
        get
        {
            lock (_queueGate)
            {
                return _queue.Count;
            }
        }
    }

    /// <summary>
    /// The default state directory: <c>/var/lib/vfio-migration</c> as root, otherwise
    /// <c>$XDG_STATE_HOME/vfio-migration</c> (<c>~/.local/state/vfio-migration</c> when unset).
    /// </summary>
    public static string DefaultDirectory() =>
        DefaultDirectory(Environment.UserName == "root" || Environment.IsPrivilegedProcess, Environment.GetEnvironmentVariable("XDG_STATE_HOME"), Environment.GetFolderPath(Environment.SpecialFolder.UserProfile));

    /// <summary>The default state directory for the given facts (see <see cref="DefaultDirectory()"/>).</summary>
    /// <param name="root">Whether the process runs as root.</param>
    /// <param name="xdgStateHome">The value of <c>XDG_STATE_HOME</c>, when set.</param>
    /// <param name="home">The user's home directory.</param>
    public static string DefaultDirectory(bool root, string? xdgStateHome, string home) =>
        root ? "/var/lib/vfio-migration"
        : Path.Combine(string.IsNullOrEmpty(xdgStateHome) || !Path.IsPathRooted(xdgStateHome) ? Path.Combine(home, ".local", "state") : xdgStateHome, "vfio-migration");

    /// <inheritdoc />
    public void BeginPlan(Guid plan, string guest)
    {
        _guests[plan] = guest;
    }

    /// <inheritdoc />
    public async Task<ClaimHolder?> TryClaimAsync(string hostKey, string device, Guid plan, CancellationToken cancellationToken = default) =>
        (await TryClaimManyAsync(hostKey, [device], plan, cancellationToken).ConfigureAwait(false))[0];

    /// <inheritdoc />
    public Task<ClaimHolder?> HolderOfAsync(string hostKey, string device, Guid plan, CancellationToken cancellationToken = default) =>
        ReadAsync(() => Holder(null, hostKey, device, plan), cancellationToken);

    /// <inheritdoc />
    public Task ReleaseAsync(string hostKey, string device, Guid plan, CancellationToken cancellationToken = default) => ReleaseManyAsync(hostKey, [device], plan, cancellationToken);

    /// <inheritdoc />
    /// <remarks>One read of the host's claims (with their plans), plus one look at the journal for each claim of a plan whose owner is gone.</remarks>
    public Task<IReadOnlyDictionary<string, ClaimHolder>> ClaimsOnAsync(string hostKey, Guid plan, CancellationToken cancellationToken = default) => ReadAsync<IReadOnlyDictionary<string, ClaimHolder>>(
        () =>
    {
        var holders = new Dictionary<string, ClaimHolder>(StringComparer.Ordinal);
        using var reader = Command(
            null,
            $"SELECT c.plan, {PlanColumns}, c.device FROM claims c LEFT JOIN plans p ON p.id = c.plan WHERE c.host = $host AND c.plan <> $plan",
            ("$host", hostKey),
            ("$plan", Text(plan))).ExecuteReader();
        while (reader.Read())
        {
            var device = reader.GetString(8);
            if (Holder(null, reader, hostKey, device) is { } holder)
            {
                holders[device] = holder;
            }
        }

        return holders;
    },
        cancellationToken);

    /// <inheritdoc />
    /// <remarks>One write transaction for every device.</remarks>
    public async Task<IReadOnlyList<ClaimHolder?>> TryClaimManyAsync(string hostKey, IReadOnlyList<string> devices, Guid plan, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(devices);
        return devices.Count == 0 ? [] : await WriteAsync<IReadOnlyList<ClaimHolder?>>(durable: false, transaction => [.. devices.Select(device => TryClaim(transaction, hostKey, device, plan))], cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    /// <remarks>One write transaction for every device.</remarks>
    public async Task ReleaseManyAsync(string hostKey, IReadOnlyList<string> devices, Guid plan, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(devices);
        if (devices.Count > 0)
        {
            await WriteAsync(durable: false, transaction => devices.Sum(device => Unclaim(transaction, hostKey, device, plan)), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<ClaimHolder?>> ClaimAndIntendAsync(IReadOnlyList<JournalEntry> intents, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(intents);
        if (intents.Any(i => i.State != JournalState.Intent))
        {
            throw new ArgumentException("Every entry given to ClaimAndIntend is an intent.", nameof(intents));
        }

        // One durable transaction for every intent of the batch: one wait for the disk, not one per device.
        return intents.Count == 0 ? [] : await WriteAsync<IReadOnlyList<ClaimHolder?>>(
            durable: true,
            transaction =>
        [
            .. intents.Select(intent =>
            {
                if (TryClaim(transaction, intent.HostKey, TargetKeys.Mdev(intent.Uuid), intent.Plan) is { } holder)
                {
                    return holder;
                }

                Insert(transaction, intent);
                return null;
            }),
        ],
            cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public Task JournalAsync(JournalEntry entry, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(entry);
        // The intent is what recovery needs after a power loss; an outcome lost with it leaves the intent, which recovery resolves the same way.
        return WriteAsync(durable: entry.State == JournalState.Intent, transaction => Insert(transaction, entry), cancellationToken);
    }

    /// <inheritdoc />
    public Task CommitPlanAsync(Guid plan, CancellationToken cancellationToken = default) => CommitAsync(plan, durable: true, cancellationToken);

    /// <inheritdoc />
    /// <remarks>Survives the crash of the process (<c>synchronous=NORMAL</c>): after a power loss recovery sees the migrated guest using the devices.</remarks>
    public Task CommitMigratedPlanAsync(Guid plan, CancellationToken cancellationToken = default) => CommitAsync(plan, durable: false, cancellationToken);

    /// <inheritdoc />
    public Task EndPlanAsync(Guid plan, CancellationToken cancellationToken = default) => WriteAsync(
        durable: false,
        transaction => Command(
        transaction,
        """
        DELETE FROM claims WHERE plan = $plan AND NOT EXISTS (SELECT 1 FROM journal j WHERE j.plan = $plan AND j.state = 'remove_failed' AND j.host = claims.host AND 'mdev:' || j.uuid = claims.device);
        DELETE FROM journal WHERE plan = $plan AND state <> 'remove_failed';
        DELETE FROM plans WHERE id = $plan AND NOT EXISTS (SELECT 1 FROM journal WHERE plan = $plan) AND NOT EXISTS (SELECT 1 FROM claims WHERE plan = $plan);
        """,
        ("$plan", Text(plan))).ExecuteNonQuery(),
        cancellationToken);

    /// <inheritdoc />
    public Task ForgetPlanAsync(Guid plan, CancellationToken cancellationToken = default) => WriteAsync(
        durable: false,
        transaction => Command(
            transaction,
            "DELETE FROM claims WHERE plan = $plan; DELETE FROM journal WHERE plan = $plan; DELETE FROM plans WHERE id = $plan;",
            ("$plan", Text(plan))).ExecuteNonQuery(),
        cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<StoredPlan>> ListPlansAsync(CancellationToken cancellationToken = default) => ReadAsync<IReadOnlyList<StoredPlan>>(
        () => Plans("SELECT DISTINCT plan FROM claims UNION SELECT DISTINCT plan FROM journal UNION SELECT id FROM plans", []),
        cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<StoredPlan>> PlansToRecoverAsync(string hostKey, bool includeCommitted, CancellationToken cancellationToken = default) => ReadAsync<IReadOnlyList<StoredPlan>>(
        () =>
        [.. Plans(
                $"SELECT DISTINCT plan FROM journal WHERE host = $host AND state IN ('intent', 'created', 'remove_failed'{(includeCommitted ? ", 'committed'" : "")})",
                [("$host", hostKey)])
            .Where(p => p.Owner == PlanOwnerState.Gone || (includeCommitted && p.Owner == PlanOwnerState.Committed))],
        cancellationToken);

    /// <summary>Closes the database.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            _connection.Dispose();
        }

        lock (_readGate)
        {
            _reader.Dispose();
        }
    }

    private List<StoredPlan> Plans(string selectIds, (string Name, object? Value)[] parameters)
    {
        var ids = new List<string>();
        using (var reader = Command(null, selectIds, parameters).ExecuteReader())
        {
            while (reader.Read())
            {
                ids.Add(reader.GetString(0));
            }
        }

        return [.. ids.Select(Plan)];
    }

    private StoredPlan Plan(string id)
    {
        var plan = Guid.Parse(id);
        var (guest, where, owner) = Describe(plan);
        var entries = new List<JournalEntry>();
        using (var reader = Command(null, "SELECT host, host_name, uuid, parent, type, method, persistent, ord, state, error FROM journal WHERE plan = $plan ORDER BY ord", ("$plan", id)).ExecuteReader())
        {
            while (reader.Read())
            {
                entries.Add(new JournalEntry(
                    plan,
                    reader.GetString(0),
                    reader.GetString(1),
                    MdevUuid.Parse(reader.GetString(2), FilePath),
                    reader.GetString(3),
                    MdevTypeId.Parse(reader.GetString(4), FilePath),
                    reader.GetString(5) switch { "libvirt" => CreationMethod.Libvirt, "vf" => CreationMethod.Vf, _ => CreationMethod.Sysfs },
                    reader.GetInt64(6) != 0,
                    reader.GetInt32(7),
                    ParseState(reader.GetString(8)),
                    reader.IsDBNull(9) ? null : reader.GetString(9)));
            }
        }

        var claims = new List<KeyValuePair<string, string>>();
        using (var reader = Command(null, "SELECT host, device FROM claims WHERE plan = $plan ORDER BY host, device", ("$plan", id)).ExecuteReader())
        {
            while (reader.Read())
            {
                claims.Add(KeyValuePair.Create(reader.GetString(0), reader.GetString(1)));
            }
        }

        return new StoredPlan(plan, guest, where, owner, entries, claims);
    }

    /// <summary>The guest, where-it-runs text and owner state of a plan; a plan without a row counts as gone.</summary>
    private (string Guest, string Where, PlanOwnerState Owner) Describe(Guid plan)
    {
        using var reader = Command(null, $"SELECT {PlanColumns} FROM plans p WHERE p.id = $plan", ("$plan", Text(plan))).ExecuteReader();
        return reader.Read() ? Describe(reader, 0) : ("", "no owner recorded", PlanOwnerState.Gone);
    }

    private static (string Guest, string Where, PlanOwnerState Owner) Describe(SqliteDataReader reader, int first)
    {
        var owner = new ProcessOwner(reader.GetString(first + 2), reader.GetString(first + 3), reader.GetInt32(first + 4), reader.GetInt64(first + 5));
        var state = reader.GetInt64(first + 6) != 0 ? PlanOwnerState.Committed
            : ProcessOwner.IsAlive(owner) ? PlanOwnerState.Alive
            : PlanOwnerState.Gone;
        var where = state switch
        {
            PlanOwnerState.Committed => $"committed (kept) by {owner.Where}",
            PlanOwnerState.Gone => $"{owner.Where}, which is gone",
            _ => owner.Where,
        };
        return (reader.GetString(first + 1), where, state);
    }

    private ClaimHolder? Holder(SqliteTransaction? transaction, string hostKey, string device, Guid plan)
    {
        using var reader = Command(
            transaction,
            $"SELECT c.plan, {PlanColumns} FROM claims c LEFT JOIN plans p ON p.id = c.plan WHERE c.host = $host AND c.device = $device",
            ("$host", hostKey),
            ("$device", device)).ExecuteReader();
        return reader.Read() && reader.GetString(0) != Text(plan) ? Holder(transaction, reader, hostKey, device) : null;
    }

    /// <summary>The holder a claim row names (its plan, then <see cref="PlanColumns"/>): null when the plan has no row, or is gone and the device free.</summary>
    private ClaimHolder? Holder(SqliteTransaction? transaction, SqliteDataReader reader, string hostKey, string device)
    {
        if (reader.IsDBNull(1))
        {
            return null;
        }

        var (guest, where, owner) = Describe(reader, 1);
        var holder = new ClaimHolder(Guid.Parse(reader.GetString(0)), guest, where);
        return owner != PlanOwnerState.Gone ? holder
            // A gone plan's claim is free, except on a device it journaled that may still exist: that one waits for recovery.
            : AwaitsRecovery(transaction, hostKey, device, holder.Plan) ? holder with { Where = $"{where}; its device awaits recovery" }
            : null;
    }

    private bool AwaitsRecovery(SqliteTransaction? transaction, string hostKey, string device, Guid plan) =>
        Convert.ToInt64(
            Command(
                transaction,
                "SELECT count(*) FROM journal WHERE plan = $plan AND host = $host AND 'mdev:' || uuid = $device AND state IN ('intent', 'created', 'remove_failed')",
                ("$plan", Text(plan)),
                ("$host", hostKey),
                ("$device", device)).ExecuteScalar(),
            CultureInfo.InvariantCulture) > 0;

    /// <summary>Takes a claim that is free, ours, or held by a plan whose owner is gone; otherwise returns its holder.</summary>
    private ClaimHolder? TryClaim(SqliteTransaction transaction, string hostKey, string device, Guid plan)
    {
        if (Holder(transaction, hostKey, device, plan) is { } holder)
        {
            return holder;
        }

        EnsurePlan(transaction, plan);
        Command(transaction, "INSERT OR REPLACE INTO claims(host, device, plan) VALUES ($host, $device, $plan)", ("$host", hostKey), ("$device", device), ("$plan", Text(plan))).ExecuteNonQuery();
        return null;
    }

    /// <summary>Deletes a claim while the plan holds it.</summary>
    private int Unclaim(SqliteTransaction transaction, string hostKey, string device, Guid plan) =>
        Command(transaction, "DELETE FROM claims WHERE host = $host AND device = $device AND plan = $plan", ("$host", hostKey), ("$device", device), ("$plan", Text(plan))).ExecuteNonQuery();

    /// <summary>Writes a journal entry, replacing the plan's entry for the same host and UUID.</summary>
    private int Insert(SqliteTransaction transaction, JournalEntry entry)
    {
        EnsurePlan(transaction, entry.Plan);
        return Command(
            transaction,
            "INSERT OR REPLACE INTO journal(plan, host, uuid, host_name, parent, type, method, persistent, ord, state, error) VALUES ($plan, $host, $uuid, $hostName, $parent, $type, $method, $persistent, $ord, $state, $error)",
            ("$plan", Text(entry.Plan)),
            ("$host", entry.HostKey),
            ("$uuid", entry.Uuid.Value),
            ("$hostName", entry.HostName),
            ("$parent", entry.Parent),
            ("$type", entry.Type.Value),
            ("$method", entry.Method switch { CreationMethod.Libvirt => "libvirt", CreationMethod.Vf => "vf", _ => "sysfs" }),
            ("$persistent", entry.Persistent ? 1 : 0),
            ("$ord", entry.Order),
            ("$state", StateText(entry.State)),
            ("$error", entry.Error)).ExecuteNonQuery();
    }

    private Task<int> CommitAsync(Guid plan, bool durable, CancellationToken cancellationToken) => WriteAsync(
        durable,
        transaction =>
        {
            EnsurePlan(transaction, plan);
            Command(transaction, "UPDATE plans SET committed = 1 WHERE id = $plan", ("$plan", Text(plan))).ExecuteNonQuery();
            return Command(transaction, "UPDATE journal SET state = 'committed' WHERE plan = $plan AND state = 'created'", ("$plan", Text(plan))).ExecuteNonQuery();
        },
        cancellationToken);

    private void EnsurePlan(SqliteTransaction transaction, Guid plan)
    {
        var guest = _guests.GetValueOrDefault(plan, "");
        Command(
            transaction,
            "INSERT OR IGNORE INTO plans(id, guest, node, boot_id, pid, start_ticks, committed, created_utc) VALUES ($plan, $guest, $node, $boot, $pid, $start, 0, $now)",
            ("$plan", Text(plan)),
            ("$guest", guest),
            ("$node", _owner.Node),
            ("$boot", _owner.BootId),
            ("$pid", _owner.Pid),
            ("$start", _owner.StartTicks),
            ("$now", DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture))).ExecuteNonQuery();
    }

    /// <summary>
    /// One write, committed with the writes other plans of this process ask for at the same time
    /// (group commit): the caller queues it; when no group is running, or when the previous
    /// group's leader hands it the turn, it becomes the leader and runs every queued write in one <c>BEGIN
    /// IMMEDIATE</c> transaction, each inside its own savepoint, so one that throws is rolled back
    /// alone and gets its own exception. The transaction is durable (<c>synchronous=FULL</c>, one
    /// sync of the WAL) when any of its writes is, otherwise it survives the crash of the process
    /// (NORMAL). Either way, when this completes the write is committed as its caller asked, or stronger.
    /// A caller that is not the leader awaits its turn, holding no thread meanwhile; the token is
    /// checked only before the write is queued.
    /// </summary>
    internal async Task<T> WriteAsync<T>(bool durable, Func<SqliteTransaction, T> work, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var request = new WriteRequest<T>(durable, work);
        if (!Enqueue(request) && await request.Turn.Task.ConfigureAwait(false))
        {
            return request.Outcome();
        }

        Lead(request);
        return request.Outcome();
    }

    /// <summary>Queues a write; true when its caller is to lead a group now.</summary>
    private bool Enqueue(WriteRequest request)
    {
        lock (_queueGate)
        {
            _queue.Add(request);
            Writes++;
            var lead = !_leading;
            _leading = true;
            return lead;
        }
    }

    /// <summary>
    /// Runs every queued write (<paramref name="leader"/>'s among them) as one group, completes the
    /// others' turns, and hands the lead to the first write queued meanwhile. When the group mixes
    /// writes that need the disk with writes that do not, the latter commit first in a transaction of
    /// their own (NORMAL, no sync) and their callers go on at once, instead of waiting for the others'
    /// sync: the writes of one group come from callers running at the same time, so either order is one
    /// they could have had.
    /// </summary>
    private void Lead(WriteRequest leader)
    {
        List<WriteRequest> group = [];
        try
        {
            lock (_gate)
            {
                lock (_queueGate)
                {
                    (group, _queue) = (_queue, []);
                }

                if (group.Exists(r => r.Durable) && group.Exists(r => !r.Durable))
                {
                    var quick = group.FindAll(r => !r.Durable);
                    RunGroup(quick);
                    foreach (var done in quick.Where(r => r != leader))
                    {
                        done.Turn.SetResult(true);
                    }

                    group = group.FindAll(r => r.Durable);
                }

                RunGroup(group);
            }
        }
        finally
        {
            WriteRequest? next;
            lock (_queueGate)
            {
                next = _queue.FirstOrDefault();
                _leading = next is not null;
            }

            foreach (var done in group.Where(r => r != leader))
            {
                done.Turn.SetResult(true);
            }

            // The first write queued meanwhile leads the next group.
            next?.Turn.SetResult(false);
        }
    }

    /// <summary>
    /// Runs a group of writes in one transaction (under <see cref="_gate"/>). When the transaction
    /// itself fails after it began (SQLite abandoned it, or the commit failed), nothing of the group
    /// was committed, so each write that did not fail on its own is run again alone, as it would
    /// have run without company, and gets its own result.
    /// </summary>
    private void RunGroup(List<WriteRequest> group)
    {
        var began = false;
        try
        {
            var durable = group.Exists(r => r.Durable);
            Execute(durable ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
            using var transaction = _connection.BeginTransaction(deferred: false);
            began = true;
            foreach (var request in group)
            {
                if (SQLitePCL.raw.sqlite3_get_autocommit(_connection.Handle) != 0)
                {
                    // A SAVEPOINT now would start a transaction of its own and commit on its RELEASE.
                    throw new InvalidOperationException("SQLite ended the group's transaction.");
                }

                transaction.Save(RequestSavepoint);
                try
                {
                    request.Run(transaction);
                }
                catch (Exception e)
                {
                    request.Fail(e is SqliteException sqlite ? Failure(sqlite) : e);
                    // Throws when SQLite has rolled the whole transaction back (a full disk, an I/O error): the group is then retried below.
                    transaction.Rollback(RequestSavepoint);
                }

                transaction.Release(RequestSavepoint);
            }

            transaction.Commit();
            WriteTransactions++;
            DurableTransactions += durable ? 1 : 0;
        }
        catch (Exception e) when (!began || group.Count == 1 || e is not (SqliteException or InvalidOperationException))
        {
            // Nothing was committed. Before the transaction began (locked past the busy timeout, an unwritable file) each write would have met the same error alone.
            foreach (var request in group.Where(r => !r.Failed))
            {
                request.Fail(e is SqliteException sqlite ? Failure(sqlite) : e);
            }
        }
        catch (Exception)
        {
            foreach (var request in group.Where(r => !r.Failed))
            {
                RunGroup([request]);
            }
        }
    }

    private StateStoreException Failure(SqliteException e) => new($"The planner's state store {FilePath} failed: {e.Message}", e);

    /// <summary>A read, on the reading connection: it never waits for a write's sync to the disk, so it runs on the caller's thread.</summary>
    private Task<T> ReadAsync<T>(Func<T> work, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_readGate)
        {
            try
            {
                return Task.FromResult(work());
            }
            catch (SqliteException e)
            {
                throw Failure(e);
            }
        }
    }

    private SqliteConnection Open(SqliteOpenMode mode, string pragmas)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = FilePath,
            Mode = mode,
            Pooling = false,
            DefaultTimeout = (int)BusyTimeout.TotalSeconds,
        }.ToString());
        try
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = $"PRAGMA busy_timeout = {(int)BusyTimeout.TotalMilliseconds}; {pragmas}";
            command.ExecuteNonQuery();
            return connection;
        }
        catch (SqliteException)
        {
            connection.Dispose();
            throw;
        }
    }

    private void Execute(string sql)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private object? Scalar(SqliteTransaction transaction, string sql)
    {
        using var command = Command(transaction, sql);
        return command.ExecuteScalar();
    }

    private SqliteCommand Command(SqliteTransaction? transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        // Without a transaction, a read (under _readGate).
        var command = (transaction?.Connection ?? _reader).CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        return command;
    }

    private static string Text(Guid plan) => plan.ToString("D");

    private static string StateText(JournalState state) => state switch
    {
        JournalState.Intent => "intent",
        JournalState.Created => "created",
        JournalState.Removed => "removed",
        JournalState.RemoveFailed => "remove_failed",
        _ => "committed",
    };

    private static JournalState ParseState(string text) => text switch
    {
        "intent" => JournalState.Intent,
        "created" => JournalState.Created,
        "removed" => JournalState.Removed,
        "remove_failed" => JournalState.RemoveFailed,
        "committed" => JournalState.Committed,
        _ => throw new StateStoreException($"The state store has a journal entry in an unknown state '{text}'."),
    };

    /// <summary>Holds the connection (tests: writes queue up behind it and then run as one group).</summary>
    internal IDisposable HoldWrites() => new WriteHold(_gate);

    /// <summary>One caller's write, queued until a leader runs it (under <see cref="_gate"/>) and completes its <see cref="Turn"/>.</summary>
    private abstract class WriteRequest(bool durable)
    {
        public bool Durable { get; } = durable;

        /// <summary>Completed true when a leader ran this write, false when this write's caller is to lead the next group.</summary>
        public TaskCompletionSource<bool> Turn { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool Failed => Error is not null;

        protected ExceptionDispatchInfo? Error { get; private set; }

        public abstract void Run(SqliteTransaction transaction);

        public void Fail(Exception error) => Error = ExceptionDispatchInfo.Capture(error);
    }

    private sealed class WriteRequest<T>(bool durable, Func<SqliteTransaction, T> work) : WriteRequest(durable)
    {
        private T _result = default!;

        public override void Run(SqliteTransaction transaction) => _result = work(transaction);

        /// <summary>The write's result, or its exception thrown again.</summary>
        public T Outcome()
        {
            Error?.Throw();
            return _result;
        }
    }

    private sealed class WriteHold : IDisposable
    {
        private readonly Lock _gate;

        public WriteHold(Lock gate)
        {
            _gate = gate;
            _gate.Enter();
        }

        public void Dispose() => _gate.Exit();
    }
}
