using System.Text.Json.Nodes;

namespace VfioMigration.ConsoleMigrator.Tests;

[TestClass]
public sealed class DemoCommandTests
{
    [TestMethod]
    public async Task Demo_ShowsTheMappingTheLoserTheDiffAndCleansUp()
    {
        var run = await ConsoleRun.RunAsync("demo");

        Assert.AreEqual(0, run.ExitCode, run.Error);
        StringAssert.Contains(run.Out, "SOURCE DEVICE");
        StringAssert.Contains(run.Out, "Verdict: demo-dest-a wins");
        StringAssert.Contains(run.Out, "demo-dest-b cannot take every device");
        StringAssert.Contains(run.Out, "-         <address uuid='6a1f0c3e-7b2d-4e5f-8a9b-00000000a001'/>");
        StringAssert.Contains(run.Out, "Every destination is back exactly as it was");
        var changed = run.Out.Split('\n').Where(line => line.StartsWith("+ ", StringComparison.Ordinal) || line.StartsWith("- ", StringComparison.Ordinal)).ToList();
        Assert.IsTrue(changed.Count >= 6, string.Join('\n', changed));
        Assert.AreEqual(changed.Count(line => line[0] == '-'), changed.Count(line => line[0] == '+'));
        Assert.IsTrue(changed.All(line => line.Contains("<address ", StringComparison.Ordinal)), "only source addresses may change");
    }

    [TestMethod]
    public async Task Demo_Json_IsThePlan()
    {
        var run = await ConsoleRun.RunAsync("demo", "--json");

        Assert.AreEqual(0, run.ExitCode, run.Error);
        var plan = JsonNode.Parse(run.Out)!;
        Assert.AreEqual("demo-dest-a", (string?)plan["destination"]);
        Assert.AreEqual(5, plan["devices"]!.AsArray().Count);
    }
}
