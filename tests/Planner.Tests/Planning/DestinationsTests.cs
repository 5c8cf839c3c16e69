using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Tests.Fakes;

namespace VfioMigration.Planner.Tests.Planning;

/// <summary>Several destinations ranked; write-and-ask answers without creating.</summary>
[TestClass]
public sealed class DestinationsTests
{
    /// <summary>Destination GPUs 0000:41:00.0 and 0000:42:00.0, each offering nvidia-63 mdevs and assignable whole as a T4 function.</summary>
    private static void TwoGpusServingBothWays(Scenario scenario)
    {
        foreach (var address in (string[])["0000:41:00.0", "0000:42:00.0"])
        {
            scenario.DestinationType(parent: address);
            scenario.Destination.AddPci(address, "0x10de", "0x1eb8", "vfio-pci:nvidia-t4", new FakeVersion("t4-v1"));
        }
    }

    private static FakeHost Destination(string name, bool verifiable, bool idle)
    {
        var host = new FakeHost(name);
        var version = verifiable ? new FakeVersion(Scenario.Version) : null;
        var type = host.AddParent("0000:41:00.0").AddType("nvidia-63", max: 4, typeVersion: version, deviceVersion: version);
        if (idle)
        {
            host.AddMdev(type);
        }

        return host;
    }

    [TestMethod]
    public async Task Destinations_AreRanked_VerifiedFirst_ThenFewerCreations_AndTheOthersAreReleased()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63");
        var unverified = Destination("unverified", verifiable: false, idle: true);
        var creates = Destination("creates", verifiable: true, idle: false);
        var reuses = Destination("reuses", verifiable: true, idle: true);
        var impossible = new FakeHost("impossible");
        var options = new PlanOptions { VerificationPolicy = VerificationPolicy.AllowTypeMatch };

        await using var result = await scenario.Planner().PlanAsync(scenario.Request(options, unverified, creates, impossible, reuses));

