using VfioMigration.Planner.Planning;
using VfioMigration.Planner.Sysfs;
using VfioMigration.Planner.Tests.Fakes;
using VfioMigration.Planner.Tests.State;

namespace VfioMigration.Planner.Tests.Planning;

/// <summary>
/// Inputs that kill surviving mutants of <c>DestinationPlanner</c>'s assignment search, its
/// backtracking, its pack key and its mdev provisioning (docs/testing.md, "DestinationPlanner's 60,
/// classified by reading"): each test was shown to fail with its mutant planted by hand.
/// </summary>
[TestClass]
public sealed class SearchSurvivorTests
{
    private const string OtherVersion = "nvidia-vgpu-w";
    private const string PciVersion = "nvidia-mig-v1";

    [TestMethod]
    public async Task ASearchRunAgainAfterALostClaim_ForgetsTheParentsThePreviousSearchUsed()
    {
        // l.268 (_parentTypes.Clear() removed). Spread: device 0 (nvidia-63) is created on 41 (four left,
        // 42 two); device 1 (nvidia-64) takes the idle mdev on 43, which a racer claims. The search that
        // runs again starts afresh: 41 is still the parent with the most left.
        var scenario = new Scenario();
        scenario.Guest("nvidia-63", "nvidia-64");
        scenario.DestinationType(parent: "0000:41:00.0", max: 4);
        scenario.DestinationType(parent: "0000:42:00.0", max: 2);
        var idle = scenario.Destination.AddMdev(scenario.DestinationType(parent: "0000:43:00.0", id: "nvidia-64", max: 2));
        var store = RacerClaimingAfterTheRead(scenario, idle);

        await using var result = await new MigrationPlanner(claims: store).PlanAsync(scenario.Request(new PlanOptions { Placement = PlacementPreference.Spread }));

        Assert.IsTrue(result.Succeeded, string.Join("\n", result.Best.Reasons));
        CollectionAssert.AreEqual(
            new[] { "pci_0000_41_00_0 nvidia-63 Create", "pci_0000_43_00_0 nvidia-64 Create" },
            result.Best.Devices.Select(d => $"{d.Target.Parent} {d.Target.Type} {d.Action}").ToArray());
    }

    [TestMethod]
    public async Task ASearchRunAgainAfterAFailedCreate_GivesTheIdleMdevItReusedBefore()
    {
        // l.269 (_taken.Clear() removed). Device 0 (nvidia-64) reuses the idle mdev on 44, its only
        // candidate; device 1's create on 41 (packing: fewest left) fails with EIO. The next search gives
        // the idle mdev to device 0 again and creates device 1 on 42.
        var scenario = new Scenario();
        scenario.Guest("nvidia-64", "nvidia-63");
        var idle = scenario.Destination.AddMdev(scenario.DestinationType(parent: "0000:44:00.0", id: "nvidia-64", max: 1));
        scenario.DestinationType(parent: "0000:41:00.0", max: 1);
        scenario.DestinationType(parent: "0000:42:00.0", max: 2);
        scenario.Destination.FileSystem.FailingWrites["class/mdev_bus/0000:41:00.0/mdev_supported_types/nvidia-63/create"] = Errno.EIO;

        await using var result = await scenario.PlanAsync();

        Assert.IsTrue(result.Succeeded, string.Join("\n", result.Best.Reasons));
        CollectionAssert.AreEqual(
            new[] { $"{idle.Uuid} pci_0000_44_00_0 Reuse", "pci_0000_42_00_0 Create" },
            result.Best.Devices.Select(d => d.Action == DeviceAction.Reuse ? $"{d.Target.Id} {d.Target.Parent} {d.Action}" : $"{d.Target.Parent} {d.Action}").ToArray());
    }

