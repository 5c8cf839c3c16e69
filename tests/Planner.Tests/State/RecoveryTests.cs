using Microsoft.Data.Sqlite;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Hypervisor;
using VfioMigration.Planner.State;
using VfioMigration.Planner.Sysfs;
using VfioMigration.Planner.Tests.Fakes;

namespace VfioMigration.Planner.Tests.State;

/// <summary>
/// A plan whose process is gone (its store opened as a dead owner, the plan never disposed) and
/// what recovery, and the next plan, make of what it left.
/// </summary>
[TestClass]
public sealed class RecoveryTests : IDisposable
{
    private string _directory = null!;

    private SqliteStateStore? _dead;

    public TestContext TestContext { get; set; } = null!;

    [TestInitialize]
    public void CreateDirectory() => _directory = Directory.CreateTempSubdirectory("vfio-state-").FullName;

    [TestCleanup]
    public void DeleteDirectory()
    {
        Dispose();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    public void Dispose()
    {
        _dead?.Dispose();
        _dead = null;
    }

    private static Scenario NeedsTwoCreates(CreateBehaviour behaviour)
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63", "nvidia-63");
        scenario.DestinationType(max: 4);
        scenario.Destination.Hypervisor.Create = behaviour;
        return scenario;
    }

    /// <summary>Plans with a store of a process that is gone and leaves the plan as a SIGKILL would: neither released nor committed.</summary>
    private async Task<MigrationPlan> PlanAndDieAsync(Scenario scenario)
    {
        _dead = new SqliteStateStore(_directory, SqliteStateStoreTests.Gone);
        var result = await new MigrationPlanner(claims: _dead).PlanAsync(scenario.Request(), TestContext.CancellationToken);
        Assert.IsTrue(result.Succeeded);
        Assert.HasCount(2, result.Best.Created);
        return result.Best;
    }

    [TestMethod]
    [DataRow(true)]
    [DataRow(false)]
    public async Task Recovery_RemovesWhatADeadPlanCreated_AndForgetsThePlan(bool libvirtCreates)
    {
        var scenario = NeedsTwoCreates(libvirtCreates ? CreateBehaviour.Works : CreateBehaviour.NotSupported);
        var before = scenario.Destination.Snapshot();
        var orphan = await PlanAndDieAsync(scenario);
        Assert.AreNotEqual(before, scenario.Destination.Snapshot());

        using var store = new SqliteStateStore(_directory);
        var report = await new MigrationPlanner(claims: store).RecoverAsync(scenario.Destination.ToHost(), cancellationToken: TestContext.CancellationToken);

        CollectionAssert.AreEquivalent(orphan.Created.Select(c => c.Uuid).ToList(), report.Devices.Select(d => d.Uuid).ToList());
        Assert.IsTrue(report.Devices.All(d => d.Action == RecoveryAction.Removed && d.Guest == "vm1"));
        Assert.AreEqual(before, scenario.Destination.Snapshot());
        CollectionAssert.AreEquivalent(
            libvirtCreates ? orphan.Created.Select(c => $"hv:DestroyMdev {c.Uuid}").ToArray() : [],
            scenario.Destination.Operations.Where(o => o.StartsWith("hv:DestroyMdev ", StringComparison.Ordinal)).ToArray(),
            "a device libvirt made and lists goes through libvirt first, a device made through sysfs does not");
        Assert.IsEmpty(await store.ListPlansAsync());
        var again = await new MigrationPlanner(claims: store).RecoverAsync(scenario.Destination.ToHost(), cancellationToken: TestContext.CancellationToken);
        Assert.IsEmpty(again.Devices, "nothing is pending any more");
    }

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public async Task AVfADeadPlanConfigured_IsResetByRecovery_UnlessAGuestNowUsesIt(bool guestUsesIt)
    {
        var scenario = VgpuFixtures.GuestWithVfVgpus(1157);
        var vf = VgpuFixtures.AddGpu(scenario, "0000:81:00.0", 1).Single();
        _dead = new SqliteStateStore(_directory, SqliteStateStoreTests.Gone);
        var orphan = await new MigrationPlanner(claims: _dead).PlanAsync(scenario.Request(), TestContext.CancellationToken);
        Assert.IsTrue(orphan.Succeeded, string.Join("\n", orphan.Best.Reasons));
        Assert.AreEqual(1157u, vf.Vf!.Type, "the dead plan configured the VF");
        if (guestUsesIt)
        {
            scenario.Destination.DefineGuest("vm1", FakeHost.PciDevice(0, vf));
        }

        using var store = new SqliteStateStore(_directory);
        var report = await new MigrationPlanner(claims: store).RecoverAsync(scenario.Destination.ToHost(), cancellationToken: TestContext.CancellationToken);

        var device = report.Devices.Single();
        Assert.AreEqual(guestUsesIt ? RecoveryAction.UsedByGuest : RecoveryAction.Removed, device.Action);
        if (guestUsesIt)
        {
            Assert.AreEqual("vm1", device.Detail);
            Assert.AreEqual(1157u, vf.Vf.Type);
        }
        else
        {
            Assert.AreEqual("write bus/pci/devices/0000:81:00.4/nvidia/current_vgpu_type 0", scenario.Destination.Writes()[^1]);
            Assert.AreEqual(0u, vf.Vf.Type);
            Assert.IsEmpty(await store.ListPlansAsync());
        }
    }

