namespace VfioMigration.ConsoleMigrator.Tests;

/// <summary>
/// The built <c>vfio-migrator</c> as real processes sharing one state directory, against a
/// destination this test serves through FUSE (libvirt's test driver for the libvirt side, so mdevs
/// are created through the mounted sysfs): SIGKILL mid-plan then <c>recover</c>; kept plans and
/// <c>plans release</c>; 8 processes racing for one idle mdev. See docs/state.md.
/// </summary>
[TestClass]
[DoNotParallelize]
public sealed class StateProcessTests
{
    public TestContext TestContext { get; set; } = null!;

    [TestInitialize]
    public void RequireFuse() => StateScenarios.RequireFuse();

    /// <summary>SIGKILL of a real planner at a step of its creates, then <c>recover</c> and a following plan (<see cref="StateBed.SigkillMidPlanThenRecoverAsync"/>).</summary>
    /// <param name="step">Where the planner is killed (see <see cref="StateBed.SigkillMidPlanThenRecoverAsync"/>).</param>
    [TestMethod]
    [Timeout(StateScenarios.FlowLimitMs, CooperativeCancellation = true)]
    [DataRow("before")]
    [DataRow("during")]
    [DataRow("after")]
    [DataRow("journaled")]
    public async Task SigkillMidPlan_ThenRecover_LeavesTheHostAsItWas(string step)
    {
        using var bed = new StateBed(StateScenarios.SlowDestination(createMs: 1500), StateScenarios.Source(devices: 2));
        await bed.SigkillMidPlanThenRecoverAsync(step, TestContext.CancellationToken);
    }

    /// <summary>
    /// SIGKILL of a real planner right after it configured a VF (docs/nvidia-vf.md: the type id written,
    /// read back and journaled with method <c>vf</c>; its confirmation, the version write on the VF, held),
    /// then <c>recover</c>: the VF's <c>current_vgpu_type</c> is 0 again and the host is as it was.
    /// <c>host --sysfs</c> on the mounted destination shows the VF configured in between.
    /// </summary>
    [TestMethod]
    [Timeout(StateScenarios.FlowLimitMs, CooperativeCancellation = true)]
    public async Task SigkillRightAfterAVfIsConfigured_ThenRecover_ResetsTheVf()
    {
        using var bed = new StateBed(StateScenarios.VfDestination(), StateScenarios.VfSource());
        var before = bed.Destination.Snapshot().State;
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        bed.HoldWrites(path => path.EndsWith("/vfio_migration_version", StringComparison.Ordinal), arrived, release.Task);

        using (var planner = bed.Start("plan", "--domain", "vm1", "--keep"))
        {
            await StateScenarios.WaitUntilAsync(() => arrived.Task.IsCompleted, "the confirmation of the configured VF", planner, TestContext.CancellationToken);
            CollectionAssert.AreEqual(new[] { "vf 0000:41:00.4 1044 created" }, bed.JournalEntries().ToArray());
            planner.Kill();

            // The killed process leaves only once its write through the mount returns: let the held write go on.
            release.SetResult();
            await planner.WaitForExitAsync(TestContext.CancellationToken);
        }

        Assert.AreEqual("1044", await bed.ReadDestinationAsync("bus/pci/devices/0000:41:00.4/nvidia/current_vgpu_type"), "what the killed plan left");
        var shown = await bed.RunWithAsync([], "host", "--connect", bed.DestinationUri, "--sysfs", bed.MountPoint, "--json");
        Assert.AreEqual(0, shown.Code, shown.Error);
        var vf = System.Text.Json.Nodes.JsonNode.Parse(shown.Out)!["sriovGpus"]!.AsArray().Single()!["vfs"]!.AsArray()[0]!;
        Assert.AreEqual("0000:41:00.4 1044 NVIDIA H100-10C", $"{(string?)vf["address"]} {(uint?)vf["vgpuType"]} {(string?)vf["profile"]}");

        await bed.RemoveEverythingAsync(before, 1, "recover");
        Assert.AreEqual("0", await bed.ReadDestinationAsync("bus/pci/devices/0000:41:00.4/nvidia/current_vgpu_type"));
    }

    /// <summary>SIGKILL while a kept plan's commit waits for the store's write lock, then <c>recover</c> and a following plan (<see cref="StateBed.SigkillDuringTheCommitThenRecoverAsync"/>).</summary>
    [TestMethod]
    [Timeout(StateScenarios.FlowLimitMs, CooperativeCancellation = true)]
    public async Task SigkillDuringTheCommit_ThenRecover_LeavesTheHostAsItWas()
    {
        using var bed = new StateBed(StateScenarios.SlowDestination(createMs: 0), StateScenarios.Source(devices: 2));
        await bed.SigkillDuringTheCommitThenRecoverAsync(TestContext.CancellationToken);
    }

