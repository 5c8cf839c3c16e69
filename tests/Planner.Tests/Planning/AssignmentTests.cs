using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Tests.Fakes;

namespace VfioMigration.Planner.Tests.Planning;

/// <summary>Guests with several devices: distinct targets, capacity, placement, and a clear failure.</summary>
[TestClass]
public sealed class AssignmentTests
{
    [TestMethod]
    public async Task SeveralDevices_GetDistinctTargets_ReusingBeforeCreating()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63", "nvidia-63", "nvidia-63");
        var type = scenario.DestinationType(max: 4);
        var idle = scenario.Destination.AddMdev(type);

        await using var result = await scenario.PlanAsync();

        Assert.IsTrue(result.Succeeded);
        var targets = result.Best.Devices.Select(d => d.Target.Id).ToList();
        Assert.HasCount(3, targets.Distinct());
        Assert.AreEqual(idle.Uuid.Value, result.Best.Devices[0].Target.Id);
        Assert.AreEqual(DeviceAction.Reuse, result.Best.Devices[0].Action);
        Assert.HasCount(2, result.Best.Devices.Where(d => d.Action == DeviceAction.Create));
    }

    [TestMethod]
    public async Task ReusedIdleMdev_IsTheUuidTheDestinationXmlNames()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63");
        var idle = scenario.Destination.AddMdev(scenario.DestinationType());

        await using var result = await scenario.PlanAsync();

        var device = result.Best.Devices.Single();
        Assert.AreEqual(DeviceAction.Reuse, device.Action);
        Assert.AreEqual(idle.Uuid.Value, device.Target.Id);
        Assert.AreEqual(
            scenario.Source.GuestXml["vm1"].Replace($"<address uuid='{device.Source.Id}'/>", $"<address uuid='{idle.Uuid.Value}'/>", StringComparison.Ordinal),
            result.Best.DestinationXml,
            "only the mdev's UUID changes, to the idle device's");
        Assert.IsFalse(result.Best.DestinationXml!.Contains(device.Source.Id, StringComparison.Ordinal));
    }

    [TestMethod]
    public async Task OneTypeAtATimeCard_NeverGetsTwoTypesFromOnePlan()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63", "nvidia-64");
        scenario.DestinationType(parent: "0000:41:00.0", id: "nvidia-63", oneTypeAtATime: true);
        scenario.DestinationType(parent: "0000:41:00.0", id: "nvidia-64", oneTypeAtATime: true);
        scenario.DestinationType(parent: "0000:42:00.0", id: "nvidia-64");

        await using var result = await scenario.PlanAsync();

        Assert.IsTrue(result.Succeeded, string.Join("\n", result.Best.Reasons));
        Assert.AreEqual("pci_0000_41_00_0", result.Best.Devices[0].Target.Parent);
        Assert.AreEqual("pci_0000_42_00_0", result.Best.Devices[1].Target.Parent);
        Assert.IsFalse(scenario.Destination.Writes().Any(w => w.Contains("0000:41:00.0/mdev_supported_types/nvidia-64/create", StringComparison.Ordinal)));
    }

    [TestMethod]
    public async Task APoolThatMixesTypes_TakesTwoTypesOnOneParent_WhenNoOtherParentCan()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63", "nvidia-64");
        scenario.DestinationType(parent: "0000:41:00.0", id: "nvidia-63");
        scenario.DestinationType(parent: "0000:41:00.0", id: "nvidia-64");

        await using var result = await scenario.PlanAsync();

        Assert.IsTrue(result.Succeeded, string.Join("\n", result.Best.Reasons));
        Assert.IsTrue(result.Best.Devices.All(d => d.Target.Parent == "pci_0000_41_00_0"));
    }

    [TestMethod]
    public async Task ACardThatAllowsOneTypeAtATime_IsNeverGivenASecondType()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63", "nvidia-64");
        scenario.DestinationType(parent: "0000:41:00.0", id: "nvidia-63", oneTypeAtATime: true);
        scenario.DestinationType(parent: "0000:41:00.0", id: "nvidia-64", oneTypeAtATime: true);
        var before = scenario.Destination.Snapshot();

        await using var result = await scenario.PlanAsync();

        Assert.IsFalse(result.Succeeded);
        Assert.IsTrue(result.Best.Rejections.Any(r => r.Code == RejectionCode.NoCapacity), string.Join("\n", result.Best.Rejections));
        Assert.AreEqual(before, scenario.Destination.Snapshot());
    }

    [TestMethod]
    public async Task NotEnoughCapacity_FailsAndSaysWhichDeviceCouldNotBePlaced()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63", "nvidia-63");
        scenario.DestinationType(max: 1);

        await using var result = await scenario.PlanAsync();

        Assert.IsFalse(result.Succeeded);
        var notPlaced = result.Best.Rejections.Single(r => r.Code == RejectionCode.NotPlaced);
        var second = scenario.Source.Domains.Single().HostDevices[1] as MdevHostDevice;
        Assert.AreEqual(second!.Uuid.Value, notPlaced.Source);
        StringAssert.Contains(notPlaced.Message, "needed by other devices");
        Assert.HasCount(1, result.Best.Reasons);
        Assert.IsNull(result.Best.DestinationXml);
        Assert.AreEqual(0, scenario.Destination.Mdevs.Count, "nothing the failed plan made is left");
    }

    [TestMethod]
    public async Task Search_Backtracks_WhenTheFirstChoiceStarvesALaterDevice()
    {
        var scenario = new Scenario();
        var typeA = scenario.SourceType("nvidia-63", version: "vA");
        var typeB = scenario.SourceType("nvidia-64", version: "vB");
        scenario.Source.DefineGuest("vm1", FakeHost.MdevDevice(0, scenario.Source.AddMdev(typeA)), FakeHost.MdevDevice(1, scenario.Source.AddMdev(typeB)));
        var destination = scenario.Destination.AddParent("0000:41:00.0").AddType("nvidia-63", max: 0);
        var both = scenario.Destination.AddMdev(destination, new FakeVersion("x", "vA", "vB"));
        var onlyA = scenario.Destination.AddMdev(destination, new FakeVersion("vA"));

        await using var result = await scenario.PlanAsync(new PlanOptions { AllowCrossType = true });

        Assert.IsTrue(result.Succeeded, string.Join("\n", result.Best.Reasons));
        Assert.AreEqual(onlyA.Uuid.Value, result.Best.Devices[0].Target.Id);
        Assert.AreEqual(both.Uuid.Value, result.Best.Devices[1].Target.Id);
    }

    [TestMethod]
    public async Task Pack_FillsOneParent_Spread_UsesMany()
    {
        static Scenario Build()
        {
            var scenario = new Scenario();
            scenario.Guest("nvidia-63", "nvidia-63");
            scenario.DestinationType(parent: "0000:41:00.0", max: 4);
            scenario.DestinationType(parent: "0000:42:00.0", max: 4);
            return scenario;
        }

        var packed = Build();
        await using (var result = await packed.PlanAsync(new PlanOptions { Placement = PlacementPreference.Pack }))
        {
            Assert.AreEqual(1, result.Best.ParentsTouched);
        }

        var spread = Build();
        await using (var result = await spread.PlanAsync(new PlanOptions { Placement = PlacementPreference.Spread }))
        {
            Assert.AreEqual(2, result.Best.ParentsTouched);
        }
    }

    [TestMethod]
    [DataRow(PlacementPreference.Pack, "pci_0000_41_00_0")]
    [DataRow(PlacementPreference.Spread, "pci_0000_42_00_0")]
    public async Task Spread_PrefersTheParentWithTheMostLeft_PackTheLeast(PlacementPreference placement, string parent)
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63");
        scenario.DestinationType(parent: "0000:41:00.0", max: 2);
        scenario.DestinationType(parent: "0000:42:00.0", max: 4);

        await using var result = await scenario.PlanAsync(new PlanOptions { Placement = placement });

        Assert.AreEqual(parent, result.Best.Devices.Single().Target.Parent);
    }

    [TestMethod]
    public async Task Spread_PutsTheNextDeviceOnAnUnusedParent_EvenWithFewerLeft()
    {
        // 41 has four instances, 42 two: the first device goes to 41 (most left), the second to 42,
        // unused so far, although 41 still has three left.
        var scenario = new Scenario();
        scenario.Guest("nvidia-63", "nvidia-63");
        scenario.DestinationType(parent: "0000:41:00.0", max: 4);
        scenario.DestinationType(parent: "0000:42:00.0", max: 2);

        await using var result = await scenario.PlanAsync(new PlanOptions { Placement = PlacementPreference.Spread });

        CollectionAssert.AreEqual(new[] { "pci_0000_41_00_0", "pci_0000_42_00_0" }, result.Best.Devices.Select(d => d.Target.Parent).ToArray());
        CollectionAssert.AreEqual(result.Best.Devices.Select(d => d.Target.Id).ToArray(), result.Best.Created.Select(c => c.Uuid.Value).ToArray(), "the created devices are listed in the order their creates were scheduled: device order");
    }

    [TestMethod]
    public async Task ReusedIdleMdevs_StayClaimedWhileThePlanIsHeld()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63", "nvidia-63");
        var type = scenario.DestinationType(max: 2);
        scenario.Destination.AddMdev(type);
        scenario.Destination.AddMdev(type);

        await using var result = await scenario.PlanAsync();

        Assert.IsTrue(result.Best.Devices.All(d => d.Action == DeviceAction.Reuse));
        Assert.AreEqual(2, scenario.Claims.Count, "both reused devices are claimed for the plan");
    }

    [TestMethod]
    [DataRow(PlacementPreference.Pack)]
    [DataRow(PlacementPreference.Spread)]
    public async Task ParentsWithTheSameRoomLeft_AreTakenInNameOrder(PlacementPreference placement)
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63");
        scenario.DestinationType(parent: "0000:42:00.0", max: 4);
        scenario.DestinationType(parent: "0000:41:00.0", max: 4);

        await using var result = await scenario.PlanAsync(new PlanOptions { Placement = placement });

        Assert.AreEqual("pci_0000_41_00_0", result.Best.Devices.Single().Target.Parent);
    }

    [TestMethod]
    public async Task Pack_PrefersTheFullerParent()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63");
        scenario.DestinationType(parent: "0000:41:00.0", max: 8);
        var fuller = scenario.DestinationType(parent: "0000:42:00.0", max: 8);
        var busy = scenario.Destination.AddMdev(fuller);
        scenario.Destination.DefineGuest("other", FakeHost.MdevDevice(0, busy));

        await using var result = await scenario.PlanAsync();

        Assert.AreEqual("pci_0000_42_00_0", result.Best.Devices.Single().Target.Parent);
    }

    [TestMethod]
    public async Task UnsupportedHostDevice_FailsThePlanWithTheReason()
    {
        var scenario = new Scenario();
        var mdev = scenario.Source.AddMdev(scenario.SourceType());
        scenario.Source.DefineGuest("vm1", FakeHost.MdevDevice(0, mdev), new UnsupportedHostDevice(1, null, null, "hostdev type='usb'", "USB devices cannot be migrated"));
        scenario.DestinationType();

        await using var result = await scenario.PlanAsync();

        Assert.IsFalse(result.Succeeded);
        var rejection = result.Best.Rejections.Single(r => r.Code == RejectionCode.UnsupportedDevice);
        StringAssert.Contains(rejection.Message, "usb");
        Assert.IsEmpty(scenario.Destination.Operations);
    }
}