    [TestMethod]
    public async Task TheNextPlan_RecoversFirst_SoItNeverAdoptsAnOrphanAsReuse()
    {
        var scenario = NeedsTwoCreates(CreateBehaviour.Works);
        var before = scenario.Destination.Snapshot();
        var orphan = await PlanAndDieAsync(scenario);
        var orphans = orphan.Created.Select(c => c.Uuid.Value).ToHashSet();

        using var store = new SqliteStateStore(_directory);
        await using (var next = await new MigrationPlanner(claims: store).PlanAsync(scenario.Request(), TestContext.CancellationToken))
        {
            Assert.IsTrue(next.Succeeded);
            Assert.IsTrue(next.Best.Devices.All(d => d.Action == DeviceAction.Create), string.Join(", ", next.Best.Devices.Select(d => d.Action)));
            Assert.IsFalse(next.Best.Devices.Any(d => orphans.Contains(((MdevTarget)d.Target.Target).Uuid.Value)));
        }

        Assert.AreEqual(before, scenario.Destination.Snapshot());
        Assert.IsEmpty(await store.ListPlansAsync());
    }

    [TestMethod]
    public async Task ADeviceAGuestNowUses_IsMarkedCommitted_AndLeftAlone()
    {
        var scenario = NeedsTwoCreates(CreateBehaviour.Works);
        var orphan = await PlanAndDieAsync(scenario);
        var used = scenario.Destination.Mdevs.Single(m => m.Uuid == orphan.Created[0].Uuid);
        scenario.Destination.DefineGuest("vm1", FakeHost.MdevDevice(0, used));

        using var store = new SqliteStateStore(_directory);
        var report = await new MigrationPlanner(claims: store).RecoverAsync(scenario.Destination.ToHost(), cancellationToken: TestContext.CancellationToken);

        var kept = report.Devices.Single(d => d.Uuid == used.Uuid);
        Assert.AreEqual(RecoveryAction.UsedByGuest, kept.Action);
        Assert.AreEqual("vm1", kept.Detail);
        Assert.AreEqual(RecoveryAction.Removed, report.Devices.Single(d => d.Uuid != used.Uuid).Action);
        Assert.AreEqual(used.Uuid, scenario.Destination.Mdevs.Single().Uuid);
    }

