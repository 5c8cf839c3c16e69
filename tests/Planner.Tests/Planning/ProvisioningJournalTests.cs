using Microsoft.Extensions.Logging.Testing;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Planning;
using VfioMigration.Planner.State;
using VfioMigration.Planner.Sysfs;
using VfioMigration.Planner.Tests.Fakes;
using VfioMigration.Planner.Tests.State;

namespace VfioMigration.Planner.Tests.Planning;

/// <summary>
/// The provisioning journal on its own: what it writes to the store and when (each write once, with
/// every field), the order it lists and removes devices in, how a rollback and a retry settle each
/// device, and how a removal is done for each way a device was made.
/// </summary>
[TestClass]
public sealed class ProvisioningJournalTests
{
    private static readonly Guid Plan = Guid.Parse("11111111-2222-4333-8444-555555555555");
    private static readonly PciAddress Vf = PciAddress.Parse("0000:c1:00.5");

    private readonly FakeHost _fake = new("dest");
    private readonly RecordingStore _store = new();
    private readonly PlanCounters _counters = new();
    private readonly FakeLogger _logger = new();
    private readonly FakeType _type;
    private readonly MdevParent _parent;
    private readonly BatchingSysfs _sysfs;
    private readonly ProvisioningJournal _journal;

    public ProvisioningJournalTests()
    {
        _type = _fake.AddParent("0000:41:00.0").AddType("nvidia-63", max: 8);
        _parent = new MdevParent(_type.Parent.Name, _type.Parent.SysfsName, PciAddress.Parse("0000:41:00.0"), "0x10de", null, null, []);
        _sysfs = new BatchingSysfs(_fake.FileSystem);
        _journal = new ProvisioningJournal(new MigrationHost("dest", _fake.Hypervisor, _sysfs), _store, Plan, _counters, _logger);
        _store.BeginPlan(Plan, "vm1");
    }

    private string HostKey => _fake.Hypervisor.Uri;

    /// <summary>An mdev that exists on the fake host, journaled as made by <paramref name="method"/> at <paramref name="order"/>.</summary>
    private async Task<MdevUuid> MadeAsync(int order, CreationMethod method = CreationMethod.Sysfs, bool persistent = false)
    {
        var uuid = _fake.AddMdev(_type).Uuid;
        await _journal.RecordAsync(uuid, _parent, _type.Id, method, persistent, order);
        return uuid;
    }

    /// <summary>The messages logged so far, in order.</summary>
    private string[] Logged() => [.. _logger.Collector.GetSnapshot().Select(r => r.Message)];

    private static string RemovePath(MdevUuid uuid) => $"bus/mdev/devices/{uuid}/remove";

    [TestMethod]
    public async Task Record_WritesTheCreatedEntryOnce_AndDevicesListsThemInScheduleOrder_NotInTheOrderTheyFinished()
    {
        var second = await MadeAsync(1, CreationMethod.Libvirt, persistent: true);
        var first = await MadeAsync(0);

        CollectionAssert.AreEqual(
            new[]
            {
                new JournalEntry(Plan, HostKey, "dest", second, "pci_0000_41_00_0", _type.Id, CreationMethod.Libvirt, true, 1, JournalState.Created),
                new JournalEntry(Plan, HostKey, "dest", first, "pci_0000_41_00_0", _type.Id, CreationMethod.Sysfs, false, 0, JournalState.Created),
            },
            _store.Entries.ToArray());
        CollectionAssert.AreEqual(
            new[]
            {
                new CreatedDevice("dest", first, "pci_0000_41_00_0", _type.Id, CreationMethod.Sysfs, false, CreatedDeviceState.Kept, null),
                new CreatedDevice("dest", second, "pci_0000_41_00_0", _type.Id, CreationMethod.Libvirt, true, CreatedDeviceState.Kept, null),
            },
            _journal.Devices.ToArray());
        Assert.AreEqual(2, _counters.Snapshot().Creates);
        CollectionAssert.AreEqual(new[] { $"Created mdev {second} of type nvidia-63 on pci_0000_41_00_0 (dest) through Libvirt", $"Created mdev {first} of type nvidia-63 on pci_0000_41_00_0 (dest) through Sysfs" }, Logged());
        Assert.IsTrue(_journal.Holds(first));
        Assert.IsFalse(_journal.Holds(MdevUuid.Parse("00000000-0000-4000-8000-000000000001")));
    }

