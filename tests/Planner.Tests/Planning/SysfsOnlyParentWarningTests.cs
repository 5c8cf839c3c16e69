using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Sysfs;
using VfioMigration.Planner.Tests.Fakes;

namespace VfioMigration.Planner.Tests.Planning;

/// <summary>
/// What a parent found only in sysfs (<see cref="SysfsOnlyParentTests"/>) makes of odd listings and
/// attributes, with the whole text of each warning: a type whose capacity cannot be read, a type
/// whose <c>devices/</c> cannot be listed, invalid entries (named up to three); and which of its idle mdevs comes first
/// (docs/testing.md, "Mutation testing").
/// </summary>
[TestClass]
public sealed class SysfsOnlyParentWarningTests
{
    private const string Type = "class/mdev_bus/mtty/mdev_supported_types/mtty-2";

    private readonly FakeLogger<MigrationPlanner> _logger = new();

    /// <summary>Guest vm1 owns an mtty-2 mdev of the source's virtual mtty; the destination has a virtual mtty offering mtty-2.</summary>
    private static (Scenario Scenario, FakeType DestinationType) Mtty()
    {
        var scenario = new Scenario();
        var sourceType = scenario.Source.AddVirtualParent("mtty").AddType("mtty-2", deviceVersion: new FakeVersion(Scenario.Version));
        scenario.Source.DefineGuest("vm1", FakeHost.MdevDevice(0, scenario.Source.AddMdev(sourceType)));
        var destinationType = scenario.Destination.AddVirtualParent("mtty").AddType("mtty-2", typeVersion: new FakeVersion(Scenario.Version), deviceVersion: new FakeVersion(Scenario.Version));
        return (scenario, destinationType);
    }

    private Task<PlanResult> PlanAsync(Scenario scenario) =>
        new MigrationPlanner(logger: _logger, claims: scenario.Claims).PlanAsync(scenario.Request());

    private string[] Warnings() =>
        [.. _logger.Collector.GetSnapshot().Where(record => record.Level >= LogLevel.Warning).Select(record => $"{record.Id.Id} {record.Message}")];

    [TestMethod]
    [DataRow("unreadable", "its available_instances is not a count (EIO)")]
    [DataRow("lots\n", "its available_instances is not a count ('lots\n')")]
    [DataRow("-1\n", "its available_instances is not a count ('-1\n')")]
    public async Task TypeWhoseCapacityIsNoCount_IsSkippedWithAWarning_AndNothingIsCreatedThere(string available, string why)
    {
        var (scenario, _) = Mtty();
        scenario.Destination.FileSystem.Reads[$"{Type}/available_instances"] = available == "unreadable" ? SysfsResult.Failed<string>(Errno.EIO) : SysfsResult.Of(available);

        await using var result = await PlanAsync(scenario);

        Assert.IsFalse(result.Succeeded);
        var source = result.Best.Rejections[0].Source;
        CollectionAssert.AreEqual(
            new[]
            {
                new Rejection(source, "mtty", RejectionCode.TypeMismatch, "Parent mtty does not offer type mtty-2 (it offers )."),
                new Rejection(source, null, RejectionCode.NotPlaced, $"The mdev {source} (type mtty-2) could not be placed on dest: the host has no free device of that type and no parent that can create one (1 rejected; see the rejections)."),
            },
            result.Best.Rejections.ToArray(),
            string.Join("\n", result.Best.Rejections));
        CollectionAssert.AreEqual(new[] { $"1016 Skipped mtty-2 in {Type} on dest: {why}" }, Warnings());
        Assert.IsEmpty(scenario.DestinationWrites("/create"));
    }

    [TestMethod]
    public async Task TypeWithoutAName_IsStillUsed()
    {
        var (scenario, _) = Mtty();
        scenario.Destination.FileSystem.Reads[$"{Type}/name"] = SysfsResult.Failed<string>(Errno.ENOENT);

        await using var result = await PlanAsync(scenario);

        Assert.IsTrue(result.Succeeded, string.Join("\n", result.Best.Reasons));
        Assert.AreEqual(DeviceAction.Create, result.Best.Devices.Single().Action);
        Assert.IsEmpty(Warnings());
    }

    [TestMethod]
    public async Task TypeWhoseDevicesCannotBeListed_IsAWarningEvenForEnoent_AndTheTypeStillServes()
    {
        var (scenario, _) = Mtty();
        scenario.Destination.FileSystem.FailingLists[$"{Type}/devices"] = Errno.ENOENT;

        await using var result = await PlanAsync(scenario);

        Assert.IsTrue(result.Succeeded, string.Join("\n", result.Best.Reasons));
        CollectionAssert.AreEqual(new[] { $"1017 Could not list {Type}/devices on dest (ENOENT); parents libvirt does not list are not looked for there" }, Warnings());
    }

