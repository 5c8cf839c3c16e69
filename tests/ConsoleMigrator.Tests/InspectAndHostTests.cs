using VfioMigration.ConsoleMigrator.Cli;
using System.Text.Json.Nodes;

namespace VfioMigration.ConsoleMigrator.Tests;

[TestClass]
public sealed class InspectAndHostTests
{
    private static readonly string DemoHost = ConsoleRun.TestUri(ConsoleRun.HostFile("demo-host.xml"));

    private static string Scenario(string name) => Path.Combine(AppContext.BaseDirectory, "scenarios", name);

    [TestMethod]
    public async Task Inspect_Json_ShowsAPciHostdevWithAVgpuAsVfVgpu_WithItsTypeProfileAndPf()
    {
        var run = await ConsoleRun.RunAsync("inspect", "--scenario", Scenario("mixed-source.json"), "--domain", "train-1", "--json");

        Assert.AreEqual(0, run.ExitCode, run.Error);
        CollectionAssert.AreEqual(
            new[]
            {
                "mdev 6a1f0c3e-7b2d-4e5f-8a9b-00000000a001 - - -",
                "mdev 6a1f0c3e-7b2d-4e5f-8a9b-00000000a003 - - -",
                "pci 0000:d8:00.2 - - -",
                "vf-vgpu 0000:41:00.4 1044 NVIDIA H100-10C 0000:41:00.0",
                "vf-vgpu 0000:41:00.5 1044 NVIDIA H100-10C 0000:41:00.0",
            },
            JsonNode.Parse(run.Out)!["hostdevs"]!.AsArray().Select(h =>
                $"{(string?)h!["kind"]} {(string?)h["uuid"] ?? (string?)h["address"]} {h["vgpuType"]?.ToString() ?? "-"} {(string?)h["profile"] ?? "-"} {(string?)h["physicalFunction"] ?? "-"}").ToArray());
    }

    [TestMethod]
    public async Task Inspect_Text_NamesTheVgpuOfEachVf()
    {
        var run = await ConsoleRun.RunAsync("inspect", "--scenario", Scenario("mixed-source.json"), "--domain", "train-1");

        Assert.AreEqual(0, run.ExitCode, run.Error);
        StringAssert.StartsWith(run.Out, "Guest train-1 (3c6d9e20-4444-4f5a-8b7c-00000000d101) on mixed-source: 5 host device(s)\n");
        CollectionAssert.AreEqual(
            new[]
            {
                "3 vf-vgpu 0000:41:00.4 vgpu 1044 (NVIDIA H100-10C) on PF 0000:41:00.0, managed ua-h100a",
                "4 vf-vgpu 0000:41:00.5 vgpu 1044 (NVIDIA H100-10C) on PF 0000:41:00.0, managed ua-h100b",
            },
            Cells(run.Out).Where(c => c.Length > 1 && c[1] == "vf-vgpu").Select(c => string.Join(' ', c.Take(5))).ToArray());
    }

    [TestMethod]
    public async Task Host_Json_ListsEachGpuWithItsVfs_TheirTypes_AndWhatItCanStillMake()
    {
        var run = await ConsoleRun.RunAsync("host", "--scenario", Scenario("mixed-dest.json"), "--json");

        Assert.AreEqual(0, run.ExitCode, run.Error);
        var gpus = JsonNode.Parse(run.Out)!["sriovGpus"]!.AsArray();
        CollectionAssert.AreEqual(
            new[]
            {
                "0000:41:00.0 vfs=8 free=6 full=True creatable=",
                "0000:81:00.0 vfs=8 free=8 full=False creatable=1158,1157,1156,1155,1154,1153,1152",
                "0000:c1:00.0 vfs=8 free=7 full=False creatable=1044",
            },
            gpus.Select(g => $"{(string?)g!["address"]} vfs={g["vfs"]!.AsArray().Count} free={(int)g["freeVfs"]!} full={(bool)g["full"]!} creatable={string.Join(',', g["creatable"]!.AsArray().Select(t => (uint)t!["id"]!))}").ToArray());
        CollectionAssert.AreEqual(
            new[]
            {
                "0000:41:00.4 1047 NVIDIA H100-40C infer-7",
                "0000:41:00.5 1047 NVIDIA H100-40C infer-7",
                "0000:c1:00.4 1044 NVIDIA H100-10C -",
            },
            gpus.SelectMany(g => g!["vfs"]!.AsArray()).Where(vf => vf!["vgpuType"] is not null)
                .Select(vf => $"{(string?)vf!["address"]} {(uint)vf["vgpuType"]!} {(string?)vf["profile"]} {(string?)vf["inUseBy"] ?? "-"}").ToArray());
        Assert.AreEqual("NVIDIA H100-10C", (string?)gpus[2]!["creatable"]![0]!["profile"]);
    }

