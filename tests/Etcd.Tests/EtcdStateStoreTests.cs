using VfioMigration.Bench;
using VfioMigration.Planner;
using VfioMigration.Planner.Devices;
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
    public async Task EachCallOfAPlan_IsOneRoundTrip()
    {
        using var store = Etcd.Open(_prefix);
        var plan = Guid.NewGuid();
        const string made = "00000000-0000-4000-8000-000000000008";
        store.BeginPlan(plan, "vm1");
        var before = store.RoundTrips;
        Assert.AreEqual(1, await Step(store, () => store.PlansToRecoverAsync(Host, includeCommitted: false)), "nothing pending: one range");
        Assert.AreEqual(1, await Step(store, () => store.HolderOfAsync(Host, "pci:0000:41:00.3", plan)), "a free target: one get");
        Assert.AreEqual(1, await Step(store, () => store.TryClaimAsync(Host, "pci:0000:41:00.3", plan)), "a free claim (with the plan's record): one transaction");
        Assert.AreEqual(1, await Step(store, () => store.TryClaimAsync(Host, $"mdev:{made}", plan)));
        Assert.AreEqual(1, await Step(store, () => store.JournalAsync(Entry(plan, made, JournalState.Intent))), "the intent and its claim made durable: one transaction");
        Assert.AreEqual(1, await Step(store, () => store.JournalAsync(Entry(plan, made, JournalState.Created))));
        Assert.AreEqual(1, await Step(store, () => store.CommitPlanAsync(plan)), "the record, the claims and the entries: one transaction");
        Assert.AreEqual(7, store.RoundTrips - before);
    }

    [TestMethod]
    public async Task AClaimHeldByALivePlan_CostsTwoRoundTrips_ToNameItsHolder()
    {
        using var first = Etcd.Open(_prefix);
        using var second = Etcd.Open(_prefix);
        var (a, b) = (Guid.NewGuid(), Guid.NewGuid());
        await first.TryClaimAsync(Host, "pci:0000:41:00.4", a);
        var before = second.RoundTrips;

        Assert.AreEqual(a, (await second.TryClaimAsync(Host, "pci:0000:41:00.4", b))?.Plan);
        Assert.AreEqual(2, second.RoundTrips - before, "the failed transaction returns the claim; one more read names its plan and owner");
    }

    /// <summary>
    /// A VF configuration (docs/nvidia-vf.md: method <c>vf</c>, parent the VF's address, type the vGPU
    /// type id written) journaled by a process that died comes back to recovery as it was written.
    /// </summary>
    [TestMethod]
    public async Task AVfEntryOfAGonePlan_ComesBackToRecovery_WithItsMethodVfAddressAndTypeId()
    {
        var plan = Guid.NewGuid();
        // The planner's key for a VF is a name-based UUID of its address; any UUID stands in for it here.
        const string key = "5b0e3a7c-1d2f-8a4b-9c6d-0e1f2a3b4c5d";
        using (var dead = Etcd.Open(_prefix))
        {
            dead.BeginPlan(plan, "llm-1");
            Assert.IsNull(await dead.TryClaimAsync(Host, "pci:0000:41:00.6", plan));
            await dead.JournalAsync(new JournalEntry(plan, Host, "dest", MdevUuid.Parse(key), "0000:41:00.6", MdevTypeId.Parse("1414"), CreationMethod.Vf, false, 1, JournalState.Intent));
            await dead.JournalAsync(new JournalEntry(plan, Host, "dest", MdevUuid.Parse(key), "0000:41:00.6", MdevTypeId.Parse("1414"), CreationMethod.Vf, false, 1, JournalState.Created));
        }

        using var live = Etcd.Open(_prefix);
        var recoverable = (await live.PlansToRecoverAsync(Host, includeCommitted: false)).Single();
        Assert.AreEqual((plan, "llm-1", PlanOwnerState.Gone), (recoverable.Id, recoverable.Guest, recoverable.Owner));
        var entry = recoverable.Entries.Single();
        Assert.AreEqual(
            (CreationMethod.Vf, "0000:41:00.6", "1414", key, 1, JournalState.Created, false, "dest"),
            (entry.Method, entry.Parent, entry.Type.Value, entry.Uuid.Value, entry.Order, entry.State, entry.Persistent, entry.HostName));
    }

    [TestMethod]
    public async Task EachBatchOfClaims_IsOneRoundTrip()
    {
        using var store = Etcd.Open(_prefix);
        using var other = Etcd.Open(_prefix);
        var (plan, rival) = (Guid.NewGuid(), Guid.NewGuid());
        const string first = "00000000-0000-4000-8000-000000000031";
        const string second = "00000000-0000-4000-8000-000000000032";
        store.BeginPlan(plan, "vm1");
        string[] devices = ["pci:0000:46:00.1", "pci:0000:46:00.2", "mdev:00000000-0000-4000-8000-000000000033"];
        Assert.AreEqual(1, await Step(store, async () => Assert.IsEmpty(await store.ClaimsOnAsync(Host, plan))), "no claim: one range");
        Assert.AreEqual(1, await Step(store, async () => Assert.IsTrue((await store.TryClaimManyAsync(Host, devices, plan)).All(h => h is null))), "three free devices (with the plan's record): one transaction");
        Assert.AreEqual(1, await Step(store, async () => Assert.IsTrue((await store.ClaimAndIntendAsync([Entry(plan, first, JournalState.Intent), Entry(plan, second, JournalState.Intent)])).All(h => h is null))), "two intents with their claims: one transaction");
        Assert.AreEqual(1, await Step(store, () => store.ReleaseManyAsync(Host, devices, plan)), "three releases: one transaction");
        Assert.AreEqual(1, await Step(store, () => store.EndPlanAsync(plan)));

        other.BeginPlan(rival, "vm2");
        Assert.IsNull(await other.TryClaimAsync(Host, "pci:0000:46:00.1", rival));
        Assert.AreEqual(2, await Step(store, async () => Assert.HasCount(1, await store.ClaimsOnAsync(Host, plan))), "a claim of another plan: the range, then one read of its holder");
        Assert.AreEqual(2, await Step(store, async () => Assert.AreEqual(rival, (await store.TryClaimManyAsync(Host, ["pci:0000:46:00.1", "pci:0000:46:00.2"], plan))[0]?.Plan)), "the free one claimed in the same transaction that finds the other held; one read names its holder");
        Assert.AreEqual(plan, (await other.HolderOfAsync(Host, "pci:0000:46:00.2", rival))?.Plan);
    }

    [TestMethod]
    public async Task AUuidIntendedInABatch_StaysClaimed_WhenItsProcessIsGone()
    {
        var plan = Guid.NewGuid();
        const string made = "00000000-0000-4000-8000-000000000034";
        using (var dead = Etcd.Open(_prefix))
        {
            dead.BeginPlan(plan, "vm1");
            Assert.IsNull((await dead.ClaimAndIntendAsync([Entry(plan, made, JournalState.Intent)])).Single());
        }

        using var live = Etcd.Open(_prefix);
        Assert.AreEqual($"plan {plan} for guest vm1, {DeadProcess}, which is gone; its device awaits recovery", (await live.TryClaimAsync(Host, $"mdev:{made}", Guid.NewGuid()))?.ToString());
    }

    /// <summary>How many requests <paramref name="call"/> sent to etcd through <paramref name="store"/>.</summary>
    private static async Task<long> Step(EtcdStateStore store, Func<Task> call)
    {
        var start = store.RoundTrips;
        await call();
        return store.RoundTrips - start;
    }

    [TestMethod]
    public void AnUnreachableEtcd_IsAStateStoreError_NamingTheEndpoints()
    {
        var error = Assert.ThrowsExactly<StateStoreException>(() => new EtcdStateStore(new EtcdStateStoreOptions { Endpoints = "http://127.0.0.1:1", CallTimeout = TimeSpan.FromSeconds(2) }));
        StringAssert.StartsWith(error.Message, "The planner's state store, etcd at http://127.0.0.1:1, ");
    }
}