    [TestMethod]
    public async Task ARemovalThatFailsInRecovery_IsReported_KeepsThePlan_AndTheNextRecoveryFinishesIt()
    {
        var scenario = NeedsTwoCreates(CreateBehaviour.NotSupported);
        var before = scenario.Destination.Snapshot();
        var orphan = await PlanAndDieAsync(scenario);
        var (busy, free) = (orphan.Created[0].Uuid, orphan.Created[1].Uuid);
        scenario.Destination.FileSystem.FailingWrites[$"bus/mdev/devices/{busy}/remove"] = Errno.EBUSY;
        using var store = new SqliteStateStore(_directory);
        var planner = new MigrationPlanner(claims: store);

        var first = await planner.RecoverAsync(scenario.Destination.ToHost(), cancellationToken: TestContext.CancellationToken);

        CollectionAssert.AreEqual(
            new[] { $"{busy} RemoveFailed", $"{free} Removed" },
            first.Devices.Select(d => $"{d.Uuid} {d.Action}").ToArray());
        StringAssert.Contains(first.Devices[0].Detail, "EBUSY");
        Assert.AreEqual(busy, scenario.Destination.Mdevs.Single().Uuid);
        var kept = (await store.ListPlansAsync()).Single();
        CollectionAssert.AreEqual(
            new[] { $"{busy} RemoveFailed", $"{free} Removed" },
            kept.Entries.Select(e => $"{e.Uuid} {e.State}").ToArray());

        scenario.Destination.FileSystem.FailingWrites.Clear();
        var second = await planner.RecoverAsync(scenario.Destination.ToHost(), cancellationToken: TestContext.CancellationToken);

        CollectionAssert.AreEqual(new[] { $"{busy} Removed" }, second.Devices.Select(d => $"{d.Uuid} {d.Action}").ToArray());
        Assert.AreEqual(before, scenario.Destination.Snapshot());
        Assert.IsEmpty(await store.ListPlansAsync());
    }

    [TestMethod]
    [DataRow(true)]
    [DataRow(false)]
    public async Task AMigrationWhoseOutcomeIsUnknown_LeavesTheDevicesToRecovery_WhichGivesThemToTheGuestThatArrived_OrRemovesThem(bool guestArrived)
    {
        var scenario = NeedsTwoCreates(CreateBehaviour.Works);
        var before = scenario.Destination.Snapshot();
        var plan = await PlanAndDieAsync(scenario);
        var made = scenario.Destination.Snapshot();
        const string Unknown = "interrupted during the migration of 'vm1', and the abort got no answer in time: the migration may still finish, so where the guest runs is unknown";
        scenario.Source.Hypervisor.MigrationFailure = new MigrationOutcomeUnknownException(Unknown);

        var error = await Assert.ThrowsExactlyAsync<MigrationOutcomeUnknownException>(() => plan.ExecuteAsync(cancellationToken: TestContext.CancellationToken));

        var uuids = plan.Created.Select(c => c.Uuid).ToList();
        Assert.AreEqual($"{Unknown}; the 2 device(s) it created on dest (mdev {uuids[0].Value}, mdev {uuids[1].Value}) are left for recovery (vfio-migrator recover) once this process has ended", error.Message);
        Assert.AreEqual(PlanState.InDoubt, plan.State);
        await Assert.ThrowsExactlyAsync<InvalidOperationException>(() => plan.CommitAsync(TestContext.CancellationToken));
        await plan.DisposeAsync();
        Assert.AreEqual(made, scenario.Destination.Snapshot(), "disposing a plan in doubt removes nothing");
        if (guestArrived)
        {
            var mdevs = scenario.Destination.Mdevs.OrderBy(m => uuids.IndexOf(m.Uuid)).ToList();
            scenario.Destination.DefineGuest("vm1", FakeHost.MdevDevice(0, mdevs[0]), FakeHost.MdevDevice(1, mdevs[1]));
        }

        using var store = new SqliteStateStore(_directory);
        var report = await new MigrationPlanner(claims: store).RecoverAsync(scenario.Destination.ToHost(), cancellationToken: TestContext.CancellationToken);

        CollectionAssert.AreEqual(uuids, report.Devices.Select(d => d.Uuid).ToList());
        Assert.IsTrue(report.Devices.All(d => d.Action == (guestArrived ? RecoveryAction.UsedByGuest : RecoveryAction.Removed)), string.Join(", ", report.Devices.Select(d => d.Action)));
        if (guestArrived)
        {
            CollectionAssert.AreEquivalent(uuids, scenario.Destination.Mdevs.Select(m => m.Uuid).ToList());
        }
        else
        {
            Assert.AreEqual(before, scenario.Destination.Snapshot());
            Assert.IsEmpty(await store.ListPlansAsync());
        }
    }

