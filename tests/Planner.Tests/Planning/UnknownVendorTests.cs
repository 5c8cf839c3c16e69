using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Tests.Fakes;

namespace VfioMigration.Planner.Tests.Planning;

/// <summary>
/// Candidates whose vendor is unknown: a hybrid (mdev/physical) candidate needs both vendors known,
/// since the vendor is the namespace of the versions a probe compares, a cross-type one only that
/// they do not differ (one unknown is no difference); and the note of a type that
/// cannot answer before creation (docs/testing.md, "Mutation testing").
/// </summary>
[TestClass]
public sealed class UnknownVendorTests
{
    private static readonly PlanOptions Hybrid = new() { AllowHybrid = true, VerificationPolicy = VerificationPolicy.AllowTypeMatch };

    private static Task<CompatibleTargets> AskAsync(Scenario scenario, PlanOptions options) =>
        scenario.Planner().FindCompatibleTargetsAsync(scenario.Source.ToHost(), scenario.Source.Domains.Single().HostDevices[0], scenario.Destination.ToHost(), options);

    [TestMethod]
    public async Task MdevSourceWhoseParentLibvirtDoesNotList_HasNoVendor_SoNoFunctionIsAHybridCandidate()
    {
        var scenario = new Scenario();
        var type = scenario.Source.AddVirtualParent("mtty").AddType("mtty-2", deviceVersion: new FakeVersion(Scenario.Version));
        scenario.Source.DefineGuest("vm1", FakeHost.MdevDevice(0, scenario.Source.AddMdev(type)));
        var function = scenario.Destination.AddPci("0000:5e:00.0", "0x10de", "0x1eb8", "vfio-pci:nvidia-t4", new FakeVersion(Scenario.Version));

        var answer = await AskAsync(scenario, Hybrid);

        Assert.IsEmpty(answer.Targets);
        Assert.IsEmpty(answer.Rejections);
        Assert.IsEmpty(scenario.Destination.Operations.Where(o => o.Contains(function.Address.ToString(), StringComparison.Ordinal)), "the function is not even probed");
    }

    [TestMethod]
    public async Task PciSourceOntoAnIdleMdevOfAParentWithoutVendor_IsNoHybridCandidate()
    {
        var scenario = new Scenario();
        scenario.PciGuest("0000:3b:00.1", "0x10de", "0x1eb8", "vfio-pci:nvidia-t4", "t4-v1");
        var idle = scenario.Destination.AddMdev(scenario.Destination.AddVirtualParent("mtty").AddType("mtty-2"), new FakeVersion("t4-v1"));

        var answer = await AskAsync(scenario, Hybrid);

        Assert.IsEmpty(answer.Targets);
        Assert.IsEmpty(scenario.DestinationWrites(idle.Uuid.Value), "the parent found only in sysfs has no vendor: its mdev is no candidate");
    }

    [TestMethod]
    public async Task CrossTypeIdleMdevOfAParentWithoutVendor_IsACandidate_SinceOnlyOneVendorIsUnknown()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63");
        var idle = scenario.Destination.AddMdev(scenario.Destination.AddVirtualParent("mtty").AddType("mtty-2"), new FakeVersion("mtty-v1", Scenario.Version));

        var answer = await AskAsync(scenario, new PlanOptions { AllowCrossType = true });

        Assert.HasCount(1, answer.Targets, "the source's vendor is known, the parent's is not: no difference, so the idle mdev is a cross-type candidate");
        var target = answer.Targets[0];
        Assert.AreEqual((CompatibleTargetKind.ExistingMdev, (DeviceTarget)new MdevTarget(idle.Uuid), "mtty", "mtty-2", Verification.Verified), (target.Kind, target.Existing, target.Parent, target.Type, target.Verification));
        Assert.AreEqual($"bus/mdev/devices/{idle.Uuid}/migration_version", target.DecidedBy!.Path.Value);
        CollectionAssert.AreEqual(
            new[] { new Rejection(answer.Source.Id, "mtty", RejectionCode.TypeMismatch, "Parent mtty does not offer type nvidia-63 (it offers mtty-2).") },
            answer.Rejections.ToArray(),
            string.Join("\n", answer.Rejections));
    }

    [TestMethod]
    public async Task TypeWithoutAVersionAttribute_IsListedUnverifiedUntilCreated_WithThePathItLacks()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63");
        scenario.DestinationType(typeAttribute: false);

        var answer = await AskAsync(scenario, new PlanOptions { VerificationPolicy = VerificationPolicy.AllowTypeMatch });

        var target = answer.Targets.Single();
        Assert.AreEqual(new CompatibleTarget(CompatibleTargetKind.NewMdev, null, "pci_0000_41_00_0", "nvidia-63", 4, Verification.Unverified, null, "unverified until created: class/mdev_bus/0000:41:00.0/mdev_supported_types/nvidia-63/migration_version does not exist: only a created device can say"), target);
    }
}