    [TestMethod]
    public async Task ADeviceNothingAccepts_StopsTheSearch_WithoutProbingTheEarlierDevicesOtherCandidates()
    {
        // l.308, l.309, l.353 (the device is never marked unplaceable) and l.340 (|| to &&): device 0 has
        // two idle mdevs, X and Y; device 1's only candidate, a create on 42, refuses the version. Nothing
        // device 0 takes can change that, so Y is never probed: two probes, X's and 42's.
        var scenario = new Scenario();
        scenario.Guest("nvidia-63", "nvidia-64");
        var type = scenario.DestinationType(parent: "0000:41:00.0", max: 2);
        var x = scenario.Destination.AddMdev(type);
        scenario.Destination.AddMdev(type);
        scenario.DestinationType(parent: "0000:42:00.0", id: "nvidia-64").TypeVersion = new FakeVersion("nvidia-vgpu-v2");

        await using var result = await scenario.PlanAsync();

        Assert.IsFalse(result.Succeeded);
        CollectionAssert.AreEqual(
            new[]
            {
                $"write bus/mdev/devices/{x.Uuid}/migration_version {Scenario.Version}",
                $"write class/mdev_bus/0000:42:00.0/mdev_supported_types/nvidia-64/migration_version {Scenario.Version}",
            },
            scenario.DestinationWrites("/migration_version ").ToArray());
        Assert.AreEqual(2, result.Best.Statistics.Probes);
        var second = scenario.Source.Mdevs[1].Uuid.Value;
        CollectionAssert.AreEqual(
            new[] { $"The mdev {second} (type nvidia-64) could not be placed on dest: no candidate accepts it (2 rejected; see the rejections)." },
            result.Best.Reasons.ToArray());
        Assert.AreEqual(x.Uuid.Value, result.Best.Devices.Single().Target.Id);
    }

    [TestMethod]
    public async Task ACancellationDuringTheSearch_ThrowsAtTheNextCandidate_EvenWhenItsVerdictIsKnown()
    {
        // l.312 (ThrowIfCancellationRequested removed). Devices 0 and 1 have one candidate, the same idle
        // mdev; the token is cancelled once its probe for device 0 is answered. The search stops at device
        // 1's candidate instead of finishing on memoised verdicts into a failed plan.
        var scenario = new Scenario();
        scenario.Guest("nvidia-63", "nvidia-63");
        scenario.Destination.AddMdev(scenario.DestinationType(max: 1));
        using var cancellation = new CancellationTokenSource();
        var cache = new CancellingCache(cancellation);
        var options = new PlanOptions { VerdictCacheLifetime = TimeSpan.FromMinutes(5) };

        await Assert.ThrowsExactlyAsync<OperationCanceledException>(() => scenario.Planner(cache: cache).PlanAsync(scenario.Request(options), cancellation.Token));

        Assert.AreEqual(1, cache.Stored, "the token was cancelled after the only probe");
        Assert.AreEqual(0, scenario.Claims.Count);
    }

    [TestMethod]
    public async Task AFailedPlansPartialAssignment_IsTheFirstOfItsDepth()
    {
        // l.346 (> to >=). Devices 0 (version v) and 1 (version w) are nvidia-63; the idle X and Y accept
        // only v. The search fails at device 1 with device 0 on X, then again with device 0 on Y: the
        // failed plan lists the first partial assignment of that depth, device 0 on X.
        var scenario = new Scenario();
        var sourceType = scenario.SourceType();
        var first = scenario.Source.AddMdev(sourceType);
        scenario.Source.DefineGuest("vm1", FakeHost.MdevDevice(0, first), FakeHost.MdevDevice(1, scenario.Source.AddMdev(sourceType, new FakeVersion(OtherVersion))));
        var type = scenario.DestinationType(max: 2);
        var x = scenario.Destination.AddMdev(type);
        scenario.Destination.AddMdev(type);

        await using var result = await scenario.PlanAsync();

        Assert.IsFalse(result.Succeeded);
        var device = result.Best.Devices.Single();
        Assert.AreEqual((first.Uuid.Value, x.Uuid.Value, DeviceAction.Reuse), (device.Source.Id, device.Target.Id, device.Action));
    }