    [TestMethod]
    public async Task AStoreThatCannotRecordADevice_Throws_ButTheJournalStillKnowsIt_SoTheRollbackRemovesIt()
    {
        _store.FailJournal = _ => true;
        var uuid = _fake.AddMdev(_type).Uuid;

        var error = await Assert.ThrowsExactlyAsync<StateStoreException>(() => _journal.RecordAsync(uuid, _parent, _type.Id, CreationMethod.Sysfs, false, 0));

        Assert.AreEqual("disk full", error.Message);
        Assert.AreEqual(uuid, _journal.Devices.Single().Uuid);
        Assert.IsTrue(_journal.Holds(uuid));
    }

    [TestMethod]
    public async Task Intend_ClaimsAndJournalsEachIntent_AndLeavesOutAUuidAnotherPlanHolds()
    {
        var free = MdevUuid.Parse("00000000-0000-4000-8000-00000000000a");
        var taken = MdevUuid.Parse("00000000-0000-4000-8000-00000000000b");
        var other = Guid.NewGuid();
        _store.BeginPlan(other, "vm9");
        Assert.IsNull(await _store.Claims.TryClaimAsync(HostKey, TargetKeys.Mdev(taken), other));

        var holders = await _journal.IntendAsync([new PlannedMdev(free, _parent, _type.Id, CreationMethod.Libvirt, true, 3), new PlannedMdev(taken, _parent, _type.Id, CreationMethod.Sysfs, false, 4)]);

        Assert.IsNull(holders[0]);
        Assert.AreEqual(other, holders[1]!.Plan);
        Assert.AreEqual("vm9", holders[1]!.Guest);
        CollectionAssert.AreEqual(new[] { new JournalEntry(Plan, HostKey, "dest", free, "pci_0000_41_00_0", _type.Id, CreationMethod.Libvirt, true, 3, JournalState.Intent) }, _store.Entries.ToArray());
        CollectionAssert.AreEqual(new[] { $"claim mdev:{free}", $"journal {free} Intent", $"claim mdev:{taken}" }, _store.Writes.ToArray());
        Assert.IsEmpty(_journal.Devices, "an intent is not a device");
    }

    [TestMethod]
    public async Task NotMade_ClosesTheIntent_AsRemoved()
    {
        var uuid = MdevUuid.Parse("00000000-0000-4000-8000-00000000000c");

        await _journal.NotMadeAsync(uuid, _parent, _type.Id, 5);

        Assert.AreEqual(new JournalEntry(Plan, HostKey, "dest", uuid, "pci_0000_41_00_0", _type.Id, CreationMethod.Sysfs, false, 5, JournalState.Removed), _store.Entries.Single());
        Assert.IsEmpty(_journal.Devices);
        Assert.AreEqual(0, _counters.Snapshot().Creates);
    }

