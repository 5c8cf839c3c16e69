using System.Text.Json.Nodes;

namespace VfioMigration.ConsoleMigrator.Tests;

[TestClass]
public sealed class SimCommandTests
{
    private static readonly string[] GvtTypes = ["i915-GVTg_V5_4", "i915-GVTg_V5_8"];

    private static string Scenario(string name) => Path.Combine(AppContext.BaseDirectory, "scenarios", name);

    [TestMethod]
    public async Task LibvirtXml_GivesATestDriverHostThatShowsTheScenariosDevices()
    {
        var output = Path.Combine(Path.GetTempPath(), $"sim-{Guid.NewGuid():N}.xml");
        try
        {
            var written = await ConsoleRun.RunAsync("sim", "libvirt-xml", Scenario("gvtg.json"), output);
            Assert.AreEqual(0, written.ExitCode, written.Error);

            var host = await ConsoleRun.RunAsync("host", "--connect", ConsoleRun.TestUri(output), "--json");
            Assert.AreEqual(0, host.ExitCode, host.Error);
            var parents = JsonNode.Parse(host.Out)!["parents"]!.AsArray();
            var gvt = parents.Single(p => (string?)p!["address"] == "0000:00:02.0")!;
            CollectionAssert.IsSubsetOf(
                GvtTypes,
                gvt["types"]!.AsArray().Select(t => (string?)t!["id"]).ToList());
        }
        finally
        {
            File.Delete(output);
        }
    }

    [TestMethod]
    public async Task LibvirtXml_MissingScenario_IsBadInput()
    {
        var run = await ConsoleRun.RunAsync("sim", "libvirt-xml", "/nonexistent/scenario.json", "/tmp/out.xml");
        Assert.AreEqual(5, run.ExitCode);
        StringAssert.Contains(run.Error, "/nonexistent/scenario.json");
    }

    [TestMethod]
    public async Task LibvirtXml_BrokenScenario_NamesTheJsonPath()
    {
        var path = Path.Combine(Path.GetTempPath(), $"bad-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(path, """{"version": 1, "name": "bad", "parents": [{"address": "0000:00:02.0", "vendorId": "0x8086", "productId": "0x3e92", "driver": "i915", "types": [{"id": "../escape", "deviceApi": "vfio-pci", "maxInstances": 1}]}]}""");
        try
        {
            var run = await ConsoleRun.RunAsync("sim", "libvirt-xml", path, "/tmp/out.xml");
            Assert.AreEqual(5, run.ExitCode);
            StringAssert.Contains(run.Error, "$.parents[0].types[0]");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestMethod]
    public async Task Mount_WithWrongArgumentCount_IsAUsageError()
    {
        var run = await ConsoleRun.RunAsync("sim", "mount", Scenario("gvtg.json"));
        Assert.AreEqual(2, run.ExitCode);
        Assert.AreEqual("error: Required argument 'DIR' missing for command: 'mount'. Run 'vfio-migrator sim mount --help'.\n", run.Error);
    }
}
