using VfioMigration.Bench;
using VfioMigration.Planner.State;
using VfioMigration.Planner.Tests.State;

namespace VfioMigration.Etcd.Tests;

/// <summary>
/// The etcd store against one real etcd member: the store contract the SQLite store passes too
/// (<see cref="StateStoreContractTests"/>, a disposed store's revoked lease standing in for a dead
/// process), the round trips each call costs, an unreachable etcd. Each test has its own key prefix.
/// </summary>
[TestClass]
public sealed class EtcdStateStoreTests : StateStoreContractTests
{
    private static EtcdCluster? _etcd;

    private string _prefix = null!;

    public TestContext TestContext { get; set; } = null!;

    private static EtcdCluster Etcd => _etcd ?? throw new AssertInconclusiveException("etcd did not start.");

    [ClassInitialize]
    public static void StartEtcd(TestContext context) => _etcd = TestEtcd.Start(1);

    [ClassCleanup]
    public static void StopEtcd() => _etcd?.Dispose();

    [TestInitialize]
    public void UseAPrefixOfItsOwn() => _prefix = $"/test-{TestContext.TestName}/";

    protected override string DeadProcess => $"process {Environment.ProcessId} on node {Environment.MachineName}";

    protected override IPlannerStateStore OpenLive() => Etcd.Open(_prefix);

    /// <summary>A store whose lease <see cref="StateStoreContractTests.Kill"/> revokes, as its expiry does when a process dies.</summary>
    protected override IPlannerStateStore OpenDead() => Etcd.Open(_prefix);

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