    [TestMethod]
    public async Task Pack_PutsTheNextDeviceOnAParentThePlanUses_BeforeAnUnusedOneWithFewerLeft()
    {
        // l.391 (the pack key's conditional made true, or false). Device 0 (version v) is refused by 41's
        // type (two left, fewest) and created on 42 (four). Device 1 (version w) is accepted by both: it
        // goes to 42, already used, although 41 has fewer left.
        var scenario = new Scenario();
        var sourceType = scenario.SourceType();
        scenario.Source.DefineGuest("vm1", FakeHost.MdevDevice(0, scenario.Source.AddMdev(sourceType)), FakeHost.MdevDevice(1, scenario.Source.AddMdev(sourceType, new FakeVersion(OtherVersion))));
        var onlyW = scenario.DestinationType(parent: "0000:41:00.0", max: 2);
        onlyW.TypeVersion = new FakeVersion(OtherVersion);
        onlyW.DeviceVersion = new FakeVersion(OtherVersion);
        var both = scenario.DestinationType(parent: "0000:42:00.0", max: 4);
        both.TypeVersion = new FakeVersion(Scenario.Version, OtherVersion);
        both.DeviceVersion = new FakeVersion(Scenario.Version, OtherVersion);

        await using var result = await scenario.PlanAsync(new PlanOptions { Placement = PlacementPreference.Pack });

        Assert.IsTrue(result.Succeeded, string.Join("\n", result.Best.Reasons));
        CollectionAssert.AreEqual(new[] { "pci_0000_42_00_0", "pci_0000_42_00_0" }, result.Best.Devices.Select(d => d.Target.Parent).ToArray());
        Assert.AreEqual(RejectionCode.VersionRejected, result.Best.Rejections.Single().Code);
    }

    [TestMethod]
    public async Task AfterACreateFailed_APciFunctionIsPassedThrough_BesideAnMdevMadeOnAnotherFunction()
    {
        // l.483 (== to != in GetsNewMdevs' ProvisionedOption arm). Device 0's mdev is made on 41; device 2's
        // create on 42 fails with EIO. In the next search device 0's made mdev is not on 81:00.0, so device 1
        // still passes 81:00.0 through, and device 2 is created on 43.
        var scenario = new Scenario();
        var sourcePci = scenario.Source.AddPci("0000:02:00.0", "0x10de", "0x2330", "nvidia-mig-1", new FakeVersion(PciVersion));
        scenario.Source.DefineGuest(
            "vm1",
            FakeHost.MdevDevice(0, scenario.Source.AddMdev(scenario.SourceType("nvidia-63"))),
            FakeHost.PciDevice(1, sourcePci),
            FakeHost.MdevDevice(2, scenario.Source.AddMdev(scenario.SourceType("nvidia-64"))));
        scenario.DestinationType(parent: "0000:41:00.0", id: "nvidia-63");
        scenario.DestinationType(parent: "0000:42:00.0", id: "nvidia-64", max: 1);
        scenario.DestinationType(parent: "0000:43:00.0", id: "nvidia-64");
        scenario.Destination.AddPci("0000:81:00.0", "0x10de", "0x2331", "nvidia-mig-1", new FakeVersion(PciVersion));
        scenario.Destination.FileSystem.FailingWrites["class/mdev_bus/0000:42:00.0/mdev_supported_types/nvidia-64/create"] = Errno.EIO;

        await using var result = await scenario.PlanAsync();

        Assert.IsTrue(result.Succeeded, string.Join("\n", result.Best.Reasons));
        CollectionAssert.AreEqual(
            new[] { "pci_0000_41_00_0 nvidia-63 Create", "0000:81:00.0 nvidia-mig-1 Reuse", "pci_0000_43_00_0 nvidia-64 Create" },
            result.Best.Devices.Select(d => $"{d.Target.Parent ?? d.Target.Id} {d.Target.Type} {d.Action}").ToArray());
    }

