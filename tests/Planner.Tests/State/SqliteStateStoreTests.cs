using Microsoft.Data.Sqlite;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.State;

namespace VfioMigration.Planner.Tests.State;

/// <summary>The SQLite store against real files: claims across connections, owners that are gone, journal states, the schema guard.</summary>
[TestClass]
public sealed class SqliteStateStoreTests
{
    private const string Host = "test:///dest.xml";

    private string _directory = null!;

    public TestContext TestContext { get; set; } = null!;

    /// <summary>A process that is gone: this node and boot, a PID no process has.</summary>
    internal static ProcessOwner Gone { get; } = ProcessOwner.Current with { Pid = int.MaxValue, StartTicks = 1 };

    [TestInitialize]
    public void CreateDirectory() => _directory = Directory.CreateTempSubdirectory("vfio-state-").FullName;

    [TestCleanup]
    public void DeleteDirectory()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    private static JournalEntry Entry(Guid plan, string uuid, JournalState state, string? error = null) =>
        new(plan, Host, "dest", MdevUuid.Parse(uuid), "mdev_0000_41_00_0", MdevTypeId.Parse("nvidia-63"), CreationMethod.Sysfs, false, 0, state, error);

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

    [TestMethod]
    public void AClaim_IsSeenByAnotherConnection_WithThePlanAndWhereItRuns()
    {
        using var first = new SqliteStateStore(_directory);
        using var second = new SqliteStateStore(_directory);
        var (a, b) = (Guid.NewGuid(), Guid.NewGuid());
        first.BeginPlan(a, "vm1");
        Assert.IsNull(first.TryClaim(Host, "mdev:x", a));
        Assert.IsNull(first.TryClaim(Host, "mdev:x", a), "claiming again is a no-op");

        var holder = second.TryClaim(Host, "mdev:x", b);
        Assert.IsNotNull(holder);
        Assert.AreEqual(a, holder.Plan);
        Assert.AreEqual("vm1", holder.Guest);
        Assert.AreEqual($"process {Environment.ProcessId} on node {Environment.MachineName}", holder.Where);
        Assert.AreEqual(a, second.HolderOf(Host, "mdev:x", b)?.Plan);
        Assert.IsNull(second.HolderOf(Host, "mdev:x", a), "a plan's own claim is not another's");

        first.Release(Host, "mdev:x", a);
        Assert.IsNull(second.TryClaim(Host, "mdev:x", b));
        Assert.AreEqual(b, first.HolderOf(Host, "mdev:x", a)?.Plan);
    }

    [TestMethod]
    public void AClaimOfAPlanWhoseProcessIsGone_IsFree_AndTakenOver()
    {
        using var dead = new SqliteStateStore(_directory, Gone);
        using var live = new SqliteStateStore(_directory);
        var (a, b) = (Guid.NewGuid(), Guid.NewGuid());
        Assert.IsNull(dead.TryClaim(Host, "pci:0000:41:00.0", a));

        Assert.IsNull(live.HolderOf(Host, "pci:0000:41:00.0", b));
        Assert.IsNull(live.TryClaim(Host, "pci:0000:41:00.0", b));
        var plans = live.ListPlans();
        Assert.AreEqual(PlanOwnerState.Gone, plans.Single(p => p.Id == a).Owner);
        Assert.IsEmpty(plans.Single(p => p.Id == a).Claims);
        CollectionAssert.AreEqual(new[] { KeyValuePair.Create(Host, "pci:0000:41:00.0") }, plans.Single(p => p.Id == b).Claims.ToList());
    }

    [TestMethod]
    public void EndPlan_KeepsOnlyADeviceWhoseRemovalFailed_WithItsClaim()
    {
        using var store = new SqliteStateStore(_directory);
        var plan = Guid.NewGuid();
        const string gone = "00000000-0000-4000-8000-000000000001";
        const string stuck = "00000000-0000-4000-8000-000000000002";
        store.TryClaim(Host, $"mdev:{gone}", plan);
        store.TryClaim(Host, $"mdev:{stuck}", plan);
        store.TryClaim(Host, "pci:0000:41:00.1", plan);
        store.Journal(Entry(plan, gone, JournalState.Intent));
        store.Journal(Entry(plan, gone, JournalState.Removed));
        store.Journal(Entry(plan, stuck, JournalState.RemoveFailed, "EBUSY"));

        store.EndPlan(plan);

        var left = store.ListPlans().Single();
        Assert.AreEqual(stuck, left.Entries.Single().Uuid.Value);
        Assert.AreEqual(JournalState.RemoveFailed, left.Entries.Single().State);
        Assert.AreEqual("EBUSY", left.Entries.Single().Error);
        CollectionAssert.AreEqual(new[] { KeyValuePair.Create(Host, $"mdev:{stuck}") }, left.Claims.ToList());
    }

    [TestMethod]
    public void ACommittedPlan_KeepsItsClaims_AfterItsProcessIsGone_UntilForgotten()
    {
        var plan = Guid.NewGuid();
        const string made = "00000000-0000-4000-8000-000000000003";
        using (var dead = new SqliteStateStore(_directory, Gone))
        {
            dead.BeginPlan(plan, "vm1");
            dead.TryClaim(Host, $"mdev:{made}", plan);
            dead.Journal(Entry(plan, made, JournalState.Created));
            dead.CommitPlan(plan);
        }

        using var live = new SqliteStateStore(_directory);
        var holder = live.TryClaim(Host, $"mdev:{made}", Guid.NewGuid());
        Assert.AreEqual($"plan {plan} for guest vm1, committed (kept) by process {int.MaxValue} on node {Environment.MachineName}", holder?.ToString());
        Assert.AreEqual(JournalState.Committed, live.ListPlans().Single().Entries.Single().State);
        Assert.IsEmpty(live.PlansToRecover(Host, includeCommitted: false), "a committed plan is not an orphan");
        Assert.AreEqual(plan, live.PlansToRecover(Host, includeCommitted: true).Single().Id);

        live.ForgetPlan(plan);
        Assert.IsEmpty(live.ListPlans());
        Assert.IsNull(live.HolderOf(Host, $"mdev:{made}", Guid.Empty));
    }

    [TestMethod]
    public void PlansToRecover_ListsOnlyGoneOwners_WithOpenEntriesOnThatHost()
    {
        using var dead = new SqliteStateStore(_directory, Gone);
        using var live = new SqliteStateStore(_directory);
        var (orphan, running, closed) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        dead.Journal(Entry(orphan, "00000000-0000-4000-8000-000000000004", JournalState.Intent));
        dead.Journal(Entry(closed, "00000000-0000-4000-8000-000000000005", JournalState.Removed));
        live.Journal(Entry(running, "00000000-0000-4000-8000-000000000006", JournalState.Created));

        Assert.AreEqual(orphan, live.PlansToRecover(Host, includeCommitted: false).Single().Id);
        Assert.IsEmpty(live.PlansToRecover("test:///other.xml", includeCommitted: false));
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
