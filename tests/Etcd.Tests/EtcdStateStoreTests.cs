using VfioMigration.Planner;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.State;

namespace VfioMigration.Etcd.Tests;

/// <summary>
/// The etcd store against one real etcd member: the behaviours of the SQLite store's tests
/// (claims across stores, a gone owner's claims, journal states, committed plans, what recovery
/// sees), the lease as the owner, the round trips each call costs, an unreachable etcd.
/// Each test has its own key prefix.
/// </summary>
[TestClass]
public sealed class EtcdStateStoreTests
{
    private const string Host = "test:///dest.xml";

    private static EtcdCluster? _etcd;

    private string _prefix = null!;

    public TestContext TestContext { get; set; } = null!;

    private static EtcdCluster Etcd => _etcd ?? throw new AssertInconclusiveException("etcd did not start.");

    [ClassInitialize]
    public static void StartEtcd(TestContext context) => _etcd = EtcdCluster.Start(1);

    [ClassCleanup]
    public static void StopEtcd() => _etcd?.Dispose();

    [TestInitialize]
    public void UseAPrefixOfItsOwn() => _prefix = $"/test-{TestContext.TestName}/";

    internal static JournalEntry Entry(Guid plan, string uuid, JournalState state, string? error = null) =>
        new(plan, Host, "dest", MdevUuid.Parse(uuid), "mdev_0000_41_00_0", MdevTypeId.Parse("nvidia-63"), CreationMethod.Sysfs, false, 0, state, error);

    [TestMethod]
    public void AClaim_IsSeenByAnotherStore_WithThePlanAndWhereItRuns()
    {
        using var first = Etcd.Open(_prefix);
        using var second = Etcd.Open(_prefix);
        var (a, b) = (Guid.NewGuid(), Guid.NewGuid());
        first.BeginPlan(a, "vm1");
        Assert.IsNull(first.TryClaim(Host, "mdev:x", a));
        Assert.IsNull(first.TryClaim(Host, "mdev:x", a), "claiming again is a no-op");

        var holder = second.TryClaim(Host, "mdev:x", b);
        Assert.AreEqual($"plan {a} for guest vm1, process {Environment.ProcessId} on node {Environment.MachineName}", holder?.ToString());
        Assert.AreEqual(a, second.HolderOf(Host, "mdev:x", b)?.Plan);
        Assert.IsNull(second.HolderOf(Host, "mdev:x", a), "a plan's own claim is not another's");

        first.Release(Host, "mdev:x", a);
        Assert.IsNull(second.TryClaim(Host, "mdev:x", b));
        Assert.AreEqual(b, first.HolderOf(Host, "mdev:x", a)?.Plan);
    }

    [TestMethod]
    public void AClaimOfAProcessWhoseLeaseIsGone_IsFree_AndTakenOver()
    {
        var (a, b) = (Guid.NewGuid(), Guid.NewGuid());
        using var live = Etcd.Open(_prefix);
        using (var dead = Etcd.Open(_prefix))
        {
            dead.BeginPlan(a, "vm1");
            Assert.IsNull(dead.TryClaim(Host, "pci:0000:41:00.0", a));
            Assert.AreEqual(a, live.HolderOf(Host, "pci:0000:41:00.0", b)?.Plan);
        }

        // Disposing revokes the lease, as its expiry does for a process that died.
        Assert.IsNull(live.HolderOf(Host, "pci:0000:41:00.0", b));
        Assert.IsNull(live.TryClaim(Host, "pci:0000:41:00.0", b));
        var plans = live.ListPlans();
        Assert.AreEqual(PlanOwnerState.Gone, plans.Single(p => p.Id == a).Owner);
        Assert.AreEqual($"process {Environment.ProcessId} on node {Environment.MachineName}, which is gone", plans.Single(p => p.Id == a).Where);
        Assert.IsEmpty(plans.Single(p => p.Id == a).Claims);
        CollectionAssert.AreEqual(new[] { KeyValuePair.Create(Host, "pci:0000:41:00.0") }, plans.Single(p => p.Id == b).Claims.ToList());
    }

    [TestMethod]
    public void AJournaledDeviceOfAGonePlan_StaysClaimed_UntilRecoveryForgetsThePlan()
    {
        var (a, b) = (Guid.NewGuid(), Guid.NewGuid());
        const string made = "00000000-0000-4000-8000-000000000007";
        using (var dead = Etcd.Open(_prefix))
        {
            dead.BeginPlan(a, "vm1");
            dead.TryClaim(Host, $"mdev:{made}", a);
            dead.Journal(Entry(a, made, JournalState.Intent));
        }

        using var live = Etcd.Open(_prefix);
        Assert.AreEqual($"plan {a} for guest vm1, process {Environment.ProcessId} on node {Environment.MachineName}, which is gone; its device awaits recovery", live.TryClaim(Host, $"mdev:{made}", b)?.ToString());
        Assert.AreEqual(a, live.PlansToRecover(Host, includeCommitted: false).Single().Id);

        live.Journal(Entry(a, made, JournalState.Removed));
        live.ForgetPlan(a);

        Assert.IsNull(live.TryClaim(Host, $"mdev:{made}", b));
        Assert.AreEqual(b, live.ListPlans().Single().Id);
    }

