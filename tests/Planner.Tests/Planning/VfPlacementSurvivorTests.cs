using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Sysfs;
using VfioMigration.Planner.Tests.Fakes;
using VfioMigration.Planner.Tests.State;

namespace VfioMigration.Planner.Tests.Planning;

/// <summary>
/// Where VF vGPUs go (docs/nvidia-vf.md): inputs that kill mutants of <c>DestinationPlanner</c>'s VF
/// placement which survived Stryker (docs/testing.md, "DestinationPlanner's 60, classified by
/// reading"). Each test was shown to fail with its mutants planted by hand.
/// </summary>
[TestClass]
public sealed class VfPlacementSurvivorTests
{
    [TestMethod]
    public async Task Spread_TwoVfVgpus_GoToTheGpuWithMoreFreeVfs_ThenToTheUnusedGpu()
    {
        // GPU 81 has three free VFs, GPU 82 one: spreading puts device 0 on 81 (more left), device 1 on unused 82.
        var scenario = VgpuFixtures.GuestWithVfVgpus(1157, 1157);
        VgpuFixtures.AddGpu(scenario, "0000:81:00.0", 3);
        VgpuFixtures.AddGpu(scenario, "0000:82:00.0", 1);

        await using var result = await scenario.PlanAsync(new PlanOptions { Placement = PlacementPreference.Spread });

        Assert.IsTrue(result.Succeeded, string.Join("\n", result.Best.Reasons));
        CollectionAssert.AreEqual(new[] { "0000:81:00.4", "0000:82:00.4" }, result.Best.Devices.Select(d => d.Target.Id).ToArray());
    }

    [TestMethod]
    public async Task Pack_AVfVgpu_GoesToTheGpuWithFewestFreeVfs()
    {
        // GPU 81 has three free VFs, GPU 82 one: packing fills 82 first.
        var scenario = VgpuFixtures.GuestWithVfVgpus(1157);
        VgpuFixtures.AddGpu(scenario, "0000:81:00.0", 3);
        VgpuFixtures.AddGpu(scenario, "0000:82:00.0", 1);

        await using var result = await scenario.PlanAsync(new PlanOptions { Placement = PlacementPreference.Pack });

        Assert.IsTrue(result.Succeeded, string.Join("\n", result.Best.Reasons));
        Assert.AreEqual("0000:82:00.4", result.Best.Devices.Single().Target.Id);
        CollectionAssert.AreEqual(
            new[] { "write bus/pci/devices/0000:82:00.4/nvidia/current_vgpu_type 1157", $"write bus/pci/devices/0000:82:00.4/vfio_migration_version {VgpuFixtures.Version}" },
            scenario.Destination.Writes().ToArray());
    }

    [TestMethod]
    public async Task Pack_ASecondVgpuType_GoesToAnotherGpu_NotBesideTheFirstTypeOnAGpuThatListsBoth()
    {
        // GPU 81's VFs list both L40S-24C and L40S-12C whatever it holds; GPU 82 offers L40S-12C. Device 0
        // (24C) goes to 81; packing tries used 81 first for device 1 (12C), but the first pass keeps one
        // type per GPU, so device 1 goes to 82. Nothing of 12C is written on 81.
        var scenario = VgpuFixtures.GuestWithVfVgpus(1157, 1155);
        const string Both = "1157 : NVIDIA L40S-24C\n1155 : NVIDIA L40S-12C\n";
        var mixed = new FakeGpu(PciAddress.Parse("0000:81:00.0"), VgpuFixtures.L40s24, VgpuFixtures.L40s12);
        scenario.Destination.AddVf(mixed, "0000:81:00.4", version: new FakeVersion(VgpuFixtures.Version), creatable: Both);
        scenario.Destination.AddVf(mixed, "0000:81:00.5", version: new FakeVersion(VgpuFixtures.Version), creatable: Both);
        scenario.Destination.AddVf(new FakeGpu(PciAddress.Parse("0000:82:00.0"), VgpuFixtures.L40s12), "0000:82:00.4", version: new FakeVersion(VgpuFixtures.Version));
        using var stop = new CancellationTokenSource();
        var twelveOn81 = 0;
        scenario.Destination.BeforeOperation = operation =>
        {
            if (operation.StartsWith("write bus/pci/devices/0000:81:", StringComparison.Ordinal) && operation.EndsWith("/nvidia/current_vgpu_type 1155", StringComparison.Ordinal) && ++twelveOn81 == 2)
            {
                stop.Cancel(); // a GPU that fits whatever it holds would be configured again every round: stop it here
            }
        };

        var (planned, thrown) = await PlanUntilStoppedAsync(scenario, new PlanOptions { Placement = PlacementPreference.Pack }, stop);

        Assert.AreEqual(0, twelveOn81, "no L40S-12C is configured on GPU 81, which holds the L40S-24C");
        Assert.IsNotNull(planned, thrown?.Message);
        await using var result = planned;
        Assert.IsTrue(result.Succeeded, string.Join("\n", result.Best.Reasons));
        CollectionAssert.AreEqual(
            new[] { "0000:81:00.4 vgpu 1157 (NVIDIA L40S-24C)", "0000:82:00.4 vgpu 1155 (NVIDIA L40S-12C)" },
            result.Best.Devices.Select(d => $"{d.Target.Id} {d.Target.Type}").ToArray());
    }