    [TestMethod]
    public async Task PlanningOntoTheDestination_LeavesAKeptPlanAlone_EvenWhenGuestsUseAllItsDevices()
    {
        var scenario = NeedsTwoCreates(CreateBehaviour.Works);
        var kept = await PlanAndDieAsync(scenario);
        await kept.CommitAsync();
        var made = scenario.Destination.Mdevs.Where(m => kept.Created.Any(c => c.Uuid == m.Uuid)).ToList();
        scenario.Destination.DefineGuest("migrated", FakeHost.MdevDevice(0, made[0]), FakeHost.MdevDevice(1, made[1]));
        using var store = new SqliteStateStore(_directory);
        var id = (await store.ListPlansAsync()).Single().Id;

        await using (var result = await new MigrationPlanner(claims: store).PlanAsync(scenario.Request(), TestContext.CancellationToken))
        {
            Assert.IsTrue(result.Succeeded, string.Join("\n", result.Best.Reasons));
        }

        Assert.AreEqual(PlanOwnerState.Committed, (await store.ListPlansAsync()).Single(p => p.Id == id).Owner, "a plan only forgets kept plans when recovery is asked for");
        Assert.HasCount(2, scenario.Destination.Mdevs);
    }

    [TestMethod]
    public async Task AKeptPlan_SurvivesRecovery_AndIsRemovedByRelease()
    {
        var scenario = NeedsTwoCreates(CreateBehaviour.Works);
        var before = scenario.Destination.Snapshot();
        var kept = await PlanAndDieAsync(scenario);
        await kept.CommitAsync();

        using var store = new SqliteStateStore(_directory);
        var planner = new MigrationPlanner(claims: store);
        var recovered = await planner.RecoverAsync(scenario.Destination.ToHost(), cancellationToken: TestContext.CancellationToken);
        Assert.IsEmpty(recovered.Devices, "a kept plan whose devices no guest uses is left alone");
        var listed = (await store.ListPlansAsync()).Single();
        Assert.AreEqual(PlanOwnerState.Committed, listed.Owner);
        var id = listed.Id;

        var released = await planner.ReleaseKeptPlanAsync(id, scenario.Destination.ToHost(), TestContext.CancellationToken);

        Assert.HasCount(2, released.Devices);
        Assert.IsTrue(released.Devices.All(d => d.Action == RecoveryAction.Removed));
        Assert.AreEqual(before, scenario.Destination.Snapshot());
        Assert.IsEmpty(await store.ListPlansAsync());
        await Assert.ThrowsExactlyAsync<InvalidOperationException>(() => planner.ReleaseKeptPlanAsync(id, scenario.Destination.ToHost(), TestContext.CancellationToken));
    }

    [TestMethod]
    public async Task AStoreThatCannotJournal_StopsThePlanBeforeAnyCreate()
    {
        var scenario = NeedsTwoCreates(CreateBehaviour.Works);
        var before = scenario.Destination.Snapshot();
        var store = new UnwritableJournal();

        var error = await Assert.ThrowsExactlyAsync<StateStoreException>(() => new MigrationPlanner(claims: store).PlanAsync(scenario.Request(), TestContext.CancellationToken));

        Assert.AreEqual("disk full", error.Message);
        Assert.AreEqual(before, scenario.Destination.Snapshot());
        Assert.IsFalse(scenario.Destination.Operations.Any(o => o.Contains("create", StringComparison.OrdinalIgnoreCase)), string.Join("\n", scenario.Destination.Operations));
        Assert.AreEqual(0, store.Claims.Count);
    }

    /// <summary>The in-memory store, except that no journal entry can be written.</summary>
    private sealed class UnwritableJournal : OneDeviceStore
    {
        public override string Location => "a full disk";

        public override Task JournalAsync(JournalEntry entry, CancellationToken cancellationToken = default) => Task.FromException(new StateStoreException("disk full"));
    }
}
