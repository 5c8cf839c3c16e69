using VfioMigration.Planner.Tests.Fakes;

namespace VfioMigration.Planner.Tests.Planning;

/// <summary>
/// A guest with a PCI function passed through whole and an mdev, where the destination function that
/// could take the first is also a parent that could make the second: one plan never does both on it
/// (found missing by mutation testing, docs/testing.md).
/// </summary>
[TestClass]
public sealed class WholeFunctionTests
{
    private const string Shared = "0000:41:00.0";

    /// <summary>
    /// vm1 owns a function (vendor 0x10de) and an nvidia-63 mdev, in the order given. The destination
    /// has functions 0000:41:00.0 (also a parent of nvidia-63) and 0000:43:00.0, and a second parent 0000:42:00.0.
    /// </summary>
    private static Scenario Build(bool functionFirst)
    {
        var scenario = new Scenario();
        var pci = scenario.Source.AddPci("0000:02:00.0", "0x10de", "0x2330", "nvidia-mig-1", new FakeVersion("mig-v1"));
        var mdev = scenario.Source.AddMdev(scenario.SourceType());
        scenario.Source.DefineGuest("vm1", functionFirst
            ? [FakeHost.PciDevice(0, pci), FakeHost.MdevDevice(1, mdev)]
            : [FakeHost.MdevDevice(0, mdev), FakeHost.PciDevice(1, pci)]);
        scenario.Destination.AddPci(Shared, "0x10de", "0x2330", "nvidia-mig-1", new FakeVersion("mig-v1"));
        scenario.Destination.AddPci("0000:43:00.0", "0x10de", "0x2330", "nvidia-mig-1", new FakeVersion("mig-v1"));
        scenario.DestinationType(parent: Shared);
        scenario.DestinationType(parent: "0000:42:00.0");
        return scenario;
    }

    [TestMethod]
    public async Task AFunctionThePlanPassesThroughWhole_GetsNoMdev()
    {
        var scenario = Build(functionFirst: true);

        await using var result = await scenario.PlanAsync();

        Assert.IsTrue(result.Succeeded, string.Join("\n", result.Best.Reasons));
        CollectionAssert.AreEqual(new[] { Shared, "pci_0000_42_00_0" }, result.Best.Devices.Select(d => d.Target.Id == Shared ? Shared : d.Target.Parent).ToArray());
        Assert.IsEmpty(scenario.DestinationWrites($"{Shared}/mdev_supported_types"), "nothing is written to the function the guest takes whole");
    }

    [TestMethod]
    public async Task AFunctionThePlanMakesAnMdevOn_IsNotPassedThroughWhole()
    {
        var scenario = Build(functionFirst: false);

        await using var result = await scenario.PlanAsync();

        Assert.IsTrue(result.Succeeded, string.Join("\n", result.Best.Reasons));
        Assert.AreEqual("pci_0000_41_00_0", result.Best.Devices[0].Target.Parent);
        Assert.AreEqual("0000:43:00.0", result.Best.Devices[1].Target.Id);
        Assert.IsEmpty(scenario.DestinationWrites($"bus/pci/devices/{Shared}/"), "the function that gets an mdev is not probed as a whole target");
    }
}
