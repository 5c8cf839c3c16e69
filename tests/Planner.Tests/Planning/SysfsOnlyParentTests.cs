using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using VfioMigration.Planner.Sysfs;
using VfioMigration.Planner.Tests.Fakes;

namespace VfioMigration.Planner.Tests.Planning;

/// <summary>
/// Parents libvirt does not list (a virtual parent such as mtty) found under sysfs
/// <c>class/mdev_bus</c>: their types come from sysfs, creation there goes through sysfs, and the
/// plan and the log say where the parent was found.
/// </summary>
[TestClass]
public sealed class SysfsOnlyParentTests
{
    private const string Mtty = "mtty";
    private const string MttyType = "mtty-2";
    private const string FoundInSysfs = "found in sysfs (class/mdev_bus), not listed by libvirt";

    private readonly FakeLogger<MigrationPlanner> _logger = new();

    /// <summary>Guest vm1 on the source owns one mtty-2 mdev of a virtual parent; the destination has a virtual mtty with <paramref name="max"/> mtty-2 instances.</summary>
    private static (Scenario Scenario, FakeType DestinationType) MttyOnBothSides(int max = 4)
    {
        var scenario = new Scenario();
        var sourceType = scenario.Source.AddVirtualParent(Mtty).AddType(MttyType, deviceVersion: new FakeVersion(Scenario.Version));
        scenario.Source.DefineGuest("vm1", FakeHost.MdevDevice(0, scenario.Source.AddMdev(sourceType)));
        var destinationType = scenario.Destination.AddVirtualParent(Mtty).AddType(MttyType, max: max, typeVersion: new FakeVersion(Scenario.Version), deviceVersion: new FakeVersion(Scenario.Version));
        return (scenario, destinationType);
    }

    private Task<PlanResult> PlanAsync(Scenario scenario, PlanOptions? options = null) =>
        new MigrationPlanner(logger: _logger, claims: scenario.Claims).PlanAsync(scenario.Request(options));

    private IReadOnlyList<FakeLogRecord> Logged(int eventId) =>
        [.. _logger.Collector.GetSnapshot().Where(record => record.Id.Id == eventId)];

    [TestMethod]
    public async Task VirtualParent_LibvirtCanCreateElsewhere_CreatesThroughSysfs_AndThePlanSaysWhereTheParentWasFound()
    {
        var (scenario, _) = MttyOnBothSides();
        scenario.Destination.Hypervisor.Create = CreateBehaviour.Works;

        var result = await PlanAsync(scenario);
        var device = result.Best.Devices.Single();
        var created = result.Best.Created.Single();
        await result.DisposeAsync();

        Assert.IsTrue(result.Succeeded, string.Join(" | ", result.Best.Reasons));
        Assert.AreEqual(DeviceAction.Create, device.Action);
        Assert.AreEqual(Verification.Verified, device.Verification);
        Assert.AreEqual(Mtty, device.Target.Parent);
        Assert.AreEqual(MttyType, device.Target.Type);
        StringAssert.Contains(device.Note, FoundInSysfs);
        Assert.AreEqual(CreationMethod.Sysfs, created.Method);
        Assert.AreEqual(Mtty, created.Parent);
        Assert.IsFalse(scenario.Destination.Operations.Any(op => op.StartsWith("hv:CreateMdev", StringComparison.Ordinal)), "libvirt was asked to create on a parent it does not know");
        Assert.HasCount(1, scenario.DestinationWrites($"class/mdev_bus/{Mtty}/mdev_supported_types/{MttyType}/create"));
        Assert.HasCount(1, scenario.DestinationWrites($"bus/mdev/devices/{created.Uuid}/remove 1"));
        Assert.IsEmpty(scenario.Destination.Mdevs, "the released plan removed what it created");
        var found = Logged(1015).Single();
        Assert.AreEqual(LogLevel.Information, found.Level);
        StringAssert.Contains(found.Message, $"Parent {Mtty} on dest was found in sysfs");
    }

    [TestMethod]
    public async Task VirtualParents_TypesComeFromSysfs_WithTheirCapacity()
    {
        var (scenario, _) = MttyOnBothSides(max: 1);
        scenario.Destination.AddVirtualParent("mdpy").AddType("mdpy-hd", max: 4);
        var source = scenario.Source.Mdevs.Single();
        scenario.Source.DefineGuest("vm2", FakeHost.MdevDevice(0, source), FakeHost.MdevDevice(1, scenario.Source.AddMdev(source.Type)));

        await using var result = await new MigrationPlanner(logger: _logger, claims: scenario.Claims).PlanAsync(
            new PlanRequest(scenario.Source.ToHost(), DomainSelector.Parse("vm2"), [scenario.Destination.ToHost()], new PlanOptions()));

        Assert.IsFalse(result.Succeeded, "mtty-2 has one instance (available_instances from sysfs) and the guest needs two");
        Assert.AreEqual(0, result.Best.Statistics.Creates, "the search saw the capacity before creating anything");
        Assert.IsTrue(result.Best.Rejections.Any(r => r.Code == RejectionCode.NotPlaced), string.Join(" | ", result.Best.Rejections));
        var mismatch = result.Best.Rejections.First(r => r.Code == RejectionCode.TypeMismatch);
        Assert.AreEqual("mdpy", mismatch.Candidate);
        StringAssert.Contains(mismatch.Message, "it offers mdpy-hd");
        Assert.HasCount(2, Logged(1015));
    }

