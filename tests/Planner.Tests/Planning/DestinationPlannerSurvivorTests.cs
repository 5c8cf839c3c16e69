using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Sysfs;
using VfioMigration.Planner.Tests.Fakes;
using VfioMigration.Planner.Tests.State;

namespace VfioMigration.Planner.Tests.Planning;

/// <summary>
/// Inputs that kill mutants of <c>DestinationPlanner</c> which survived Stryker (docs/testing.md,
/// "Mutation testing"): each test was shown to fail with its mutant planted by hand.
/// </summary>
[TestClass]
public sealed class DestinationPlannerSurvivorTests
{
    [TestMethod]
    public async Task Statistics_ConnectMsIsTheSumOfBothHosts_AndDestinationRoundTripsAreOnlyThoseOfThisPlan()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63");
        scenario.DestinationType();
        var destination = scenario.Destination;
        destination.FileSystem.RoundTrips = 10;
        destination.BeforeOperation = _ => destination.FileSystem.RoundTrips++;
        var request = new PlanRequest(
            scenario.Source.ToHost() with { ConnectTime = TimeSpan.FromMilliseconds(5) },
            DomainSelector.Parse("vm1"),
            [destination.ToHost() with { ConnectTime = TimeSpan.FromMilliseconds(2) }],
            new PlanOptions());

        await using var result = await scenario.Planner().PlanAsync(request);

