using System.Diagnostics;
using System.Globalization;
using VfioMigration.ConsoleMigrator.Tests;
using VfioMigration.Planner.State;

namespace VfioMigration.Etcd.Tests;

/// <summary>
/// The built <c>vfio-migrator</c> as real processes on <c>--state-store etcd</c>, against a
/// destination served through FUSE by this test (tests/ConsoleMigrator.Tests/StateBed.cs): a
/// SIGKILLed planner's claims go with its lease and <c>recover</c> removes what it journaled;
/// 8 processes race for 1 idle mdev; 2 "management nodes" (each its own state directory and its own
/// etcd member) race the same way; SIGKILL while etcd holds a kept plan's commit, and at
/// <c>migrate</c>'s migration call, then <c>recover</c> once the lease expired. See docs/state.md.
/// </summary>
[TestClass]
[DoNotParallelize]
public sealed class EtcdProcessTests
{
    private const int LeaseTtlSeconds = 5;

    /// <summary>
    /// The racers' etcd request timeout and lease TTL. The default 10 s timeout includes a cold
    /// process's first request (the lease grant: gRPC's channel, HTTP/2 connection and their JIT, about
    /// 0.2 s of the process's 1 s of CPU); 8 cold racers on 2 cores shared with builds get so little CPU
    /// that one request once took longer (exit 6 in trial 25 of 100), while etcd, in trials at a load
    /// average of 80 to 95, logged no request slower than its 100 ms warning. A lease kept alive by
    /// such a process may lapse the same way (10 s by default).
    /// </summary>
    private const int RaceEtcdSeconds = 60;

    public TestContext TestContext { get; set; } = null!;

    [TestInitialize]
    public async Task RequireFuse() => StateScenarios.RequireFuse();

    /// <summary>One idle mdev to reuse and room to create one more, slowly.</summary>
    private static string IdleAndSlowDestination() => """
        {"version": 1, "name": "dest", "parents": [@PARENT], "latency": {"createMs": 1500},
         "mdevs": [{"uuid": "@IDLE", "parent": "0000:41:00.0", "type": "nvidia-63"}]}
        """
        .Replace("@PARENT", StateScenarios.Parent(4), StringComparison.Ordinal)
        .Replace("@IDLE", StateScenarios.IdleMdev, StringComparison.Ordinal);

    /// <summary>
    /// The console's options for the etcd store: a generous call timeout (<see cref="RaceEtcdSeconds"/>: a
    /// process starved of CPU on a loaded 2-core VM misses the default 10 s, etcd itself answers in time), and
    /// the default lease TTL (10 s) unless <paramref name="leaseTtl"/>: a short one expires when a process
    /// misses its keep-alives.
    /// </summary>
    private static string[] EtcdArguments(string endpoints, string stateDirectory, int? leaseTtl = null) =>
        ["--state-dir", stateDirectory, "--state-store", "etcd", "--etcd-endpoints", endpoints, "--etcd-timeout", RaceEtcdSeconds.ToString(CultureInfo.InvariantCulture),
            .. leaseTtl is { } ttl ? ["--etcd-lease-ttl", ttl.ToString(CultureInfo.InvariantCulture)] : (string[])[]];

    [TestMethod]
    [Timeout(StateScenarios.FlowLimitMs, CooperativeCancellation = true)]
    public async Task ASigkilledPlanner_LosesItsClaimsWithItsLease_AndRecoverRemovesWhatItJournaled()
    {
        using var etcd = TestEtcd.Start(1);
        using var bed = new StateBed(IdleAndSlowDestination(), StateScenarios.Source(devices: 2));
        bed.StateArguments = EtcdArguments(etcd.Endpoints, bed.StateDirectory);
        var before = bed.Destination.Snapshot().State;
        using var observer = etcd.Open(EtcdStateStoreOptions.DefaultPrefix);
        var idle = $"mdev:{StateScenarios.IdleMdev}";

        using (var planner = bed.StartWith(EtcdArguments(etcd.Endpoints, bed.StateDirectory, LeaseTtlSeconds), "plan", "--domain", "vm1", "--keep"))
        {
            await StateScenarios.WaitUntilAsync(() => bed.CreatesStarted == 1, "the create to be issued", planner, TestContext.CancellationToken);
            var holder = await observer.HolderOfAsync(bed.DestinationUri, idle, Guid.Empty);
            Assert.AreEqual($"guest vm1, process {planner.Id} on node {Environment.MachineName}", $"guest {holder?.Guest}, {holder?.Where}", "the running planner holds the idle mdev it reuses");
            planner.Kill();
            await planner.WaitForExitAsync(TestContext.CancellationToken);
        }

        var killed = Stopwatch.StartNew();
        await StateScenarios.WaitUntilAsync(async () => await observer.HolderOfAsync(bed.DestinationUri, idle, Guid.Empty) is null, "the killed planner's lease to expire", null, TestContext.CancellationToken);
        TestContext.WriteLine($"the idle mdev's claim was free {killed.Elapsed.TotalSeconds:0.0} s after SIGKILL (lease TTL {LeaseTtlSeconds} s)");
        await StateScenarios.WaitUntilAsync(() => bed.CreatesEnded() == 1, "the create in flight to end", null, TestContext.CancellationToken);
        Assert.HasCount(2, bed.Destination.Snapshot().State.Mdevs, "the idle mdev and the one the killed plan created");

        var plans = await bed.RunAsync("plans");
        Assert.AreEqual(0, plans.Code, plans.Error);
        StringAssert.Contains(plans.Out, "which is gone");

        await bed.RemoveEverythingAsync(before, 1, "recover");
    }

