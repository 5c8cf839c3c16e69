using VfioMigration.Planner.Devices;
using Microsoft.Data.Sqlite;
using VfioMigration.Planner.State;

namespace VfioMigration.Planner.Tests.State;

/// <summary>The SQLite store against real files: the store contract (claims across connections, owners that are gone, journal states), the schema guard, WAL, where the state lives, owners' liveness.</summary>
[TestClass]
public sealed class SqliteStateStoreTests : StateStoreContractTests
{
    private string _directory = null!;

    public TestContext TestContext { get; set; } = null!;

    /// <summary>A process that is gone: this node and boot, a PID no process has.</summary>
    internal static ProcessOwner Gone { get; } = ProcessOwner.Current with { Pid = int.MaxValue, StartTicks = 1 };

    [TestInitialize]
    public void CreateDirectory() => _directory = Directory.CreateTempSubdirectory("vfio-state-").FullName;

    [TestCleanup]
    public void DeleteDirectory()
    {
        CloseTheStores();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    protected override string DeadProcess => $"process {int.MaxValue} on node {Environment.MachineName}";

    protected override IPlannerStateStore OpenLive() => new SqliteStateStore(_directory);

    [TestMethod]
    public void AVfConfiguration_RoundTripsWithMethodVf()
    {
        using var store = new SqliteStateStore(_directory);
        var plan = Guid.NewGuid();
        store.BeginPlan(plan, "vm1");
        var entry = new JournalEntry(plan, Host, "dest", MdevUuid.Parse("228e0344-71d9-8d52-8e8f-203de55c49d4"), "0000:c1:00.5", MdevTypeId.Parse("1044"), CreationMethod.Vf, false, 3, JournalState.Created);

        store.Journal(entry);

        Assert.AreEqual(entry, store.ListPlans().Single(p => p.Id == plan).Entries.Single());
    }

    protected override IPlannerStateStore OpenDead() => new SqliteStateStore(_directory, Gone);

    /// <summary>A batch of intents: each free UUID claimed and journaled, one another plan holds left alone and named; the same through the interface's default (the in-memory store).</summary>
    [TestMethod]
    [DataRow(true)]
    [DataRow(false)]
    public void ClaimAndIntend_ClaimsAndJournalsEachFreeUuid_AndNamesTheHolderOfAnother(bool sqlite)
    {
        using var file = new SqliteStateStore(_directory);
        IPlannerStateStore store = sqlite ? file : new TargetClaimRegistry();
        var (plan, other) = (Guid.NewGuid(), Guid.NewGuid());
        const string first = "00000000-0000-4000-8000-000000000011";
        const string held = "00000000-0000-4000-8000-000000000012";
        const string last = "00000000-0000-4000-8000-000000000013";
        store.BeginPlan(other, "vm2");
        store.TryClaim(Host, $"mdev:{held}", other);

        var holders = store.ClaimAndIntend([Entry(plan, first, JournalState.Intent), Entry(plan, held, JournalState.Intent), Entry(plan, last, JournalState.Intent)]);

        Assert.IsNull(holders[0]);
        Assert.AreEqual(other, holders[1]?.Plan);
        Assert.IsNull(holders[2]);
        var stored = store.ListPlans().Single(p => p.Id == plan);
        CollectionAssert.AreEquivalent(new[] { first, last }, stored.Entries.Select(e => e.Uuid.Value).ToList());
        Assert.HasCount(2, stored.Entries);
        Assert.IsTrue(stored.Entries.All(e => e.State == JournalState.Intent));
        CollectionAssert.AreEquivalent(new[] { $"mdev:{first}", $"mdev:{last}" }, stored.Claims.Select(c => c.Value).ToList());
        Assert.AreEqual(other, store.HolderOf(Host, $"mdev:{held}", plan)?.Plan);
    }

    /// <summary>
    /// Group commit: 8 plans ask at once for 4 UUIDs each out of 6 (every UUID wanted by several),
    /// queued behind the held connection so they run as one transaction: each UUID has exactly one
    /// winner, which holds its claim and whose intent another connection reads from the file; every
    /// loser is told that winner.
    /// </summary>
    [TestMethod]
    [DataRow(true)]
    [DataRow(false)]
    public void ConcurrentClaimAndIntend_OneWinnerPerUuid_AllIntentsCommitted(bool oneGroup)
    {
        using var store = new SqliteStateStore(_directory);
        var uuids = Enumerable.Range(1, 6).Select(i => $"00000000-0000-4000-8000-0000000001{i:D2}").ToArray();
        var plans = Enumerable.Range(0, 8).Select(_ => Guid.NewGuid()).ToArray();
        var asked = plans.Select((plan, p) => Enumerable.Range(0, 4).Select(k => uuids[(p + k) % uuids.Length]).ToArray()).ToArray();
        var results = new IReadOnlyList<ClaimHolder?>[plans.Length];
        for (var p = 0; p < plans.Length; p++)
        {
            store.BeginPlan(plans[p], $"vm{p}");
        }

        var before = store.WriteTransactions;

        RunAtOnce(store, oneGroup, plans.Select((plan, p) => (Action)(() =>
            results[p] = store.ClaimAndIntend([.. asked[p].Select(uuid => Entry(plan, uuid, JournalState.Intent))]))));

        if (oneGroup)
        {
            Assert.AreEqual(before + 1, store.WriteTransactions);
        }

        var journaled = ReadJournal(store.FilePath);
        Assert.HasCount(uuids.Length, journaled);
        foreach (var uuid in uuids)
        {
            var winners = plans.Where((plan, p) => asked[p].Contains(uuid) && results[p][Array.IndexOf(asked[p], uuid)] is null).ToList();
            Assert.HasCount(1, winners, uuid);
            Assert.AreEqual((winners[0].ToString("D"), "intent"), journaled[uuid]);
            Assert.AreEqual(winners[0], store.HolderOf(Host, $"mdev:{uuid}", Guid.Empty)?.Plan);
            var losers = plans.Select((plan, p) => (plan, p)).Where(x => asked[x.p].Contains(uuid) && x.plan != winners[0]).ToList();
            Assert.IsTrue(losers.All(x => results[x.p][Array.IndexOf(asked[x.p], uuid)]?.Plan == winners[0]), uuid);
        }
    }

    /// <summary>A write that fails inside a group (a journal entry the schema refuses) throws to its caller alone: the others of the group are committed, nothing of it is.</summary>
    [TestMethod]
    public void AFailingWriteInAGroup_FailsAlone()
    {
        using var store = new SqliteStateStore(_directory);
        var (first, broken, last) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        const string firstUuid = "00000000-0000-4000-8000-000000000201";
        const string lastUuid = "00000000-0000-4000-8000-000000000203";
        Exception? error = null;
        var before = store.WriteTransactions;

        RunAtOnce(store, oneGroup: true, [
            () => store.ClaimAndIntend([Entry(first, firstUuid, JournalState.Intent)]),
            () => error = Assert.ThrowsExactly<StateStoreException>(() => store.Journal(Entry(broken, "00000000-0000-4000-8000-000000000202", JournalState.Intent) with { HostName = null! })),
            () => store.ClaimAndIntend([Entry(last, lastUuid, JournalState.Intent)]),
        ]);

        Assert.AreEqual(before + 1, store.WriteTransactions);
        Assert.Contains("NOT NULL constraint failed: journal.host_name", error!.Message);
        Assert.AreEqual(2, ReadJournal(store.FilePath).Count);
        Assert.AreEqual((first.ToString("D"), "intent"), ReadJournal(store.FilePath)[firstUuid]);
        Assert.AreEqual((last.ToString("D"), "intent"), ReadJournal(store.FilePath)[lastUuid]);
        CollectionAssert.AreEquivalent(new[] { first, last }, store.ListPlans().Select(p => p.Id).ToList());
    }

    /// <summary>When SQLite abandons a group's transaction (as after a full disk), nothing of it was committed: every other write of the group runs again alone and is committed; the one that failed keeps its own error.</summary>
    [TestMethod]
    public void AGroupWhoseTransactionSqliteAbandoned_RunsEachOtherWriteAlone()
    {
        using var store = new SqliteStateStore(_directory);
        var (first, last) = (Guid.NewGuid(), Guid.NewGuid());
        const string firstUuid = "00000000-0000-4000-8000-000000000301";
        const string lastUuid = "00000000-0000-4000-8000-000000000303";
        var before = store.WriteTransactions;

        RunAtOnce(store, oneGroup: true, [
            () => store.ClaimAndIntend([Entry(first, firstUuid, JournalState.Intent)]),
            () => Assert.ThrowsExactly<InvalidDataException>(() => store.Write<int>(durable: false, transaction =>
            {
                using var command = transaction.Connection!.CreateCommand();
                command.Transaction = transaction;
                command.CommandText = "ROLLBACK";
                command.ExecuteNonQuery();
                throw new InvalidDataException("abandoned");
            })),
            () => store.ClaimAndIntend([Entry(last, lastUuid, JournalState.Intent)]),
        ]);

        Assert.AreEqual(before + 2, store.WriteTransactions);
        var journaled = ReadJournal(store.FilePath);
        Assert.HasCount(2, journaled);
        Assert.AreEqual((first.ToString("D"), "intent"), journaled[firstUuid]);
        Assert.AreEqual((last.ToString("D"), "intent"), journaled[lastUuid]);
    }

    /// <summary>Reads and naming a plan go through their own connection: they return while a write holds the writer's (as during its wait for the disk).</summary>
    [TestMethod]
    public void AReadAndBeginPlan_DoNotWaitForTheWriter()
    {
        using var store = new SqliteStateStore(_directory);
        var plan = Guid.NewGuid();
        store.TryClaim(Host, "pci:0000:41:00.4", plan);
        ClaimHolder? holder = null;

        using (store.HoldWrites())
        {
            var reader = new Thread(() =>
            {
                store.BeginPlan(plan, "vm1");
                holder = store.HolderOf(Host, "pci:0000:41:00.4", Guid.Empty);
            });
            reader.Start();
            Assert.IsTrue(reader.Join(TimeSpan.FromSeconds(30)), "the read waited for the writer");
        }

        Assert.AreEqual(plan, holder?.Plan);
    }

    /// <summary>Runs the calls on threads of their own; with <paramref name="oneGroup"/> they queue behind the held connection first, so one of them runs them all as one group.</summary>
    private static void RunAtOnce(SqliteStateStore store, bool oneGroup, IEnumerable<Action> calls)
    {
        var threads = calls.Select(call => new Thread(() => call())).ToList();
        using (var hold = oneGroup ? store.HoldWrites() : null)
        {
            threads.ForEach(t => t.Start());
            for (var waited = 0; oneGroup && store.QueuedWrites < threads.Count; waited++)
            {
                Assert.IsLessThan(1000, waited, "the writes did not queue up within 10 s");
                Thread.Sleep(10);
            }
        }

        threads.ForEach(t => Assert.IsTrue(t.Join(TimeSpan.FromSeconds(30)), "a write did not return"));
    }

    /// <summary>The journal as another connection reads it from the file: UUID → (plan, state).</summary>
    private static Dictionary<string, (string Plan, string State)> ReadJournal(string file)
    {
        using var connection = new SqliteConnection($"Data Source={file};Pooling=False;Mode=ReadOnly");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT uuid, plan, state FROM journal";
        using var reader = command.ExecuteReader();
        var rows = new Dictionary<string, (string, string)>();
        while (reader.Read())
        {
            rows.Add(reader.GetString(0), (reader.GetString(1), reader.GetString(2)));
        }

        return rows;
    }

    [TestMethod]
    public void ClaimAndIntend_TakesOnlyIntents()
    {
        using var store = new SqliteStateStore(_directory);
        var plan = Guid.NewGuid();

        Assert.ThrowsExactly<ArgumentException>(() => store.ClaimAndIntend([Entry(plan, "00000000-0000-4000-8000-000000000014", JournalState.Created)]));
        Assert.IsEmpty(store.ClaimAndIntend([]));
        Assert.IsEmpty(store.ListPlans());
    }

    [TestMethod]
    public void AFileWithANewerSchema_IsRefused_AndLeftAlone()
    {
        using (var connection = new SqliteConnection($"Data Source={Path.Combine(_directory, "state.db")};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = $"PRAGMA user_version = {SqliteStateStore.SchemaVersion + 1}";
            command.ExecuteNonQuery();
        }

        var error = Assert.ThrowsExactly<StateStoreException>(() => new SqliteStateStore(_directory));
        Assert.Contains($"schema version {SqliteStateStore.SchemaVersion + 1}", error.Message);
    }

    [TestMethod]
    public void AStateDirectoryThatCannotBeCreated_IsAStateStoreError()
    {
        var file = Path.Combine(_directory, "a-file");
        File.WriteAllText(file, "");
        var error = Assert.ThrowsExactly<StateStoreException>(() => new SqliteStateStore(Path.Combine(file, "state")));
        Assert.Contains("Cannot open the planner's state store", error.Message);
    }

    [TestMethod]
    public void TheStore_UsesWal()
    {
        using var store = new SqliteStateStore(_directory);
        using var connection = new SqliteConnection($"Data Source={store.FilePath};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode";
        Assert.AreEqual("wal", command.ExecuteScalar());
    }

    [TestMethod]
    [DataRow(true, null, "/var/lib/vfio-migration")]
    [DataRow(false, "/srv/state", "/srv/state/vfio-migration")]
    [DataRow(false, null, "/home/ann/.local/state/vfio-migration")]
    [DataRow(false, "relative", "/home/ann/.local/state/vfio-migration")]
    public void DefaultDirectory_FollowsRootAndXdg(bool root, string? xdg, string expected) =>
        Assert.AreEqual(expected, SqliteStateStore.DefaultDirectory(root, xdg, "/home/ann"));

    [TestMethod]
    public void StartTicks_AreField22_EvenWhenTheCommandNameHasSpacesAndParentheses()
    {
        const string stat = "4242 (a b) c)) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
        Assert.AreEqual(987654L, ProcessOwner.ParseStartTicks(stat));
        Assert.IsNull(ProcessOwner.ParseStartTicks("garbage"));
        Assert.IsNull(ProcessOwner.ParseStartTicks(stat.Replace(" S 1 ", " Z 1 ", StringComparison.Ordinal)), "a zombie is gone");
    }

    [TestMethod]
    public void AnOwner_IsAliveOnlyWithTheSameBootAndStartTime_OrOnAnotherNode()
    {
        var here = new ProcessOwner("node1", "boot1", 1, 10);
        long? Running(int pid) => pid == 7 ? 70 : null;
        Assert.IsTrue(ProcessOwner.IsAlive(new ProcessOwner("node1", "boot1", 7, 70), here, Running));
        Assert.IsFalse(ProcessOwner.IsAlive(new ProcessOwner("node1", "boot1", 7, 71), here, Running), "PID reused");
        Assert.IsFalse(ProcessOwner.IsAlive(new ProcessOwner("node1", "boot0", 7, 70), here, Running), "rebooted since");
        Assert.IsFalse(ProcessOwner.IsAlive(new ProcessOwner("node1", "boot1", 8, 70), here, Running), "no such process");
        Assert.IsTrue(ProcessOwner.IsAlive(new ProcessOwner("node2", "boot9", 8, 1), here, Running), "another node cannot be checked from here");
        Assert.IsTrue(ProcessOwner.IsAlive(ProcessOwner.Current), "this process");
    }
}