        Assert.IsTrue(result.Succeeded, string.Join("\n", result.Best.Reasons));
        Assert.AreEqual(7L, result.Best.Statistics.ConnectMs, "source 5 ms + destination 2 ms");
        Assert.AreEqual(destination.FileSystem.RoundTrips - 10, result.Best.Statistics.DestinationRoundTrips, "the round trips counted before the plan started are not this plan's");
        Assert.IsGreaterThan(0L, result.Best.Statistics.DestinationRoundTrips);
    }

    [TestMethod]
    public async Task TwoCreatesThatFailInOneRound_AreRejectedInDeviceOrder()
    {
        // 41 and 42 have room for one nvidia-63 each and both creates fail: the round's results are applied in device order.
        var scenario = new Scenario();
        scenario.Guest("nvidia-63", "nvidia-63");
        scenario.DestinationType(parent: "0000:41:00.0", max: 1);
        scenario.DestinationType(parent: "0000:42:00.0", max: 1);
        scenario.Destination.FileSystem.FailingWrites["class/mdev_bus/0000:41:00.0/mdev_supported_types/nvidia-63/create"] = Errno.EIO;
        scenario.Destination.FileSystem.FailingWrites["class/mdev_bus/0000:42:00.0/mdev_supported_types/nvidia-63/create"] = Errno.EIO;

        await using var result = await scenario.PlanAsync();

        Assert.IsFalse(result.Succeeded);
        var failed = result.Best.Rejections.Where(r => r.Code == RejectionCode.CreateFailed).Select(r => r.Source).ToArray();
        CollectionAssert.AreEqual(new[] { scenario.Source.Mdevs[0].Uuid.Value, scenario.Source.Mdevs[1].Uuid.Value }, failed);
    }

    [TestMethod]
    public async Task AVfConfigureThatFails_IsRejected_ClosesItsGpu_AndThePlanFails()
    {
        // The guest's VF vGPU (L40S-24C) has one candidate, an unconfigured VF whose configure fails with EINVAL.
        var scenario = GuestWithAVfVgpu_AndGpu81sConfigureFailing();
        const string Configure = "write bus/pci/devices/0000:81:00.4/nvidia/current_vgpu_type 1157";
        using var again = new CancellationTokenSource();
        var configures = 0;
        scenario.Destination.BeforeOperation = operation =>
        {
            if (operation == Configure && ++configures == 2)
            {
                again.Cancel(); // a GPU left open would be configured again every round: stop it here
            }
        };

        PlanResult? planned = null;
        Exception? thrown = null;
        try
        {
            planned = await scenario.PlanAsync(cancellationToken: again.Token);
        }
        catch (Exception e) when (again.IsCancellationRequested)
        {
            thrown = e;
        }

        Assert.AreEqual(1, configures, "the GPU is closed after its configure failed: the VF is not configured again");
        Assert.IsNotNull(planned, thrown?.Message);
        await using var result = planned;
        Assert.IsFalse(result.Succeeded, "the only candidate could not be configured");
        CollectionAssert.AreEqual(
            new[] { "0000:17:00.4 0000:81:00.4 NoCapacity", "0000:17:00.4  NotPlaced" },
            result.Best.Rejections.Select(r => $"{r.Source} {r.Candidate} {r.Code}").ToArray(),
            string.Join("\n", result.Best.Rejections.Select(r => $"{r.Source} {r.Candidate} {r.Code}")));
        var refusal = result.Best.Rejections.Single(r => r.Candidate == "0000:81:00.4");
        Assert.AreEqual("Writing 1157 to bus/pci/devices/0000:81:00.4/nvidia/current_vgpu_type failed with EINVAL (the driver refused the vGPU: the type is no longer creatable there, or the VF is busy); the VF is as it was.", refusal.Message);
    }

    [TestMethod]
    public async Task AGuestWithAnMdevAndAVfVgpu_ReadsTheDestinationsVfs_AndPlacesBoth()
    {
        // One VF vGPU among the guest's devices is enough for the destination's VF state to be read.
        var scenario = new Scenario();
        var mdev = scenario.Source.AddMdev(scenario.SourceType());
        var sourceVf = scenario.Source.AddVf(new FakeGpu(PciAddress.Parse("0000:17:00.0"), VgpuFixtures.L40s24), "0000:17:00.4", type: 1157, version: new FakeVersion(VgpuFixtures.Version));
        scenario.Source.DefineGuest("vm1", FakeHost.MdevDevice(0, mdev), FakeHost.PciDevice(1, sourceVf));
        scenario.DestinationType();
        scenario.Destination.AddVf(new FakeGpu(PciAddress.Parse("0000:81:00.0"), VgpuFixtures.L40s24), "0000:81:00.4", type: 1157, version: new FakeVersion(VgpuFixtures.Version));

        await using var result = await scenario.PlanAsync();

        Assert.IsTrue(result.Succeeded, string.Join("\n", result.Best.Reasons));
        CollectionAssert.AreEqual(
            new[] { "pci_0000_41_00_0 nvidia-63", "0000:81:00.0 vgpu 1157 (NVIDIA L40S-24C)" },
            result.Best.Devices.Select(d => $"{d.Target.Parent} {d.Target.Type}").ToArray());
    }

    [TestMethod]
    public async Task AnIdleMdevClaimedInTheFirstRound_IsNotClaimedAgainAfterACreateFailed()
    {
        // 41 holds an idle nvidia-63 (full); packing sends the other device to 42 (one left), whose create
        // fails, and the second round to 43. The idle mdev stays claimed from the first round: one claim.
        var scenario = new Scenario();
        scenario.Guest("nvidia-63", "nvidia-63");
        var idle = scenario.Destination.AddMdev(scenario.DestinationType(parent: "0000:41:00.0", max: 1));
        scenario.DestinationType(parent: "0000:42:00.0", max: 1);
        scenario.DestinationType(parent: "0000:43:00.0", max: 2);
        scenario.Destination.FileSystem.FailingWrites["class/mdev_bus/0000:42:00.0/mdev_supported_types/nvidia-63/create"] = Errno.EIO;
        var store = new RecordingStore();

        await using var result = await new MigrationPlanner(claims: store).PlanAsync(scenario.Request());

        Assert.IsTrue(result.Succeeded, string.Join("\n", result.Best.Reasons));
        CollectionAssert.AreEqual(new[] { "pci_0000_41_00_0", "pci_0000_43_00_0" }, result.Best.Devices.Select(d => d.Target.Parent).ToArray());
        CollectionAssert.AreEqual(
            new[] { $"claim mdev:{idle.Uuid}" },
            store.Writes.Where(w => w.Contains(idle.Uuid.Value, StringComparison.Ordinal)).ToArray(),
            string.Join("\n", store.Writes));
    }

    [TestMethod]
    public async Task TwoVfVgpusConfiguredInOneRound_AreCreatedInDeviceOrder()
    {
        var scenario = VgpuFixtures.GuestWithVfVgpus(1157, 1157);
        VgpuFixtures.AddGpu(scenario, "0000:81:00.0", 2);

        await using var result = await scenario.PlanAsync();

        Assert.IsTrue(result.Succeeded, string.Join("\n", result.Best.Reasons));
        CollectionAssert.AreEqual(new[] { "0000:81:00.4", "0000:81:00.5" }, result.Best.Devices.Select(d => d.Target.Id).ToArray());
        CollectionAssert.AreEqual(new[] { "0000:81:00.4", "0000:81:00.5" }, result.Best.Created.Select(c => c.Parent).ToArray(), "the created devices, in the order they were scheduled");
    }

    [TestMethod]
    public async Task AVfWhoseConfigureFailed_IsReleased_WhenTheNextRoundTakesAnotherGpu()
    {
        // GPU 81's VF is claimed and its configure fails with EINVAL (the GPU closes); the next round takes GPU 82's VF and lets 81's go.
        var scenario = GuestWithAVfVgpu_AndGpu81sConfigureFailing();
        VgpuFixtures.AddGpu(scenario, "0000:82:00.0", 1);
        var store = new RecordingStore();

        await using var result = await new MigrationPlanner(claims: store).PlanAsync(scenario.Request());

        Assert.IsTrue(result.Succeeded, string.Join("\n", result.Best.Reasons));
        Assert.AreEqual("0000:82:00.4", result.Best.Devices.Single().Target.Id);
        CollectionAssert.AreEqual(
            new[] { "claim pci:0000:81:00.4", "claim pci:0000:82:00.4", "release pci:0000:81:00.4" },
            store.Writes.Where(w => w.StartsWith("claim ", StringComparison.Ordinal) || w.StartsWith("release ", StringComparison.Ordinal)).ToArray(),
            string.Join("\n", store.Writes));
    }

    [TestMethod]
    [DataRow(false, 0)]
    [DataRow(true, 1)]
    public async Task ThePlanAsksTheStoreToClaimExistingDevices_OnlyWhenItTakesOne(bool idleMdev, int claimBatches)
    {
        // A plan that only creates claims its new mdevs with their intents: no separate claim round trip (l.521).
        var scenario = new Scenario();
        scenario.Guest("nvidia-63");
        var type = scenario.DestinationType(max: 2);
        if (idleMdev)
        {
            scenario.Destination.AddMdev(type);
        }

        var store = new RecordingStore();

        await using var result = await new MigrationPlanner(claims: store).PlanAsync(scenario.Request());

        Assert.IsTrue(result.Succeeded, string.Join("\n", result.Best.Reasons));
        Assert.AreEqual(idleMdev ? DeviceAction.Reuse : DeviceAction.Create, result.Best.Devices.Single().Action);
        Assert.AreEqual(claimBatches, store.ClaimBatches);
    }

    /// <summary>A guest with one L40S-24C VF vGPU; the destination's GPU 81 has one unconfigured VF whose configure fails with EINVAL.</summary>
    private static Scenario GuestWithAVfVgpu_AndGpu81sConfigureFailing()
    {
        var scenario = VgpuFixtures.GuestWithVfVgpus(1157);
        VgpuFixtures.AddGpu(scenario, "0000:81:00.0", 1);
        scenario.Destination.FileSystem.FailingWrites["bus/pci/devices/0000:81:00.4/nvidia/current_vgpu_type"] = Errno.EINVAL;
        return scenario;
    }
}
