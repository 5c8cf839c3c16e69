using System.Text.Json.Nodes;
using VfioMigration.Bench;

namespace VfioMigration.ConsoleMigrator.Tests;

[TestClass]
public sealed class EvacuateAndBenchTests
{
    private static string Scenario(string name) => Path.Combine(AppContext.BaseDirectory, "scenarios", name);

    [TestMethod]
    public async Task Evacuate_Json_OnTheDemoHosts_PlansEveryGuest()
    {
        var run = await ConsoleRun.RunAsync(
            "evacuate", "--json",
            "--source-scenario", Scenario("demo-source.json"),
            "--dest-scenario", Scenario("demo-dest-a.json"),
            "--dest-scenario", Scenario("demo-dest-b.json"));

        Assert.AreEqual(0, run.ExitCode, run.Error);
        var document = JsonNode.Parse(run.Out)!;
        Assert.IsTrue((bool)document["succeeded"]!);
        var guest = document["guests"]!.AsArray().Single()!;
        Assert.AreEqual("render-1", (string?)guest["guest"]);
        Assert.AreEqual("render-1", (string?)guest["plan"]!["domain"]);
        Assert.AreEqual("demo-dest-a", (string?)guest["plan"]!["destination"]);
        CollectionAssert.AreEqual(
            new[] { "create", "create", "create", "reuse", "reuse" },
            guest["plan"]!["devices"]!.AsArray().Select(d => (string?)d!["action"]).ToArray());
    }

    [TestMethod]
    public async Task Evacuate_BadPlansPerHost_IsAUsageError()
    {
        var run = await ConsoleRun.RunAsync(
            "evacuate", "--plans-per-host", "0",
            "--source-scenario", Scenario("demo-source.json"),
            "--dest-scenario", Scenario("demo-dest-a.json"));

        Assert.AreEqual(2, run.ExitCode);
        StringAssert.Contains(run.Error, "--plans-per-host '0'");
    }

    [TestMethod]
    public void BenchReport_Json_HasTheHeadlineKeys_AndGoalsFollowTheFigures()
    {
        var counts = new OperationCounts(4, 1, 0, 700, 8, 0);
        var exhaustive = counts with { Probes = 30, Creates = 3 };
        var plans = new[] { 1, 4, 8 }.SelectMany(d => new[]
        {
            new PlanFigures("largest", d, "planner", true, 30, counts, [10, 12, 14], [60, 61], [58, 59], 1000),
            new PlanFigures("largest", d, "exhaustive", true, 30, exhaustive, [100], [70], [60], 1000),
        }).ToList();
        var evacuation = new EvacuationFigures(64, 160, 8, 64, 3, 1500, counts);

        var report = new BenchReport(DateTimeOffset.UnixEpoch, Quick: true, plans, evacuation);
        var json = JsonNode.Parse(report.ToJson())!;

        Assert.AreEqual(4, (int)json["probesPlanner"]!);
        Assert.AreEqual(30, (int)json["probesExhaustive"]!);
        Assert.AreEqual(1, (int)json["createsPlanner"]!);
        Assert.AreEqual(3, (int)json["createsExhaustive"]!);
        Assert.AreEqual(12, (double)json["planMsMedian"]!);
        Assert.AreEqual(1500, (double)json["evacuationWallMs"]!);
        var goals = report.Goals().ToList();
        Assert.IsFalse(goals[0].Met, "30 / 4 is 7.5x, short of 10x");
        Assert.IsTrue(goals[1].Met);
        Assert.IsTrue(goals[3].Met, "2 ms outside libvirt");
        Assert.IsTrue(goals[4].Met);
        StringAssert.Contains(goals[0].Figure, "above its floor of one probe per chosen device at 1 dev (4 probes); candidates");
        var markdown = report.ToMarkdown("cmd");
        StringAssert.Contains(markdown, "| largest | 4 | 7.5x | 7.5x (30/4) |");
        Assert.DoesNotContain("## The pre-provisioned pool", markdown, "no pool rows, no pool section");
    }

