using Microsoft.Extensions.Time.Testing;
using VfioMigration.Planner.Sysfs;
using VfioMigration.Planner.Tests.Fakes;

namespace VfioMigration.Planner.Tests.Planning;

/// <summary>Write-and-test: where versions are written, in which order, how often, and what a silence means.</summary>
[TestClass]
public sealed class ProbeTests
{
    [TestMethod]
    public async Task TypeLevelRejection_PreventsCreating_AndNamesTheErrno()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63");
        var type = scenario.DestinationType();
        type.TypeVersion = new FakeVersion("nvidia-vgpu-v2") { RejectWith = Errno.ENODEV };

        await using var result = await scenario.PlanAsync();

        Assert.IsFalse(result.Succeeded);
        var rejected = result.Best.Rejections.Single(r => r.Code == RejectionCode.VersionRejected);
        Assert.AreEqual(Errno.ENODEV, rejected.Errno);
        StringAssert.Contains(rejected.Message, "ENODEV");
        Assert.IsEmpty(scenario.DestinationWrites("/create"), "a type that refuses the version is never instantiated");
    }

    [TestMethod]
    public async Task ProbeBeforeCreate_ThenConfirmOnTheCreatedDevice()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63");
        scenario.DestinationType();

        await using var result = await scenario.PlanAsync();

        Assert.IsTrue(result.Succeeded);
        var writes = scenario.Destination.Writes();
        var typeProbe = writes.ToList().FindIndex(w => w.Contains("mdev_supported_types/nvidia-63/migration_version", StringComparison.Ordinal));
        var create = writes.ToList().FindIndex(w => w.Contains("mdev_supported_types/nvidia-63/create", StringComparison.Ordinal));
        var confirm = writes.ToList().FindIndex(w => w.StartsWith("write bus/mdev/devices/", StringComparison.Ordinal) && w.Contains("/migration_version", StringComparison.Ordinal));
        Assert.IsTrue(typeProbe >= 0 && typeProbe < create && create < confirm, string.Join("\n", writes));
        var device = result.Best.Devices.Single();
        Assert.AreEqual(DeviceAction.Create, device.Action);
        Assert.AreEqual(ProbePoint.MdevDevice, device.DecidedBy!.Point, "the created device's own answer decides");
    }

    [TestMethod]
    public async Task CreatedDeviceThatRefuses_IsRemoved_AndTheNextParentIsTried()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63");
        var liar = scenario.DestinationType(parent: "0000:41:00.0");
        liar.DeviceVersion = new FakeVersion("other") { RejectWith = Errno.EINVAL };
        scenario.DestinationType(parent: "0000:42:00.0");

        await using var result = await scenario.PlanAsync();

        Assert.IsTrue(result.Succeeded);
        Assert.AreEqual("pci_0000_42_00_0", result.Best.Devices.Single().Target.Parent);
        var rejected = result.Best.Rejections.Single(r => r.Code == RejectionCode.VersionRejected);
        Assert.AreEqual("pci_0000_41_00_0/nvidia-63", rejected.Candidate);
        var removed = result.Best.Created.Single(c => c.State == CreatedDeviceState.Removed);
        Assert.AreEqual("pci_0000_41_00_0", removed.Parent);
        Assert.IsNull(scenario.Destination.FindMdev(removed.Uuid.Value), "the refused device is gone");
        Assert.AreEqual(1, result.Best.Statistics.Removes);
    }

    [TestMethod]
    public async Task EachProbePointAndVersion_IsWrittenOncePerPlan()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63", "nvidia-63", "nvidia-63");
        scenario.DestinationType(max: 8);

        await using var result = await scenario.PlanAsync();

        Assert.IsTrue(result.Succeeded);
        Assert.HasCount(1, scenario.DestinationWrites("mdev_supported_types/nvidia-63/migration_version"));
        Assert.HasCount(3, scenario.DestinationWrites("/create"));
        Assert.AreEqual(2, result.Best.Statistics.ProbeCacheHits);
    }

    [TestMethod]
    public async Task VerdictCache_IsSharedAcrossPlans_OnlyWhenAsked_AndExpires()
    {
        var time = new FakeTimeProvider();
        var cache = new InMemoryVerdictCache(time);
        var scenario = new Scenario();
        scenario.Guest("nvidia-63");
        var type = scenario.DestinationType();
        type.TypeVersion = new FakeVersion("other");
        var options = new PlanOptions { VerdictCacheLifetime = TimeSpan.FromMinutes(5) };
        var planner = scenario.Planner(time, cache);
        const string probePath = "mdev_supported_types/nvidia-63/migration_version";

        await using (await planner.PlanAsync(scenario.Request(options)))
        {
        }

        await using (await planner.PlanAsync(scenario.Request(options)))
        {
        }

        Assert.HasCount(1, scenario.DestinationWrites(probePath), "the second plan takes the cached verdict");

        await using (await planner.PlanAsync(scenario.Request(new PlanOptions())))
        {
        }

        Assert.HasCount(2, scenario.DestinationWrites(probePath), "without the option every plan probes afresh");

        time.Advance(TimeSpan.FromMinutes(6));
        await using (await planner.PlanAsync(scenario.Request(options)))
        {
        }

        Assert.HasCount(3, scenario.DestinationWrites(probePath), "an expired verdict is probed again");
    }

    [TestMethod]
    public async Task ProbeThatHangs_IsCutOff_AndCountsAsUnknownNeverCompatible()
    {
        var time = new FakeTimeProvider();
        var scenario = new Scenario();
        scenario.Guest("nvidia-63");
        var type = scenario.DestinationType();
        var idle = scenario.Destination.AddMdev(type);
        scenario.Destination.FileSystem.HangingWrites.Add($"bus/mdev/devices/{idle.Uuid}/migration_version");
        scenario.Destination.FileSystem.HangingWrites.Add("class/mdev_bus/0000:41:00.0/mdev_supported_types/nvidia-63/migration_version");
        var options = new PlanOptions { ProbeTimeout = TimeSpan.FromSeconds(3) };

        var planning = scenario.Planner(time).PlanAsync(scenario.Request(options));
        await scenario.Destination.FileSystem.HangStarted.Task;
        while (!planning.IsCompleted)
        {
            time.Advance(TimeSpan.FromSeconds(3));
            await Task.Yield();
            await Task.Delay(1);
        }

        await using var result = await planning;

        Assert.IsFalse(result.Succeeded);
        var timeouts = result.Best.Rejections.Where(r => r.Code == RejectionCode.ProbeTimeout).ToList();
        Assert.HasCount(2, timeouts);
        Assert.IsTrue(timeouts.All(t => t.Errno == Errno.ETIMEDOUT));
        CollectionAssert.AreEqual(
            new[]
            {
                $"Writing the source version to bus/mdev/devices/{idle.Uuid}/migration_version got no answer within 3 s; the answer is unknown, so the target is not used.",
                "Writing the source version to class/mdev_bus/0000:41:00.0/mdev_supported_types/nvidia-63/migration_version got no answer within 3 s; the answer is unknown, so type nvidia-63 on pci_0000_41_00_0 is not used.",
            },
            timeouts.Select(t => t.Message).ToArray());
        Assert.IsEmpty(result.Best.Devices);
        Assert.IsEmpty(scenario.DestinationWrites("/create"), "an unknown type-level answer never leads to a create");
    }

    [TestMethod]
    public async Task ProbeThatCannotReachTheHost_IsProbeFailed_AndTheNextCandidateIsTried()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63");
        scenario.DestinationType(parent: "0000:41:00.0");
        scenario.DestinationType(parent: "0000:42:00.0");
        scenario.Destination.FileSystem.ThrowingWrites.Add("class/mdev_bus/0000:41:00.0/mdev_supported_types/nvidia-63/migration_version");

        await using var result = await scenario.PlanAsync();

        Assert.IsTrue(result.Succeeded);
        Assert.AreEqual("pci_0000_42_00_0", result.Best.Devices.Single().Target.Parent);
        var failed = result.Best.Rejections.Single(r => r.Code == RejectionCode.ProbeFailed);
        StringAssert.Contains(failed.Message, "connection to dest lost");
    }

    [TestMethod]
    public async Task SourceVersionThatIsNotPrintableAscii_MakesTheDeviceNotMigratable()
    {
        var scenario = new Scenario();
        var type = scenario.SourceType(version: "v1\u00e9");
        scenario.Source.DefineGuest("vm1", FakeHost.MdevDevice(0, scenario.Source.AddMdev(type)));
        scenario.DestinationType();

        await using var result = await scenario.PlanAsync(new PlanOptions { VerificationPolicy = VerificationPolicy.AllowTypeMatch });

        Assert.IsFalse(result.Succeeded);
        var rejection = result.Best.Rejections.Single();
        Assert.AreEqual(RejectionCode.NotMigratable, rejection.Code);
        StringAssert.Contains(rejection.Message, "printable ASCII");
        Assert.IsEmpty(scenario.Destination.Operations, "a device that cannot migrate costs the destination nothing");
    }
}
