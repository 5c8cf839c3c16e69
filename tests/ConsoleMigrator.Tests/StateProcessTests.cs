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
    public void RequireFuse()
    {
        if (!File.Exists("/dev/fuse") || Environment.UserName != "root")
        {
            Assert.Inconclusive("FUSE mounts need /dev/fuse and root.");
        }
    }

    /// <summary>SIGKILL of a real planner at a step of its creates (two creates on one parent, 1.5 s each), then <c>recover</c>.</summary>
    /// <param name="step">before: as soon as the first intent is journaled (the create may not be issued yet); during: the first create in flight; after: the first create journaled, the second in flight.</param>
    /// <param name="journaled">Entries removed by recovery.</param>
    [TestMethod]
    [DataRow("before", 1)]
    [DataRow("during", 1)]
    [DataRow("after", 2)]
    public async Task SigkillMidPlan_ThenRecover_LeavesTheHostAsItWas(string step, int journaled)
    {
        using var bed = new StateBed(StateScenarios.SlowDestination(createMs: 1500), StateScenarios.Source(devices: 2));
        var before = bed.Destination.Snapshot().State;

        using (var planner = bed.Start("plan", "--domain", "vm1", "--keep"))
        {
            Func<bool> reached = step switch
            {
                "before" => () => bed.JournalCount("intent") >= 1,
                "during" => () => bed.CreatesStarted == 1,
                _ => () => bed.JournalCount("created") == 1 && bed.CreatesStarted == 2,
            };
            await StateScenarios.WaitUntilAsync(reached, $"step '{step}'", planner, TestContext.CancellationToken);
            planner.Kill();
            await planner.WaitForExitAsync(TestContext.CancellationToken);
        }

        // A create in flight ends in the simulator whatever became of the process that asked for it.
        await StateScenarios.WaitUntilAsync(() => bed.CreatesEnded() == bed.CreatesStarted, "the creates in flight to end", null, TestContext.CancellationToken);
        Assert.AreEqual(Math.Min(bed.CreatesStarted, journaled), bed.Destination.Snapshot().State.Mdevs.Count, "what the killed plan left");

        var plans = await bed.RunAsync("plans");
        Assert.AreEqual(0, plans.Code, plans.Error);
        StringAssert.Contains(plans.Out, "which is gone");

        await bed.RemoveEverythingAsync(before, journaled, "recover");
    }

    [TestMethod]
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
    public async Task AKeptPlan_IsListed_AndReleasedByPlansRelease()
    {
        using var bed = new StateBed(StateScenarios.SlowDestination(createMs: 0), StateScenarios.Source(devices: 2));
        var before = bed.Destination.Snapshot().State;
        var kept = await bed.RunAsync("plan", "--domain", "vm1", "--keep");
        Assert.AreEqual(0, kept.Code, kept.Error);
        Assert.HasCount(2, bed.Destination.Snapshot().State.Mdevs);

        var recovered = await bed.RunAsync("recover", "--host", bed.DestinationUri, "--host-sysfs", bed.MountPoint);
        Assert.AreEqual(0, recovered.Code, recovered.Error);
        Assert.HasCount(2, bed.Destination.Snapshot().State.Mdevs, "recovery leaves a kept plan alone");
        var listed = await bed.RunAsync("plans");
        StringAssert.Contains(listed.Out, "committed");
        var id = listed.Out.Split(' ', '\n')[1];

        await bed.RemoveEverythingAsync(before, 2, "plans", "release", id);
    }

    /// <summary>
    /// 8 processes race for 1 idle mdev: exactly one wins. VFIO_RACE_TRIALS sets the number of trials
    /// (default 5, about 12 s each on the 2-core VM; at most 100, which the 30-minute limit of this test allows).
    /// </summary>
    [TestMethod]
    [Timeout(1_800_000, CooperativeCancellation = true)]
    public async Task EightProcesses_OneIdleTarget_ExactlyOneWins()
    {
        var trials = StateScenarios.RaceTrials(5);
        for (var trial = 0; trial < trials; trial++)
        {
            TestContext.CancellationToken.ThrowIfCancellationRequested();
            using var bed = new StateBed(StateScenarios.OneIdleDestination(), StateScenarios.Source(devices: 1));
            var runs = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => bed.RunAsync("plan", "--domain", "vm1", "--keep")));

            StateScenarios.AssertOneWinner(runs, $"trial {trial + 1}");
        }
    }
}