    [TestMethod]
    public async Task AVf_IsJournaledUnderItsKey_WithItsAddressAsParent_AndTheTypeIdAsType()
    {
        var key = NvidiaSysfsVfControl.JournalKey(Vf);
        var type = new VgpuType(1044, "NVIDIA H100-10C");

        await _journal.IntendVfAsync(Vf, type, 2);
        await _journal.RecordVfAsync(Vf, type, 2);
        await _journal.NotMadeVfAsync(Vf, type, 3);

        Assert.AreEqual(MdevTypeId.Parse("1044"), ProvisioningJournal.TypeKey(type));
        CollectionAssert.AreEqual(
            new[]
            {
                new JournalEntry(Plan, HostKey, "dest", key, "0000:c1:00.5", MdevTypeId.Parse("1044"), CreationMethod.Vf, false, 2, JournalState.Intent),
                new JournalEntry(Plan, HostKey, "dest", key, "0000:c1:00.5", MdevTypeId.Parse("1044"), CreationMethod.Vf, false, 2, JournalState.Created),
                new JournalEntry(Plan, HostKey, "dest", key, "0000:c1:00.5", MdevTypeId.Parse("1044"), CreationMethod.Vf, false, 3, JournalState.Removed),
            },
            _store.Entries.ToArray());
        Assert.AreEqual(new CreatedDevice("dest", key, "0000:c1:00.5", MdevTypeId.Parse("1044"), CreationMethod.Vf, false, CreatedDeviceState.Kept, null), _journal.Devices.Single());
        Assert.IsTrue(_journal.HoldsVf(Vf));
        Assert.IsFalse(_journal.HoldsVf(PciAddress.Parse("0000:c1:00.6")));
        Assert.AreEqual(1, _counters.Snapshot().Creates);
        CollectionAssert.AreEqual(new[] { $"Configured VF 0000:c1:00.5 with vGPU type 1044 on dest (journal key {key})" }, Logged());
    }

    [TestMethod]
    public async Task ResetVf_WritesZeroToItsCurrentType_AndReleasesTheVfsClaim()
    {
        await _journal.RecordVfAsync(Vf, new VgpuType(1044, null), 0);

        Assert.IsNull(await _journal.ResetVfAsync(Vf), "a write answered ENOENT (no such VF any more) counts as reset");

        CollectionAssert.AreEqual(new[] { "write bus/pci/devices/0000:c1:00.5/nvidia/current_vgpu_type 0" }, _fake.Writes().ToArray());
        Assert.IsFalse(_journal.HoldsVf(Vf));
        Assert.AreEqual(CreatedDeviceState.Removed, _journal.Devices.Single().State);
        CollectionAssert.AreEqual(new[] { $"journal {NvidiaSysfsVfControl.JournalKey(Vf)} Created", $"journal {NvidiaSysfsVfControl.JournalKey(Vf)} Removed", "release pci:0000:c1:00.5" }, _store.Writes.ToArray());
        Assert.AreEqual(1, _counters.Snapshot().Removes);
        Assert.IsNull(await _journal.ResetVfAsync(Vf), "a VF reset already is not written again");
        Assert.HasCount(1, _fake.Writes());
    }

    [TestMethod]
    public async Task ResetVfThatFails_IsAFailure_AndTheVfStaysHeldAndClaimed()
    {
        await _journal.RecordVfAsync(Vf, new VgpuType(1044, null), 0);
        _fake.FileSystem.FailingWrites["bus/pci/devices/0000:c1:00.5/nvidia/current_vgpu_type"] = Errno.EBUSY;

        var failure = await _journal.ResetVfAsync(Vf);

        var expected = new RemovalFailure("dest", NvidiaSysfsVfControl.JournalKey(Vf), "writing 0 to bus/pci/devices/0000:c1:00.5/nvidia/current_vgpu_type failed with EBUSY");
        Assert.AreEqual(expected, failure);
        CollectionAssert.AreEqual(new[] { expected }, _journal.Failures.ToArray());
        Assert.IsTrue(_journal.HoldsVf(Vf));
        Assert.AreEqual(JournalState.RemoveFailed, _store.Entries[^1].State);
        Assert.AreEqual(expected.Message, _store.Entries[^1].Error);
        Assert.IsFalse(_store.Writes.Any(w => w.StartsWith("release", StringComparison.Ordinal)));
        Assert.AreEqual(0, _counters.Snapshot().Removes);
    }

