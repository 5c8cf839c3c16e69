using VfioMigration.Planner.Tests.Fakes;

namespace VfioMigration.Planner.Tests.Planning;

/// <summary>Rule 0 and the other cheap facts: what they rule out is never probed.</summary>
[TestClass]
public sealed class CandidateFilterTests
{
    [TestMethod]
    public async Task OtherTypeOnAParent_IsATypeMismatch_AndIsNeverProbed()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63");
        scenario.DestinationType(parent: "0000:41:00.0", id: "nvidia-64");
        scenario.DestinationType(parent: "0000:42:00.0", id: "nvidia-63");

        await using var result = await scenario.PlanAsync();

        Assert.IsTrue(result.Succeeded);
        Assert.AreEqual("pci_0000_42_00_0", result.Best.Devices[0].Target.Parent);
        var mismatch = result.Best.Rejections.Single(r => r.Code == RejectionCode.TypeMismatch);
        Assert.AreEqual("pci_0000_41_00_0", mismatch.Candidate);
        StringAssert.Contains(mismatch.Message, "nvidia-63");
        Assert.IsEmpty(scenario.DestinationWrites("0000:41:00.0"), "nothing is written to a parent that does not offer the type");
    }

    [TestMethod]
    public async Task SameTypeIdWithAnotherDeviceApi_IsATypeMismatch()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63");
        scenario.DestinationType(id: "nvidia-63", api: "vfio-ccw");

        await using var result = await scenario.PlanAsync();

        Assert.IsFalse(result.Succeeded);
        var mismatch = result.Best.Rejections.First(r => r.Code == RejectionCode.TypeMismatch);
        StringAssert.Contains(mismatch.Message, "vfio-ccw");
        Assert.IsEmpty(scenario.Destination.Writes());
    }

    [TestMethod]
    public async Task MdevUsedByADefinedGuest_IsInUse_AndIsNeverProbed()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63");
        var type = scenario.DestinationType(max: 1);
        var used = scenario.Destination.AddMdev(type);
        scenario.Destination.DefineGuest("other-vm", FakeHost.MdevDevice(0, used));

        await using var result = await scenario.PlanAsync();

        Assert.IsFalse(result.Succeeded);
        var inUse = result.Best.Rejections.Single(r => r.Code == RejectionCode.InUse);
        Assert.AreEqual(used.Uuid.Value, inUse.Candidate);
        StringAssert.Contains(inUse.Message, "other-vm");
        Assert.IsEmpty(scenario.DestinationWrites(used.Uuid.Value));
        Assert.IsTrue(result.Best.Rejections.Any(r => r.Code == RejectionCode.NoCapacity), "the parent's only instance is taken");
        Assert.IsEmpty(scenario.DestinationWrites("migration_version"), "no capacity means no type-level probe either");
    }

    [TestMethod]
    public async Task TheGuestsOwnStaleDefinitionOnTheDestination_DoesNotHoldItsDevices_ButAnotherGuestOfTheSameName_Does()
    {
        // After a --persistent migration back, the guest's old definition (same UUID, shut off)
        // still names the mdev it used there: it is this guest's own, so the device is free for it.
        var own = new Scenario();
        var uuid = own.Guest("nvidia-63");
        var type = own.DestinationType(max: 1);
        var former = own.Destination.AddMdev(type);
        own.Destination.DefineGuest("vm1", uuid, FakeHost.MdevDevice(0, former));

        await using var result = await own.PlanAsync();

        Assert.IsTrue(result.Succeeded, string.Join("; ", result.Best.Reasons));
        var planned = result.Best.Devices.Single();
        Assert.AreEqual(DeviceAction.Reuse, planned.Action);
        Assert.AreEqual(former.Uuid.Value, planned.Target.Id);

        var namesake = new Scenario();
        namesake.Guest("nvidia-63");
        var taken = namesake.Destination.AddMdev(namesake.DestinationType(max: 1));
        namesake.Destination.DefineGuest("vm1", "00000000-0000-4000-8000-0000000000ff", FakeHost.MdevDevice(0, taken));

        await using var refused = await namesake.PlanAsync();

        Assert.IsFalse(refused.Succeeded);
        Assert.AreEqual(taken.Uuid.Value, refused.Best.Rejections.Single(r => r.Code == RejectionCode.InUse).Candidate);
    }

    [TestMethod]
    public async Task IdleMdev_IsReusedBeforeAnythingIsCreated()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63");
        var type = scenario.DestinationType();
        var idle = scenario.Destination.AddMdev(type);

        await using var result = await scenario.PlanAsync();

        var device = result.Best.Devices.Single();
        Assert.AreEqual(DeviceAction.Reuse, device.Action);
        Assert.AreEqual(idle.Uuid.Value, device.Target.Id);
        Assert.AreEqual(Verification.Verified, device.Verification);
        Assert.AreEqual(ProbePoint.MdevDevice, device.DecidedBy!.Point);
        Assert.IsEmpty(scenario.DestinationWrites("/create"));
        Assert.IsEmpty(scenario.DestinationWrites("mdev_supported_types"), "the type-level probe is not needed once an idle device accepted");
    }
}
