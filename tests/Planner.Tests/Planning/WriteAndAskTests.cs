using VfioMigration.Planner.Sysfs;
using VfioMigration.Planner.Tests.Fakes;

namespace VfioMigration.Planner.Tests.Planning;

/// <summary>
/// The parent's write and ask (<c>migration_query</c>, docs/testing.md "Mutation testing"): what the
/// answer lists is accepted without a type-level probe, what it leaves out is refused with the
/// driver's words, and an ask that fails refuses the whole parent.
/// </summary>
[TestClass]
public sealed class WriteAndAskTests
{
    private const string Parent = "pci_0000_41_00_0";
    private const string Query = "class/mdev_bus/0000:41:00.0/migration_query";
    private const string TypeAttribute = "mdev_supported_types/nvidia-63/migration_version";

    [TestMethod]
    public async Task TypeTheAnswerLists_IsCreatedWithoutATypeLevelProbe()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63");
        scenario.DestinationType();
        scenario.Destination.FileSystem.Answers[Query] = new SysfsExchange(Errno.None, "type nvidia-64\ntype nvidia-63\n", null);

        await using var result = await scenario.PlanAsync();

        Assert.IsTrue(result.Succeeded, string.Join("\n", result.Best.Reasons));
        Assert.AreEqual(DeviceAction.Create, result.Best.Devices.Single().Action);
        CollectionAssert.AreEqual(new[] { $"write {Query} {Scenario.Version}" }, scenario.DestinationWrites("migration_query").ToArray());
        Assert.IsEmpty(scenario.DestinationWrites(TypeAttribute), "the answer stands in for the type-level probe");
        Assert.IsEmpty(result.Best.Rejections);
    }

    [TestMethod]
    [DataRow(Errno.None, "type nvidia-64\n", "no room", $"Asked which configurations accept the source's migration version, {Query} did not list type nvidia-63, so the vendor driver says this device's state cannot be loaded there (the driver says: \"no room\").")]
    [DataRow(Errno.None, "type nvidia-64\n", null, $"Asked which configurations accept the source's migration version, {Query} did not list type nvidia-63, so the vendor driver says this device's state cannot be loaded there.")]
    [DataRow(Errno.EINVAL, null, "bad version", $"Asking {Query} which configurations accept the source's migration version failed with EINVAL, so nothing on that parent accepts it (the driver says: \"bad version\").")]
    public async Task TypeTheAnswerLeavesOut_IsRefusedWithTheDriversWords_AndNeverProbed(Errno errno, string? reply, string? reason, string message)
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63");
        scenario.DestinationType();
        scenario.Destination.FileSystem.Answers[Query] = new SysfsExchange(errno, reply, reason);

        await using var result = await scenario.PlanAsync();

        Assert.IsFalse(result.Succeeded);
        var rejections = result.Best.Rejections;
        Assert.HasCount(2, rejections);
        var source = rejections[0].Source;
        Assert.AreEqual(new Rejection(source, $"{Parent}/nvidia-63", RejectionCode.VersionRejected, message, errno == Errno.None ? null : errno), rejections[0]);
        Assert.AreEqual(RejectionCode.NotPlaced, rejections[1].Code);
        Assert.IsEmpty(scenario.DestinationWrites(TypeAttribute));
        Assert.IsEmpty(scenario.Destination.Snapshot().Split('\n').Where(l => l.StartsWith("mdev ", StringComparison.Ordinal)), "nothing was created");
    }

    [TestMethod]
    [DataRow(true)]
    [DataRow(false)]
    public async Task IdleMdev_IsProbedOnlyWhenTheAnswerListsIt(bool listed)
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63");
        var idle = scenario.Destination.AddMdev(scenario.DestinationType(max: 1));
        var other = "00000000-0000-4000-8000-0000000000aa";
        scenario.Destination.FileSystem.Answers[Query] = new SysfsExchange(Errno.None, listed ? $"mdev {other}\nmdev {idle.Uuid}\n" : $"mdev {other}\n", null);
        var deviceAttribute = $"bus/mdev/devices/{idle.Uuid}/migration_version";

        await using var result = await scenario.PlanAsync();

        Assert.AreEqual(listed, result.Succeeded);
        if (listed)
        {
            var device = result.Best.Devices.Single();
            Assert.AreEqual(DeviceAction.Reuse, device.Action);
            Assert.AreEqual(idle.Uuid.Value, device.Target.Id);
            Assert.AreEqual(Verification.Verified, device.Verification);
            CollectionAssert.AreEqual(new[] { $"write {deviceAttribute} {Scenario.Version}" }, scenario.DestinationWrites(deviceAttribute).ToArray());
            Assert.AreEqual(RejectionCode.NoCapacity, result.Best.Rejections.Single().Code, "the only other candidate: the full type");
        }
        else
        {
            var rejection = result.Best.Rejections.Single(r => r.Code == RejectionCode.VersionRejected);
            Assert.AreEqual(new Rejection(rejection.Source, idle.Uuid.Value, RejectionCode.VersionRejected, $"Asked which configurations accept the source's migration version, {Query} did not list device {idle.Uuid}, so the vendor driver says this device's state cannot be loaded there."), rejection);
            Assert.IsEmpty(scenario.DestinationWrites(deviceAttribute), "the parent answered for its idle devices: no probe for one it left out");
        }
    }
}