    [TestMethod]
    public void BenchReport_PoolRows_AreReportedApartFromTheGoals()
    {
        var planner = new OperationCounts(1, 0, 0, 300, 2, 0);
        var plans = new[] { "largest", "pool" }.SelectMany(host => new[] { 1, 4, 8 }.SelectMany(d => new[]
        {
            new PlanFigures(host, d, "planner", true, 12 * d, planner with { Probes = d }, [10], [5], [4], 1000),
            new PlanFigures(host, d, "exhaustive", true, 12 * d, planner with { Probes = 12 * d }, [100], [6], [4], 1000),
        })).ToList();
        var report = new BenchReport(DateTimeOffset.UnixEpoch, Quick: true, plans, new EvacuationFigures(64, 160, 8, 64, 0, 1500, planner));

        var markdown = report.ToMarkdown("cmd");

        Assert.IsTrue(report.Goals().First().Met, "12x on the largest host");
        StringAssert.Contains(report.Goals().First().Figure, "at its floor");
        StringAssert.Contains(markdown, "## The pre-provisioned pool");
        StringAssert.Contains(markdown, "probe ratio is 12.0x, 12.0x, 12.0x for");
        StringAssert.Contains(markdown, "candidates / devices 12/1, 48/4, 96/8");
    }

    [TestMethod]
    public async Task Exhaustive_OnAPool_ProbesEachCandidateOnce()
    {
        var noLatency = new HostSimulator.Scenarios.LatencySpec();
        using var source = new BenchHost(HostSimulator.Generation.ScenarioGenerator.SingleGuestSource("candidates-source", 4, seed: 3) with { Latency = noLatency });
        using var destination = new BenchHost(HostSimulator.Generation.ScenarioGenerator.Host(BenchRunner.PoolHost with { Gpus = 8, ExistingMdevs = 8 * 16, Latency = noLatency }));
        var guest = Planner.DomainSelector.Parse("bench-guest");
        var before = destination.Simulated.Snapshot();

        var candidates = await ExhaustiveStrategy.CountCandidatesAsync(source.Host, guest, destination.Host);
        var outcome = await ExhaustiveStrategy.PlanAsync(source.Host, guest, destination.Host);
        var counts = OperationCounts.Between(before, destination.Simulated.Snapshot(), 0, 4, new HashSet<string>());

        Assert.AreEqual(4, outcome.Mapped);
        Assert.AreEqual(4 * 2 * 12, candidates, "4 types, 2 GPUs each, 12 idle mdevs per GPU");
        Assert.AreEqual(candidates, counts.Probes);
    }

    [TestMethod]
    public async Task TypeOnly_OnAFleetWhoseFirstHostIsOnAnotherBranch_FailsLate_WhereThePlannerDoesNot()
    {
        var noLatency = new HostSimulator.Scenarios.LatencySpec();
        var shape = new HostSimulator.Generation.GeneratedHostOptions { Gpus = 2, ExistingMdevs = 0, OneTypeAtATimeFraction = 0, DeviceLevelOnlyFraction = 0, Latency = noLatency };
        using var source = new BenchHost(HostSimulator.Generation.ScenarioGenerator.SingleGuestSource("peers-source", 2, seed: 3) with { Latency = noLatency });
        using var otherBranch = new BenchHost(HostSimulator.Generation.ScenarioGenerator.Host(shape with { Name = "other-branch", IncompatibleFraction = 1 }));
        using var sameBranch = new BenchHost(HostSimulator.Generation.ScenarioGenerator.Host(shape with { Name = "same-branch", IncompatibleFraction = 0 }));
        var guest = Planner.DomainSelector.Parse("bench-guest");
        var devices = await SourceMdev.ReadAsync(source.Host, guest);
        var fleet = new[] { otherBranch.Host, sameBranch.Host };

        var typeOnly = await TypeOnlyStrategy.PlaceAsync([devices], await TypeOnlyStrategy.ReadCapacityAsync(fleet));
        var (typeOnlyRefused, typeOnlyUndecided) = await VersionCheck.CountAsync(typeOnly.Placed);
        await TypeOnlyStrategy.ReleaseAsync(typeOnly);
        var planner = new Planner.MigrationPlanner(claims: new Planner.TargetClaimRegistry());
        await using var plan = (await planner.PlanAsync(new Planner.PlanRequest(source.Host, guest, fleet))).Best;
        var ours = VersionCheck.Of(plan, devices).ToList();
        var (oursRefused, oursUndecided) = await VersionCheck.CountAsync(ours);

        Assert.AreEqual(2, typeOnly.Placed.Count);
        Assert.IsTrue(typeOnly.Placed.All(p => p.Host == otherBranch.Host), "first fit by type: the first host");
        Assert.AreEqual((2, 0), (typeOnlyRefused, typeOnlyUndecided), "both refused when the migration reaches the destination");
        Assert.AreEqual("same-branch", plan.Destination.Name);
        Assert.AreEqual(2, ours.Count);
        Assert.AreEqual((0, 0), (oursRefused, oursUndecided));
    }

