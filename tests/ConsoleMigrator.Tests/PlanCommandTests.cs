using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace VfioMigration.ConsoleMigrator.Tests;

[TestClass]
public sealed class PlanCommandTests
{
    private static string Scenario(string name) => Path.Combine(AppContext.BaseDirectory, "scenarios", name);

    /// <summary>Runs <c>plan --json</c> of <paramref name="domain"/> from one bundled scenario onto another, checks the exit code, and returns the plan.</summary>
    private static async Task<JsonNode> PlanJsonAsync(int exitCode, string domain, string source, string destination)
    {
        var run = await ConsoleRun.RunAsync("plan", "--json", "--domain", domain, "--source-scenario", Scenario(source), "--dest-scenario", Scenario(destination));
        Assert.AreEqual(exitCode, run.ExitCode, run.Error);
        return JsonNode.Parse(run.Out)!;
    }

    /// <summary>
    /// An H200 guest (examples/scenarios/h200-*.json: profiles and counts from NVIDIA's Hopper vGPU tables):
    /// its H200X-35C goes to the one GPU with a 35C slot left, configured on its first free VF; its
    /// H200X-1-18C to the MIG-mode GPU's idle configured VF (that GPU is full otherwise).
    /// </summary>
    [TestMethod]
    public async Task Plan_Json_H200Guest_MapsEachVfVgpuToTheOneGpuThatCanTakeIt()
    {
        var plan = await PlanJsonAsync(0, "llm-1", "h200-source.json", "h200-dest.json");
        CollectionAssert.AreEqual(
            new[]
            {
                "vf-vgpu 0000:41:00.4 vgpu 1426 (NVIDIA H200X-35C) -> 0000:41:00.7 on 0000:41:00.0 create verified",
                "vf-vgpu 0000:c1:00.4 vgpu 1414 (NVIDIA H200X-1-18C) -> 0000:c1:01.2 on 0000:c1:00.0 reuse verified",
            },
            plan["devices"]!.AsArray().Select(d =>
                $"{(string?)d!["source"]!["kind"]} {(string?)d["source"]!["address"]} {(string?)d["source"]!["type"]} -> {(string?)d["target"]!["address"]} on {(string?)d["target"]!["parent"]} {(string?)d["action"]} {(string?)d["verification"]}").ToArray());
        Assert.AreEqual("vf 0000:41:00.7 1426 removed", string.Join(';', plan["created"]!.AsArray().Select(c => $"{(string?)c!["method"]} {(string?)c["parent"]} {(string?)c["type"]} {(string?)c["state"]}")));
        StringAssert.Contains((string?)plan["destinationXml"], "<address domain='0x0000' bus='0x41' slot='0x00' function='0x7'/>");
        StringAssert.Contains((string?)plan["destinationXml"], "<address domain='0x0000' bus='0xc1' slot='0x01' function='0x2'/>");
    }

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
        Assert.IsTrue((bool)plan["ok"]!);
        Assert.AreEqual("demo-dest-a", (string?)plan["destination"]);

        // The demo's guest: two nvidia-223 vGPUs, one GVT-g mdev, one mlx5 VF, one vGPU on an L40S VF; on demo-dest-a the three mdevs are created, the VFs reused.
        var devices = plan["devices"]!.AsArray();
        var mapping = devices.Select(d => $"{(string?)d!["source"]!["kind"]} {(string?)d["source"]!["type"]} -> {(string?)d["target"]!["parent"] ?? (string?)d["target"]!["address"]} {(string?)d["action"]} {(string?)d["verification"]}").ToArray();
        CollectionAssert.AreEqual(
            new[]
            {
                "mdev nvidia-223 -> pci_0000_5e_00_0 create verified",
                "mdev nvidia-223 -> pci_0000_5e_00_0 create verified",
                "mdev i915-GVTg_V5_4 -> pci_0000_00_02_0 create verified",
                "pci vfio-pci:mlx5 -> 0000:d8:00.2 reuse verified",
                "vf-vgpu vgpu 1157 (NVIDIA L40S-24C) -> 0000:81:00.0 reuse verified",
            },
            mapping);

        var created = plan["created"]!.AsArray();
        CollectionAssert.AreEqual(
            devices.Take(3).Select(d => (string?)d!["target"]!["uuid"]).ToArray(),
            created.Select(c => (string?)c!["uuid"]).ToArray(),
            "the created mdevs are the three targets, in order");
        Assert.IsTrue(created.All(c => (string?)c!["host"] == "demo-dest-a" && (string?)c["state"] == "removed"), "without --keep the command releases the plan before printing it");
        foreach (var uuid in created.Select(c => (string?)c!["uuid"]))
        {
            StringAssert.Contains((string?)plan["destinationXml"], $"<address uuid='{uuid}'/>");
        }

        CollectionAssert.AreEqual(
            new[] { "a001 TYPE_MISMATCH", "a001 NO_CAPACITY", "a002 TYPE_MISMATCH", "a002 NO_CAPACITY", "a003 TYPE_MISMATCH", "a003 TYPE_MISMATCH", "a003 TYPE_MISMATCH" },
            plan["rejections"]!.AsArray().Select(r => $"{((string?)r!["source"])![^4..]} {(string?)r["code"]}").ToArray());
        var stats = plan["stats"]!;
        Assert.AreEqual(7, (int)stats["probes"]!, "six as before the L40S VF, and the device-level probe of the idle VF reused for it");
        Assert.AreEqual(3, (int)stats["creates"]!);
        Assert.AreEqual(0, (int)stats["removes"]!);
        Assert.AreEqual(9, (int)stats["libvirtCalls"]!, "7 to read the guest, the inventory and the guests, plus the preflight's version read on each of the two hosts");

        var alternative = plan["alternatives"]!.AsArray().Single()!;
        Assert.AreEqual("demo-dest-b", (string?)alternative["destination"]);
        Assert.IsFalse((bool)alternative["ok"]!);
    }

    [TestMethod]
    public async Task Plan_WithNoCompleteAssignment_StillPrintsTheJsonAndExitsThree()
    {
        var plan = await PlanJsonAsync(3, "render-1", "demo-source.json", "demo-dest-b.json");
        Assert.IsFalse((bool)plan["ok"]!);
        var rejections = plan["rejections"]!.AsArray();
        CollectionAssert.AreEqual(
            new[]
            {
                "a001 pci_0000_00_02_0 TYPE_MISMATCH",
                "a002 pci_0000_00_02_0 TYPE_MISMATCH",
                "a003 pci_0000_3b_00_0 TYPE_MISMATCH",
                "a003 pci_0000_5e_00_0 TYPE_MISMATCH",
                "a001 pci_0000_3b_00_0/nvidia-223 VERSION_REJECTED",
                "a001 pci_0000_5e_00_0/nvidia-223 VERSION_REJECTED",
                "a001 - NOT_PLACED",
            },
            rejections.Select(r => $"{((string?)r!["source"])![^4..]} {(string?)r["candidate"] ?? "-"} {(string?)r["code"]}").ToArray());
        Assert.IsTrue(rejections.All(r => ((string?)r!["message"])!.Length > 0));
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