    [TestMethod]
    public async Task IdleMdevOfAVirtualParent_LibvirtListsItUnderComputer_IsReusedOnItsSysfsParent()
    {
        var (scenario, type) = MttyOnBothSides();
        var idle = scenario.Destination.AddMdev(type);

        await using var result = await PlanAsync(scenario);

        Assert.IsTrue(result.Succeeded, string.Join(" | ", result.Best.Reasons));
        var device = result.Best.Devices.Single();
        Assert.AreEqual(DeviceAction.Reuse, device.Action);
        Assert.AreEqual(idle.Uuid.Value, device.Target.Id);
        Assert.AreEqual(Mtty, device.Target.Parent, "libvirt says computer; the kernel says mtty");
        StringAssert.Contains(device.Note, FoundInSysfs);
        Assert.AreEqual(0, result.Best.Statistics.Creates);
    }

    [TestMethod]
    public async Task MdevLibvirtDoesNotList_UsedByADefinedGuest_IsSeenInUse_AndItsCapacityIsTaken()
    {
        var (scenario, type) = MttyOnBothSides(max: 1);
        var used = scenario.Destination.AddMdev(type);
        scenario.Destination.Hypervisor.UnlistedMdevs.Add(used.Uuid);
        scenario.Destination.DefineGuest("other-vm", FakeHost.MdevDevice(0, used));

        await using var result = await PlanAsync(scenario);

        Assert.IsFalse(result.Succeeded);
        var inUse = result.Best.Rejections.Single(r => r.Code == RejectionCode.InUse);
        Assert.AreEqual(used.Uuid.Value, inUse.Candidate);
        StringAssert.Contains(inUse.Message, "other-vm");
        Assert.IsEmpty(scenario.DestinationWrites("/create"), "the only instance is taken");
    }

    [TestMethod]
    public async Task PreserveUuid_TheSourceUuidExistsUnlistedUnderAVirtualParent_ANewUuidIsUsed()
    {
        var (scenario, type) = MttyOnBothSides();
        var sourceUuid = scenario.Source.Mdevs.Single().Uuid;
        scenario.Destination.AddMdev(type, uuid: sourceUuid);
        scenario.Destination.Hypervisor.UnlistedMdevs.Add(sourceUuid);
        scenario.Destination.DefineGuest("other-vm", FakeHost.MdevDevice(0, scenario.Destination.Mdevs.Single()));

        await using var result = await PlanAsync(scenario, new PlanOptions { UuidStrategy = UuidStrategy.Preserve });

        Assert.IsTrue(result.Succeeded, string.Join(" | ", result.Best.Reasons));
        var device = result.Best.Devices.Single();
        Assert.AreEqual(DeviceAction.Create, device.Action);
        Assert.AreNotEqual(sourceUuid.Value, device.Target.Id);
        StringAssert.Contains(device.Note, $"the source UUID {sourceUuid} is taken");
    }

    [TestMethod]
    public async Task ParentLibvirtLists_IsNotReadAgainFromSysfs()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63");
        scenario.DestinationType();

        await using var result = await PlanAsync(scenario);

