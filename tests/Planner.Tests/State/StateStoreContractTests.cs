using VfioMigration.Planner.Devices;
using VfioMigration.Planner.State;

namespace VfioMigration.Planner.Tests.State;

/// <summary>
/// What every durable <see cref="IPlannerStateStore"/> does (the SQLite store here, the etcd store in
/// tests/Etcd.Tests, which compiles this file too): claims across stores, the claims of a plan whose
/// owner is gone, a journaled device awaiting recovery, journal states, committed plans, what
/// recovery sees. A derived class opens stores on one shared state.
/// </summary>
public abstract class StateStoreContractTests
{
    protected const string Host = "test:///dest.xml";

    private readonly List<IDisposable> _opened = [];

    /// <summary>A store as this (live) process.</summary>
    protected abstract IPlannerStateStore OpenLive();

    /// <summary>A store whose owner is gone once <see cref="Kill"/> is called (it may be gone already).</summary>
    protected abstract IPlannerStateStore OpenDead();

    /// <summary>The dead store's owner in words, e.g. <c>process 4242 on node mgmt1</c>.</summary>
    protected abstract string DeadProcess { get; }

    /// <summary>Ends a store as its process's death would.</summary>
    protected static void Kill(IPlannerStateStore store) => (store as IDisposable)?.Dispose();

    /// <summary>Closes every store the test opened (a derived cleanup that deletes the state calls it first).</summary>
    [TestCleanup]
    public void CloseTheStores()
    {
        _opened.ForEach(s => s.Dispose());
        _opened.Clear();
    }

    internal static JournalEntry Entry(Guid plan, string uuid, JournalState state, string? error = null) =>
        new(plan, Host, "dest", MdevUuid.Parse(uuid), "mdev_0000_41_00_0", MdevTypeId.Parse("nvidia-63"), CreationMethod.Sysfs, false, 0, state, error);

    /// <summary>Two live stores, the first running plan <paramref name="a"/> for vm1, the second <paramref name="b"/> for vm2.</summary>
    private (IPlannerStateStore First, IPlannerStateStore Second) TwoLiveStores(Guid a, Guid b)
    {
        var (first, second) = (Opened(OpenLive()), Opened(OpenLive()));
        first.BeginPlan(a, "vm1");
        second.BeginPlan(b, "vm2");
        return (first, second);
    }

    private IPlannerStateStore Opened(IPlannerStateStore store)
    {
        if (store is IDisposable disposable)
        {
            _opened.Add(disposable);
        }

        return store;
    }

    [TestMethod]
    public async Task AClaim_IsSeenByAnotherStore_WithThePlanAndWhereItRuns()
    {
        var first = Opened(OpenLive());
        var second = Opened(OpenLive());
        var (a, b) = (Guid.NewGuid(), Guid.NewGuid());
        first.BeginPlan(a, "vm1");
        Assert.IsNull(await first.TryClaimAsync(Host, "mdev:x", a));
        Assert.IsNull(await first.TryClaimAsync(Host, "mdev:x", a), "claiming again is a no-op");

        var holder = await second.TryClaimAsync(Host, "mdev:x", b);
        Assert.AreEqual($"plan {a} for guest vm1, process {Environment.ProcessId} on node {Environment.MachineName}", holder?.ToString());
        Assert.AreEqual(a, (await second.HolderOfAsync(Host, "mdev:x", b))?.Plan);
        Assert.IsNull(await second.HolderOfAsync(Host, "mdev:x", a), "a plan's own claim is not another's");

        await first.ReleaseAsync(Host, "mdev:x", a);
        Assert.IsNull(await second.TryClaimAsync(Host, "mdev:x", b));
        Assert.AreEqual(b, (await first.HolderOfAsync(Host, "mdev:x", a))?.Plan);
    }

    [TestMethod]
    public async Task AClaimOfAPlanWhoseOwnerIsGone_IsFree_AndTakenOver()
    {
        var (a, b) = (Guid.NewGuid(), Guid.NewGuid());
        var dead = Opened(OpenDead());
        dead.BeginPlan(a, "vm1");
        Assert.IsNull(await dead.TryClaimAsync(Host, "pci:0000:41:00.0", a));
        Kill(dead);

        var live = Opened(OpenLive());
        Assert.IsNull(await live.HolderOfAsync(Host, "pci:0000:41:00.0", b));
        Assert.IsNull(await live.TryClaimAsync(Host, "pci:0000:41:00.0", b));
        var plans = await live.ListPlansAsync();
        Assert.AreEqual(PlanOwnerState.Gone, plans.Single(p => p.Id == a).Owner);
        Assert.AreEqual($"{DeadProcess}, which is gone", plans.Single(p => p.Id == a).Where);
        Assert.IsEmpty(plans.Single(p => p.Id == a).Claims);
        CollectionAssert.AreEqual(new[] { KeyValuePair.Create(Host, "pci:0000:41:00.0") }, plans.Single(p => p.Id == b).Claims.ToList());
    }