    [TestMethod]
    public async Task ParentWhoseTypesCannotBeListed_IsAWarningEvenForEnoent_AndOffersNothing()
    {
        var (scenario, _) = Mtty();
        scenario.Destination.FileSystem.FailingLists["class/mdev_bus/mtty/mdev_supported_types"] = Errno.ENOENT;

        await using var result = await PlanAsync(scenario);

        Assert.IsFalse(result.Succeeded);
        Assert.IsEmpty(scenario.DestinationWrites("/create"));
        CollectionAssert.AreEqual(new[] { "1017 Could not list class/mdev_bus/mtty/mdev_supported_types on dest (ENOENT); parents libvirt does not list are not looked for there" }, Warnings());
    }

    [TestMethod]
    public async Task InvalidEntries_AreOneWarningPerListing_NamingWhatTheyAreNot()
    {
        var (scenario, _) = Mtty();
        var sysfs = scenario.Destination.FileSystem;
        sysfs.ExtraEntries["class/mdev_bus/mtty/mdev_supported_types"] = ["mtty 3", ".hidden"];
        sysfs.ExtraEntries[$"{Type}/devices"] = ["not-a-uuid"];

        await using var result = await PlanAsync(scenario);

        Assert.IsTrue(result.Succeeded, string.Join("\n", result.Best.Reasons));
        CollectionAssert.AreEquivalent(
            new[]
            {
                "1018 Skipped 2 entries in class/mdev_bus/mtty/mdev_supported_types on dest that are not a valid mdev type id: '.hidden', 'mtty 3'",
                $"1018 Skipped 1 entries in {Type}/devices on dest that are not a valid mdev UUID: 'not-a-uuid'",
            },
            Warnings());
    }

    [TestMethod]
    [DataRow(3, "'bad 0', 'bad 1', 'bad 2'")]
    [DataRow(4, "'bad 0', 'bad 1', 'bad 2', ...")]
    public async Task InvalidEntries_TheWarningNamesTheFirstThree_AndSaysThereAreMoreOnlyWhenThereAre(int count, string named)
    {
        var (scenario, _) = Mtty();
        scenario.Destination.FileSystem.ExtraEntries["class/mdev_bus"] = [.. Enumerable.Range(0, count).Select(i => $"bad {i}")];

        await using var result = await PlanAsync(scenario);

        Assert.IsTrue(result.Succeeded, string.Join("\n", result.Best.Reasons));
        Assert.AreEqual($"1018 Skipped {count} entries in class/mdev_bus on dest that are not a valid device name: {named}", string.Join("\n", Warnings()));
    }

    [TestMethod]
    public async Task TwoIdleMdevsOfAParentLibvirtDoesNotList_TheLowerUuidIsReused_WhateverLibvirtsOrder()
    {
        var (scenario, type) = Mtty();
        scenario.Destination.AddMdev(type, uuid: MdevUuid.Parse("ffffffff-0000-4000-8000-000000000001"));
        scenario.Destination.AddMdev(type, uuid: MdevUuid.Parse("00000000-0000-4000-8000-000000000002"));

        await using var result = await PlanAsync(scenario);

        Assert.IsTrue(result.Succeeded, string.Join("\n", result.Best.Reasons));
        var device = result.Best.Devices.Single();
        Assert.AreEqual(DeviceAction.Reuse, device.Action);
        Assert.AreEqual("00000000-0000-4000-8000-000000000002", device.Target.Id);
    }

    [TestMethod]
    public async Task ParentsCannotBeListed_AnIdleMdevLibvirtListsUnderComputer_IsReusedOnItsOwnAttribute()
    {
        var (scenario, type) = Mtty();
        var idle = scenario.Destination.AddMdev(type);
        scenario.Destination.FileSystem.FailingLists["class/mdev_bus"] = Errno.EACCES;

        await using var result = await PlanAsync(scenario);

        Assert.IsTrue(result.Succeeded, string.Join("\n", result.Best.Reasons));
        var device = result.Best.Devices.Single();
        Assert.AreEqual(new TargetDeviceInfo(new MdevTarget(idle.Uuid), "computer", "mtty-2"), device.Target, "the parent is unknown: neither libvirt nor sysfs names it");
        Assert.AreEqual(Verification.Verified, device.Verification);
        Assert.AreEqual(ProbePoint.MdevDevice, device.DecidedBy!.Point);
    }
}