    /// <summary>
    /// SIGKILL while a kept plan's commit waits for etcd (the member is frozen by SIGSTOP after the
    /// plan's last write to the host, the probe of its second created device, so the commit's
    /// transaction reaches etcd's socket and waits there), then etcd goes on and, once the lease
    /// expired, <c>recover</c>. The commit is one transaction: either etcd applied it (it read the
    /// request the dead process had sent) and the host holds exactly the plan's two devices, kept and
    /// then released by <c>plans release</c>; or it did not, and <c>recover</c> removes both. Nothing
    /// in between (some devices committed, others not) may appear.
    /// </summary>
    [TestMethod]
    [Timeout(StateScenarios.FlowLimitMs, CooperativeCancellation = true)]
    public async Task SigkillDuringTheCommit_WhileEtcdHoldsIt_ThenRecover_LeavesTheHostAsItWas_OrExactlyTheCommittedDevices()
    {
        using var etcd = TestEtcd.Start(1);
        using var bed = new StateBed(StateScenarios.SlowDestination(createMs: 0), StateScenarios.Source(devices: 2));
        bed.StateArguments = EtcdArguments(etcd.Endpoints, bed.StateDirectory);
        var before = bed.Destination.Snapshot().State;
        using var observer = etcd.Open(EtcdStateStoreOptions.DefaultPrefix);
        var (arrived, release) = bed.HoldTheSecondDeviceProbe();

        using (var planner = bed.Start("plan", "--domain", "vm1", "--keep"))
        {
            await StateScenarios.WaitUntilAsync(() => arrived.Task.IsCompleted, "the probe of the second created device", planner, TestContext.CancellationToken);
            Assert.AreEqual(2, (await observer.ListPlansAsync()).Single().Entries.Count(e => e.State == JournalState.Created));
            etcd.Freeze(0);
            try
            {
                release.SetResult();
                // The commit waits for etcd up to half the store's 10 s call timeout before it tries again: kill it while it waits.
                await Task.Delay(TimeSpan.FromSeconds(1.5), TestContext.CancellationToken);
                Assert.IsFalse(planner.HasExited, "the planner waits for etcd");
                planner.Kill();
                await planner.WaitForExitAsync(TestContext.CancellationToken);
            }
            finally
            {
                etcd.Thaw(0);
            }
        }

        await OwnerGoneAsync(observer);
        var plan = (await observer.ListPlansAsync()).Single();
        var devices = bed.Destination.Snapshot().State.Mdevs.Select(m => m.Uuid.Value).ToList();
        Assert.HasCount(2, devices, "what the killed plan left");
        CollectionAssert.AreEquivalent(devices, plan.Entries.Select(e => e.Uuid.Value).ToList());
        if (plan.Owner == PlanOwnerState.Committed)
        {
            TestContext.WriteLine("etcd applied the commit the killed planner had sent before it died");
            Assert.IsTrue(plan.Entries.All(e => e.State == JournalState.Committed), "the whole commit, or none of it");
            var recovered = await bed.RunAsync(["recover", .. bed.HostArguments]);
            Assert.AreEqual(0, recovered.Code, recovered.Error);
            Assert.AreEqual(0, StateScenarios.CountOf(recovered.Out, ": removed"), recovered.Out);
            CollectionAssert.AreEquivalent(devices, bed.Destination.Snapshot().State.Mdevs.Select(m => m.Uuid.Value).ToList(), "recovery keeps exactly the committed devices");
            await bed.RemoveEverythingAsync(before, 2, "plans", "release", plan.Id.ToString());
        }
        else
        {
            TestContext.WriteLine("the commit the killed planner had sent was not applied");
            Assert.AreEqual(PlanOwnerState.Gone, plan.Owner);
            Assert.IsTrue(plan.Entries.All(e => e.State == JournalState.Created), "the whole commit, or none of it");
            await bed.RemoveEverythingAsync(before, 2, "recover");
        }
    }

