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
        Assert.IsNotEmpty(guest["plan"]!["devices"]!.AsArray());
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
            new PlanFigures("largest", d, "planner", true, counts, [10, 12, 14], [60, 61], [58, 59], 1000),
            new PlanFigures("largest", d, "exhaustive", true, exhaustive, [100], [70], [60], 1000),
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
        StringAssert.Contains(report.ToMarkdown("cmd"), "| largest | 4 | 7.5x |");
    }
}