    [TestMethod]
    public async Task Host_Text_HasAGpuTableAndAVfTable()
    {
        var run = await ConsoleRun.RunAsync("host", "--scenario", Scenario("mixed-dest.json"));

        Assert.AreEqual(0, run.ExitCode, run.Error);
        StringAssert.StartsWith(run.Out, "Host mixed-dest: 4 mdev parent(s), 1 mdev(s), 33 PCI function(s), 3 SR-IOV GPU(s) with 24 vGPU VF(s)\n");
        var lines = run.Out.Split('\n');
        CollectionAssert.IsSubsetOf(
            new[]
            {
                "GPU           VFS  CONFIGURED  FREE VFS  FREE CAPACITY      CREATABLE NOW",
                "0000:41:00.0  8    2           6         full               -",
                "0000:c1:00.0  8    1           7         1 to 7 more vGPUs  1044 NVIDIA H100-10C",
                "VF            GPU           VGPU TYPE             IN USE BY",
                "0000:41:00.4  0000:41:00.0  1047 NVIDIA H100-40C  infer-7",
                "0000:c1:00.4  0000:c1:00.0  1044 NVIDIA H100-10C  (idle)",
                "0000:c1:00.5  0000:c1:00.0  -                     -",
            },
            lines);
    }

    [TestMethod]
    public async Task Host_AProfileNameWithMarkup_IsPrintedAsText()
    {
        var path = Path.Combine(Path.GetTempPath(), $"markup-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(path, """
            {"version": 1, "name": "markup", "sriovGpus": [{"address": "0000:41:00.0", "productId": "0x2331", "totalVfs": 2,
             "types": [{"id": 7, "name": "NVIDIA [red]X[/] [bold", "framebufferMiB": 1024, "maxInstances": 2}]}]}
            """);
        try
        {
            var run = await ConsoleRun.RunAsync("host", "--scenario", path);

            Assert.AreEqual(0, run.ExitCode, run.Error);
            StringAssert.Contains(run.Out, "1 to 2 more vGPUs  7 NVIDIA [red]X[/] [bold\n");
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>
    /// <c>--connect</c> with <c>--sysfs DIR</c>: the sysfs is a directory (here a hand-made one in which the
    /// demo guest's NVMe function 0000:af:00.0 has NVIDIA's VF files), libvirt the URI's.
    /// </summary>
    [TestMethod]
    public async Task Inspect_WithASysfsDirectory_ReadsTheVfFilesThere()
    {
        var sysfs = Directory.CreateTempSubdirectory("vfio-inspect-sysfs-").FullName;
        try
        {
            var vf = Directory.CreateDirectory(Path.Combine(sysfs, "bus", "pci", "devices", "0000:af:00.0", "nvidia")).FullName;
            Directory.CreateDirectory(Path.Combine(sysfs, "bus", "pci", "devices", "0000:ae:00.0"));
            await File.WriteAllTextAsync(Path.Combine(vf, "current_vgpu_type"), "1414\n");
            await File.WriteAllTextAsync(Path.Combine(vf, "creatable_vgpu_types"), "1414 : NVIDIA H200X-1-18C\n");
            File.CreateSymbolicLink(Path.Combine(sysfs, "bus", "pci", "devices", "0000:af:00.0", "physfn"), "../0000:ae:00.0");

            var run = await ConsoleRun.RunAsync("inspect", "--connect", DemoHost, "--sysfs", sysfs, "--domain", "vgpu-desktop", "--json");

            Assert.AreEqual(0, run.ExitCode, run.Error);
            var nvme = JsonNode.Parse(run.Out)!["hostdevs"]!.AsArray().Single(h => (string?)h!["address"] == "0000:af:00.0")!;
            Assert.AreEqual("vf-vgpu 1414 NVIDIA H200X-1-18C 0000:ae:00.0", $"{(string?)nvme["kind"]} {(uint)nvme["vgpuType"]!} {(string?)nvme["profile"]} {(string?)nvme["physicalFunction"]}");
        }
        finally
        {
            Directory.Delete(sysfs, recursive: true);
        }
    }

    [TestMethod]
    public async Task InspectAndHost_TakeTheHostAsExactlyOneOfConnectAndScenario()
    {
        var both = await ConsoleRun.RunAsync("host", "--connect", DemoHost, "--scenario", Scenario("mixed-dest.json"));
        Assert.AreEqual(2, both.ExitCode);
        StringAssert.Contains(both.Error, "exactly one of --connect URI and --scenario FILE");

        var neither = await ConsoleRun.RunAsync("inspect", "--domain", "train-1");
        Assert.AreEqual(2, neither.ExitCode);
        StringAssert.Contains(neither.Error, "exactly one of --connect URI and --scenario FILE");

        var sysfs = await ConsoleRun.RunAsync("inspect", "--scenario", Scenario("mixed-source.json"), "--sysfs", Path.GetTempPath(), "--domain", "train-1");
        Assert.AreEqual(2, sysfs.ExitCode);
        StringAssert.Contains(sysfs.Error, "--sysfs is the sysfs of a --connect host");
    }

    /// <summary>The cells of each line of plain table output (columns are two or more spaces apart).</summary>
    private static IEnumerable<string[]> Cells(string output) =>
        output.Split('\n').Select(line => System.Text.RegularExpressions.Regex.Split(line.Trim(), " {2,}"));

    [TestMethod]
    public async Task Inspect_Json_ListsEveryHostdevFormWithTheFixedNames()
    {
        var run = await ConsoleRun.RunAsync("inspect", "--connect", DemoHost, "--domain", "vgpu-desktop", "--json");

        Assert.AreEqual(0, run.ExitCode, run.Error);
        var json = JsonNode.Parse(run.Out)!;
        Assert.AreEqual("vgpu-desktop", (string?)json["domain"]!["name"]);
        Assert.AreEqual("2f7e1c84-3b5a-4d69-8e0f-1a2b3c4d5e6f", (string?)json["domain"]!["uuid"]);
        CollectionAssert.AreEqual(
            new[]
            {
                "pci interface 0000:5e:02.1 managed=true ua-sriov-net0",
                "mdev 4b20d080-1b54-4048-85b3-a6a62d165c01 vfio-pci ua-gvt0",
                "mdev 9e8b2c4a-6f1d-4c3e-a5b7-0d2f6e1c8a93 vfio-pci ua-t4-0",
                "pci hostdev 0000:af:00.0 managed=true ua-nvme0",
            },
            json["hostdevs"]!.AsArray().Select(h => (string?)h!["kind"] == "mdev"
                ? $"mdev {(string?)h["uuid"]} {(string?)h["model"]} {(string?)h["alias"]}"
                : $"pci {(string?)h["form"]} {(string?)h["address"]} managed={((bool)h["managed"]!).ToString().ToLowerInvariant()} {(string?)h["alias"]}").ToArray());
    }

    [TestMethod]
    public async Task Host_Json_ReportsCapacityAndWhichGuestUsesEachMdev()
    {
        var run = await ConsoleRun.RunAsync("host", "--connect", DemoHost, "--json");

        Assert.AreEqual(0, run.ExitCode, run.Error);
        var json = JsonNode.Parse(run.Out)!;
        CollectionAssert.AreEqual(
            new[]
            {
                "pci_0000_00_02_0 0000:00:02.0 i915-GVTg_V5_4=1 i915-GVTg_V5_8=2",
                "pci_0000_3b_00_0 0000:3b:00.0 nvidia-222=15 nvidia-223=0 nvidia-224=0 nvidia-230=0",
            },
            json["parents"]!.AsArray().Select(p => $"{(string?)p!["name"]} {(string?)p["address"]} {string.Join(' ', p["types"]!.AsArray().Select(t => $"{(string?)t!["id"]}={(int)t["availableInstances"]!}"))}").ToArray());
        var gvt = json["parents"]!.AsArray()[0]!;
        Assert.IsTrue(gvt["types"]!.AsArray().All(t => (string?)t!["deviceApi"] == "vfio-pci"));

        CollectionAssert.AreEqual(
            new[]
            {
                "4b20d080-1b54-4048-85b3-a6a62d165c01 i915-GVTg_V5_4 on pci_0000_00_02_0 used by vgpu-desktop",
                "9e8b2c4a-6f1d-4c3e-a5b7-0d2f6e1c8a93 nvidia-222 on pci_0000_3b_00_0 used by vgpu-desktop",
            },
            json["mdevs"]!.AsArray().Select(m => $"{(string?)m!["uuid"]} {(string?)m["type"]} on {(string?)m["parent"]} used by {(string?)m["inUseBy"]}").ToArray());
        CollectionAssert.AreEqual(
            new[] { "0000:00:02.0 -", "0000:3b:00.0 -", "0000:5e:00.0 -", "0000:5e:02.0 -", "0000:5e:02.1 vgpu-desktop", "0000:af:00.0 vgpu-desktop", "0000:d8:00.0 -" },
            json["pciDevices"]!.AsArray().Select(p => $"{(string?)p!["address"]} {(string?)p["inUseBy"] ?? "-"}").ToArray());
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
    public async Task Help_ForEveryCommand_HasItsUsageAndAnExample()
    {
        foreach (var command in ConsoleApp.Commands(ConsoleApp.CreateRoot()).Skip(1))
        {
            var path = ConsoleApp.PathOf(command);
            var run = await ConsoleRun.RunAsync([.. path.Split(' '), "--help"]);
            Assert.AreEqual(0, run.ExitCode, path);
            StringAssert.Contains(run.Out, $"Usage:\n  vfio-migrator {path} ", path);
            if (command is CliCommand withExample)
            {
                StringAssert.Contains(run.Out, $"Example:\n  {withExample.Example}\n", path);
            }
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