    [TestMethod]
    public async Task AJournaledDeviceOfAGonePlan_StaysClaimed_UntilRecoveryForgetsThePlan()
    {
        var (a, b) = (Guid.NewGuid(), Guid.NewGuid());
        const string made = "00000000-0000-4000-8000-000000000007";
        var dead = Opened(OpenDead());
        dead.BeginPlan(a, "vm1");
        await dead.TryClaimAsync(Host, $"mdev:{made}", a);
        await dead.JournalAsync(Entry(a, made, JournalState.Intent));
        Kill(dead);

        var live = Opened(OpenLive());
        Assert.AreEqual($"plan {a} for guest vm1, {DeadProcess}, which is gone; its device awaits recovery", (await live.TryClaimAsync(Host, $"mdev:{made}", b))?.ToString());
        Assert.AreEqual(a, (await live.PlansToRecoverAsync(Host, includeCommitted: false)).Single().Id);

        await live.JournalAsync(Entry(a, made, JournalState.Removed));
        await live.ForgetPlanAsync(a);

        Assert.IsNull(await live.TryClaimAsync(Host, $"mdev:{made}", b));
        Assert.AreEqual(b, (await live.ListPlansAsync()).Single().Id);
    }

    [TestMethod]
    public async Task EndPlan_KeepsOnlyADeviceWhoseRemovalFailed_WithItsClaim()
    {
        var store = Opened(OpenLive());
        var plan = Guid.NewGuid();
        const string gone = "00000000-0000-4000-8000-000000000001";
        const string stuck = "00000000-0000-4000-8000-000000000002";
        store.BeginPlan(plan, "vm1");
        await store.TryClaimAsync(Host, $"mdev:{gone}", plan);
        await store.TryClaimAsync(Host, $"mdev:{stuck}", plan);
        await store.TryClaimAsync(Host, "pci:0000:41:00.1", plan);
        await store.JournalAsync(Entry(plan, gone, JournalState.Intent));
        await store.JournalAsync(Entry(plan, gone, JournalState.Removed));
        await store.JournalAsync(Entry(plan, stuck, JournalState.RemoveFailed, "EBUSY"));

        await store.EndPlanAsync(plan);

        var left = (await store.ListPlansAsync()).Single();
        Assert.AreEqual(stuck, left.Entries.Single().Uuid.Value);
        Assert.AreEqual(JournalState.RemoveFailed, left.Entries.Single().State);
        Assert.AreEqual("EBUSY", left.Entries.Single().Error);
        CollectionAssert.AreEqual(new[] { KeyValuePair.Create(Host, $"mdev:{stuck}") }, left.Claims.ToList());
    }

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public async Task ACommittedPlan_KeepsItsClaims_AfterItsProcessIsGone_UntilForgotten(bool migrated)
    {
        var plan = Guid.NewGuid();
        const string made = "00000000-0000-4000-8000-000000000003";
        var dead = Opened(OpenDead());
        dead.BeginPlan(plan, "vm1");
        await dead.TryClaimAsync(Host, $"mdev:{made}", plan);
        await dead.JournalAsync(Entry(plan, made, JournalState.Created));
        if (migrated)
        {
            await dead.CommitMigratedPlanAsync(plan);
        }
        else
        {
            await dead.CommitPlanAsync(plan);
        }

        Kill(dead);

        var live = Opened(OpenLive());
        var holder = await live.TryClaimAsync(Host, $"mdev:{made}", Guid.NewGuid());
        Assert.AreEqual($"plan {plan} for guest vm1, committed (kept) by {DeadProcess}", holder?.ToString());
        Assert.AreEqual(JournalState.Committed, (await live.ListPlansAsync()).Single().Entries.Single().State);
        Assert.IsEmpty(await live.PlansToRecoverAsync(Host, includeCommitted: false), "a committed plan is not an orphan");
        Assert.AreEqual(plan, (await live.PlansToRecoverAsync(Host, includeCommitted: true)).Single().Id);

        await live.ForgetPlanAsync(plan);
        Assert.IsEmpty(await live.ListPlansAsync());
        Assert.IsNull(await live.HolderOfAsync(Host, $"mdev:{made}", Guid.Empty));
    }