    [TestMethod]
    public async Task Spread_AfterTheSecondGpusConfigureFailed_TheRetryTakesTheFirstGpusOtherVf_NotTheOneConfiguredForDevice0()
    {
        // Device 0 is configured on 81:00.4 (81 has more free VFs); device 1's configure on 82 fails with EINVAL
        // and 82 closes. In the next round 81:00.4 is device 0's, so device 1 gets 81:00.5.
        var scenario = VgpuFixtures.GuestWithVfVgpus(1157, 1157);
        VgpuFixtures.AddGpu(scenario, "0000:81:00.0", 2);
        VgpuFixtures.AddGpu(scenario, "0000:82:00.0", 1);
        scenario.Destination.FileSystem.FailingWrites["bus/pci/devices/0000:82:00.4/nvidia/current_vgpu_type"] = Errno.EINVAL;

        await using var result = await scenario.PlanAsync(new PlanOptions { Placement = PlacementPreference.Spread });

        Assert.IsTrue(result.Succeeded, string.Join("\n", result.Best.Reasons));
        CollectionAssert.AreEqual(new[] { "0000:81:00.4", "0000:81:00.5" }, result.Best.Devices.Select(d => d.Target.Id).ToArray());
        // The GPUs of one round are configured at once: the writes are compared GPU by GPU.
        CollectionAssert.AreEqual(
            new[]
            {
                "write bus/pci/devices/0000:81:00.4/nvidia/current_vgpu_type 1157",
                $"write bus/pci/devices/0000:81:00.4/vfio_migration_version {VgpuFixtures.Version}",
                "write bus/pci/devices/0000:81:00.5/nvidia/current_vgpu_type 1157",
                $"write bus/pci/devices/0000:81:00.5/vfio_migration_version {VgpuFixtures.Version}",
            },
            scenario.DestinationWrites("/0000:81:").ToArray(),
            string.Join("\n", scenario.Destination.Writes()));
        CollectionAssert.AreEqual(
            new[] { "write bus/pci/devices/0000:82:00.4/nvidia/current_vgpu_type 1157" },
            scenario.DestinationWrites("/0000:82:").ToArray(),
            string.Join("\n", scenario.Destination.Writes()));
        Assert.HasCount(5, scenario.Destination.Writes(), string.Join("\n", scenario.Destination.Writes()));
    }

    [TestMethod]
    public async Task AVfReleasedAfterTheSecondRound_IsNotReleasedAgainAfterTheThird()
    {
        // The configures on GPUs 81 and 82 fail with EINVAL, 83's succeeds: each round releases the VF the round before it claimed, once.
        var scenario = VgpuFixtures.GuestWithVfVgpus(1157);
        VgpuFixtures.AddGpu(scenario, "0000:81:00.0", 1);
        VgpuFixtures.AddGpu(scenario, "0000:82:00.0", 1);
        VgpuFixtures.AddGpu(scenario, "0000:83:00.0", 1);
        scenario.Destination.FileSystem.FailingWrites["bus/pci/devices/0000:81:00.4/nvidia/current_vgpu_type"] = Errno.EINVAL;
        scenario.Destination.FileSystem.FailingWrites["bus/pci/devices/0000:82:00.4/nvidia/current_vgpu_type"] = Errno.EINVAL;
        var store = new RecordingStore();

        await using var result = await new MigrationPlanner(claims: store).PlanAsync(scenario.Request());

        Assert.IsTrue(result.Succeeded, string.Join("\n", result.Best.Reasons));
        Assert.AreEqual("0000:83:00.4", result.Best.Devices.Single().Target.Id);
        CollectionAssert.AreEqual(
            new[] { "claim pci:0000:81:00.4", "claim pci:0000:82:00.4", "release pci:0000:81:00.4", "claim pci:0000:83:00.4", "release pci:0000:82:00.4" },
            store.Writes.Where(w => w.StartsWith("claim ", StringComparison.Ordinal) || w.StartsWith("release ", StringComparison.Ordinal)).ToArray(),
            string.Join("\n", store.Writes));
    }

