using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace VfioMigration.ConsoleMigrator.Tests;

[TestClass]
public sealed class PlanCommandTests
{
    private static string Scenario(string name) => Path.Combine(AppContext.BaseDirectory, "scenarios", name);

    [TestMethod]
    public async Task Plan_Json_OnTheDemoHosts_ChoosesAHostAndUsesTheFixedNames()
    {
        var run = await ConsoleRun.RunAsync(
            "plan", "--json", "--domain", "render-1",
            "--source-scenario", Scenario("demo-source.json"),
            "--dest-scenario", Scenario("demo-dest-a.json"),
            "--dest-scenario", Scenario("demo-dest-b.json"));

        Assert.AreEqual(0, run.ExitCode, run.Error);
        var plan = JsonNode.Parse(run.Out)!;
        Assert.AreEqual("render-1", (string?)plan["domain"]);
        Assert.IsNotNull(plan["destination"]);
        var devices = plan["devices"]!.AsArray();
        Assert.IsTrue(devices.Count > 0);
        foreach (var device in devices)
        {
            Assert.IsNotNull(device!["source"]!["kind"]);
            Assert.IsNotNull(device["target"]);
            CollectionAssert.Contains(new[] { "reuse", "create", "preserve-uuid" }, (string?)device["action"]);
            CollectionAssert.Contains(new[] { "verified", "unverified" }, (string?)device["verification"]);
        }

        StringAssert.Contains((string?)plan["destinationXml"], "<domain");
        Assert.IsNotNull(plan["rejections"]!.AsArray());
        Assert.IsNotNull(plan["created"]!.AsArray());
        var stats = plan["stats"]!;
        foreach (var key in new[] { "probes", "creates", "removes", "libvirtCalls", "elapsedMs" })
        {
            Assert.IsNotNull(stats[key], key);
        }

        var alternatives = plan["alternatives"]!.AsArray();
        Assert.AreEqual(1, alternatives.Count);
        Assert.IsNotNull(alternatives[0]!["ok"]);
    }

    [TestMethod]
    public async Task Plan_WithNoCompleteAssignment_StillPrintsTheJsonAndExitsThree()
    {
        var run = await ConsoleRun.RunAsync(
            "plan", "--json", "--domain", "render-1",
            "--source-scenario", Scenario("demo-source.json"),
            "--dest-scenario", Scenario("demo-dest-b.json"));

        Assert.AreEqual(3, run.ExitCode, run.Error);
        var plan = JsonNode.Parse(run.Out)!;
        Assert.IsTrue(plan["rejections"]!.AsArray().Count > 0);
        Assert.IsTrue(plan["rejections"]!.AsArray().All(r => r!["code"] is not null && r["message"] is not null));
    }

    [TestMethod]
    public async Task Plan_Human_ListsTheMappingAndTheReasons()
    {
        var run = await ConsoleRun.RunAsync(
            "plan", "--domain", "render-1",
            "--source-scenario", Scenario("demo-source.json"),
            "--dest-scenario", Scenario("demo-dest-a.json"),
            "--dest-scenario", Scenario("demo-dest-b.json"));

        Assert.AreEqual(0, run.ExitCode, run.Error);
        StringAssert.Contains(run.Out, "SOURCE DEVICE");
        StringAssert.Contains(run.Out, "Other destinations:");
        StringAssert.Contains(run.Out, "demo-dest-b: not possible");
    }

    [TestMethod]
    public async Task Plan_BadOptions_AreUsageErrors()
    {
        var noSource = await ConsoleRun.RunAsync("plan", "--domain", "x", "--dest-scenario", Scenario("demo-dest-a.json"));
        Assert.AreEqual(2, noSource.ExitCode);
        StringAssert.Contains(noSource.Error, "--source");

        var badPolicy = await ConsoleRun.RunAsync("plan", "--domain", "x", "--policy", "yolo", "--source-scenario", Scenario("demo-source.json"), "--dest-scenario", Scenario("demo-dest-a.json"));
        Assert.AreEqual(2, badPolicy.ExitCode);
        StringAssert.Contains(badPolicy.Error, "yolo");

        var tooManySysfs = await ConsoleRun.RunAsync("plan", "--domain", "x", "--source-scenario", Scenario("demo-source.json"), "--dest-sysfs", "/sys", "--dest-scenario", Scenario("demo-dest-a.json"));
        Assert.AreEqual(2, tooManySysfs.ExitCode);
    }

    [TestMethod]
    public async Task Plan_RefusedForWantOfVerification_SaysWhatAllowTypeMatchDoes_AndTimesConnectingApart()
    {
        var refused = await ConsoleRun.RunAsync("plan", "--domain", "serial-1", "--source-scenario", KernelScenario("mtty-source.json"), "--dest-scenario", KernelScenario("mtty-mdpy.json"));
        var accepted = await ConsoleRun.RunAsync("plan", "--domain", "serial-1", "--policy", "allow-type-match", "--source-scenario", KernelScenario("mtty-source.json"), "--dest-scenario", KernelScenario("mtty-mdpy.json"));

        Assert.AreEqual(3, refused.ExitCode, refused.Error);
        StringAssert.Contains(refused.Out, "and the require-verified policy accepts only verified targets (allow-type-match would accept a target of the same type, marked unverified).");
        StringAssert.Contains(refused.Out, "What you can do: if nothing can verify the devices (stock kernels have no migration_version, see docs/contract.md), plan with --policy allow-type-match:");
        StringAssert.Contains(refused.Out, "if it cannot, the migration fails inside the stream and the guest keeps running on the source.");
        Assert.IsTrue(Regex.IsMatch(refused.Out, @"sysfs reads \d+, \d+ ms planning \(\d+ ms connecting to the hosts before it\)\."), refused.Out);
        Assert.IsFalse(accepted.Out.Contains("What you can do", StringComparison.Ordinal), accepted.Out);
    }

    private static string KernelScenario(string name) => Path.Combine(AppContext.BaseDirectory, "scenarios", "kernel", name);

    [TestMethod]
    public async Task Plan_UnknownGuest_IsALibvirtError()
    {
        var run = await ConsoleRun.RunAsync("plan", "--domain", "nobody", "--source-scenario", Scenario("demo-source.json"), "--dest-scenario", Scenario("demo-dest-a.json"));
        Assert.AreEqual(4, run.ExitCode);
        StringAssert.Contains(run.Error, "nobody");
    }

    [TestMethod]
    [DataRow(false, "released", "removed")]
    [DataRow(true, "committed", "kept")]
    public async Task Plan_Json_SaysWhatIsTrueWhenTheCommandEnds(bool keep, string state, string createdState)
    {
        string[] args = ["plan", "--json", "--domain", "render-1", "--source-scenario", Scenario("demo-source.json"), "--dest-scenario", Scenario("demo-dest-a.json")];
        var run = await ConsoleRun.RunAsync(keep ? [.. args, "--keep"] : args);

        Assert.AreEqual(0, run.ExitCode, run.Error);
        var plan = JsonNode.Parse(run.Out)!;
        Assert.AreEqual(state, (string?)plan["state"]);
        var created = plan["created"]!.AsArray();
        Assert.HasCount(3, created);
        CollectionAssert.AreEqual(new[] { createdState, createdState, createdState }, created.Select(c => (string?)c!["state"]).ToArray());
    }
}
