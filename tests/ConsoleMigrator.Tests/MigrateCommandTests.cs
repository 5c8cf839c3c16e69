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
        StringAssert.Contains(run.Error, ": client-driven through test://");
        StringAssert.Contains(run.Error, "virDomainMigrate3('");
        StringAssert.Contains(run.Error, "cannot migrate guests");
        StringAssert.Contains(run.Error, "removed the 3 device(s) the plan created");
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

    [TestMethod]
    public async Task Migrate_WithADestUri_IsPeerToPeerToThatUri_WithTheDataToTheMigrateUri()
    {
        var run = await ConsoleRun.RunAsync("migrate", "--domain", "render-1", "--source-scenario", Scenario("demo-source.json"), "--dest-scenario", Scenario("demo-dest-a.json"), "--desturi", "test+tcp://10.0.0.2/default", "--migrateuri", "tcp://10.0.0.2");

        Assert.AreEqual(4, run.ExitCode, run.Error);
        StringAssert.Contains(run.Error, ": peer-to-peer, the source's libvirtd connects to test+tcp://10.0.0.2/default, data to tcp://10.0.0.2...");
        StringAssert.Contains(run.Error, "virDomainMigrateToURI3('");
        StringAssert.Contains(run.Error, "', 'test+tcp://10.0.0.2/default')");
        StringAssert.Contains(run.Error, "removed the 3 device(s) the plan created");
    }

    [TestMethod]
    [DataRow("--desturi", "test+tcp://a/default", "2 --desturi given for 1 destination (--dest, then --dest-scenario)")]
    [DataRow("--migrateuri", "tcp://a", "2 --migrateuri given for 1 destination (--dest, then --dest-scenario)")]
    public async Task Migrate_MoreHostToHostAddressesThanDestinations_IsAUsageError(string option, string value, string message)
    {
        var run = await ConsoleRun.RunAsync("migrate", "--domain", "render-1", "--source-scenario", Scenario("demo-source.json"), "--dest", "test:///default", option, value, option, value);

        Assert.AreEqual(2, run.ExitCode, run.Error);
        StringAssert.Contains(run.Error, message);
    }

    [TestMethod]
    [DataRow("--desturi", "not a uri", "--desturi: DestinationUri 'not a uri' is not a URI")]
    [DataRow("--migrateuri", "10.0.0.2", "--migrateuri: MigrateUri '10.0.0.2' is not a URI")]
    public async Task Migrate_AnAddressThatIsNoUri_IsAUsageError_BeforeAnythingIsPlanned(string option, string value, string message)
    {
        var run = await ConsoleRun.RunAsync("migrate", "--domain", "render-1", "--source-scenario", Scenario("demo-source.json"), "--dest-scenario", Scenario("demo-dest-a.json"), "--dest", "test:///default", option, value);

        Assert.AreEqual(2, run.ExitCode, run.Error);
        StringAssert.Contains(run.Error, message);
        Assert.IsFalse(run.Error.Contains("planning", StringComparison.Ordinal), run.Error);
    }
}