    [TestMethod]
    public void BenchReport_PeersAndFleet_GoalsFollowTheFigures()
    {
        var counts = new OperationCounts(4, 1, 0, 700, 8, 0);
        var plans = new[] { 1, 4, 8 }.SelectMany(d => new[]
        {
            new PlanFigures("largest", d, "planner", true, 30, counts, [10], [60], [58], 15_000_000),
            new PlanFigures("largest", d, BenchRunner.PlannerSysfs, true, 30, counts with { LibvirtCalls = 174 }, [10], [20], [18], 3_000_000, 900, SimulatedHostBytesPerPlan: 1_500_000),
            new PlanFigures("largest", d, "exhaustive", true, 30, counts with { Probes = 30 }, [100], [70], [60], 1000),
        }).ToList();
        var peers = new[]
        {
            new PeerFigures("mixed", "planner", 160, 160, counts, 700, 0, 0),
            new PeerFigures("mixed", "type only", 160, 150, counts with { Probes = 0 }, 300, 30, 0),
        };
        var fleet = new[]
        {
            new FleetFigures(10, 128, 320, 128, 100, 1000, 10, 20, 320, 100, 10),
            new FleetFigures(100, 128, 320, 128, 1000, 1100, 100, 120, 320, 100, 100),
            new FleetFigures(1000, 128, 320, 128, 10000, 12000, 1000, 1100, 320, 100, 128),
        };

        var report = new BenchReport(DateTimeOffset.UnixEpoch, Quick: true, plans, new EvacuationFigures(64, 160, 8, 64, 0, 1500, counts), peers, fleet);
        var goals = report.Goals().ToList();
        var markdown = report.ToMarkdown("cmd");

        var calls = goals.Single(g => g.Goal.StartsWith("largest host: libvirt calls", StringComparison.Ordinal));
        Assert.AreEqual(1 + BenchRunner.LargestHostGuests >= 174, calls.Met);
        var allocations = goals.Single(g => g.Goal.StartsWith("largest host: at most 2 MB", StringComparison.Ordinal));
        Assert.IsTrue(allocations.Met, "the planner's 1,500,000 bytes, though 3,000,000 with the simulated host's");
        StringAssert.Contains(allocations.Figure, "planner 1 dev: 1464 KiB");
        StringAssert.Contains(allocations.Figure, "with the simulated host's answers 2929 KiB");
        var heavier = new BenchReport(DateTimeOffset.UnixEpoch, Quick: true, [.. plans.Select(p => p.Strategy == BenchRunner.PlannerSysfs ? p with { SimulatedHostBytesPerPlan = 500_000 } : p)], new EvacuationFigures(64, 160, 8, 64, 0, 1500, counts), peers, fleet);
        Assert.IsFalse(heavier.Goals().Single(g => g.Goal.StartsWith("largest host: at most 2 MB", StringComparison.Ordinal)).Met, "the planner's 2,500,000 bytes");
        var late = goals.Single(g => g.Goal.StartsWith("type-only", StringComparison.Ordinal));
        Assert.IsTrue(late.Met);
        StringAssert.Contains(late.Figure, "type only 30 of 150 (20.0%)");
        var growth = goals.Single(g => g.Goal.StartsWith("fleet", StringComparison.Ordinal));
        Assert.IsFalse(growth.Met, "12000 / 1100 is 10.9x");
        StringAssert.Contains(growth.Figure, "wall 10.91x");
        StringAssert.Contains(markdown, "| mixed | type only | 160 | 150 | 0 | 1 | 300 | 30 | 20.0% |");
        StringAssert.Contains(markdown, "| 4 | sysfs | 174 | 900 | 20.00 | 1464 | 1464 | 2929 | 10.0 |");
        StringAssert.Contains(markdown, "From 100 to 1,000 hosts (10x): wall time 10.9x");
    }