    [TestMethod]
    public void EndPlan_KeepsOnlyADeviceWhoseRemovalFailed_WithItsClaim()
    {
        using var store = Etcd.Open(_prefix);
        var plan = Guid.NewGuid();
        const string gone = "00000000-0000-4000-8000-000000000001";
        const string stuck = "00000000-0000-4000-8000-000000000002";
        store.BeginPlan(plan, "vm1");
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
        using (var dead = Etcd.Open(_prefix))
        {
            dead.BeginPlan(plan, "vm1");
            dead.TryClaim(Host, $"mdev:{made}", plan);
            dead.TryClaim(Host, "pci:0000:41:00.2", plan);
            dead.Journal(Entry(plan, made, JournalState.Created));
            dead.CommitPlan(plan);
        }

        using var live = Etcd.Open(_prefix);
        var holder = live.TryClaim(Host, "pci:0000:41:00.2", Guid.NewGuid());
        Assert.AreEqual($"plan {plan} for guest vm1, committed (kept) by process {Environment.ProcessId} on node {Environment.MachineName}", holder?.ToString());
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
        var (orphan, running, closed) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        using var live = Etcd.Open(_prefix);
        using (var dead = Etcd.Open(_prefix))
        {
            dead.BeginPlan(orphan, "vm1");
            dead.BeginPlan(closed, "vm2");
            dead.Journal(Entry(orphan, "00000000-0000-4000-8000-000000000004", JournalState.Intent));
            dead.Journal(Entry(closed, "00000000-0000-4000-8000-000000000005", JournalState.Removed));
        }

        live.BeginPlan(running, "vm3");
        live.Journal(Entry(running, "00000000-0000-4000-8000-000000000006", JournalState.Created));

        Assert.AreEqual(orphan, live.PlansToRecover(Host, includeCommitted: false).Single().Id);
        Assert.IsEmpty(live.PlansToRecover("test:///other.xml", includeCommitted: false));
    }

    [TestMethod]
    public void EachCallOfAPlan_IsOneRoundTrip()
    {
        using var store = Etcd.Open(_prefix);
        var plan = Guid.NewGuid();
        const string made = "00000000-0000-4000-8000-000000000008";
        store.BeginPlan(plan, "vm1");
        var before = store.RoundTrips;
        long Step(Action call)
        {
            var start = store.RoundTrips;
            call();
            return store.RoundTrips - start;
        }

        Assert.AreEqual(1, Step(() => store.PlansToRecover(Host, includeCommitted: false)), "nothing pending: one range");
        Assert.AreEqual(1, Step(() => store.HolderOf(Host, "pci:0000:41:00.3", plan)), "a free target: one get");
        Assert.AreEqual(1, Step(() => store.TryClaim(Host, "pci:0000:41:00.3", plan)), "a free claim (with the plan's record): one transaction");
        Assert.AreEqual(1, Step(() => store.TryClaim(Host, $"mdev:{made}", plan)));
        Assert.AreEqual(1, Step(() => store.Journal(Entry(plan, made, JournalState.Intent))), "the intent and its claim made durable: one transaction");
        Assert.AreEqual(1, Step(() => store.Journal(Entry(plan, made, JournalState.Created))));
        Assert.AreEqual(1, Step(() => store.CommitPlan(plan)), "the record, the claims and the entries: one transaction");
        Assert.AreEqual(7, store.RoundTrips - before);
    }

    [TestMethod]
    public void AClaimHeldByALivePlan_CostsTwoRoundTrips_ToNameItsHolder()
    {
        using var first = Etcd.Open(_prefix);
        using var second = Etcd.Open(_prefix);
        var (a, b) = (Guid.NewGuid(), Guid.NewGuid());
        first.TryClaim(Host, "pci:0000:41:00.4", a);
        var before = second.RoundTrips;

        Assert.AreEqual(a, second.TryClaim(Host, "pci:0000:41:00.4", b)?.Plan);
        Assert.AreEqual(2, second.RoundTrips - before, "the failed transaction returns the claim; one more read names its plan and owner");
    }

    [TestMethod]
    public void AnUnreachableEtcd_IsAStateStoreError_NamingTheEndpoints()
    {
        var error = Assert.ThrowsExactly<StateStoreException>(() => new EtcdStateStore(new EtcdStateStoreOptions { Endpoints = "http://127.0.0.1:1", CallTimeout = TimeSpan.FromSeconds(2) }));
        StringAssert.StartsWith(error.Message, "The planner's state store, etcd at http://127.0.0.1:1, ");
    }
}
