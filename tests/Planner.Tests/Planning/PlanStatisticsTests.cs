using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Tests.Fakes;

namespace VfioMigration.Planner.Tests.Planning;

/// <summary>
/// A plan's statistics count every libvirt call and every sysfs read (reads, listings, links) the
/// planner made on both hosts: exactly what the fake hosts recorded (docs/testing.md, "Mutation testing").
/// </summary>
[TestClass]
public sealed class PlanStatisticsTests
{
    private static Scenario Build(string what)
    {
        var scenario = new Scenario();
        switch (what)
        {
            case "libvirt's parent":
                scenario.Guest("nvidia-63");
                scenario.DestinationType();
                break;
            case "a sysfs-only parent":
                var sourceType = scenario.Source.AddVirtualParent("mtty").AddType("mtty-2", deviceVersion: new FakeVersion(Scenario.Version));
                scenario.Source.DefineGuest("vm1", FakeHost.MdevDevice(0, scenario.Source.AddMdev(sourceType)));
                scenario.Destination.AddVirtualParent("mtty").AddType("mtty-2", typeVersion: new FakeVersion(Scenario.Version), deviceVersion: new FakeVersion(Scenario.Version));
                break;
            case "a VF vGPU configured on the destination":
                var gpu = new FakeGpu(PciAddress.Parse("0000:81:00.0"), new FakeVgpuType(1157, "NVIDIA L40S-24C", 2));
                var sourceVf = scenario.Source.AddVf(new FakeGpu(PciAddress.Parse("0000:17:00.0"), gpu.Types[0]), "0000:17:00.4", type: 1157, version: new FakeVersion(Scenario.Version));
                scenario.Source.DefineGuest("vm1", FakeHost.PciDevice(0, sourceVf));
                scenario.Destination.AddVf(gpu, "0000:81:00.4", version: new FakeVersion(Scenario.Version));
                scenario.Destination.AddVf(gpu, "0000:81:00.5", version: new FakeVersion(Scenario.Version));
                break;
            default:
                scenario.PciGuest("0000:3b:00.1", "0x15b3", "0x101e", "vfio-pci:mlx5", "mlx5-v7");
                scenario.Destination.AddPci("0000:5e:00.1", "0x15b3", "0x101e", "vfio-pci:mlx5-legacy", new FakeVersion("mlx5-v7"));
                scenario.Destination.AddPci("0000:5e:00.2", "0x15b3", "0x101e", "vfio-pci:mlx5", new FakeVersion("mlx5-v7"));
                break;
        }

        return scenario;
    }

    [TestMethod]
    [DataRow("libvirt's parent")]
    [DataRow("a sysfs-only parent")]
    [DataRow("PCI functions whose migration type is read")]
    [DataRow("a VF vGPU configured on the destination")]
    public async Task Statistics_CountEveryLibvirtCallAndSysfsRead_OnBothHosts(string what)
    {
        var scenario = Build(what);

        await using var result = await scenario.PlanAsync();

        Assert.IsTrue(result.Succeeded, $"{what}: {string.Join("\n", result.Best.Reasons)}");
        var operations = scenario.Source.Operations.Concat(scenario.Destination.Operations).ToList();
        var sysfsReads = operations.Count(o => o.StartsWith("read ", StringComparison.Ordinal) || o.StartsWith("list ", StringComparison.Ordinal) || o.StartsWith("readlink ", StringComparison.Ordinal));
        Assert.AreEqual(sysfsReads, result.Best.Statistics.SysfsReads, what);
        Assert.AreEqual(scenario.Source.Hypervisor.LibvirtCalls + scenario.Destination.Hypervisor.LibvirtCalls, result.Best.Statistics.LibvirtCalls, what);
        Assert.DoesNotContain("list bus/pci/devices", operations, "the default inventory is libvirt's: sysfs's PCI functions are not listed");
    }
}
