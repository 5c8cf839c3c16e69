using System.Text.Json.Nodes;

namespace VfioMigration.ConsoleMigrator.Tests;

[TestClass]
public sealed class MigrateCommandTests
{
    private static string Scenario(string name) => Path.Combine(AppContext.BaseDirectory, "scenarios", name);

    [TestMethod]
    public async Task Migrate_OnTheTestDriver_SaysPlainlyItCannotMigrateAndRemovesTheDevices()
    {
        var run = await ConsoleRun.RunAsync("migrate", "--domain", "render-1", "--source-scenario", Scenario("demo-source.json"), "--dest-scenario", Scenario("demo-dest-a.json"));

        Assert.AreEqual(4, run.ExitCode);
        StringAssert.Contains(run.Error, "cannot migrate guests");
        StringAssert.Contains(run.Error, "removed the 3 mdev(s) the plan created");
    }

    [TestMethod]
    public async Task Migrate_DryRun_StopsAfterThePlan()
    {
        var run = await ConsoleRun.RunAsync("migrate", "--dry-run", "--json", "--domain", "render-1", "--source-scenario", Scenario("demo-source.json"), "--dest-scenario", Scenario("demo-dest-a.json"));

        Assert.AreEqual(0, run.ExitCode, run.Error);
        Assert.IsTrue((bool?)JsonNode.Parse(run.Out)!["ok"]);
        Assert.IsFalse(run.Error.Contains("migrating", StringComparison.Ordinal));
    }

    [TestMethod]
    public async Task Migrate_WithoutAValidPlan_DoesNotMigrate()
    {
        var run = await ConsoleRun.RunAsync("migrate", "--domain", "render-1", "--source-scenario", Scenario("demo-source.json"), "--dest-scenario", Scenario("demo-dest-b.json"));

        Assert.AreEqual(3, run.ExitCode, run.Error);
        Assert.IsFalse(run.Error.Contains("migrating", StringComparison.Ordinal));
        StringAssert.Contains(run.Out, "No valid plan");
    }
}
