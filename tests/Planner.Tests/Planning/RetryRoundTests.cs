using VfioMigration.Planner.Sysfs;
using VfioMigration.Planner.Tests.Fakes;

namespace VfioMigration.Planner.Tests.Planning;

/// <summary>
/// The search that runs again after a create failed: the devices made stay pinned, count against
/// their (parent, type) and hold their parent's type, and the failed slot is closed (found missing
/// by mutation testing, docs/testing.md).
/// </summary>
[TestClass]
public sealed class RetryRoundTests
{
    private const string Create41 = "class/mdev_bus/0000:41:00.0/mdev_supported_types/nvidia-63/create";
    private const string Create42 = "class/mdev_bus/0000:42:00.0/mdev_supported_types/nvidia-63/create";

    /// <summary>vm1: two nvidia-63 mdevs; 0000:41:00.0 can make <paramref name="room41"/>, 0000:42:00.0 one, whose create fails with EIO.</summary>
    private static Scenario FailingSecondParent(int room41)
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63", "nvidia-63");
        scenario.DestinationType(parent: "0000:41:00.0", max: room41);
        scenario.DestinationType(parent: "0000:42:00.0", max: 1);
        scenario.Destination.FileSystem.FailingWrites[Create42] = Errno.EIO;
        return scenario;
    }

    [TestMethod]
    public async Task AfterACreateFailed_TheNextSearchGivesTheDeviceTheRoomLeftBesideTheDeviceMade()
    {
        // Packing puts device 0 on 42 (one left, fewer than 41's two) and device 1 on 41; 42's create
        // fails, so the next search has device 1 made on 41 and one instance left there for device 0.
        var scenario = FailingSecondParent(room41: 2);

        await using var result = await scenario.PlanAsync();

        Assert.IsTrue(result.Succeeded, string.Join("\n", result.Best.Reasons));
        CollectionAssert.AreEqual(new[] { "pci_0000_41_00_0", "pci_0000_41_00_0" }, result.Best.Devices.Select(d => d.Target.Parent).ToArray());
        Assert.HasCount(2, scenario.DestinationWrites(Create41));
        Assert.HasCount(1, scenario.DestinationWrites(Create42), "a failed slot is closed for the plan");
        Assert.AreEqual(2, scenario.Claims.Count, "the device made in the first round stays claimed through the second search");
        var failure = result.Best.Rejections.Single();
        Assert.AreEqual((scenario.Source.Mdevs[0].Uuid.Value, (string?)"pci_0000_42_00_0/nvidia-63", RejectionCode.CreateFailed), (failure.Source, failure.Candidate, failure.Code));
    }

    [TestMethod]
    public async Task AfterACreateFailed_AParentFilledByTheDeviceMade_IsNotTriedAgain()
    {
        // 41 and 42 have one instance each: device 0 is made on 41, device 1's create on 42 fails, and
        // 41 has no room left for device 1 (the device made counts against it).
        var scenario = FailingSecondParent(room41: 1);
        var before = scenario.Destination.Snapshot();

        await using var result = await scenario.PlanAsync();

        Assert.IsFalse(result.Succeeded);
        Assert.HasCount(1, scenario.DestinationWrites(Create41), "41 is full with device 0's mdev: no create is tried there for device 1");
        Assert.HasCount(1, scenario.DestinationWrites(Create42));
        var second = scenario.Source.Mdevs[1].Uuid.Value;
        CollectionAssert.AreEqual(
            new[] { $"The mdev {second} (type nvidia-63) could not be placed on dest: its 1 remaining candidate(s) are needed by other devices of this guest, or their parents lack the capacity for all of them." },
            result.Best.Reasons.ToArray());
        CollectionAssert.AreEqual(new[] { RejectionCode.CreateFailed, RejectionCode.NotPlaced }, result.Best.Rejections.Select(r => r.Code).ToArray());
        Assert.AreEqual(before, scenario.Destination.Snapshot());
    }

    [TestMethod]
    public async Task AfterACreateFailed_TheDeviceMadeKeepsItsParentsType_SoTheNextSearchGoesElsewhere()
    {
        // vm1: nvidia-63 then nvidia-64. 41 offers both types, 42 and 43 nvidia-64. Device 0 is made on
        // 41 (nvidia-63); device 1 goes to 42 (fewest left), whose create fails. The next search, which
        // does not mix types on a parent, must not put nvidia-64 on 41, although 41 has fewer left than 43.
        var scenario = new Scenario();
        scenario.Guest("nvidia-63", "nvidia-64");
        scenario.DestinationType(parent: "0000:41:00.0", id: "nvidia-63");
        scenario.DestinationType(parent: "0000:41:00.0", id: "nvidia-64", max: 1);
        scenario.DestinationType(parent: "0000:42:00.0", id: "nvidia-64", max: 1);
        scenario.DestinationType(parent: "0000:43:00.0", id: "nvidia-64");
        scenario.Destination.FileSystem.FailingWrites["class/mdev_bus/0000:42:00.0/mdev_supported_types/nvidia-64/create"] = Errno.EIO;

        await using var result = await scenario.PlanAsync();

        Assert.IsTrue(result.Succeeded, string.Join("\n", result.Best.Reasons));
        CollectionAssert.AreEqual(new[] { "pci_0000_41_00_0", "pci_0000_43_00_0" }, result.Best.Devices.Select(d => d.Target.Parent).ToArray());
        Assert.IsEmpty(scenario.DestinationWrites("0000:41:00.0/mdev_supported_types/nvidia-64/create"));
    }
}
