using VfioMigration.HostSimulator.Scenarios;
using VfioMigration.Planner;
using VfioMigration.Planner.Devices;

namespace VfioMigration.Integration.Tests.Planning;

/// <content>vGPUs on SR-IOV VFs (docs/nvidia-vf.md) through libvirt's test driver (the VFs as PCI node devices) and the front end under test.</content>
public abstract partial class PlannerEndToEndTests
{
    [TestMethod]
    public async Task MixedGuest_WithTwoVfVgpus_PlansInOnePlan_AndReleaseResetsTheConfiguredVf()
    {
        using var bed = new PlanningTestBed(FrontEnd);
        var source = bed.Add(ScenarioLoader.LoadFile(SimulatedPlanningTests.ScenarioPath("mixed-source.json")));
        var destination = bed.Add(ScenarioLoader.LoadFile(SimulatedPlanningTests.ScenarioPath("mixed-dest.json")));
        var before = destination.Simulator.Snapshot();

        var result = await PlanAsync(source, "train-1", [destination.Host]);
        try
        {
            Assert.IsTrue(result.Succeeded, Describe(result));
            CollectionAssert.AreEqual(
                new DeviceTarget[] { new PciTarget(PciAddress.Parse("0000:c1:00.4")), new PciTarget(PciAddress.Parse("0000:c1:00.5")) },
                result.Best.Devices.Where(d => d.Source.Kind == SourceDeviceKind.VfVgpu).Select(d => d.Target.Target).ToArray());
            Assert.IsTrue(result.Best.Devices.All(d => d.Verification == Verification.Verified), Describe(result));
            await AssertDestinationXmlAsync(bed, source, "train-1", result.Best, validate: false);
            AssertSourceOnlyRead(source);
        }
        finally
        {
            await result.DisposeAsync();
        }

        Assert.AreEqual(before.State, destination.Simulator.Snapshot().State);
    }
}
