using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Tests.Fakes;

namespace VfioMigration.Planner.Tests.Planning;

/// <summary>
/// PCI functions as sources and targets beyond the usual same-migration-type match: a source without
/// <c>vfio_migration_type</c> (matched by vendor and device id), the type-mismatch texts, the cached
/// read of a function's type, and hybrid (mdev/physical) candidates both ways (docs/testing.md).
/// </summary>
[TestClass]
public sealed class PciCandidateTests
{
    private const string SourceAddress = "0000:3b:00.1";

    [TestMethod]
    public async Task SourceWithoutAMigrationType_MatchesTheSameVendorAndDeviceId_WhateverTheirCase()
    {
        var scenario = new Scenario();
        var pci = scenario.Source.AddPci(SourceAddress, "0x15b3", "0x101e", migrationType: null, new FakeVersion("mlx5-v7"));
        scenario.Source.DefineGuest("vm1", FakeHost.PciDevice(0, pci));
        var otherDevice = scenario.Destination.AddPci("0000:5e:00.0", "0x15b3", "0x1021", "vfio-pci:mlx5", new FakeVersion("mlx5-v7"));
        scenario.Destination.AddPci("0000:5e:00.1", "0x8086", "0x101e", "vfio-pci:mlx5", new FakeVersion("mlx5-v7"));
        var match = scenario.Destination.AddPci("0000:5e:00.2", "0x15B3", "0x101E", "vfio-pci:mlx5", new FakeVersion("mlx5-v7"));

        await using var result = await scenario.PlanAsync();

        Assert.IsTrue(result.Succeeded, string.Join("\n", result.Best.Reasons));
        var device = result.Best.Devices.Single();
        Assert.AreEqual(new PciTarget(match.Address), device.Target.Target);
        Assert.AreEqual("0x15b3:0x101e", device.Target.Type, "planned as the source's type");
        Assert.AreEqual(Verification.Verified, device.Verification);
        var rejection = result.Best.Rejections.Single();
        Assert.AreEqual(new Rejection(rejection.Source, otherDevice.Address.ToString(), RejectionCode.TypeMismatch, $"PCI function {otherDevice.Address} is 0x15b3:0x1021, the source is 0x15b3:0x101e."), rejection);
        Assert.IsEmpty(scenario.Destination.Operations.Where(o => o.Contains("0000:5e:00.1", StringComparison.Ordinal)), "another vendor's function is not even read");
        Assert.IsEmpty(scenario.Destination.Operations.Where(o => o.Contains("vfio_migration_type", StringComparison.Ordinal)), "without a source type there is nothing to compare");
    }

    [TestMethod]
    public async Task FunctionsOfAnotherMigrationType_AreRefusedWithTheirType_OrWhyTheyHaveNone()
    {
        var scenario = new Scenario();
        scenario.PciGuest(SourceAddress, "0x15b3", "0x101e", "vfio-pci:mlx5", "mlx5-v7");
        var legacy = scenario.Destination.AddPci("0000:5e:00.1", "0x15b3", "0x101e", "vfio-pci:mlx5-legacy", new FakeVersion("mlx5-v7"));
        var untyped = scenario.Destination.AddPci("0000:5e:00.2", "0x15b3", "0x101e", migrationType: null, new FakeVersion("mlx5-v7"));

        await using var result = await scenario.PlanAsync();

        Assert.IsFalse(result.Succeeded);
        var rejections = result.Best.Rejections;
        Assert.HasCount(3, rejections);
        var source = rejections[0].Source;
        Assert.AreEqual(new Rejection(source, legacy.Address.ToString(), RejectionCode.TypeMismatch, $"PCI function {legacy.Address} has vfio_migration_type 'vfio-pci:mlx5-legacy', the source has 'vfio-pci:mlx5'."), rejections[0]);
        Assert.AreEqual(new Rejection(source, untyped.Address.ToString(), RejectionCode.TypeMismatch, $"PCI function {untyped.Address} has no usable vfio_migration_type (bus/pci/devices/{untyped.Address}/vfio_migration_type does not exist: the device does not say it can migrate); the source has 'vfio-pci:mlx5'."), rejections[1]);
        Assert.AreEqual(new Rejection(source, null, RejectionCode.NotPlaced, $"The PCI function {source} (vfio-pci:mlx5) could not be placed on dest: no candidate accepts it (2 rejected; see the rejections)."), rejections[2]);
        Assert.IsEmpty(scenario.DestinationWrites("0000:5e:00"), "a function of another type is never probed");
    }

    [TestMethod]
    public async Task FunctionsMigrationType_IsReadOncePerPlan_ForEveryDeviceThatLooksAtIt()
    {
        var scenario = new Scenario();
        var first = scenario.Source.AddPci("0000:3b:00.1", "0x15b3", "0x101e", "vfio-pci:mlx5", new FakeVersion("mlx5-v7"));
        var second = scenario.Source.AddPci("0000:3b:00.2", "0x15b3", "0x101e", "vfio-pci:mlx5", new FakeVersion("mlx5-v7"));
        scenario.Source.DefineGuest("vm1", FakeHost.PciDevice(0, first), FakeHost.PciDevice(1, second));
        var legacy = scenario.Destination.AddPci("0000:5e:00.1", "0x15b3", "0x101e", "vfio-pci:mlx5-legacy", new FakeVersion("mlx5-v7"));
        scenario.Destination.AddPci("0000:5e:00.2", "0x15b3", "0x101e", "vfio-pci:mlx5", new FakeVersion("mlx5-v7"));
        scenario.Destination.AddPci("0000:5e:00.3", "0x15b3", "0x101e", "vfio-pci:mlx5", new FakeVersion("mlx5-v7"));

        await using var result = await scenario.PlanAsync();

        Assert.IsTrue(result.Succeeded, string.Join("\n", result.Best.Reasons));
        CollectionAssert.AreEqual(new[] { ("0000:3b:00.1", legacy.Address.ToString()), ("0000:3b:00.2", legacy.Address.ToString()) }, result.Best.Rejections.Select(r => (r.Source, r.Candidate)).ToArray(), "both devices looked at it");
        Assert.AreEqual(1, scenario.Destination.Operations.Count(o => o == $"read bus/pci/devices/{legacy.Address}/vfio_migration_type"));
    }

