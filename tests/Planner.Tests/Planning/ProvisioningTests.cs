using VfioMigration.Planner.Hypervisor;
using VfioMigration.Planner.Sysfs;
using VfioMigration.Planner.Tests.Fakes;

namespace VfioMigration.Planner.Tests.Planning;

/// <summary>Creating through libvirt or sysfs, journaling, and removing everything a plan made when it does not go ahead.</summary>
[TestClass]
public sealed class ProvisioningTests
{
    /// <summary>One device; a device created on 0000:41:00.0 refuses its version (the type there says yes), one on 0000:42:00.0 accepts it.</summary>
    private static Scenario RefusedOnTheFirstParent()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63");
        scenario.DestinationType(parent: "0000:41:00.0").DeviceVersion = new FakeVersion("other");
        scenario.DestinationType(parent: "0000:42:00.0");
        return scenario;
    }

    private static Scenario OneDevice(CreateBehaviour behaviour)
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63");
        scenario.DestinationType();
        scenario.Destination.Hypervisor.Create = behaviour;
        return scenario;
    }

    [TestMethod]
    public async Task Libvirt_CreatesWhenItCan_AndRemovesThroughLibvirt()
    {
        var scenario = OneDevice(CreateBehaviour.Works);

        var result = await scenario.PlanAsync(new PlanOptions { PersistentMdevs = true });
        var created = result.Best.Created.Single();
        await result.DisposeAsync();

        Assert.AreEqual(CreationMethod.Libvirt, created.Method);
        Assert.IsTrue(created.Persistent);
        Assert.IsEmpty(scenario.DestinationWrites("/create"));
        Assert.IsTrue(scenario.Destination.Operations.Contains($"hv:DestroyMdev {created.Uuid}"));
        Assert.IsEmpty(scenario.Destination.Mdevs);
    }

    [TestMethod]
    public async Task TestDriverCannotCreate_SoSysfsIsUsed_AndRemoveIsWritten()
    {
        var scenario = OneDevice(CreateBehaviour.NotSupported);

        var result = await scenario.PlanAsync();
        var created = result.Best.Created.Single();
        await result.DisposeAsync();

        Assert.AreEqual(CreationMethod.Sysfs, created.Method);
        Assert.HasCount(1, scenario.DestinationWrites($"bus/mdev/devices/{created.Uuid}/remove 1"));
        Assert.IsEmpty(scenario.Destination.Mdevs);
        Assert.AreEqual(PlanState.Released, result.Best.State);
    }

    [TestMethod]
    public async Task LibvirtReportsFailureButTheDeviceExists_ItIsKept()
    {
        var scenario = OneDevice(CreateBehaviour.ReportsFailureButCreates);

        await using var result = await scenario.PlanAsync();

        Assert.IsTrue(result.Succeeded);
        var created = result.Best.Created.Single();
        Assert.AreEqual(CreationMethod.Libvirt, created.Method);
        Assert.AreEqual(CreatedDeviceState.Kept, created.State);
        Assert.IsTrue(scenario.Destination.Operations.Contains("hv:Inventory Mdevs"), "the planner re-lists before deciding");
    }

    [TestMethod]
    public async Task LibvirtFails_IsCreateFailed_AndTheNextParentIsTried()
    {
        var scenario = OneDevice(CreateBehaviour.Fails);
        scenario.DestinationType(parent: "0000:42:00.0");

        await using var result = await scenario.PlanAsync();

        Assert.IsFalse(result.Succeeded);
        var failures = result.Best.Rejections.Where(r => r.Code == RejectionCode.CreateFailed).ToList();
        Assert.HasCount(2, failures);
        StringAssert.Contains(failures[0].Message, "mdevctl failed");
        Assert.IsEmpty(result.Best.Created);
    }

    [TestMethod]
    public async Task CapacityGoneSinceTheInventory_IsNoCapacity_AndTheNextParentIsTried()
    {
        var scenario = OneDevice(CreateBehaviour.NotSupported);
        scenario.DestinationType(parent: "0000:42:00.0");
        scenario.Destination.FileSystem.FailingWrites["class/mdev_bus/0000:41:00.0/mdev_supported_types/nvidia-63/create"] = Errno.EUSERS;

        await using var result = await scenario.PlanAsync();

        Assert.IsTrue(result.Succeeded);
        Assert.AreEqual("pci_0000_42_00_0", result.Best.Devices.Single().Target.Parent);
        var noCapacity = result.Best.Rejections.Single(r => r.Code == RejectionCode.NoCapacity);
        Assert.AreEqual(Errno.EUSERS, noCapacity.Errno);
        StringAssert.Contains(noCapacity.Message, "EUSERS");
    }

    [TestMethod]
    public async Task Rewrite_GivesANewUuid_Preserve_KeepsTheSourceUuid()
    {
        var rewrite = OneDevice(CreateBehaviour.NotSupported);
        await using (var result = await rewrite.PlanAsync(new PlanOptions { UuidStrategy = UuidStrategy.Rewrite }))
        {
            var device = result.Best.Devices.Single();
            Assert.AreEqual(DeviceAction.Create, device.Action);
            Assert.AreNotEqual(device.Source.Id, device.Target.Id);
            StringAssert.Contains(result.Best.DestinationXml, $"<address uuid='{device.Target.Id}'/>");
            Assert.IsFalse(result.Best.DestinationXml!.Contains(device.Source.Id, StringComparison.Ordinal));
        }

        var preserve = OneDevice(CreateBehaviour.NotSupported);
        await using (var result = await preserve.PlanAsync(new PlanOptions { UuidStrategy = UuidStrategy.Preserve }))
        {
            var device = result.Best.Devices.Single();
            Assert.AreEqual(DeviceAction.PreserveUuid, device.Action);
            Assert.AreEqual(device.Source.Id, device.Target.Id);
            Assert.AreEqual(preserve.Source.GuestXml["vm1"], result.Best.DestinationXml, "the XML keeps the UUID, so nothing changes");
        }
    }

    [TestMethod]
    public async Task Preserve_FallsBackToANewUuid_WhenTheSourceUuidIsTakenOnTheDestination()
    {
        var scenario = OneDevice(CreateBehaviour.NotSupported);
        var sourceUuid = scenario.Source.Mdevs.Single().Uuid;
        var other = scenario.Destination.Parents[0].AddType("nvidia-99", max: 1);
        var squatter = scenario.Destination.AddMdev(other, uuid: sourceUuid);
        scenario.Destination.DefineGuest("squatter", FakeHost.MdevDevice(0, squatter));

        await using var result = await scenario.PlanAsync(new PlanOptions { UuidStrategy = UuidStrategy.Preserve });

        var device = result.Best.Devices.Single();
        Assert.AreEqual(DeviceAction.Create, device.Action);
        Assert.AreNotEqual(sourceUuid.Value, device.Target.Id);
        StringAssert.Contains(device.Note, "taken");
    }

    [TestMethod]
    public async Task Preserve_AnIdleMdevUnderAnotherUuid_IsNotReused_OneIsCreatedWithTheSourceUuid()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63");
        var type = scenario.DestinationType();
        var idle = scenario.Destination.AddMdev(type);
        var sourceUuid = scenario.Source.Mdevs.Single().Uuid;

        await using var result = await scenario.PlanAsync(new PlanOptions { UuidStrategy = UuidStrategy.Preserve });

        var device = result.Best.Devices.Single();
        Assert.AreEqual(DeviceAction.PreserveUuid, device.Action);
        Assert.AreEqual(sourceUuid.Value, device.Target.Id);
        Assert.AreNotEqual(idle.Uuid.Value, device.Target.Id);
        Assert.HasCount(1, scenario.DestinationWrites("/create"));
        Assert.AreEqual(scenario.Source.GuestXml["vm1"], result.Best.DestinationXml, "the XML keeps the source UUID");
    }

    [TestMethod]
    public async Task Preserve_AnIdleMdevWithTheSourceUuid_IsReused()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63");
        var type = scenario.DestinationType();
        var sourceUuid = scenario.Source.Mdevs.Single().Uuid;
        scenario.Destination.AddMdev(type);
        scenario.Destination.AddMdev(type, uuid: sourceUuid);

        await using var result = await scenario.PlanAsync(new PlanOptions { UuidStrategy = UuidStrategy.Preserve });

        var device = result.Best.Devices.Single();
        Assert.AreEqual(DeviceAction.Reuse, device.Action);
        Assert.AreEqual(sourceUuid.Value, device.Target.Id);
        Assert.IsEmpty(scenario.DestinationWrites("/create"));
        Assert.AreEqual(scenario.Source.GuestXml["vm1"], result.Best.DestinationXml, "the XML keeps the source UUID");
    }

    [TestMethod]
    public async Task Preserve_ASourceUuidCreatedAgainAfterARefusal_IsProbedAfresh()
    {
        var scenario = RefusedOnTheFirstParent();

        await using var result = await scenario.PlanAsync(new PlanOptions { UuidStrategy = UuidStrategy.Preserve, VerdictCacheLifetime = TimeSpan.FromMinutes(1) });

        Assert.IsTrue(result.Succeeded, "the refusal of the device first made with this UUID must not answer for the second");
        var device = result.Best.Devices.Single();
        Assert.AreEqual(DeviceAction.PreserveUuid, device.Action);
        Assert.AreEqual("pci_0000_42_00_0", device.Target.Parent);
        Assert.IsFalse(device.DecidedBy!.FromCache);
        Assert.HasCount(2, scenario.DestinationWrites($"bus/mdev/devices/{device.Target.Id}/migration_version"));
    }

    [TestMethod]
    public async Task Preserve_ASourceUuidRefusedThenNotMadeAgain_LeavesNoClaimBehind()
    {
        var scenario = RefusedOnTheFirstParent();
        scenario.Destination.FileSystem.FailingWrites["class/mdev_bus/0000:42:00.0/mdev_supported_types/nvidia-63/create"] = Errno.EIO;

        await using (var result = await scenario.PlanAsync(new PlanOptions { UuidStrategy = UuidStrategy.Preserve }))
        {
            Assert.IsFalse(result.Succeeded);
            Assert.IsTrue(result.Best.Rejections.Any(r => r.Code == RejectionCode.CreateFailed && r.Errno == Errno.EIO), string.Join("\n", result.Best.Rejections));
        }

        Assert.AreEqual(0, scenario.Claims.Count, "the source UUID, removed on one parent and not made on the other, must not stay claimed");
    }

    [TestMethod]
    public async Task CreateWhoseAnswerIsLost_IsJournaled_AndRemovedWhenTheDestinationFails()
    {
        var scenario = OneDevice(CreateBehaviour.NotSupported);
        var before = scenario.Destination.Snapshot();
        scenario.Destination.FileSystem.WritesLosingTheirAnswer.Add("class/mdev_bus/0000:41:00.0/mdev_supported_types/nvidia-63/create");

        await using var result = await scenario.PlanAsync();

        Assert.IsFalse(result.Succeeded);
        StringAssert.Contains(string.Join(' ', result.Best.Reasons), "connection to dest lost");
        Assert.HasCount(1, scenario.DestinationWrites("/remove 1"), "the device the lost write made must be removed");
        Assert.AreEqual(before, scenario.Destination.Snapshot());
    }

    [TestMethod]
    public async Task FailedPlan_RemovesWhatItCreated()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63", "nvidia-64");
        scenario.DestinationType(id: "nvidia-63");
        var before = scenario.Destination.Snapshot();

        await using var result = await scenario.PlanAsync();

        Assert.IsFalse(result.Succeeded);
        Assert.AreEqual(before, scenario.Destination.Snapshot());
        Assert.AreEqual(PlanState.Failed, result.Best.State);
    }

    [TestMethod]
    public async Task Commit_KeepsTheDevices_DisposeOfAnUncommittedPlanRemovesThem()
    {
        var kept = OneDevice(CreateBehaviour.NotSupported);
        await using (var result = await kept.PlanAsync())
        {
            await result.Best.CommitAsync();
        }

        Assert.HasCount(1, kept.Destination.Mdevs);
        Assert.AreEqual(0, kept.Claims.Count, "a committed plan releases its claims");

        var abandoned = OneDevice(CreateBehaviour.NotSupported);
        var before = abandoned.Destination.Snapshot();
        await using (await abandoned.PlanAsync())
        {
        }

        Assert.AreEqual(before, abandoned.Destination.Snapshot());
        Assert.AreEqual(0, abandoned.Claims.Count);
    }

    [TestMethod]
    public async Task Execute_ByDefault_IsALiveClientDrivenMigrationThroughTheDestinationConnection_AndCommits()
    {
        var scenario = OneDevice(CreateBehaviour.NotSupported);
        await using var result = await scenario.PlanAsync();

        await result.Best.ExecuteAsync();

        var migration = scenario.Source.Hypervisor.Migrations.Single();
        Assert.AreSame(scenario.Destination.Hypervisor, migration.Destination);
        Assert.AreEqual(MigrationMode.Live | MigrationMode.PersistDestination, migration.Settings.Flags);
        Assert.IsFalse(migration.Settings.IsPeerToPeer);
        Assert.AreEqual(result.Best.DestinationXml, migration.DestinationXml);
        Assert.AreEqual(PlanState.Committed, result.Best.State);
        Assert.HasCount(1, scenario.Destination.Mdevs);
    }

    [TestMethod]
    public async Task Execute_PeerToPeer_CarriesTheHostToHostAddresses()
    {
        var scenario = OneDevice(CreateBehaviour.NotSupported);
        await using var result = await scenario.PlanAsync();
        var settings = new MigrationSettings { Flags = MigrationMode.Live | MigrationMode.PeerToPeer, DestinationUri = "qemu+tcp://10.0.0.2/system", MigrateUri = "tcp://10.0.0.2" };

        await result.Best.ExecuteAsync(settings);

        Assert.AreSame(settings, scenario.Source.Hypervisor.Migrations.Single().Settings);
    }

    [TestMethod]
    [DataRow(MigrationMode.Live, "qemu+tcp://10.0.0.2/system", null, "DestinationUri")]
    [DataRow(MigrationMode.Live | MigrationMode.PeerToPeer, "qemu+tcp://10.0.0.2/ system", null, "DestinationUri")]
    [DataRow(MigrationMode.Live, null, "10.0.0.2", "MigrateUri")]
    [DataRow(MigrationMode.Live | (MigrationMode)(1 << 15), null, null, "Flags")]
    public async Task Execute_WithSettingsThatCannotBeRight_MigratesNothing_AndTheDevicesStayTheGuests(MigrationMode flags, string? destinationUri, string? migrateUri, string refused)
    {
        var scenario = OneDevice(CreateBehaviour.NotSupported);
        await using var result = await scenario.PlanAsync();

        var error = await Assert.ThrowsExactlyAsync<ArgumentException>(() => result.Best.ExecuteAsync(new MigrationSettings { Flags = flags, DestinationUri = destinationUri, MigrateUri = migrateUri }));

        Assert.AreEqual(refused, error.ParamName);
        Assert.IsEmpty(scenario.Source.Hypervisor.Migrations);
        Assert.AreEqual(PlanState.Ready, result.Best.State);
    }

    [TestMethod]
    public async Task RemovalThatFails_IsReported_NotSwallowed_AndCanBeRetried()
    {
        var scenario = OneDevice(CreateBehaviour.Works);
        var result = await scenario.PlanAsync();
        var uuid = result.Best.Created.Single().Uuid;
        scenario.Destination.Hypervisor.DestroyFailure = "Requested operation is not valid: device is busy";

        var error = await Assert.ThrowsExactlyAsync<RollbackFailedException>(async () => await result.DisposeAsync());

        var failure = error.Failures.Single();
        Assert.AreEqual(uuid, failure.Uuid);
        Assert.AreEqual("dest", failure.Host);
        StringAssert.Contains(error.Message, uuid.Value);
        StringAssert.Contains(error.Message, "busy");
        Assert.AreEqual(CreatedDeviceState.RemoveFailed, result.Best.Created.Single().State);
        Assert.HasCount(1, result.Best.RemovalFailures);
        Assert.AreEqual(1, scenario.Claims.Count, "the device still exists, so no other plan may be handed it");

        Assert.HasCount(1, await result.Best.RetryRemovalsAsync(), "still busy: the retry fails the same way");
        scenario.Destination.Hypervisor.DestroyFailure = null;
        Assert.IsEmpty(await result.Best.RetryRemovalsAsync());

        Assert.IsEmpty(result.Best.RemovalFailures);
        Assert.AreEqual(CreatedDeviceState.Removed, result.Best.Created.Single().State);
        Assert.IsFalse(scenario.Destination.Mdevs.Any(m => m.Uuid == uuid), "the retry removed the device from the host");
        Assert.AreEqual(0, scenario.Claims.Count, "a device that is gone is no longer claimed");
    }

    [TestMethod]
    public async Task Rollback_WhoseFirstRemovalFails_StillRemovesEveryOtherDevice()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63", "nvidia-63", "nvidia-63");
        scenario.DestinationType(max: 4);
        var result = await scenario.PlanAsync();
        Assert.HasCount(3, result.Best.Created);
        string? failed = null;
        scenario.Destination.BeforeOperation = operation =>
        {
            if (failed is null && operation.StartsWith("write bus/mdev/devices/", StringComparison.Ordinal) && operation.EndsWith("/remove 1", StringComparison.Ordinal))
            {
                failed = operation["write ".Length..^" 1".Length];
                scenario.Destination.FileSystem.FailingWrites[failed] = Errno.EBUSY;
            }
        };

        var error = await Assert.ThrowsExactlyAsync<RollbackFailedException>(async () => await result.DisposeAsync());

        var failure = error.Failures.Single();
        Assert.AreEqual($"bus/mdev/devices/{failure.Uuid}/remove", failed);
        Assert.AreEqual(result.Best.Created[^1].Uuid, failure.Uuid, "the last created is removed first");
        CollectionAssert.AreEqual(
            new[] { CreatedDeviceState.Removed, CreatedDeviceState.Removed, CreatedDeviceState.RemoveFailed },
            result.Best.Created.Select(c => c.State).ToArray(),
            "the removals after the one that failed still happen");
        Assert.AreEqual(failure.Uuid, scenario.Destination.Mdevs.Single().Uuid, "only the device whose removal failed is left");
    }

    [TestMethod]
    public async Task RemovalOfARefusedDeviceThatFails_IsInThePlan()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63");
        var liar = scenario.DestinationType(parent: "0000:41:00.0");
        liar.DeviceVersion = new FakeVersion("other");
        scenario.DestinationType(parent: "0000:42:00.0");
        var firstRemoval = true;
        scenario.Destination.BeforeOperation = operation =>
        {
            if (firstRemoval && operation.StartsWith("write bus/mdev/devices/", StringComparison.Ordinal) && operation.EndsWith("/remove 1", StringComparison.Ordinal))
            {
                firstRemoval = false;
                scenario.Destination.FileSystem.FailingWrites[operation["write ".Length..^" 1".Length]] = Errno.EBUSY;
            }
        };

        await using var result = await scenario.PlanAsync();

        Assert.IsTrue(result.Succeeded);
        Assert.AreEqual("pci_0000_42_00_0", result.Best.Devices.Single().Target.Parent);
        var failure = result.Best.RemovalFailures.Single();
        StringAssert.Contains(failure.Message, "EBUSY");
        Assert.AreEqual(CreatedDeviceState.RemoveFailed, result.Best.Created.Single(c => c.Uuid == failure.Uuid).State);
    }
}