    [TestMethod]
    public async Task PlansToRecover_ListsOnlyGoneOwners_WithOpenEntriesOnThatHost()
    {
        var (orphan, running, closed) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        var dead = Opened(OpenDead());
        dead.BeginPlan(orphan, "vm1");
        dead.BeginPlan(closed, "vm2");
        await dead.JournalAsync(Entry(orphan, "00000000-0000-4000-8000-000000000004", JournalState.Intent));
        await dead.JournalAsync(Entry(closed, "00000000-0000-4000-8000-000000000005", JournalState.Removed));
        Kill(dead);

        var live = Opened(OpenLive());
        live.BeginPlan(running, "vm3");
        await live.JournalAsync(Entry(running, "00000000-0000-4000-8000-000000000006", JournalState.Created));

        Assert.AreEqual(orphan, (await live.PlansToRecoverAsync(Host, includeCommitted: false)).Single().Id);
        Assert.IsEmpty(await live.PlansToRecoverAsync("test:///other.xml", includeCommitted: false));
    }

    [TestMethod]
    public async Task ClaimsOn_ListsWhatOtherPlansKeepFromThePlan_OnThatHostOnly()
    {
        var (a, b, gone) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        const string made = "00000000-0000-4000-8000-000000000009";
        var dead = Opened(OpenDead());
        dead.BeginPlan(gone, "vm0");
        Assert.IsNull(await dead.TryClaimAsync(Host, "pci:0000:41:00.5", gone));
        Assert.IsNull(await dead.TryClaimAsync(Host, $"mdev:{made}", gone));
        await dead.JournalAsync(Entry(gone, made, JournalState.Intent));
        Kill(dead);

        var (first, second) = TwoLiveStores(a, b);
        Assert.IsNull(await first.TryClaimAsync(Host, "pci:0000:41:00.6", a));
        Assert.IsNull(await first.TryClaimAsync("test:///other.xml", "pci:0000:41:00.7", a));
        Assert.IsNull(await second.TryClaimAsync(Host, "pci:0000:41:00.8", b));

        var claims = await second.ClaimsOnAsync(Host, b);

        CollectionAssert.AreEquivalent(new[] { $"mdev:{made}", "pci:0000:41:00.6" }, claims.Keys.ToList(), "the gone plan's claim on an existing device is free; the plan's own and another host's are not listed");
        Assert.AreEqual($"plan {a} for guest vm1, process {Environment.ProcessId} on node {Environment.MachineName}", claims["pci:0000:41:00.6"].ToString());
        Assert.AreEqual($"plan {gone} for guest vm0, {DeadProcess}, which is gone; its device awaits recovery", claims[$"mdev:{made}"].ToString());
        CollectionAssert.AreEquivalent(new[] { $"mdev:{made}", "pci:0000:41:00.8" }, (await first.ClaimsOnAsync(Host, a)).Keys.ToList());
        CollectionAssert.AreEquivalent(new[] { $"mdev:{made}", "pci:0000:41:00.6", "pci:0000:41:00.8" }, (await first.ClaimsOnAsync(Host, Guid.Empty)).Keys.ToList());
        Assert.IsEmpty(await first.ClaimsOnAsync("test:///none.xml", a));
    }

    [TestMethod]
    public async Task TryClaimMany_ClaimsEachFreeDevice_NamesTheHolderOfAHeldOne_AndReleaseManyLetsGoOfOnlyThePlans()
    {
        var (a, b, gone) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        var dead = Opened(OpenDead());
        dead.BeginPlan(gone, "vm0");
        Assert.IsNull(await dead.TryClaimAsync(Host, "pci:0000:43:00.3", gone));
        Kill(dead);
        var (first, second) = TwoLiveStores(a, b);
        Assert.IsNull(await first.TryClaimAsync(Host, "pci:0000:43:00.1", a));
        Assert.IsNull(await second.TryClaimAsync(Host, "pci:0000:43:00.4", b));

        var results = await second.TryClaimManyAsync(Host, ["pci:0000:43:00.1", "pci:0000:43:00.2", "pci:0000:43:00.3", "pci:0000:43:00.4"], b);

        Assert.HasCount(4, results);
        Assert.AreEqual($"plan {a} for guest vm1, process {Environment.ProcessId} on node {Environment.MachineName}", results[0]?.ToString());
        Assert.IsNull(results[1], "free");
        Assert.IsNull(results[2], "held by a plan whose owner is gone: taken over");
        Assert.IsNull(results[3], "the plan's own already");
        CollectionAssert.AreEqual(
            new[] { "pci:0000:43:00.2", "pci:0000:43:00.3", "pci:0000:43:00.4" },
            (await second.ListPlansAsync()).Single(p => p.Id == b).Claims.Select(c => c.Value).Order(StringComparer.Ordinal).ToList());
        Assert.IsEmpty(await second.TryClaimManyAsync(Host, [], b));
        var third = Guid.NewGuid();
        first.BeginPlan(third, "vm3");
        Assert.IsTrue((await first.TryClaimManyAsync(Host, ["pci:0000:43:00.1", "pci:0000:43:00.4"], third)).All(h => h is not null));
        Assert.IsFalse((await first.ListPlansAsync()).Any(p => p.Id == third), "a plan that got none of its batch holds nothing");

        await second.ReleaseManyAsync(Host, ["pci:0000:43:00.1", "pci:0000:43:00.2", "pci:0000:43:00.3"], b);

        Assert.AreEqual(a, (await second.HolderOfAsync(Host, "pci:0000:43:00.1", b))?.Plan, "another plan's claim stays");
        CollectionAssert.AreEqual(new[] { "pci:0000:43:00.4" }, (await first.ClaimsOnAsync(Host, a)).Keys.ToList());
        await second.ReleaseManyAsync(Host, [], b);
    }

