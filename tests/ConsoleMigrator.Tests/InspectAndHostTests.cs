using System.Text.Json.Nodes;

namespace VfioMigration.ConsoleMigrator.Tests;

[TestClass]
public sealed class InspectAndHostTests
{
    private static readonly string DemoHost = ConsoleRun.TestUri(ConsoleRun.HostFile("demo-host.xml"));

    [TestMethod]
    public async Task Inspect_Json_ListsEveryHostdevFormWithTheFixedNames()
    {
        var run = await ConsoleRun.RunAsync("inspect", "--connect", DemoHost, "--domain", "vgpu-desktop", "--json");

        Assert.AreEqual(0, run.ExitCode, run.Error);
        var json = JsonNode.Parse(run.Out)!;
        Assert.AreEqual("vgpu-desktop", (string?)json["domain"]!["name"]);
        Assert.IsNotNull((string?)json["domain"]!["uuid"]);
        var hostdevs = json["hostdevs"]!.AsArray();
        var kinds = hostdevs.Select(h => (string?)h!["kind"]).ToList();
        CollectionAssert.Contains(kinds, "mdev");
        CollectionAssert.Contains(kinds, "pci");
        var mdev = hostdevs.First(h => (string?)h!["kind"] == "mdev")!;
        StringAssert.Matches((string?)mdev["uuid"], new System.Text.RegularExpressions.Regex("^[0-9a-f-]{36}$"));
        Assert.AreEqual("vfio-pci", (string?)mdev["model"]);
        var pci = hostdevs.First(h => (string?)h!["kind"] == "pci" && (string?)h!["form"] == "hostdev")!;
        StringAssert.Matches((string?)pci["address"], new System.Text.RegularExpressions.Regex("^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\\.[0-7]$"));
        Assert.IsNotNull(pci["managed"]);
    }

    [TestMethod]
    public async Task Host_Json_ReportsCapacityAndWhichGuestUsesEachMdev()
    {
        var run = await ConsoleRun.RunAsync("host", "--connect", DemoHost, "--json");

        Assert.AreEqual(0, run.ExitCode, run.Error);
        var json = JsonNode.Parse(run.Out)!;
        var parents = json["parents"]!.AsArray();
        Assert.IsTrue(parents.Count > 0);
        var gvt = parents.First(p => (string?)p!["address"] == "0000:00:02.0")!;
        Assert.AreEqual("pci_0000_00_02_0", (string?)gvt["name"]);
        var type = gvt["types"]!.AsArray().First(t => (string?)t!["id"] == "i915-GVTg_V5_4")!;
        Assert.AreEqual("vfio-pci", (string?)type["deviceApi"]);
        Assert.IsNotNull((int?)type["availableInstances"]);

        var mdevs = json["mdevs"]!.AsArray();
        Assert.IsTrue(mdevs.Any(m => (string?)m!["inUseBy"] == "vgpu-desktop"));
        Assert.IsTrue(json["pciDevices"]!.AsArray().All(p => p!["name"] is not null && p["address"] is not null));
    }

    [TestMethod]
    public async Task Inspect_UnknownDomain_FailsWithOneLineAndTheLibvirtExitCode()
    {
        var run = await ConsoleRun.RunAsync("inspect", "--connect", DemoHost, "--domain", "no-such-guest");

        Assert.AreEqual(4, run.ExitCode);
        StringAssert.Contains(run.Error, "no-such-guest");
        Assert.AreEqual(1, run.Error.Trim().Split('\n').Length, run.Error);
        Assert.AreEqual(string.Empty, run.Out);
    }

    [TestMethod]
    public async Task Host_UnreachableUri_FailsWithTheLibvirtExitCode()
    {
        var run = await ConsoleRun.RunAsync("host", "--connect", "test:///nonexistent/dir/host.xml");

        Assert.AreEqual(4, run.ExitCode);
        StringAssert.Contains(run.Error, "test:///nonexistent/dir/host.xml");
        Assert.AreEqual(1, run.Error.Trim().Split('\n').Length, run.Error);
    }

    [TestMethod]
    public async Task Host_BrokenXml_FailsClearly()
    {
        var path = Path.Combine(Path.GetTempPath(), $"broken-{Guid.NewGuid():N}.xml");
        await File.WriteAllTextAsync(path, "<node><domain type='test'><name>x</name>");
        try
        {
            var run = await ConsoleRun.RunAsync("host", "--connect", ConsoleRun.TestUri(path));
            Assert.AreNotEqual(0, run.ExitCode);
            StringAssert.StartsWith(run.Error, "error: ");
            Assert.AreEqual(1, run.Error.Trim().Split('\n').Length, run.Error);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestMethod]
    public async Task Host_NodeDeviceXmlThePlannerRefuses_FailsWithTheHostDataExitCodeNamingTheValue()
    {
        var path = Path.Combine(Path.GetTempPath(), $"hostile-{Guid.NewGuid():N}.xml");
        var demo = await File.ReadAllTextAsync(ConsoleRun.HostFile("demo-host.xml"));
        await File.WriteAllTextAsync(path, demo.Replace("<type id='nvidia-222'/>", "<type id='../../etc'/>", StringComparison.Ordinal));
        try
        {
            var run = await ConsoleRun.RunAsync("host", "--connect", ConsoleRun.TestUri(path));

            Assert.AreEqual(5, run.ExitCode, run.Error);
            StringAssert.Contains(run.Error, "../../etc");
            StringAssert.Contains(run.Error, "cannot accept");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestMethod]
    public async Task UsageErrors_ExitWithTwoAndNameTheProblem()
    {
        var missing = await ConsoleRun.RunAsync("inspect", "--connect", DemoHost);
        Assert.AreEqual(2, missing.ExitCode);
        StringAssert.Contains(missing.Error, "--domain");

        var unknown = await ConsoleRun.RunAsync("host", "--connect", DemoHost, "--bogus");
        Assert.AreEqual(2, unknown.ExitCode);
        StringAssert.Contains(unknown.Error, "--bogus");

        var command = await ConsoleRun.RunAsync("frobnicate");
        Assert.AreEqual(2, command.ExitCode);
        StringAssert.Contains(command.Error, "frobnicate");
    }

    [TestMethod]
    public async Task Help_ForEveryCommand_HasAnExample()
    {
        foreach (var command in VfioMigration.ConsoleMigrator.Cli.CommandRunner.Commands)
        {
            var run = await ConsoleRun.RunAsync([.. command.Name.Split(' '), "--help"]);
            Assert.AreEqual(0, run.ExitCode, command.Name);
            StringAssert.Contains(run.Out, "Example:", command.Name);
            StringAssert.Contains(run.Out, $"vfio-migrator {command.Name}", command.Name);
        }
    }

    [TestMethod]
    public async Task Verbose_ShowsTheStackTrace()
    {
        var run = await ConsoleRun.RunAsync("inspect", "--connect", DemoHost, "--domain", "no-such-guest", "--verbose");
        Assert.AreEqual(4, run.ExitCode);
        StringAssert.Contains(run.Error, "   at ");
    }
}
