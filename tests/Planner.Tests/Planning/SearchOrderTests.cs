using VfioMigration.Planner.Tests.Fakes;

namespace VfioMigration.Planner.Tests.Planning;

/// <summary>
/// The assignment search's order and backtracking where the outcome shows them: opt-in kinds after
/// the creates, a parent's type given back when the search backs out of a create, the type a
/// reused PCI function is planned as, and a search that runs out of steps (found missing by
/// mutation testing, docs/testing.md).
/// </summary>
[TestClass]
public sealed class SearchOrderTests
{
    [TestMethod]
    public async Task CrossTypeIdleMdev_IsTriedAfterACreateTheTypeRefuses()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63");
        scenario.DestinationType(id: "nvidia-63").TypeVersion = new FakeVersion("nvidia-vgpu-v2");
        var other = scenario.DestinationType(id: "nvidia-64", max: 1);
        var idle = scenario.Destination.AddMdev(other, new FakeVersion("nvidia-vgpu-v4", Scenario.Version));

        await using var result = await scenario.PlanAsync(new PlanOptions { AllowCrossType = true });

        Assert.IsTrue(result.Succeeded, string.Join("; ", result.Best.Reasons));
        var device = result.Best.Devices.Single();
        Assert.AreEqual(idle.Uuid.Value, device.Target.Id);
        Assert.AreEqual(DeviceAction.Reuse, device.Action);
        Assert.AreEqual(Verification.Verified, device.Verification);
        Assert.AreEqual(RejectionCode.VersionRejected, result.Best.Rejections.Single().Code);
    }

    [TestMethod]
    public async Task BackingOutOfACreate_GivesTheParentsTypeBack_SoTheNextDeviceGetsThatParent()
    {
        // vm1: nvidia-63 then nvidia-64. Packing puts nvidia-63 on 41 (fewer instances left) first;
        // 41 is the only parent of nvidia-64, so the search backs out and moves nvidia-63 to 42,
        // without mixing types on a parent.
        var scenario = new Scenario();
        scenario.Guest("nvidia-63", "nvidia-64");
        scenario.DestinationType(parent: "0000:41:00.0", id: "nvidia-63", max: 1);
        scenario.DestinationType(parent: "0000:41:00.0", id: "nvidia-64", max: 1);
        scenario.DestinationType(parent: "0000:42:00.0", id: "nvidia-63", max: 4);

        await using var result = await scenario.PlanAsync();

        Assert.IsTrue(result.Succeeded, string.Join("; ", result.Best.Reasons));
        CollectionAssert.AreEqual(new[] { "pci_0000_42_00_0", "pci_0000_41_00_0" }, result.Best.Devices.Select(d => d.Target.Parent).ToArray());
        CollectionAssert.AreEqual(new[] { "nvidia-63", "nvidia-64" }, result.Best.Devices.Select(d => d.Target.Type).ToArray());
    }

    [TestMethod]
    public async Task ReusedPciFunctionOfTheSameMigrationType_IsPlannedAsTheSourcesType_NotItsOwnIds()
    {
        var scenario = new Scenario();
        scenario.PciGuest("0000:02:00.0", "0x10de", "0x2330", "nvidia-mig-1", "nvidia-mig-v1");
        var target = scenario.Destination.AddPci("0000:81:00.0", "0x10de", "0x2331", "nvidia-mig-1", new FakeVersion("nvidia-mig-v1"));

        await using var result = await scenario.PlanAsync();

        Assert.IsTrue(result.Succeeded, string.Join("; ", result.Best.Reasons));
        var device = result.Best.Devices.Single();
        Assert.AreEqual(target.Address.ToString(), device.Target.Id);
        Assert.AreEqual("nvidia-mig-1", device.Target.Type);
        Assert.AreEqual(Verification.Verified, device.Verification);
    }

    [TestMethod]
    public async Task SearchThatNeedsExactlyMaxSearchSteps_Succeeds()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63", "nvidia-63");
        scenario.DestinationType(max: 4);

        await using var result = await scenario.PlanAsync(new PlanOptions { MaxSearchSteps = 2 });

        Assert.IsTrue(result.Succeeded, "one step per device: the limit is not exceeded");
    }

    [TestMethod]
    public async Task SearchThatRunsOutOfSteps_SaysSo_AndNamesTheFirstDeviceWithItsOpenCandidate()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63", "nvidia-63");
        scenario.DestinationType(max: 4);

        await using var result = await scenario.PlanAsync(new PlanOptions { MaxSearchSteps = 1 });

        Assert.IsFalse(result.Succeeded);
        var first = result.Best.Rejections.Single().Source;
        var notPlaced = $"The mdev {first} (type nvidia-63) could not be placed on dest: its 1 remaining candidate(s) are needed by other devices of this guest, or their parents lack the capacity for all of them.";
        CollectionAssert.AreEqual(new[] { "The assignment search gave up after 1 steps (PlanOptions.MaxSearchSteps).", notPlaced }, result.Best.Reasons.ToArray());
        Assert.AreEqual(new Rejection(first, null, RejectionCode.NotPlaced, notPlaced), result.Best.Rejections.Single());
        Assert.IsEmpty(result.Best.Devices, "no device is planned, and nothing was created");
        Assert.IsEmpty(scenario.Destination.Mdevs);
    }
}