    [TestMethod]
    public async Task MdevSourceOntoAFunction_IsPlannedAsTheFunctionsIds_AndOnlyAFunctionOfTheSameVendor()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63");
        scenario.Destination.AddPci("0000:ae:00.4", "0x8086", "0x1eb8", "vfio-pci:nvidia-t4", new FakeVersion(Scenario.Version));
        var vf = scenario.Destination.AddPci("0000:af:00.4", "0x10de", "0x1eb8", "vfio-pci:nvidia-t4", new FakeVersion("x", Scenario.Version));

        await using var result = await scenario.PlanAsync(new PlanOptions { AllowHybrid = true });

        Assert.IsTrue(result.Succeeded, string.Join("\n", result.Best.Reasons));
        var device = result.Best.Devices.Single();
        Assert.AreEqual(new PciTarget(vf.Address), device.Target.Target);
        Assert.AreEqual("0x10de:0x1eb8", device.Target.Type, "a hybrid target is planned as what it is");
        Assert.IsEmpty(scenario.Destination.Operations.Where(o => o.Contains("0000:ae:00.4", StringComparison.Ordinal)));
    }

    [TestMethod]
    public async Task PciSourceOntoAnIdleMdev_OnlyWhenAllowed_OfTheSameVendor_AndVerifiedByTheMdev()
    {
        var scenario = new Scenario();
        scenario.PciGuest(SourceAddress, "0x10de", "0x1eb8", "vfio-pci:nvidia-t4", "t4-v1");
        var otherVendor = scenario.Destination.AddMdev(scenario.Destination.AddParent("0000:40:00.0", vendorId: "0x8086").AddType("i915-GVTg_V5_4"), new FakeVersion("t4-v1"));
        var idle = scenario.Destination.AddMdev(scenario.DestinationType(max: 1), new FakeVersion("x", "t4-v1"));

        await using (var refused = await scenario.PlanAsync())
        {
            Assert.IsFalse(refused.Succeeded);
            Assert.AreEqual($"The PCI function {refused.Best.Rejections[0].Source} (vfio-pci:nvidia-t4) could not be placed on dest: the host has no free device of that type and no parent that can create one (0 rejected; see the rejections).", refused.Best.Reasons.Single());
            Assert.IsEmpty(scenario.DestinationWrites("bus/mdev/devices"), "hybrid candidates are not even probed by default");
        }

        await using var result = await scenario.PlanAsync(new PlanOptions { AllowHybrid = true });

        Assert.IsTrue(result.Succeeded, string.Join("\n", result.Best.Reasons));
        var device = result.Best.Devices.Single();
        Assert.AreEqual(new MdevTarget(idle.Uuid), device.Target.Target);
        Assert.AreEqual("nvidia-63", device.Target.Type);
        Assert.AreEqual(Verification.Verified, device.Verification);
        Assert.AreEqual(ProbePoint.MdevDevice, device.DecidedBy!.Point);
        Assert.IsEmpty(scenario.DestinationWrites(otherVendor.Uuid.Value), "another vendor's mdev is no candidate");
    }

    [TestMethod]
    [DataRow(false, true, "the source device has no version to write")]
    [DataRow(true, false, "bus/mdev/devices/{0}/migration_version does not exist")]
    public async Task HybridTargetWithoutBothVersions_IsRefusedWhateverThePolicy(bool sourceVersion, bool targetVersion, string why)
    {
        var scenario = new Scenario();
        var pci = scenario.Source.AddPci(SourceAddress, "0x10de", "0x1eb8", "vfio-pci:nvidia-t4", sourceVersion ? new FakeVersion("t4-v1") : null);
        scenario.Source.DefineGuest("vm1", FakeHost.PciDevice(0, pci));
        var idle = scenario.Destination.AddMdev(scenario.DestinationType(max: 1), targetVersion ? new FakeVersion("t4-v1") : null);
        idle.Version = targetVersion ? idle.Version : null;

        await using var result = await scenario.PlanAsync(new PlanOptions { AllowHybrid = true, VerificationPolicy = VerificationPolicy.AllowTypeMatch });

        Assert.IsFalse(result.Succeeded);
        var rejection = result.Best.Rejections.Single(r => r.Code == RejectionCode.Unverifiable);
        Assert.AreEqual(new Rejection(rejection.Source, idle.Uuid.Value, RejectionCode.Unverifiable, $"A hybrid (mdev/physical) target is accepted only when the target's own migration version attribute accepts the source version, and {string.Format(System.Globalization.CultureInfo.InvariantCulture, why, idle.Uuid)}."), rejection);
    }
}
