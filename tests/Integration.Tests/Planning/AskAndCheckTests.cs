using VfioMigration.HostSimulator;
using VfioMigration.Planner;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Hypervisor;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.Integration.Tests.Planning;

/// <summary>The administrator's two questions over the demo hosts on the mocked libvirt: check one pair, ask for every accepting configuration.</summary>
[TestClass]
public sealed class AskAndCheckTests
{
    private static readonly DomainSelector Guest = DomainSelector.Parse("render-1");

    private static (SimulatedHost Simulated, MigrationHost Host) Load(string scenario)
    {
        var simulated = SimulatedHost.Load(SimulatedPlanningTests.ScenarioPath(scenario));
        return (simulated, new MigrationHost(simulated.Name, new SimulatedHypervisor(simulated), simulated.CreateFileSystem()));
    }

    private static async Task<(CompatibilityCheck Check, HostState Before, HostState After)> CheckAsync(string destinationScenario, string device, string target)
    {
        var (_, source) = Load("demo-source.json");
        var (simulated, destination) = Load(destinationScenario);
        var before = simulated.Snapshot().State;
        var check = await new MigrationPlanner(claims: new TargetClaimRegistry()).CheckCompatibilityAsync(source, Guest, device, destination, target);
        return (check, before, simulated.Snapshot().State);
    }

    [TestMethod]
    public async Task Check_a_type_that_accepts_the_version_is_compatible_after_one_probe_and_creates_nothing()
    {
        var (check, before, after) = await CheckAsync("demo-dest-a.json", "ua-vgpu0", "0000:5e:00.0/nvidia-223");
        var (full, _, _) = await CheckAsync("demo-dest-a.json", "ua-vgpu0", "pci_0000_3b_00_0/nvidia-223");

        Assert.AreEqual(CompatibilityOutcome.Compatible, check.Outcome, check.Reason);
        Assert.AreEqual(ProbePoint.MdevType, check.DecidedBy!.Point);
        Assert.AreEqual("class/mdev_bus/0000:5e:00.0/mdev_supported_types/nvidia-223/migration_version", check.DecidedBy.Path.Value);
        Assert.AreEqual(Errno.None, check.DecidedBy.Errno);
        Assert.AreEqual(1, check.Statistics.Probes);
        Assert.AreEqual(0, check.Statistics.Creates);
        Assert.AreEqual(before, after);
        Assert.AreEqual(CompatibilityOutcome.Compatible, full.Outcome, "a parent with no capacity left still answers for its type");
        Assert.Contains("No instance can be created there now", full.Reason);
    }

    [TestMethod]
    public async Task Check_a_function_that_refuses_the_version_is_incompatible_with_the_probe_and_errno()
    {
        var (check, before, after) = await CheckAsync("demo-dest-b.json", "0000:d8:00.2", "0000:d8:00.2");

        Assert.AreEqual(CompatibilityOutcome.Incompatible, check.Outcome, check.Reason);
        Assert.AreEqual(ProbePoint.PciDevice, check.DecidedBy!.Point);
        Assert.AreEqual(Errno.ENODEV, check.DecidedBy.Errno);
        Assert.AreEqual("bus/pci/devices/0000:d8:00.2/vfio_migration_version", check.DecidedBy.Path.Value);
        Assert.AreEqual(1, check.Statistics.Probes);
        Assert.AreEqual(before, after);
    }

    [TestMethod]
    public async Task Check_a_type_without_an_attribute_is_unknown_and_another_type_is_incompatible_without_a_probe()
    {
        var (unknown, before, after) = await CheckAsync("demo-dest-b.json", "ua-igpu0", "pci_0000_00_02_0/i915-GVTg_V5_4");
        var (otherType, _, _) = await CheckAsync("demo-dest-a.json", "ua-vgpu0", "pci_0000_3b_00_0/nvidia-224");

        Assert.AreEqual(CompatibilityOutcome.Unknown, unknown.Outcome, unknown.Reason);
        Assert.IsNull(unknown.DecidedBy);
        Assert.Contains("only a created device can say", unknown.Reason);
        Assert.AreEqual(before, after, "unknown: nothing was created to find out");
        Assert.AreEqual(CompatibilityOutcome.Incompatible, otherType.Outcome, otherType.Reason);
        Assert.IsNull(otherType.DecidedBy);
        Assert.AreEqual(0, otherType.Statistics.Probes);
        await Assert.ThrowsExactlyAsync<HypervisorNotFoundException>(() => CheckAsync("demo-dest-a.json", "ua-vgpu0", "pci_0000_99_00_0/nvidia-223"));
        await Assert.ThrowsExactlyAsync<HypervisorNotFoundException>(() => CheckAsync("demo-dest-a.json", "ua-nothing", "0000:d8:00.2"));
    }

    [TestMethod]
    public async Task Ask_lists_every_accepting_configuration_per_device_in_the_planners_order_and_creates_nothing()
    {
        var (_, source) = Load("demo-source.json");
        var (simulated, destination) = Load("demo-dest-a.json");
        var before = simulated.Snapshot().State;

        var answers = await new MigrationPlanner(claims: new TargetClaimRegistry()).AskAsync(source, Guest, destination);
        var nic = await new MigrationPlanner(claims: new TargetClaimRegistry()).AskAsync(source, Guest, destination, "0000:d8:00.2");

        CollectionAssert.AreEqual(
            new[] { "6a1f0c3e-7b2d-4e5f-8a9b-00000000a001", "6a1f0c3e-7b2d-4e5f-8a9b-00000000a002", "6a1f0c3e-7b2d-4e5f-8a9b-00000000a003", "0000:d8:00.2", "0000:17:00.4" },
            answers.Select(a => a.Source.Id).ToArray());

        // The L40S VF vGPU: the idle VF configured with its type answers (verified); the unconfigured ones cannot before configuring.
        var vf = answers[4].Targets.Single();
        Assert.AreEqual(CompatibleTargetKind.PciFunction, vf.Kind);
        Assert.AreEqual(new PciTarget(PciAddress.Parse("0000:81:00.4")), vf.Existing);
        Assert.AreEqual(ProbePoint.PciDevice, vf.DecidedBy!.Point);
        var vgpu = answers[0].Targets;
        // 0000:3b:00.0 serves one type at a time and holds an nvidia-222: no nvidia-223 fits there.
        CollectionAssert.AreEquivalent(new[] { "pci_0000_5e_00_0", "pci_0000_86_00_0" }, vgpu.Select(t => t.Parent).ToArray());
        Assert.IsTrue(answers[0].Rejections.Any(r => r.Candidate == "pci_0000_3b_00_0/nvidia-223" && r.Code == RejectionCode.NoCapacity));
        Assert.IsTrue(vgpu.All(t => t.Kind == CompatibleTargetKind.NewMdev && t.Verification == Verification.Verified && t.DecidedBy!.Point == ProbePoint.MdevType), string.Join("\n", vgpu));
        CollectionAssert.AreEqual(new[] { "0000:d8:00.2", "0000:d8:00.3" }, nic.Single().Targets.Select(t => ((PciTarget)t.Existing!).Address.ToString()).ToArray());
        Assert.IsTrue(answers.All(a => a.Statistics.Creates == 0));
        Assert.AreEqual(before, simulated.Snapshot().State);
    }
}