    [TestMethod]
    public async Task ClaimsLostToARacer_AreEachRejectedAsInUse_EvenForADeviceTheNextSearchDoesNotReach()
    {
        // l.532 (the InUse rejection of a lost claim removed). Devices 0 and 1 each have one idle mdev, and a
        // racer claims both after the host's claims were read. The next search stops at device 0, so device
        // 1's rejection comes only from the lost claim.
        var scenario = new Scenario();
        scenario.Guest("nvidia-63", "nvidia-64");
        var x = scenario.Destination.AddMdev(scenario.DestinationType(parent: "0000:41:00.0", max: 1));
        var y = scenario.Destination.AddMdev(scenario.DestinationType(parent: "0000:42:00.0", id: "nvidia-64", max: 1));
        var store = RacerClaimingAfterTheRead(scenario, x, y);

        await using var result = await new MigrationPlanner(claims: store).PlanAsync(scenario.Request());

        Assert.IsFalse(result.Succeeded);
        var sources = scenario.Source.Mdevs.Select(m => m.Uuid.Value).ToArray();
        CollectionAssert.AreEqual(
            new[] { $"{sources[0]} {x.Uuid}", $"{sources[1]} {y.Uuid}" },
            result.Best.Rejections.Where(r => r.Code == RejectionCode.InUse).Select(r => $"{r.Source} {r.Candidate}").ToArray(),
            string.Join("\n", result.Best.Rejections));
    }

    [TestMethod]
    public async Task BackingOutOfACreate_GivesItsInstanceBack_SoALaterOrderCanUseIt()
    {
        // l.561 (_planned[slot]-- removed, or -- to ++). Device 0 (nvidia-63) has idle X and Y; device 1
        // (nvidia-64) can only be created on 42, which has one left; device 2 (nvidia-63, version w) is
        // accepted by X only. With device 0 on X device 2 fails; the search backs out of device 1's create,
        // moves device 0 to Y, and 42's one instance is free again for device 1.
        var scenario = new Scenario();
        var type63 = scenario.SourceType("nvidia-63");
        scenario.Source.DefineGuest(
            "vm1",
            FakeHost.MdevDevice(0, scenario.Source.AddMdev(type63)),
            FakeHost.MdevDevice(1, scenario.Source.AddMdev(scenario.SourceType("nvidia-64"))),
            FakeHost.MdevDevice(2, scenario.Source.AddMdev(type63, new FakeVersion(OtherVersion))));
        var idle = scenario.DestinationType(parent: "0000:41:00.0", max: 2);
        var x = scenario.Destination.AddMdev(idle, new FakeVersion(Scenario.Version, OtherVersion));
        var y = scenario.Destination.AddMdev(idle);
        scenario.DestinationType(parent: "0000:42:00.0", id: "nvidia-64", max: 1);

        await using var result = await scenario.PlanAsync();

        Assert.IsTrue(result.Succeeded, string.Join("\n", result.Best.Reasons));
        CollectionAssert.AreEqual(
            new[] { $"{y.Uuid} Reuse", "pci_0000_42_00_0 Create", $"{x.Uuid} Reuse" },
            result.Best.Devices.Select(d => d.Action == DeviceAction.Reuse ? $"{d.Target.Id} {d.Action}" : $"{d.Target.Parent} {d.Action}").ToArray());
    }

    [TestMethod]
    public async Task BackingOutOfTwoCreatesOnAParent_FreesTheParentForAnotherType()
    {
        // l.575 (Count + 1 to Count - 1 in AddParentType) and l.586 (Count - 1 to Count + 1 in
        // RemoveParentType). Packing puts devices 0 and 1 (nvidia-63) on 41 (two left, 42 four); device 2
        // (nvidia-64) is offered only by 41, which then holds nvidia-63. The search backs out of both, puts
        // them on 42, and 41 takes nvidia-64 without mixing types.
        var scenario = new Scenario();
        scenario.Guest("nvidia-63", "nvidia-63", "nvidia-64");
        scenario.DestinationType(parent: "0000:41:00.0", id: "nvidia-63", max: 2);
        scenario.DestinationType(parent: "0000:41:00.0", id: "nvidia-64", max: 4);
        scenario.DestinationType(parent: "0000:42:00.0", id: "nvidia-63", max: 4);

        await using var result = await scenario.PlanAsync(new PlanOptions { Placement = PlacementPreference.Pack });

        Assert.IsTrue(result.Succeeded, string.Join("\n", result.Best.Reasons));
        CollectionAssert.AreEqual(
            new[] { "pci_0000_42_00_0 nvidia-63", "pci_0000_42_00_0 nvidia-63", "pci_0000_41_00_0 nvidia-64" },
            result.Best.Devices.Select(d => $"{d.Target.Parent} {d.Target.Type}").ToArray());
    }

