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