    /// <summary>
    /// SIGKILL of <c>migrate</c> at the migration call on the etcd store, then <c>recover</c> once the
    /// lease expired: the host as it was, or exactly the devices of the guest the migration brought (see
    /// <see cref="StateBed.SigkillAtTheMigrationCallThenRecoverAsync"/>).
    /// </summary>
    /// <param name="finished">Whether the migration finished after the planner died.</param>
    [TestMethod]
    [Timeout(StateScenarios.FlowLimitMs, CooperativeCancellation = true)]
    [DataRow(false)]
    [DataRow(true)]
    public async Task SigkillDuringTheMigration_ThenRecoverAfterTheLease_LeavesTheHostAsItWas_OrTheMigratedGuestsDevices(bool finished)
    {
        using var etcd = TestEtcd.Start(1);
        using var bed = new StateBed(StateScenarios.SlowDestination(createMs: 0), StateScenarios.Source(devices: 2));
        bed.StateArguments = EtcdArguments(etcd.Endpoints, bed.StateDirectory);
        using var observer = etcd.Open(EtcdStateStoreOptions.DefaultPrefix);
        await bed.SigkillAtTheMigrationCallThenRecoverAsync(finished, () => OwnerGoneAsync(observer), TestContext.CancellationToken);
    }

    /// <summary>
    /// 8 processes race for 1 idle mdev through one etcd: exactly one wins. VFIO_RACE_TRIALS sets the
    /// number of trials (default 2, at most 100; a trial is 8 cold .NET processes, about 8 s of CPU:
    /// 25 s on the 2-core VM shared at a load average near 50, up to 2 minutes past 100, so the limit is two hours).
    /// The racers get a generous etcd timeout and lease (<see cref="RaceEtcdSeconds"/>): what this
    /// test checks is that the claim is atomic, not how fast a starved process reaches etcd.
    /// </summary>
    [TestMethod]
    [Timeout(7_200_000, CooperativeCancellation = true)]
    public async Task EightProcesses_OneIdleTarget_ExactlyOneWins()
    {
        using var etcd = TestEtcd.Start(1);
        await StateScenarios.RaceAsync(
            StateScenarios.RaceTrials(2),
            async () =>
            {
                using var bed = new StateBed(StateScenarios.OneIdleDestination(), StateScenarios.Source(devices: 1));
                bed.StateArguments = EtcdArguments(etcd.Endpoints, bed.StateDirectory, RaceEtcdSeconds);
                return await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => bed.RunAsync("plan", "--domain", "vm1", "--keep")));
            },
            TestContext);
    }

    [TestMethod]
    public async Task TwoManagementNodes_EachWithItsOwnStateDirectoryAndEtcdMember_OneIdleTarget_ExactlyOneWins()
    {
        using var etcd = TestEtcd.Start(3);
        using var bed = new StateBed(StateScenarios.OneIdleDestination(), StateScenarios.Source(devices: 1));
        var runs = await Task.WhenAll(Enumerable.Range(0, 2).Select(node =>
            bed.RunWithAsync(EtcdArguments(etcd.ClientUrls[node], Path.Combine(bed.StateDirectory, $"node{node.ToString(CultureInfo.InvariantCulture)}")), "plan", "--domain", "vm1", "--keep")));

        StateScenarios.AssertOneWinner(runs, "2 nodes");
        Assert.IsFalse(Directory.Exists(Path.Combine(bed.StateDirectory, "node0")) || Directory.Exists(Path.Combine(bed.StateDirectory, "node1")), "with etcd, nothing is written to the state directories");
    }

    /// <summary>Waits until no plan in the store has a live owner: the killed planner's lease expired (within its TTL).</summary>
    private Task OwnerGoneAsync(EtcdStateStore observer) =>
        StateScenarios.WaitUntilAsync(async () => (await observer.ListPlansAsync()).All(p => p.Owner != PlanOwnerState.Alive), "the killed planner's lease to expire", null, TestContext.CancellationToken);
}