    /// <summary>
    /// SIGKILL of <c>migrate</c> at the migration call (paused there, see MigrationPause), then
    /// <c>recover</c>. Either the migration did not finish (a client-driven one ends with its client):
    /// the host ends as it was; or it finished without the planner (peer-to-peer, the source's libvirtd
    /// carries on), and the guest defined on the destination uses the devices: recovery keeps exactly
    /// those and forgets the plan.
    /// </summary>
    /// <param name="finished">Whether the migration finished after the planner died.</param>
    [TestMethod]
    [Timeout(StateScenarios.FlowLimitMs, CooperativeCancellation = true)]
    [DataRow(false)]
    [DataRow(true)]
    public async Task SigkillDuringTheMigration_ThenRecover_LeavesTheHostAsItWas_OrTheMigratedGuestsDevices(bool finished)
    {
        using var bed = new StateBed(StateScenarios.SlowDestination(createMs: 0), StateScenarios.Source(devices: 2));
        await bed.SigkillAtTheMigrationCallThenRecoverAsync(finished, () => Task.CompletedTask, TestContext.CancellationToken);
    }

    [TestMethod]
    [Timeout(StateScenarios.FlowLimitMs, CooperativeCancellation = true)]
    public async Task AnOrphan_IsRecoveredByTheNextPlan_NeverAdoptedAsReuse()
    {
        using var bed = new StateBed(StateScenarios.SlowDestination(createMs: 1000), StateScenarios.Source(devices: 1));
        var before = bed.Destination.Snapshot().State;
        using (var planner = bed.Start("plan", "--domain", "vm1", "--keep"))
        {
            await StateScenarios.WaitUntilAsync(() => bed.CreatesStarted == 1, "the create to be issued", planner, TestContext.CancellationToken);
            planner.Kill();
            await planner.WaitForExitAsync(TestContext.CancellationToken);
        }

        await StateScenarios.WaitUntilAsync(() => bed.CreatesEnded() == 1, "the create in flight to end", null, TestContext.CancellationToken);
        var orphan = bed.Destination.Snapshot().State.Mdevs.Single().Uuid.Value;
        bed.RefreshLibvirtXml();

        var next = await bed.RunAsync("plan", "--domain", "vm1", "--json");

        Assert.AreEqual(0, next.Code, next.Error);
        // Recovery removed the orphan from sysfs before the plan read the destination, so it is not reused
        // (the test driver's picture of the host still names it; its probe finds nothing).
        var device = System.Text.Json.Nodes.JsonNode.Parse(next.Out)!["devices"]!.AsArray().Single()!;
        Assert.AreEqual("create", (string?)device["action"]);
        Assert.AreNotEqual(orphan, (string?)device["target"]!["uuid"]);
        Assert.AreEqual(before, bed.Destination.Snapshot().State);
    }

    [TestMethod]
    [Timeout(StateScenarios.FlowLimitMs, CooperativeCancellation = true)]
    public async Task AKeptPlan_IsListed_AndReleasedByPlansRelease()
    {
        using var bed = new StateBed(StateScenarios.SlowDestination(createMs: 0), StateScenarios.Source(devices: 2));
        var before = bed.Destination.Snapshot().State;
        var kept = await bed.RunAsync("plan", "--domain", "vm1", "--keep");
        Assert.AreEqual(0, kept.Code, kept.Error);
        Assert.HasCount(2, bed.Destination.Snapshot().State.Mdevs);

        var recovered = await bed.RunAsync(["recover", .. bed.HostArguments]);
        Assert.AreEqual(0, recovered.Code, recovered.Error);
        Assert.HasCount(2, bed.Destination.Snapshot().State.Mdevs, "recovery leaves a kept plan alone");
        var listed = await bed.RunAsync("plans");
        StringAssert.Contains(listed.Out, "committed");
        var id = listed.Out.Split(' ', '\n')[1];

        await bed.RemoveEverythingAsync(before, 2, "plans", "release", id);
    }

    /// <summary>
    /// 8 processes race for 1 idle mdev: exactly one wins. VFIO_RACE_TRIALS sets the number of trials
    /// (default 5; at most 100: a trial is 8 cold .NET processes, about 8 s of CPU, 28 s on the 2-core
    /// VM shared at a load average near 50, so this test's limit is two hours). The trials share one
    /// mount of the destination (a winner only claims the idle mdev, so the host does not change) and
    /// each starts from an empty state directory.
    /// </summary>
    [TestMethod]
    [Timeout(7_200_000, CooperativeCancellation = true)]
    public async Task EightProcesses_OneIdleTarget_ExactlyOneWins()
    {
        using var bed = new StateBed(StateScenarios.OneIdleDestination(), StateScenarios.Source(devices: 1));
        var before = bed.Destination.Snapshot().State;
        await StateScenarios.RaceAsync(
            StateScenarios.RaceTrials(5),
            () =>
            {
                bed.ForgetState();
                return Task.WhenAll(Enumerable.Range(0, 8).Select(_ => bed.RunAsync("plan", "--domain", "vm1", "--keep")));
            },
            TestContext);

        Assert.AreEqual(before, bed.Destination.Snapshot().State, "a race creates nothing");
    }
}
