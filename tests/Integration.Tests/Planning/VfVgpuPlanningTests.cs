using VfioMigration.HostSimulator;
using VfioMigration.HostSimulator.Scenarios;
using VfioMigration.Planner;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Evacuation;
using VfioMigration.Planner.Json;
using VfioMigration.Planner.Sysfs;

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

    // One L40S per host; L40S-24C (id 1157) fits twice on a GPU. The source runs guests a and b on
    // two 24C VFs; the destination's GPU has one 24C held by a running guest: one slot is left.
    private const string L40sTypes = """
        [{ "id": 1157, "name": "NVIDIA L40S-24C", "framebufferMiB": 24576, "maxInstances": 2 },
         { "id": 1155, "name": "NVIDIA L40S-12C", "framebufferMiB": 12288, "maxInstances": 4 }]
        """;

    private static (SimulatedHost Simulated, MigrationHost Host) Source() => Host($$"""
        { "version": 1, "name": "vf-source",
          "sriovGpus": [{ "address": "0000:17:00.0", "productId": "0x26b9", "totalVfs": 32, "numVfs": 4, "types": {{L40sTypes}},
                          "migration": { "version": "nvidia-vgpu-550.90.05" }, "vfs": [{ "index": 0, "type": 1157 }, { "index": 1, "type": 1157 }] }],
          "guests": [{ "name": "a", "uuid": "0b0b0b0b-0000-4000-8000-00000000000a", "running": true, "hostdevs": [{ "pci": "0000:17:00.4" }] },
                     { "name": "b", "uuid": "0b0b0b0b-0000-4000-8000-00000000000b", "running": true, "hostdevs": [{ "pci": "0000:17:00.5" }] }] }
        """);

    private static (SimulatedHost Simulated, MigrationHost Host) Destination(string accepts, string faults = "[]") => Host($$"""
        { "version": 1, "name": "vf-dest",
          "sriovGpus": [{ "address": "0000:81:00.0", "productId": "0x26b9", "totalVfs": 32, "numVfs": 4, "types": {{L40sTypes}},
                          "migration": { "version": "nvidia-vgpu-550.127.05", "accepts": { "prefix": "{{accepts}}" } }, "vfs": [{ "index": 0, "type": 1157 }] }],
          "guests": [{ "name": "held", "uuid": "0b0b0b0b-0000-4000-8000-0000000000ff", "running": true, "hostdevs": [{ "pci": "0000:81:00.4" }] }],
          "faults": {{faults}} }
        """);

    private static (SimulatedHost Simulated, MigrationHost Host) Host(string json)
    {
        var simulated = SimulatedHost.FromScenario(ScenarioLoader.Parse(json));
        return (simulated, new MigrationHost(simulated.Name, new SimulatedHypervisor(simulated), simulated.CreateFileSystem()));
    }

    private static int VgpusOn(SimulatedHost host, string pf) =>
        host.Snapshot().State.Vfs.Count(v => v.Pf == PciAddress.Parse(pf) && v.VgpuType != 0);

    [TestMethod]
    public async Task TwoPlansRacingForTheLastSlotOfOneGpu_OneWins_TheOtherIsNoCapacity_AndTheGpuNeverExceedsItsCapacity()
    {
        var (_, source) = Source();
        var (simulated, destination) = Destination("nvidia-vgpu-550.");
        var before = simulated.Snapshot();
        var planner = new MigrationPlanner(claims: new TargetClaimRegistry());

        var plans = await Task.WhenAll(
            planner.PlanAsync(new PlanRequest(source, DomainSelector.Parse("a"), [destination])),
            planner.PlanAsync(new PlanRequest(source, DomainSelector.Parse("b"), [destination])));
        try
        {
            Assert.AreEqual(1, plans.Count(p => p.Succeeded), string.Join("\n", plans.Select(PlanJson.Serialize)));
            var loser = plans.Single(p => !p.Succeeded);
            Assert.IsTrue(loser.Best.Rejections.Any(r => r.Code == RejectionCode.NoCapacity), PlanJson.Serialize(loser));
            Assert.AreEqual(2, VgpusOn(simulated, "0000:81:00.0"));
        }
        finally
        {
            foreach (var plan in plans)
            {
                await plan.DisposeAsync();
            }
        }

        Assert.AreEqual(before.State, simulated.Snapshot().State);
    }

    [TestMethod]
    public async Task EvacuationForTheLastSlotOfOneGpu_PlacesOneGuest_AndLeavesTheVfsAsFound()
    {
        var (_, source) = Source();
        var (simulated, destination) = Destination("nvidia-vgpu-550.");
        var before = simulated.Snapshot();

        await using (var evacuation = await new HostEvacuator(new MigrationPlanner(claims: new TargetClaimRegistry())).EvacuateAsync(new EvacuationRequest(source, [destination])))
        {
            Assert.HasCount(2, evacuation.Guests);
            Assert.AreEqual(1, evacuation.Guests.Count(g => g.Succeeded));
            Assert.AreEqual(2, VgpusOn(simulated, "0000:81:00.0"));
        }

        Assert.AreEqual(before.State, simulated.Snapshot().State);
    }

    [TestMethod]
    public async Task ConfiguredVfRefusingTheVersion_IsResetToZero_AndTheGpuIsNotTriedVfByVf()
    {
        var (_, source) = Source();
        var (simulated, destination) = Destination("nvidia-vgpu-560.");
        var before = simulated.Snapshot();

        await using var result = await new MigrationPlanner(claims: new TargetClaimRegistry()).PlanAsync(new PlanRequest(source, DomainSelector.Parse("a"), [destination]));

        Assert.IsFalse(result.Succeeded);
        var refusal = result.Best.Rejections.Single(r => r.Code == RejectionCode.VersionRejected);
        Assert.AreEqual("0000:81:00.5", refusal.Candidate);
        Assert.AreEqual(Errno.EINVAL, refusal.Errno);
        var configures = simulated.Snapshot().OperationsSince(before).Where(o => o.IsWrite && o.Path.EndsWith("current_vgpu_type", StringComparison.Ordinal)).Select(o => $"{o.Path} {o.Data}").ToList();
        CollectionAssert.AreEqual(new[] { "bus/pci/devices/0000:81:00.5/nvidia/current_vgpu_type 1157", "bus/pci/devices/0000:81:00.5/nvidia/current_vgpu_type 0" }, configures);
        Assert.AreEqual(before.State, simulated.Snapshot().State);
    }

    [TestMethod]
    public async Task DriverRefusingTheConfiguration_LeavesTheVfUnchanged_AndClosesTheGpu()
    {
        var (_, source) = Source();
        var (simulated, destination) = Destination("nvidia-vgpu-550.", """[{ "operation": "create", "device": "0000:81:00.5", "errno": "EIO" }]""");
        var before = simulated.Snapshot();

        await using var result = await new MigrationPlanner(claims: new TargetClaimRegistry()).PlanAsync(new PlanRequest(source, DomainSelector.Parse("a"), [destination]));

        Assert.IsFalse(result.Succeeded);
        var failed = result.Best.Rejections.Single(r => r.Code == RejectionCode.CreateFailed);
        Assert.AreEqual("0000:81:00.5", failed.Candidate);
        Assert.AreEqual(Errno.EIO, failed.Errno);
        Assert.IsEmpty(result.Best.Created.Where(c => c.State == CreatedDeviceState.Kept));
        Assert.AreEqual(before.State, simulated.Snapshot().State);
    }
}