    [TestMethod]
    public async Task AVfConfigureThatFails_ClosesItsGpu_SoTheSearchStillTriesTheOtherDevicesOtherCandidate()
    {
        // Device 0 (an mdev) has two idle mdevs, X and Y; device 1 (a VF vGPU) has GPU 81 alone, whose configure
        // fails with EINVAL. The GPU is closed (blocked, not refused), so the search backs out of X and tries Y
        // (probing it) before it gives up.
        var scenario = new Scenario();
        var mdev = scenario.Source.AddMdev(scenario.SourceType());
        var sourceVf = scenario.Source.AddVf(new FakeGpu(PciAddress.Parse("0000:17:00.0"), VgpuFixtures.L40s24), "0000:17:00.4", type: 1157, version: new FakeVersion(VgpuFixtures.Version));
        scenario.Source.DefineGuest("vm1", FakeHost.MdevDevice(0, mdev), FakeHost.PciDevice(1, sourceVf));
        var type = scenario.DestinationType(max: 2);
        var x = scenario.Destination.AddMdev(type);
        var y = scenario.Destination.AddMdev(type);
        VgpuFixtures.AddGpu(scenario, "0000:81:00.0", 1);
        scenario.Destination.FileSystem.FailingWrites["bus/pci/devices/0000:81:00.4/nvidia/current_vgpu_type"] = Errno.EINVAL;

        await using var result = await scenario.PlanAsync();

        Assert.IsFalse(result.Succeeded);
        CollectionAssert.AreEqual(
            new[]
            {
                $"write class/mdev_bus/0000:41:00.0/migration_query {Scenario.Version}",
                $"write bus/mdev/devices/{x.Uuid}/migration_version {Scenario.Version}",
                "write bus/pci/devices/0000:81:00.4/nvidia/current_vgpu_type 1157",
                $"write bus/mdev/devices/{y.Uuid}/migration_version {Scenario.Version}",
            },
            scenario.Destination.Writes().ToArray(),
            string.Join("\n", scenario.Destination.Writes()));
        CollectionAssert.AreEqual(
            new[] { $"{mdev.Uuid} pci_0000_41_00_0/nvidia-63 NoCapacity", "0000:17:00.4 0000:81:00.4 NoCapacity", "0000:17:00.4  NotPlaced" },
            result.Best.Rejections.Select(r => $"{r.Source} {r.Candidate} {r.Code}").ToArray(),
            string.Join("\n", result.Best.Rejections.Select(r => $"{r.Source} {r.Candidate} {r.Code}")));
    }

    [TestMethod]
    public async Task AConfiguredVfThatRefusesTheVersion_RulesOutItsGpusFreeVfs_AndTheNextGpuIsConfigured()
    {
        // 81:00.4 is configured, then its vfio_migration_version refuses the source's: it is reset, GPU 81's
        // free VFs of the type are out, and 82:00.4 is configured instead. 81:00.4 is configured once.
        var scenario = VgpuFixtures.GuestWithVfVgpus(1157);
        scenario.Destination.AddVf(new FakeGpu(PciAddress.Parse("0000:81:00.0"), VgpuFixtures.L40s24), "0000:81:00.4", version: new FakeVersion("nvidia-vgpu-535.54.03"));
        VgpuFixtures.AddGpu(scenario, "0000:82:00.0", 1);
        const string Configure81 = "write bus/pci/devices/0000:81:00.4/nvidia/current_vgpu_type 1157";
        using var stop = new CancellationTokenSource();
        var configures = 0;
        scenario.Destination.BeforeOperation = operation =>
        {
            if (operation == Configure81 && ++configures == 2)
            {
                stop.Cancel(); // a GPU left open would be configured again every round: stop it here
            }
        };

        var (planned, thrown) = await PlanUntilStoppedAsync(scenario, new PlanOptions(), stop);

        Assert.AreEqual(1, configures, "81:00.4 refused the version: it is not configured again");
        Assert.IsNotNull(planned, thrown?.Message);
        var writes = scenario.Destination.Writes();
        await using var result = planned;
        Assert.IsTrue(result.Succeeded, string.Join("\n", result.Best.Reasons));
        Assert.AreEqual("0000:82:00.4", result.Best.Devices.Single().Target.Id);
        CollectionAssert.AreEqual(
            new[]
            {
                Configure81,
                $"write bus/pci/devices/0000:81:00.4/vfio_migration_version {VgpuFixtures.Version}",
                "write bus/pci/devices/0000:81:00.4/nvidia/current_vgpu_type 0",
                "write bus/pci/devices/0000:82:00.4/nvidia/current_vgpu_type 1157",
                $"write bus/pci/devices/0000:82:00.4/vfio_migration_version {VgpuFixtures.Version}",
            },
            writes.ToArray(),
            string.Join("\n", writes));
        CollectionAssert.AreEqual(
            new[] { "0000:17:00.4 0000:81:00.4 VersionRejected The VF 0000:81:00.4 just configured with vgpu 1157 (NVIDIA L40S-24C) refused the source's migration version: writing it to bus/pci/devices/0000:81:00.4/vfio_migration_version failed with EINVAL, so the vendor driver says this device's state cannot be loaded there." },
            result.Best.Rejections.Select(r => $"{r.Source} {r.Candidate} {r.Code} {r.Message}").ToArray(),
            string.Join("\n", result.Best.Rejections.Select(r => $"{r.Source} {r.Candidate} {r.Code} {r.Message}")));
    }

    /// <summary>Plans, and when <paramref name="stop"/> was cancelled by the test's hook returns what was thrown instead of the result.</summary>
    private static async Task<(PlanResult? Planned, Exception? Thrown)> PlanUntilStoppedAsync(Scenario scenario, PlanOptions options, CancellationTokenSource stop)
    {
        try
        {
            return (await scenario.PlanAsync(options, stop.Token), null);
        }
        catch (Exception e) when (stop.IsCancellationRequested)
        {
            return (null, e);
        }
    }
}
