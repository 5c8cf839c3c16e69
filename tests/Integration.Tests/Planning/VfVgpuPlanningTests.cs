using VfioMigration.HostSimulator;
using VfioMigration.Planner;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Json;

namespace VfioMigration.Integration.Tests.Planning;

/// <summary>vGPUs on SR-IOV virtual functions (docs/nvidia-vf.md) planned end to end over the simulator, in process.</summary>
[TestClass]
public sealed class VfVgpuPlanningTests
{
    private static (SimulatedHost Simulated, MigrationHost Host) Load(string scenario)
    {
        var simulated = SimulatedHost.Load(SimulatedPlanningTests.ScenarioPath(scenario));
        return (simulated, new MigrationHost(simulated.Name, new SimulatedHypervisor(simulated), simulated.CreateFileSystem()));
    }

    [TestMethod]
    public async Task MixedGuest_MdevsPciFunctionAndTwoVfVgpus_PlanOntoTheMixedHost_InOnePlan()
    {
        var (_, source) = Load("mixed-source.json");
        var (simulated, destination) = Load("mixed-dest.json");

        await using var result = await new MigrationPlanner(claims: new TargetClaimRegistry()).PlanAsync(new PlanRequest(source, DomainSelector.Parse("train-1"), [destination]));

        Assert.IsTrue(result.Succeeded, PlanJson.Serialize(result));
        var devices = result.Best.Devices;
        CollectionAssert.AreEqual(
            new[] { SourceDeviceKind.Mdev, SourceDeviceKind.Mdev, SourceDeviceKind.Pci, SourceDeviceKind.VfVgpu, SourceDeviceKind.VfVgpu },
            devices.Select(d => d.Source.Kind).ToArray());
        Assert.IsTrue(devices.All(d => d.Verification == Verification.Verified), PlanJson.Serialize(result));

        // The idle VF already configured as H100-10C is reused; the second vGPU is configured on the same GPU (packed).
        var vfs = devices.Where(d => d.Source.Kind == SourceDeviceKind.VfVgpu).ToList();
        Assert.AreEqual(new PciTarget(PciAddress.Parse("0000:c1:00.4")), vfs[0].Target.Target);
        Assert.AreEqual(DeviceAction.Reuse, vfs[0].Action);
        Assert.AreEqual(new PciTarget(PciAddress.Parse("0000:c1:00.5")), vfs[1].Target.Target);
        Assert.AreEqual(DeviceAction.Create, vfs[1].Action);
        Assert.AreEqual("0000:c1:00.0", vfs[1].Target.Parent);
        Assert.AreEqual("vgpu 1044 (NVIDIA H100-10C)", vfs[1].Target.Type);
        Assert.AreEqual(1044u, simulated.Snapshot().State.Vfs.Single(v => v.Address == PciAddress.Parse("0000:c1:00.5")).VgpuType);

        // The busy H100 (two 40C vGPUs) is one rejection; the destination XML names the VFs by address.
        Assert.IsTrue(result.Best.Rejections.Any(r => r.Candidate == "0000:41:00.0" && r.Code == RejectionCode.NoCapacity), PlanJson.Serialize(result));
        StringAssert.Contains(result.Best.DestinationXml, "<address domain=\"0x0000\" bus=\"0xc1\" slot=\"0x00\" function=\"0x5\" />");
    }

    [TestMethod]
    public async Task ReleasedPlan_ResetsTheConfiguredVf_AndLeavesEveryVfAsFound()
    {
        var (_, source) = Load("mixed-source.json");
        var (simulated, destination) = Load("mixed-dest.json");
        var before = simulated.Snapshot();

        var result = await new MigrationPlanner(claims: new TargetClaimRegistry()).PlanAsync(new PlanRequest(source, DomainSelector.Parse("train-1"), [destination]));
        Assert.IsTrue(result.Succeeded, PlanJson.Serialize(result));
        Assert.AreNotEqual(before.State.Vfs, simulated.Snapshot().State.Vfs);
        var vfEntry = result.Best.Created.Single(c => c.Method == CreationMethod.Vf);
        Assert.AreEqual("0000:c1:00.5", vfEntry.Parent);
        Assert.AreEqual("1044", vfEntry.Type.Value);

        await result.DisposeAsync();

        Assert.AreEqual(before.State, simulated.Snapshot().State);
        Assert.AreEqual("0", simulated.Snapshot().OperationsSince(before).Last(o => o.Path.EndsWith("current_vgpu_type", StringComparison.Ordinal) && o.IsWrite).Data);
    }
}