    [TestMethod]
    public async Task Rollback_RemovesSysfsDevicesInOneBatch_LastScheduledFirst_AndKeepsTheirClaimsForEnd()
    {
        var second = await MadeAsync(1);
        var first = await MadeAsync(0);
        var third = await MadeAsync(2);

        var failures = await _journal.RollbackAsync();

        Assert.IsEmpty(failures);
        CollectionAssert.AreEqual(new[] { RemovePath(third), RemovePath(second), RemovePath(first) }, _sysfs.Batches.Single().ToArray());
        Assert.IsEmpty(_fake.Mdevs);
        Assert.IsTrue(_journal.Devices.All(d => d.State == CreatedDeviceState.Removed));
        CollectionAssert.AreEqual(
            new[] { $"journal {second} Created", $"journal {first} Created", $"journal {third} Created", $"journal {third} Removed", $"journal {second} Removed", $"journal {first} Removed" },
            _store.Writes.ToArray(),
            "no claim is released: End releases them all in one write");
        Assert.IsTrue(_store.Entries.Skip(3).All(e => e.Error is null));
        Assert.AreEqual(3, _counters.Snapshot().Removes);
        Assert.AreEqual(0, _counters.Snapshot().LibvirtCalls);
        Assert.IsFalse(_journal.Holds(first));
        CollectionAssert.AreEqual(new[] { "Rolling back 3 device(s) created on dest", $"Removed mdev {third} on dest", $"Removed mdev {second} on dest", $"Removed mdev {first} on dest" }, Logged().Skip(3).ToArray());
        Assert.IsEmpty(await _journal.RollbackAsync(), "nothing is left to remove");
        Assert.HasCount(1, _sysfs.Batches);
        Assert.HasCount(7, Logged(), "an empty rollback logs nothing");
    }

    [TestMethod]
    public async Task Rollback_OfOneSysfsDevice_IsOneWrite_NotABatch()
    {
        var uuid = await MadeAsync(0);

        Assert.IsEmpty(await _journal.RollbackAsync());

        Assert.IsEmpty(_sysfs.Batches);
        CollectionAssert.AreEqual(new[] { $"write {RemovePath(uuid)} 1" }, _fake.Writes().ToArray());
        Assert.IsEmpty(_fake.Mdevs);
    }

    [TestMethod]
    public async Task Rollback_OfDevicesMadeInDifferentWays_RemovesEachTheWayItWasMade_LastScheduledFirst()
    {
        var viaSysfs = await MadeAsync(0);
        var viaLibvirt = await MadeAsync(1, CreationMethod.Libvirt, persistent: true);
        _fake.Operations.Clear();

        Assert.IsEmpty(await _journal.RollbackAsync());

        Assert.IsEmpty(_sysfs.Batches);
        CollectionAssert.AreEqual(new[] { $"hv:DestroyMdev {viaLibvirt}", $"write {RemovePath(viaSysfs)} 1" }, _fake.Operations.ToArray());
        Assert.IsEmpty(_fake.Mdevs);
        Assert.AreEqual(1, _counters.Snapshot().LibvirtCalls, "the libvirt removal is counted");
    }

    [TestMethod]
    public async Task Rollback_WhoseBatchFails_RemovesEachDeviceOnItsOwn()
    {
        var first = await MadeAsync(0);
        var second = await MadeAsync(1);
        _sysfs.BatchFailure = new IOException("ssh: connection reset");
        _fake.Operations.Clear();

        Assert.IsEmpty(await _journal.RollbackAsync());

        Assert.HasCount(1, _sysfs.Batches);
        CollectionAssert.AreEqual(new[] { $"write {RemovePath(second)} 1", $"write {RemovePath(first)} 1" }, _fake.Operations.ToArray());
        Assert.IsEmpty(_fake.Mdevs);
        Assert.AreEqual(2, _counters.Snapshot().Removes);
        Assert.AreEqual("Removing 2 mdev(s) on dest in one batch failed (ssh: connection reset); removing them one by one", Logged()[3]);
    }