        Assert.AreEqual("reuses", result.Best.Destination.Name);
        Assert.AreEqual("creates,unverified,impossible", string.Join(",", result.Alternatives.Select(a => a.Destination.Name)));
        Assert.IsTrue(result.Alternatives.Take(2).All(a => a.IsComplete && a.State == PlanState.Released));
        Assert.IsEmpty(creates.Mdevs, "the plan that created a device but lost the ranking removed it");
        Assert.IsNotEmpty(result.Alternatives[2].Reasons);
    }

    [TestMethod]
    public async Task UnreachableDestination_IsAnAlternativeWithItsReason_NotAnError()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63");
        scenario.DestinationType();
        var down = Destination("down", verifiable: true, idle: true);
        down.Hypervisor.Unreachable = "Cannot recv data: Connection reset by peer";

        await using var result = await scenario.Planner().PlanAsync(scenario.Request(null, down, scenario.Destination));

        Assert.AreEqual("dest", result.Best.Destination.Name);
        var alternative = result.Alternatives.Single();
        Assert.IsFalse(alternative.IsComplete);
        StringAssert.Contains(alternative.Reasons.Single(), "Connection reset by peer");
    }

    [TestMethod]
    public async Task FindCompatibleTargets_AnswersInPreferredOrder_AndCreatesNothing()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63");
        var fuller = scenario.DestinationType(parent: "0000:41:00.0", max: 2);
        scenario.DestinationType(parent: "0000:42:00.0", max: 8);
        var refusing = scenario.DestinationType(parent: "0000:43:00.0", max: 8);
        refusing.TypeVersion = new FakeVersion("other");
        var idle = scenario.Destination.AddMdev(fuller);
        var before = scenario.Destination.Snapshot();
        var device = scenario.Source.Domains.Single().HostDevices[0];

        var answer = await scenario.Planner().FindCompatibleTargetsAsync(scenario.Source.ToHost(), device, scenario.Destination.ToHost());

        Assert.AreEqual(before, scenario.Destination.Snapshot());
        Assert.IsEmpty(scenario.DestinationWrites("/create"));
        Assert.AreEqual(0, answer.Statistics.Creates);
        Assert.HasCount(3, answer.Targets);
        Assert.AreEqual(CompatibleTargetKind.ExistingMdev, answer.Targets[0].Kind);
        Assert.AreEqual(new MdevTarget(idle.Uuid), answer.Targets[0].Existing);
        Assert.AreEqual("pci_0000_41_00_0", answer.Targets[1].Parent, "pack: the fuller parent first");
        Assert.AreEqual("pci_0000_42_00_0", answer.Targets[2].Parent);
        Assert.IsTrue(answer.Targets.All(t => t.Verification == Verification.Verified));
        Assert.AreEqual("pci_0000_43_00_0/nvidia-63", answer.Rejections.Single(r => r.Code == RejectionCode.VersionRejected).Candidate);
    }

    [TestMethod]
    public async Task PciFunction_MatchesOnMigrationType_AndIsVerifiedOnItsVersionAttribute()
    {
        var scenario = new Scenario();
        scenario.PciGuest("0000:3b:00.1", "0x15b3", "0x101e", "vfio-pci:mlx5", "mlx5-v7");
        var other = scenario.Destination.AddPci("0000:5e:00.1", "0x15b3", "0x101e", "vfio-pci:mlx5-legacy", new FakeVersion("mlx5-v7"));
        var match = scenario.Destination.AddPci("0000:5e:00.2", "0x15b3", "0x101f", "vfio-pci:mlx5", new FakeVersion("mlx5-v8", "mlx5-v7"));
        scenario.Destination.AddPci("0000:af:00.0", "0x10de", "0x1eb8");

        await using var result = await scenario.PlanAsync();

        Assert.IsTrue(result.Succeeded, string.Join("\n", result.Best.Reasons));
        var device = result.Best.Devices.Single();
        Assert.AreEqual(new PciTarget(match.Address), device.Target.Target);
        Assert.AreEqual(ProbePoint.PciDevice, device.DecidedBy!.Point);
        Assert.AreEqual(other.Address.ToString(), result.Best.Rejections.Single(r => r.Code == RejectionCode.TypeMismatch).Candidate);
        Assert.IsEmpty(scenario.DestinationWrites("0000:af:00.0"), "another vendor's function is not even read");
        Assert.IsEmpty(scenario.DestinationWrites(other.Address.ToString()), "a type mismatch is never probed");
    }

    [TestMethod]
    public async Task PciFunctionServingMdevs_IsInUse_AndIsNeverProbed()
    {
        var scenario = new Scenario();
        scenario.PciGuest("0000:3b:00.0", "0x10de", "0x1eb8", "vfio-pci:nvidia-t4", "t4-v1");
        var gpu = scenario.Destination.AddPci("0000:41:00.0", "0x10de", "0x1eb8", "vfio-pci:nvidia-t4", new FakeVersion("t4-v1"));
        var idle = scenario.Destination.AddMdev(scenario.DestinationType(parent: "0000:41:00.0"));
        var free = scenario.Destination.AddPci("0000:42:00.0", "0x10de", "0x1eb8", "vfio-pci:nvidia-t4", new FakeVersion("t4-v1"));

        await using var result = await scenario.PlanAsync();

        Assert.IsTrue(result.Succeeded, string.Join("\n", result.Best.Reasons));
        Assert.AreEqual(new PciTarget(free.Address), result.Best.Devices.Single().Target.Target);
        var inUse = result.Best.Rejections.Single(r => r.Code == RejectionCode.InUse);
        Assert.AreEqual(gpu.Address.ToString(), inUse.Candidate);
        StringAssert.Contains(inUse.Message, idle.Uuid.Value);
        Assert.IsEmpty(scenario.DestinationWrites(gpu.Address.ToString()), "a function that serves mdevs is not probed");
    }

    [TestMethod]
    public async Task FunctionGettingAnMdevInThisPlan_IsNotAlsoPassedThroughWhole()
    {
        var scenario = new Scenario();
        var vgpu = scenario.Source.AddMdev(scenario.SourceType());
        var gpu = scenario.Source.AddPci("0000:3b:00.0", "0x10de", "0x1eb8", "vfio-pci:nvidia-t4", new FakeVersion("t4-v1"));
        scenario.Source.DefineGuest("vm1", FakeHost.MdevDevice(0, vgpu), FakeHost.PciDevice(1, gpu));
        TwoGpusServingBothWays(scenario);

        await using var result = await scenario.PlanAsync();

        Assert.IsTrue(result.Succeeded, string.Join("\n", result.Best.Reasons));
        var mdevParent = result.Best.Devices[0].Target.Parent;
        var passedThrough = (PciTarget)result.Best.Devices[1].Target.Target;
        Assert.AreEqual("pci_0000_41_00_0", mdevParent);
        Assert.AreEqual(PciAddress.Parse("0000:42:00.0"), passedThrough.Address, "the function that gets the new mdev cannot also be assigned whole");
    }

    [TestMethod]
    public async Task FunctionAnotherPlanPassesThroughWhole_GetsNoMdev()
    {
        var scenario = new Scenario();
        scenario.PciGuest("0000:3b:00.0", "0x10de", "0x1eb8", "vfio-pci:nvidia-t4", "t4-v1");
        scenario.Source.DefineGuest("vm2", FakeHost.MdevDevice(0, scenario.Source.AddMdev(scenario.SourceType())));
        TwoGpusServingBothWays(scenario);

        var planner = scenario.Planner();
        await using var whole = await planner.PlanAsync(scenario.Request());
        Assert.IsTrue(whole.Succeeded, string.Join("\n", whole.Best.Reasons));
        Assert.AreEqual(PciAddress.Parse("0000:41:00.0"), ((PciTarget)whole.Best.Devices.Single().Target.Target).Address);

        await using var sliced = await planner.PlanAsync(new PlanRequest(scenario.Source.ToHost(), DomainSelector.Parse("vm2"), [scenario.Destination.ToHost()]));

        Assert.IsTrue(sliced.Succeeded, string.Join("\n", sliced.Best.Reasons));
        Assert.AreEqual("pci_0000_42_00_0", sliced.Best.Devices.Single().Target.Parent, "the whole-function plan still holds 0000:41:00.0");
        StringAssert.Contains(sliced.Best.Rejections.Single(r => r.Code == RejectionCode.InUse).Message, "passed through whole by another plan");
    }

    [TestMethod]
    public async Task InventoryAsked_IsOnlyTheKindsTheGuestHas()
    {
        var mdevOnly = new Scenario();
        mdevOnly.Guest("nvidia-63");
        mdevOnly.DestinationType();
        await using (var result = await mdevOnly.PlanAsync())
        {
            Assert.IsTrue(result.Succeeded, string.Join("\n", result.Best.Reasons));
        }

        Assert.AreEqual("hv:Inventory MdevParents, Mdevs", mdevOnly.Source.Operations.Single(o => o.StartsWith("hv:Inventory", StringComparison.Ordinal)));
        Assert.AreEqual("hv:Inventory MdevParents, Mdevs", mdevOnly.Destination.Operations.Single(o => o.StartsWith("hv:Inventory", StringComparison.Ordinal)));

        var pciOnly = new Scenario();
        pciOnly.PciGuest("0000:3b:00.1", "0x15b3", "0x101e", "vfio-pci:mlx5", "mlx5-v7");
        pciOnly.Destination.AddPci("0000:5e:00.1", "0x15b3", "0x101e", "vfio-pci:mlx5", new FakeVersion("mlx5-v7"));
        await using (var result = await pciOnly.PlanAsync())
        {
            Assert.IsTrue(result.Succeeded, string.Join("\n", result.Best.Reasons));
        }

        Assert.AreEqual("hv:Inventory PciDevices", pciOnly.Source.Operations.Single(o => o.StartsWith("hv:Inventory", StringComparison.Ordinal)));
        Assert.AreEqual("hv:Inventory All", pciOnly.Destination.Operations.Single(o => o.StartsWith("hv:Inventory", StringComparison.Ordinal)), "PCI candidates need the parents and mdevs that say which functions serve mdevs");
    }

    [TestMethod]
    public async Task Hybrid_MdevToPhysical_OnlyWhenAllowed_AndVerified_RewritesTheHostdevKind()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63");
        var vf = scenario.Destination.AddPci("0000:af:00.4", "0x10de", "0x1eb8", "vfio-pci:nvidia-t4", new FakeVersion("x", Scenario.Version));

        await using (var result = await scenario.PlanAsync())
        {
            Assert.IsFalse(result.Succeeded);
            Assert.IsEmpty(scenario.DestinationWrites(vf.Address.ToString()), "hybrid candidates are not even probed by default");
        }

        await using (var result = await scenario.PlanAsync(new PlanOptions { AllowHybrid = true }))
        {
            Assert.IsTrue(result.Succeeded, string.Join("\n", result.Best.Reasons));
            var device = result.Best.Devices.Single();
            Assert.AreEqual(new PciTarget(vf.Address), device.Target.Target);
            Assert.AreEqual(ProbePoint.PciDevice, device.DecidedBy!.Point);
            StringAssert.Contains(result.Best.DestinationXml, "type='pci'");
            StringAssert.Contains(result.Best.DestinationXml, "bus='0xaf'");
        }
    }

    [TestMethod]
    public async Task CrossTypeAndHybrid_AreOffByDefault_AndNeedTheDevicesOwnYes()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63");
        var otherType = scenario.Destination.AddParent("0000:41:00.0").AddType("nvidia-64", max: 0);
        var accepting = scenario.Destination.AddMdev(otherType, new FakeVersion("x", Scenario.Version));
        var silent = scenario.Destination.AddMdev(otherType, version: null);
        silent.Version = null;

        await using (var result = await scenario.PlanAsync())
        {
            Assert.IsFalse(result.Succeeded);
            Assert.IsEmpty(scenario.DestinationWrites(accepting.Uuid.Value));
        }

        await using (var result = await scenario.PlanAsync(new PlanOptions { AllowCrossType = true, VerificationPolicy = VerificationPolicy.AllowTypeMatch }))
        {
            Assert.IsTrue(result.Succeeded);
            var device = result.Best.Devices.Single();
            Assert.AreEqual(accepting.Uuid.Value, device.Target.Id);
            Assert.AreEqual(Verification.Verified, device.Verification);
        }

        accepting.Version = new FakeVersion("x");
        await using (var result = await scenario.PlanAsync(new PlanOptions { AllowCrossType = true, VerificationPolicy = VerificationPolicy.AllowTypeMatch }))
        {
            Assert.IsFalse(result.Succeeded, "a cross-type target without the device's own yes is never accepted, whatever the policy");
            Assert.AreEqual(silent.Uuid.Value, result.Best.Rejections.Single(r => r.Code == RejectionCode.Unverifiable).Candidate);
        }
    }
}