    /// <summary>Two plans in two stores claim batches that share one device, at the same moment, round after round: exactly one of them gets it each time, and each gets its other device.</summary>
    [TestMethod]
    public async Task TwoPlansRacingForTheSameDeviceInTheirBatches_NeverBothGetIt()
    {
        const int Rounds = 20;
        var first = Opened(OpenLive());
        var second = Opened(OpenLive());
        var wins = new int[2];
        for (var round = 0; round < Rounds; round++)
        {
            var (a, b) = (Guid.NewGuid(), Guid.NewGuid());
            first.BeginPlan(a, "vm1");
            second.BeginPlan(b, "vm2");
            var shared = $"pci:0000:44:{round:x2}.0";
            using var start = new Barrier(2);
            async Task<IReadOnlyList<ClaimHolder?>> Claim(IPlannerStateStore store, string[] devices, Guid plan)
            {
                Assert.IsTrue(start.SignalAndWait(TimeSpan.FromSeconds(30)), "both claims start");
                return await store.TryClaimManyAsync(Host, devices, plan);
            }

            var racers = new[]
            {
                Task.Run(() => Claim(first, [$"pci:0000:45:{round:x2}.1", shared], a)),
                Task.Run(() => Claim(second, [shared, $"pci:0000:45:{round:x2}.2"], b)),
            };
            Assert.IsTrue(Task.WaitAll(racers, TimeSpan.FromSeconds(60)), "both claims end");
            var (ofA, ofB) = (racers[0].Result, racers[1].Result);

            Assert.IsNull(ofA[0]);
            Assert.IsNull(ofB[1]);
            Assert.AreEqual(1, new[] { ofA[1], ofB[0] }.Count(r => r is null), $"round {round}: exactly one plan gets {shared}");
            var winner = ofA[1] is null ? a : b;
            Assert.AreEqual(winner, (ofA[1] ?? ofB[0])?.Plan, "the loser is told who holds it");
            Assert.AreEqual(winner, (await first.HolderOfAsync(Host, shared, Guid.Empty))?.Plan);
            wins[winner == a ? 0 : 1]++;
            await first.EndPlanAsync(a);
            await second.EndPlanAsync(b);
        }

        Console.WriteLine($"{GetType().Name}: the first store won {wins[0]} and the second {wins[1]} of {Rounds} races");
        Assert.AreEqual(Rounds, wins.Sum());
        Assert.IsEmpty(await first.ClaimsOnAsync(Host, Guid.Empty));
    }

    [TestMethod]
    public async Task ClaimAndIntend_ClaimsAndJournalsEachFreeUuid_AndNamesTheHolderOfOneAnotherStoreClaimed()
    {
        var first = Opened(OpenLive());
        var second = Opened(OpenLive());
        var (plan, other) = (Guid.NewGuid(), Guid.NewGuid());
        const string free = "00000000-0000-4000-8000-000000000021";
        const string held = "00000000-0000-4000-8000-000000000022";
        const string own = "00000000-0000-4000-8000-000000000023";
        first.BeginPlan(other, "vm2");
        second.BeginPlan(plan, "vm1");
        Assert.IsNull(await first.TryClaimAsync(Host, $"mdev:{held}", other));
        Assert.IsNull(await second.TryClaimAsync(Host, $"mdev:{own}", plan));

        var holders = await second.ClaimAndIntendAsync([Entry(plan, free, JournalState.Intent), Entry(plan, held, JournalState.Intent), Entry(plan, own, JournalState.Intent)]);

        Assert.IsNull(holders[0]);
        Assert.AreEqual($"plan {other} for guest vm2, process {Environment.ProcessId} on node {Environment.MachineName}", holders[1]?.ToString());
        Assert.IsNull(holders[2], "a UUID the plan claimed already is journaled too");
        var stored = (await first.ListPlansAsync()).Single(p => p.Id == plan);
        CollectionAssert.AreEqual(new[] { free, own }, stored.Entries.Select(e => e.Uuid.Value).Order(StringComparer.Ordinal).ToList());
        Assert.IsTrue(stored.Entries.All(e => e.State == JournalState.Intent));
        CollectionAssert.AreEqual(new[] { $"mdev:{free}", $"mdev:{own}" }, stored.Claims.Select(c => c.Value).Order(StringComparer.Ordinal).ToList());
    }
}