    [TestMethod]
    public async Task Rollback_WithARemovalThatFails_ReportsIt_SettlesTheOthers_AndTheRetryReleasesTheClaim()
    {
        var first = await MadeAsync(0);
        var busy = await MadeAsync(1);
        var third = await MadeAsync(2);
        _fake.FileSystem.FailingWrites[RemovePath(busy)] = Errno.EBUSY;

        var failures = await _journal.RollbackAsync();

        var expected = new RemovalFailure("dest", busy, $"writing 1 to {RemovePath(busy)} failed with EBUSY");
        CollectionAssert.AreEqual(new[] { expected }, failures.ToArray());
        CollectionAssert.AreEqual(new[] { expected }, _journal.Failures.ToArray());
        CollectionAssert.AreEqual(new[] { CreatedDeviceState.Removed, CreatedDeviceState.RemoveFailed, CreatedDeviceState.Removed }, _journal.Devices.Select(d => d.State).ToArray());
        Assert.AreEqual(expected.Message, _journal.Devices[1].Error);
        Assert.AreEqual(new JournalEntry(Plan, HostKey, "dest", busy, "pci_0000_41_00_0", _type.Id, CreationMethod.Sysfs, false, 1, JournalState.RemoveFailed, expected.Message), _store.Entries.Single(e => e.State == JournalState.RemoveFailed));
        Assert.IsTrue(_journal.Holds(busy));
        Assert.IsFalse(_journal.Holds(third));
        Assert.AreEqual(busy, _fake.Mdevs.Single().Uuid);
        Assert.AreEqual($"Could not remove mdev {busy} on dest: {expected.Message}", Logged()[5]);

        Assert.HasCount(1, await _journal.RetryFailedAsync(), "still busy");
        _fake.FileSystem.FailingWrites.Clear();
        Assert.IsEmpty(await _journal.RetryFailedAsync());

        Assert.IsEmpty(_journal.Failures);
        Assert.IsFalse(_journal.Holds(busy));
        Assert.IsEmpty(_fake.Mdevs);
        CollectionAssert.AreEqual(new[] { $"journal {busy} RemoveFailed", $"journal {busy} Removed", $"release mdev:{busy}" }, _store.Writes.TakeLast(3).ToArray());
        Assert.IsFalse(_store.Writes.Contains($"release mdev:{first}"), "a rollback leaves the claims to End");
        Assert.AreEqual(3, _counters.Snapshot().Removes);
    }

    [TestMethod]
    public async Task RetryFailed_RemovesTheFailedDevicesInScheduleOrder_InOneBatch()
    {
        var first = await MadeAsync(0);
        var second = await MadeAsync(1);
        _fake.FileSystem.FailingWrites[RemovePath(first)] = Errno.EBUSY;
        _fake.FileSystem.FailingWrites[RemovePath(second)] = Errno.EBUSY;
        Assert.HasCount(2, await _journal.RollbackAsync());
        CollectionAssert.AreEqual(new[] { first, second }, _journal.Failures.Select(f => f.Uuid).ToArray(), "failures in schedule order");
        _fake.FileSystem.FailingWrites.Clear();

        Assert.IsEmpty(await _journal.RetryFailedAsync());

        CollectionAssert.AreEqual(new[] { RemovePath(first), RemovePath(second) }, _sysfs.Batches[^1].ToArray());
        Assert.IsEmpty(_fake.Mdevs);
        CollectionAssert.AreEqual(new[] { $"journal {first} Removed", $"release mdev:{first}", $"journal {second} Removed", $"release mdev:{second}" }, _store.Writes.TakeLast(4).ToArray());
    }

    [TestMethod]
    public async Task AStoreThatCannotRecordARemoval_DoesNotStopTheRollback()
    {
        var first = await MadeAsync(0);
        var second = await MadeAsync(1);
        _store.FailJournal = e => e.State == JournalState.Removed;

        Assert.IsEmpty(await _journal.RollbackAsync());

        Assert.IsEmpty(_fake.Mdevs);
        Assert.IsFalse(_journal.Holds(first));
        Assert.IsFalse(_journal.Holds(second));
        Assert.AreEqual(2, _counters.Snapshot().Removes);
        Assert.AreEqual($"Could not record in the state store that mdev {second} on dest was removed (recovery will find it gone): disk full", Logged()[3]);
    }