        Assert.IsTrue(result.Succeeded);
        Assert.IsNull(result.Best.Devices.Single().Note);
        Assert.AreEqual("pci_0000_41_00_0", result.Best.Devices.Single().Target.Parent);
        Assert.Contains("list class/mdev_bus", scenario.Destination.Operations);
        Assert.IsFalse(scenario.Destination.Operations.Any(op => op.StartsWith("list class/mdev_bus/", StringComparison.Ordinal)), string.Join("\n", scenario.Destination.Operations));
        Assert.IsEmpty(Logged(1015));
    }

    [TestMethod]
    public async Task NoMdevSupportLoaded_ListingFailsWithEnoent_IsNotAnError()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63");
        scenario.DestinationType();
        scenario.Destination.FileSystem.FailingLists["class/mdev_bus"] = Errno.ENOENT;

        await using var result = await PlanAsync(scenario);

        Assert.IsTrue(result.Succeeded);
        Assert.IsFalse(_logger.Collector.GetSnapshot().Any(record => record.Level >= LogLevel.Warning), "ENOENT means no mdev support, nothing to warn about");
    }

    [TestMethod]
    public async Task ListingFailsOtherwise_IsLogged_AndLibvirtsParentsStillServe()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63");
        scenario.DestinationType();
        scenario.Destination.FileSystem.FailingLists["class/mdev_bus"] = Errno.EACCES;

        await using var result = await PlanAsync(scenario);

        Assert.IsTrue(result.Succeeded);
        var warning = Logged(1017).Single();
        Assert.AreEqual(LogLevel.Warning, warning.Level);
        StringAssert.Contains(warning.Message, "class/mdev_bus");
        StringAssert.Contains(warning.Message, "EACCES");
    }

    [TestMethod]
    public async Task InvalidNamesInSysfsListings_AreSkippedWithOneWarningPerListing_AndNeverReachAPath()
    {
        var (scenario, _) = MttyOnBothSides();
        var sysfs = scenario.Destination.FileSystem;
        sysfs.ExtraEntries["class/mdev_bus"] = ["..", "bad parent"];
        sysfs.ExtraEntries[$"class/mdev_bus/{Mtty}/mdev_supported_types"] = ["mtty 3", ".hidden"];
        sysfs.ExtraEntries[$"class/mdev_bus/{Mtty}/mdev_supported_types/{MttyType}/devices"] = ["not-a-uuid"];

        await using var result = await PlanAsync(scenario);

        Assert.IsTrue(result.Succeeded, string.Join(" | ", result.Best.Reasons));
        Assert.AreEqual(Mtty, result.Best.Devices.Single().Target.Parent);
        var skipped = Logged(1018);
        Assert.HasCount(3, skipped, string.Join("\n", skipped.Select(r => r.Message)));
        StringAssert.Contains(skipped[0].Message, "Skipped 2 entries in class/mdev_bus on ");
        Assert.IsTrue(skipped.All(record => record.Level == LogLevel.Warning));
        foreach (var name in (string[])["bad parent", "mtty 3", ".hidden", "not-a-uuid"])
        {
            Assert.IsTrue(skipped.Any(record => record.Message.Contains(name, StringComparison.Ordinal)), $"no warning names '{name}'");
            Assert.IsFalse(scenario.Destination.Operations.Any(op => op.Contains(name, StringComparison.Ordinal)), $"'{name}' reached a path");
        }
    }

    [TestMethod]
    public async Task TwentyThousandInvalidParentNames_AreOneWarningThatCountsThem()
    {
        var (scenario, _) = MttyOnBothSides();
        scenario.Destination.FileSystem.ExtraEntries["class/mdev_bus"] = [.. Enumerable.Range(0, 20_000).Select(i => $"bad {i:D5}")];

        await using var result = await PlanAsync(scenario);

        Assert.IsTrue(result.Succeeded, string.Join(" | ", result.Best.Reasons));
        var warning = Logged(1018).Single();
        Assert.AreEqual("Skipped 20000 entries in class/mdev_bus on dest that are not a valid device name: 'bad 00000', 'bad 00001', 'bad 00002', ...", warning.Message);
    }

    [TestMethod]
    public async Task TypeWithoutADeviceApi_IsSkippedWithAWarning()
    {
        var (scenario, _) = MttyOnBothSides();
        scenario.Destination.Parents.Single().AddType("mtty-1", deviceApi: "");

        await using var result = await PlanAsync(scenario);

        Assert.IsTrue(result.Succeeded, string.Join(" | ", result.Best.Reasons));
        var skipped = Logged(1016).Single();
        StringAssert.Contains(skipped.Message, "mtty-1");
        StringAssert.Contains(skipped.Message, "device_api");
        StringAssert.Contains(Logged(1015).Single().Message, "1 type(s)");
    }

    [TestMethod]
    public async Task SourceMdevOfAVirtualParent_LibvirtListsNeitherParentNorMdev_TypeComesFromItsSysfsLink()
    {
        var (scenario, _) = MttyOnBothSides();
        var source = scenario.Source.Mdevs.Single();
        scenario.Source.Hypervisor.UnlistedMdevs.Add(source.Uuid);

        await using var result = await PlanAsync(scenario);

        Assert.IsTrue(result.Succeeded, string.Join(" | ", result.Best.Reasons));
        var device = result.Best.Devices.Single();
        Assert.AreEqual(MttyType, device.Source.Type);
        Assert.AreEqual("vfio-pci", device.Source.DeviceApi, "the device API comes from the guest's hostdev model when no parent describes the type");
        Assert.Contains($"readlink bus/mdev/devices/{source.Uuid}/mdev_type", scenario.Source.Operations);
    }

    [TestMethod]
    public async Task SourceMdevOfAVirtualParent_LibvirtListsItUnderComputer_TypeComesFromLibvirt()
    {
        var (scenario, _) = MttyOnBothSides();

        await using var result = await PlanAsync(scenario);

        Assert.IsTrue(result.Succeeded, string.Join(" | ", result.Best.Reasons));
        var device = result.Best.Devices.Single();
        Assert.AreEqual(MttyType, device.Source.Type);
        Assert.AreEqual("computer", device.Source.Parent);
        Assert.IsFalse(scenario.Source.Operations.Any(op => op.StartsWith("readlink", StringComparison.Ordinal)), "libvirt named the type; no sysfs link needed");
    }
}
