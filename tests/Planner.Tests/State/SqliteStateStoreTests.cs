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
    public async Task AVfConfiguration_RoundTripsWithMethodVf()
    {
        using var store = new SqliteStateStore(_directory);
        var plan = Guid.NewGuid();
        store.BeginPlan(plan, "vm1");
        var entry = new JournalEntry(plan, Host, "dest", MdevUuid.Parse("228e0344-71d9-8d52-8e8f-203de55c49d4"), "0000:c1:00.5", MdevTypeId.Parse("1044"), CreationMethod.Vf, false, 3, JournalState.Created);

        await store.JournalAsync(entry);

        Assert.AreEqual(entry, (await store.ListPlansAsync()).Single(p => p.Id == plan).Entries.Single());
    }

    protected override IPlannerStateStore OpenDead() => new SqliteStateStore(_directory, Gone);

    [TestMethod]
    [DataRow(true)]
    [DataRow(false)]
    public async Task ConcurrentClaimAndIntend_OneWinnerPerUuid_AllIntentsCommitted(bool oneGroup)
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

        RunAtOnce(store, oneGroup, plans.Select((plan, p) => (Func<Task>)(async () =>
            results[p] = await store.ClaimAndIntendAsync([.. asked[p].Select(uuid => Entry(plan, uuid, JournalState.Intent))]))));

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
            Assert.AreEqual(winners[0], (await store.HolderOfAsync(Host, $"mdev:{uuid}", Guid.Empty))?.Plan);
            var losers = plans.Select((plan, p) => (plan, p)).Where(x => asked[x.p].Contains(uuid) && x.plan != winners[0]).ToList();
            Assert.IsTrue(losers.All(x => results[x.p][Array.IndexOf(asked[x.p], uuid)]?.Plan == winners[0]), uuid);
        }
    }

    /// <summary>A write that fails inside a group (a journal entry the schema refuses) throws to its caller alone: the others of the group are committed, nothing of it is.</summary>
    [TestMethod]
    public async Task AFailingWriteInAGroup_FailsAlone()
    {
        using var store = new SqliteStateStore(_directory);
        var (first, broken, last) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        const string firstUuid = "00000000-0000-4000-8000-000000000201";
        const string lastUuid = "00000000-0000-4000-8000-000000000203";
        Exception? error = null;
        var before = store.WriteTransactions;

        RunAtOnce(store, oneGroup: true, [
            () => store.ClaimAndIntendAsync([Entry(first, firstUuid, JournalState.Intent)]),
            async () => error = await Assert.ThrowsExactlyAsync<StateStoreException>(() => store.JournalAsync(Entry(broken, "00000000-0000-4000-8000-000000000202", JournalState.Intent) with { HostName = null! })),
            () => store.ClaimAndIntendAsync([Entry(last, lastUuid, JournalState.Intent)]),
        ]);

        Assert.AreEqual(before + 1, store.WriteTransactions);
        Assert.Contains("NOT NULL constraint failed: journal.host_name", error!.Message);
        Assert.AreEqual(2, ReadJournal(store.FilePath).Count);
        Assert.AreEqual((first.ToString("D"), "intent"), ReadJournal(store.FilePath)[firstUuid]);
        Assert.AreEqual((last.ToString("D"), "intent"), ReadJournal(store.FilePath)[lastUuid]);
        CollectionAssert.AreEquivalent(new[] { first, last }, (await store.ListPlansAsync()).Select(p => p.Id).ToList());
    }

    /// <summary>
    /// A group that mixes writes needing the disk (intents) with writes that do not (claims of existing
    /// devices) commits the latter in a transaction of their own, without a sync, so their callers do
    /// not wait for the intents' sync: two transactions, one of them durable, and every write committed.
    /// </summary>
    [TestMethod]
    public async Task AMixedGroup_CommitsTheWritesThatNeedNoSyncApart()
    {
        using var store = new SqliteStateStore(_directory);
        var plans = Enumerable.Range(0, 4).Select(_ => Guid.NewGuid()).ToArray();
        var (transactions, durable) = (store.WriteTransactions, store.DurableTransactions);

        RunAtOnce(store, oneGroup: true, [
            () => store.ClaimAndIntendAsync([Entry(plans[0], "00000000-0000-4000-8000-000000000401", JournalState.Intent)]),
            () => store.TryClaimManyAsync(Host, ["pci:0000:46:00.1"], plans[1]),
            () => store.ClaimAndIntendAsync([Entry(plans[2], "00000000-0000-4000-8000-000000000403", JournalState.Intent)]),
            () => store.TryClaimManyAsync(Host, ["pci:0000:46:00.2"], plans[3]),
        ]);

        Assert.AreEqual(transactions + 2, store.WriteTransactions);
        Assert.AreEqual(durable + 1, store.DurableTransactions);
        Assert.HasCount(2, ReadJournal(store.FilePath));
        Assert.AreEqual(plans[1], (await store.HolderOfAsync(Host, "pci:0000:46:00.1", Guid.Empty))?.Plan);
        Assert.AreEqual(plans[3], (await store.HolderOfAsync(Host, "pci:0000:46:00.2", Guid.Empty))?.Plan);
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
            () => store.ClaimAndIntendAsync([Entry(first, firstUuid, JournalState.Intent)]),
            () => Assert.ThrowsExactlyAsync<InvalidDataException>(() => store.WriteAsync<int>(
                durable: true,
                transaction =>
                {
                    using var command = transaction.Connection!.CreateCommand();
                    command.Transaction = transaction;
                    command.CommandText = "ROLLBACK";
                    command.ExecuteNonQuery();
                    throw new InvalidDataException("abandoned");
                },
                CancellationToken.None)),
            () => store.ClaimAndIntendAsync([Entry(last, lastUuid, JournalState.Intent)]),
        ]);

        Assert.AreEqual(before + 2, store.WriteTransactions);
        var journaled = ReadJournal(store.FilePath);
        Assert.HasCount(2, journaled);
        Assert.AreEqual((first.ToString("D"), "intent"), journaled[firstUuid]);
        Assert.AreEqual((last.ToString("D"), "intent"), journaled[lastUuid]);
    }

    /// <summary>Reads and naming a plan go through their own connection: they return while a write holds the writer's (as during its wait for the disk).</summary>
    [TestMethod]
    public async Task AReadAndBeginPlan_DoNotWaitForTheWriter()
    {
        using var store = new SqliteStateStore(_directory);
        var plan = Guid.NewGuid();
        await store.TryClaimAsync(Host, "pci:0000:41:00.4", plan);
        ClaimHolder? holder = null;

        using (store.HoldWrites())
        {
            var reader = Task.Run(async () =>
            {
                store.BeginPlan(plan, "vm1");
                holder = await store.HolderOfAsync(Host, "pci:0000:41:00.4", Guid.Empty);
            });
            Assert.IsTrue(reader.Wait(TimeSpan.FromSeconds(30)), "the read waited for the writer");
        }

        Assert.AreEqual(plan, holder?.Plan);
    }

    /// <summary>Starts the calls at once on the thread pool; with <paramref name="oneGroup"/> they queue behind the held connection first, so one of them runs them all as one group.</summary>
    private static void RunAtOnce(SqliteStateStore store, bool oneGroup, IEnumerable<Func<Task>> calls)
    {
        var started = new List<Task>();
        using (var hold = oneGroup ? store.HoldWrites() : null)
        {
            started.AddRange(calls.Select(call => Task.Run(call)));
            for (var waited = 0; oneGroup && store.QueuedWrites < started.Count; waited++)
            {
                Assert.IsLessThan(1000, waited, "the writes did not queue up within 10 s");
                Thread.Sleep(10);
            }
        }

        Assert.IsTrue(Task.WaitAll([.. started], TimeSpan.FromSeconds(30)), "a write did not return");
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
    public async Task ClaimAndIntend_TakesOnlyIntents()
    {
        using var store = new SqliteStateStore(_directory);
        var plan = Guid.NewGuid();

        await Assert.ThrowsExactlyAsync<ArgumentException>(() => store.ClaimAndIntendAsync([Entry(plan, "00000000-0000-4000-8000-000000000014", JournalState.Created)]));
        Assert.IsEmpty(await store.ClaimAndIntendAsync([]));
        Assert.IsEmpty(await store.ListPlansAsync());
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