    [TestMethod]
    public async Task RemoveOne_RemovesAKeptDevice_ReleasesItsClaim_AndIgnoresAnyOther()
    {
        var kept = await MadeAsync(0, CreationMethod.Libvirt);
        var other = await MadeAsync(1);
        _fake.Operations.Clear();

        Assert.IsNull(await _journal.RemoveAsync(MdevUuid.Parse("00000000-0000-4000-8000-00000000000d")));
        Assert.IsEmpty(_fake.Operations, "a UUID the journal does not hold is not removed");
        Assert.IsNull(await _journal.RemoveAsync(kept));
        Assert.IsNull(await _journal.RemoveAsync(kept));

        CollectionAssert.AreEqual(new[] { $"hv:DestroyMdev {kept}" }, _fake.Operations.ToArray());
        CollectionAssert.AreEqual(new[] { $"journal {kept} Removed", $"release mdev:{kept}" }, _store.Writes.TakeLast(2).ToArray());
        Assert.AreEqual(other, _fake.Mdevs.Single().Uuid);
        Assert.AreEqual(1, _counters.Snapshot().LibvirtCalls);
    }

    [TestMethod]
    public async Task Commit_RecordsWhetherTheGuestMigrated_AndEndEndsThePlan()
    {
        await _journal.CommitAsync(migrated: true, CancellationToken.None);
        await _journal.CommitAsync(migrated: false, CancellationToken.None);
        await _journal.EndAsync();

        CollectionAssert.AreEqual(new[] { "commit migrated", "commit", "end" }, _store.Writes.ToArray());
    }

    [TestMethod]
    public async Task Removal_ReportsEachWayOfFailing_AndCountsAMissingDeviceAsGone()
    {
        var host = new MigrationHost("dest", _fake.Hypervisor, _fake.FileSystem);
        var uuid = _fake.AddMdev(_type).Uuid;
        var missing = MdevUuid.Parse("00000000-0000-4000-8000-00000000000e");

        Assert.IsNull(await MdevRemoval.RemoveAsync(host, missing, "pci_0000_41_00_0", CreationMethod.Sysfs, false), "ENOENT: already gone");
        Assert.AreEqual($"Node device for mdev {missing} not found.", await MdevRemoval.RemoveAsync(host, missing, "pci_0000_41_00_0", CreationMethod.Libvirt, true));
        Assert.AreEqual("the journal names no VF address ('pci_0000_41_00_0')", await MdevRemoval.RemoveAsync(host, uuid, "pci_0000_41_00_0", CreationMethod.Vf, false));
        _fake.FileSystem.ThrowingWrites.Add(RemovePath(uuid));
        Assert.AreEqual("ssh: connection to dest lost", await MdevRemoval.RemoveAsync(host, uuid, "pci_0000_41_00_0", CreationMethod.Sysfs, false));
        _fake.FileSystem.ThrowingWrites.Add("bus/pci/devices/0000:c1:00.5/nvidia/current_vgpu_type");
        Assert.AreEqual("ssh: connection to dest lost", await MdevRemoval.RemoveAsync(host, uuid, "0000:c1:00.5", CreationMethod.Vf, false));
        Assert.AreEqual(uuid, _fake.Mdevs.Single().Uuid);
        Assert.IsFalse(_fake.Writes().Any(w => w.Contains("pci_0000_41_00_0", StringComparison.Ordinal)), "an invalid VF address is never written to");
    }

    [TestMethod]
    public void TargetKeys_NameTheDeviceKind()
    {
        Assert.AreEqual("mdev:00000000-0000-4000-8000-00000000000f", TargetKeys.Mdev(MdevUuid.Parse("00000000-0000-4000-8000-00000000000f")));
        Assert.AreEqual("pci:0000:c1:00.5", TargetKeys.Pci(Vf));
    }
}