    [TestMethod]
    public void BenchReport_Split_GoalFollowsTheFigures_AndSaysWhyNotMet()
    {
        var counts = new OperationCounts(4, 1, 0, 700, 8, 0);
        var plans = new[] { 1, 4, 8 }.SelectMany(d => new[]
        {
            new PlanFigures("largest", d, "planner", true, 30, counts, [10], [60], [58], 1000),
            new PlanFigures("largest", d, "exhaustive", true, 30, counts with { Probes = 30 }, [100], [70], [60], 1000),
        }).ToList();
        var evacuation = new EvacuationFigures(64, 160, 8, 64, 0, 1500, counts);
        var shape = new FleetSplitShape(10, 128);
        FleetSplitFigures Row(int processes, double wallMs, double cpuMs, int doubles) =>
            new(processes, 128, 321, 128, 321, doubles, 0, 292, wallMs, wallMs - 2000, cpuMs - 1000, 1000, 1900, 1.5);
        var rows = new[] { Row(1, 12_000, 8_000, 0), Row(2, 8_000, 10_000, 0), Row(4, 5_000, 12_000, 0) };

        var met = new BenchReport(DateTimeOffset.UnixEpoch, Quick: true, plans, evacuation, Split: new FleetSplit(shape, rows, null, 2));
        var slow = new BenchReport(DateTimeOffset.UnixEpoch, Quick: true, plans, evacuation, Split: new FleetSplit(shape, [rows[0], rows[1], Row(4, 10_000, 16_000, 0)], null, 2));
        var waited = new BenchReport(DateTimeOffset.UnixEpoch, Quick: true, plans, evacuation, Split: new FleetSplit(shape, [rows[0], rows[1], Row(4, 10_000, 5_000, 0)], null, 2));
        var doubled = new BenchReport(DateTimeOffset.UnixEpoch, Quick: true, plans, evacuation, Split: new FleetSplit(shape, [rows[0], rows[1], Row(4, 5_000, 12_000, 1)], null, 2));
        var skipped = new BenchReport(DateTimeOffset.UnixEpoch, Quick: true, plans, evacuation, Split: new FleetSplit(shape, [], "no FUSE", 2));

        static (string Goal, bool Met, string Figure) Split(BenchReport report) =>
            report.Goals().Single(g => g.Goal.StartsWith("evacuation split", StringComparison.Ordinal));
        Assert.IsTrue(Split(met).Met, "12 s / 5 s is 2.4x");
        StringAssert.Contains(Split(met).Figure, "wall 2.40x");
        Assert.IsFalse(Split(slow).Met, "12 s / 10 s is 1.2x");
        StringAssert.Contains(Split(slow).Figure, "4 processes' CPU alone takes at least 8.0 s of wall, so they can be at most 1.5x faster");
        Assert.IsFalse(Split(waited).Met, "12 s / 10 s again, with CPU to spare");
        StringAssert.Contains(Split(waited).Figure, "that CPU would allow up to 4.8x against 1 process's 12.0 s, but the 4 processes used 0.50 of 2 cores on average");
        Assert.IsFalse(Split(doubled).Met, "a target handed out twice");
        Assert.AreEqual((false, "not measured: no FUSE"), (Split(skipped).Met, Split(skipped).Figure));
        StringAssert.Contains(met.ToMarkdown("cmd"), "| 4 | 128 | 321 | 128 | 321 | 0 | 0 | 292 | 5000 | 2.4x | 3000 | 11000 | 1000 | 1900 | 1.5 |");
        StringAssert.Contains(skipped.ToMarkdown("cmd"), "Not measured on this run: no FUSE.");
    }
}