    [TestMethod]
    public async Task ACreateThatFails_ClosesItsSlot_SoTheSearchStillTriesTheEarlierDevicesOtherCandidates()
    {
        // l.702 (!(result.DeviceRefused)). Device 0 takes the idle X; device 1's only candidate, a create
        // on 42, fails with EIO (nothing was made: no device refused). 42 is closed, not ruled out as a
        // refusal, so the next search backs out to device 0 and probes Y before it gives up.
        var scenario = new Scenario();
        scenario.Guest("nvidia-63", "nvidia-64");
        var type = scenario.DestinationType(parent: "0000:41:00.0", max: 2);
        var x = scenario.Destination.AddMdev(type);
        var y = scenario.Destination.AddMdev(type);
        scenario.DestinationType(parent: "0000:42:00.0", id: "nvidia-64", max: 1);
        scenario.Destination.FileSystem.FailingWrites["class/mdev_bus/0000:42:00.0/mdev_supported_types/nvidia-64/create"] = Errno.EIO;

        await using var result = await scenario.PlanAsync();

        Assert.IsFalse(result.Succeeded);
        CollectionAssert.AreEqual(
            new[]
            {
                $"write bus/mdev/devices/{x.Uuid}/migration_version {Scenario.Version}",
                $"write class/mdev_bus/0000:42:00.0/mdev_supported_types/nvidia-64/migration_version {Scenario.Version}",
                $"write bus/mdev/devices/{y.Uuid}/migration_version {Scenario.Version}",
            },
            scenario.DestinationWrites("/migration_version ").ToArray());
        Assert.AreEqual(3, result.Best.Statistics.Probes);
        Assert.HasCount(1, scenario.DestinationWrites("/create "), "the closed slot is not tried again");
    }

    [TestMethod]
    public async Task AVfVgpuWithNoCandidate_IsNamedAsAVfVgpuInTheNotPlacedReason()
    {
        // l.827 (the VfVgpu arm of Describe made "").
        var scenario = VgpuFixtures.GuestWithVfVgpus(1157);

        await using var result = await scenario.PlanAsync();

        Assert.IsFalse(result.Succeeded);
        const string NotPlaced = "The VF vGPU 0000:17:00.4 (vgpu 1157 (NVIDIA L40S-24C)) could not be placed on dest: the host has no free device of that type and no parent that can create one (0 rejected; see the rejections).";
        CollectionAssert.AreEqual(new[] { NotPlaced }, result.Best.Reasons.ToArray());
        Assert.AreEqual(new Rejection("0000:17:00.4", null, RejectionCode.NotPlaced, NotPlaced), result.Best.Rejections.Single());
    }

    /// <summary>A recording store with a racing plan that claims <paramref name="devices"/> right after this plan read the host's claims.</summary>
    private static RecordingStore RacerClaimingAfterTheRead(Scenario scenario, params FakeMdev[] devices)
    {
        var store = new RecordingStore();
        store.RaceAfterTheClaimsRead(scenario.Destination.Hypervisor.Uri, [.. devices.Select(d => TargetKeys.Mdev(d.Uuid))]);
        return store;
    }

    /// <summary>A verdict cache that finds nothing and cancels the plan's token when the first verdict is stored (after its probe was answered).</summary>
    private sealed class CancellingCache(CancellationTokenSource cancellation) : IVerdictCache
    {
        public int Stored { get; private set; }

        public bool TryGet(ProbeKey key, out Errno verdict)
        {
            verdict = Errno.None;
            return false;
        }

        public void Store(ProbeKey key, Errno verdict, TimeSpan lifetime)
        {
            Stored++;
            cancellation.Cancel();
        }
    }
}
