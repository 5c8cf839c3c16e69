using System.Text.Json;

namespace VfioMigration.ConsoleMigrator.Tests;

[TestClass]
public sealed class CheckAndAskCommandTests
{
    private static string Scenario(string name) => Path.Combine(AppContext.BaseDirectory, "scenarios", name);

    private static Task<ConsoleRun> CheckAsync(string destination, string device, string target, params string[] more) =>
        ConsoleRun.RunAsync(["check", "--source-scenario", Scenario("demo-source.json"), "--dest-scenario", Scenario(destination), "--domain", "render-1", "--device", device, "--target", target, .. more]);

    [TestMethod]
    public async Task Check_exits_0_10_11_for_compatible_incompatible_unknown()
    {
        var compatible = await CheckAsync("demo-dest-a.json", "ua-vgpu0", "0000:5e:00.0/nvidia-223");
        var incompatible = await CheckAsync("demo-dest-b.json", "ua-nic0", "0000:d8:00.2");
        var unknown = await CheckAsync("demo-dest-b.json", "ua-igpu0", "pci_0000_00_02_0/i915-GVTg_V5_4");

        Assert.AreEqual(0, compatible.ExitCode, compatible.Error);
        StringAssert.StartsWith(compatible.Out, "compatible: 6a1f0c3e-7b2d-4e5f-8a9b-00000000a001 (nvidia-223) -> 0000:5e:00.0/nvidia-223 on demo-dest-a");
        StringAssert.Contains(compatible.Out, "probe: wrote the source version to class/mdev_bus/0000:5e:00.0/mdev_supported_types/nvidia-223/migration_version: accepted");
        Assert.AreEqual(10, incompatible.ExitCode, incompatible.Error);
        StringAssert.Contains(incompatible.Out, "probe: wrote the source version to bus/pci/devices/0000:d8:00.2/vfio_migration_version: ENODEV");
        Assert.AreEqual(11, unknown.ExitCode, unknown.Error);
        StringAssert.StartsWith(unknown.Out, "unknown: ");
    }

    [TestMethod]
    public async Task Check_json_names_the_probe_and_errno_and_a_missing_target_is_a_libvirt_error()
    {
        var run = await CheckAsync("demo-dest-b.json", "0000:d8:00.2", "0000:d8:00.2", "--json");
        var missing = await CheckAsync("demo-dest-a.json", "ua-vgpu0", "pci_0000_99_00_0/nvidia-223");
        var twoDestinations = await ConsoleRun.RunAsync("check", "--source-scenario", Scenario("demo-source.json"), "--dest-scenario", Scenario("demo-dest-a.json"), "--dest-scenario", Scenario("demo-dest-b.json"), "--domain", "render-1", "--device", "ua-nic0", "--target", "0000:d8:00.2");

        Assert.AreEqual(10, run.ExitCode, run.Error);
        using var json = JsonDocument.Parse(run.Out);
        Assert.AreEqual("incompatible", json.RootElement.GetProperty("outcome").GetString());
        Assert.AreEqual("ENODEV", json.RootElement.GetProperty("probe").GetProperty("result").GetString());
        Assert.AreEqual("pci-device", json.RootElement.GetProperty("probe").GetProperty("point").GetString());
        Assert.AreEqual(1, json.RootElement.GetProperty("probes").GetInt32());
        Assert.AreEqual(4, missing.ExitCode, missing.Error);
        StringAssert.Contains(missing.Error, "has no device or (parent, type) 'pci_0000_99_00_0/nvidia-223'");
        Assert.AreEqual(2, twoDestinations.ExitCode);
        StringAssert.Contains(twoDestinations.Error, "give exactly one destination");
    }

    [TestMethod]
    public async Task Ask_lists_each_devices_accepting_configurations_as_text_and_json()
    {
        string[] common = ["ask", "--source-scenario", Scenario("demo-source.json"), "--dest-scenario", Scenario("demo-dest-a.json"), "--domain", "render-1"];
        var text = await ConsoleRun.RunAsync([.. common, "--device", "ua-nic0"]);
        var json = await ConsoleRun.RunAsync([.. common, "--json"]);

        Assert.AreEqual(0, text.ExitCode, text.Error);
        StringAssert.StartsWith(text.Out, "0000:d8:00.2 (vfio-pci:mlx5): 2 configuration(s) on demo-dest-a accept it");
        StringAssert.Contains(text.Out, "pci-function  0000:d8:00.3");
        Assert.AreEqual(0, json.ExitCode, json.Error);
        using var document = JsonDocument.Parse(json.Out);
        var devices = document.RootElement.GetProperty("devices");
        Assert.AreEqual(5, devices.GetArrayLength());
        var vgpu = devices[0].GetProperty("targets");
        Assert.AreEqual(2, vgpu.GetArrayLength());
        Assert.AreEqual("new-mdev", vgpu[0].GetProperty("kind").GetString());
        Assert.AreEqual("verified", vgpu[0].GetProperty("verification").GetString());
        Assert.AreEqual("mdev-type", vgpu[0].GetProperty("probe").GetProperty("point").GetString());
        Assert.IsTrue(devices.EnumerateArray().All(d => d.GetProperty("creates").GetInt32() == 0));
    }
}
