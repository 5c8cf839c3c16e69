using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Sysfs;
using VfioMigration.Planner.Tests.Fakes;

namespace VfioMigration.Planner.Tests.Planning;

/// <summary>
/// VF vGPU sources (docs/nvidia-vf.md) planned over the fake hosts' VFs: the candidates in their
/// order, the rule-0 and capacity rejections with their whole texts, the verdicts before and after
/// configuring, and a plan that configures a VF and resets it on release. Integration.Tests plans
/// them over the simulator too; these run where the mutation tests run (docs/testing.md).
/// </summary>
[TestClass]
public sealed class VfPlanningTests
{
    private const string Version = "nvidia-vgpu-550.90.05";
    private const string SourceVf = "0000:17:00.4";
    private const string Wanted = "vgpu 1157 (NVIDIA L40S-24C)";
    private static readonly FakeVgpuType L40s24 = new(1157, "NVIDIA L40S-24C", 3);

    /// <summary>Guest vm1 on the source owns the VF vGPU <see cref="SourceVf"/> (L40S-24C), with a version unless <paramref name="version"/> is false.</summary>
    private static Scenario VfGuest(bool version = true)
    {
        var scenario = new Scenario();
        var vf = scenario.Source.AddVf(new FakeGpu(PciAddress.Parse("0000:17:00.0"), L40s24), SourceVf, type: 1157, version: version ? new FakeVersion(Version) : null);
        scenario.Source.DefineGuest("vm1", FakeHost.PciDevice(0, vf));
        return scenario;
    }

    private static Task<CompatibleTargets> AskAsync(Scenario scenario, PlanOptions? options = null) =>
        scenario.Planner().FindCompatibleTargetsAsync(scenario.Source.ToHost(), FakeHost.PciDevice(0, scenario.Source.Pcis.Single()), scenario.Destination.ToHost(), options);

    private static string Describe(CompatibleTarget target) =>
        $"{target.Kind} {((PciTarget)target.Existing!).Address} pf {target.Parent} {target.Type} {target.Verification} {target.DecidedBy?.Path} note {target.Note}";

    [TestMethod]
    public async Task Candidates_ConfiguredVfsFirst_ThenUnconfiguredOnes_EachByPfAndAddress_WithEveryRefusalSaid()
    {
        var scenario = VfGuest();
        var dest = scenario.Destination;
        var orphan = dest.AddVf(null, "0000:85:00.4", creatable: "1157 : NVIDIA L40S-24C\n", vendorId: "0x10DE");
        var a = new FakeGpu(PciAddress.Parse("0000:81:00.0"), L40s24);
        dest.AddVf(a, "0000:81:00.6");
        dest.AddVf(a, "0000:81:00.5");
        dest.AddVf(a, "0000:81:00.4", type: 1157, version: new FakeVersion(Version));
        var full = new FakeGpu(PciAddress.Parse("0000:82:00.0"), L40s24 with { Max = 1 });
        dest.AddVf(full, "0000:82:00.4", type: 1157, version: new FakeVersion(Version));
        dest.AddVf(full, "0000:82:00.5");
        var q = new FakeGpu(PciAddress.Parse("0000:83:00.0"), new FakeVgpuType(1157, "NVIDIA L40S-24Q", 2));
        dest.AddVf(q, "0000:83:00.4", type: 1157, version: new FakeVersion(Version));
        dest.AddVf(q, "0000:83:00.5");
        var other = new FakeGpu(PciAddress.Parse("0000:84:00.0"));
        dest.AddVf(other, "0000:84:00.4", creatable: "1 : NVIDIA A-1\n2 : NVIDIA A-2\n3 : NVIDIA A-3\n");
        dest.AddVf(other, "0000:84:00.5", creatable: "3 : NVIDIA A-3\n4 : NVIDIA A-4\n5 : NVIDIA A-5\n");
        dest.AddVf(other, "0000:84:00.6", type: 9, creatable: "9 : NVIDIA A-9\n");
        dest.AddVf(new FakeGpu(PciAddress.Parse("0000:87:00.0")), "0000:87:00.4", creatable: "11 : NVIDIA B-1\n12 : NVIDIA B-2\n13 : NVIDIA B-3\n14 : NVIDIA B-4\n");
        dest.AddPci("0000:86:00.0", "0x8086", "0x26b9");
        dest.DefineGuest("held", FakeHost.PciDevice(0, dest.Pcis.Single(p => p.Address == PciAddress.Parse("0000:82:00.4"))));

        var answer = await AskAsync(scenario, new PlanOptions { VerificationPolicy = VerificationPolicy.AllowTypeMatch });

        Assert.AreEqual(new SourceDeviceInfo(SourceDeviceKind.VfVgpu, 0, "hostdev0", null, PciAddress.Parse(SourceVf), Wanted, "vfio-pci", "0000:17:00.0"), answer.Source);
        const string Later = "note unverified until created: VF {0} has no vGPU yet: only the configured VF can say";
        CollectionAssert.AreEqual(
            new[]
            {
                $"PciFunction 0000:81:00.4 pf 0000:81:00.0 {Wanted} Verified bus/pci/devices/0000:81:00.4/vfio_migration_version note ",
                $"NewVfVgpu 0000:81:00.5 pf 0000:81:00.0 {Wanted} Unverified  " + string.Format(System.Globalization.CultureInfo.InvariantCulture, Later, "0000:81:00.5"),
                $"NewVfVgpu 0000:81:00.6 pf 0000:81:00.0 {Wanted} Unverified  " + string.Format(System.Globalization.CultureInfo.InvariantCulture, Later, "0000:81:00.6"),
                $"NewVfVgpu {orphan.Address} pf {orphan.Address} {Wanted} Unverified  " + string.Format(System.Globalization.CultureInfo.InvariantCulture, Later, orphan.Address),
            },
            answer.Targets.Select(Describe).ToArray(),
            string.Join("\n", answer.Targets.Select(Describe)));
        CollectionAssert.AreEqual(
            new[]
            {
                new Rejection(SourceVf, "0000:82:00.0", RejectionCode.NoCapacity, $"None of the 1 unconfigured VF(s) of GPU 0000:82:00.0 lists {Wanted} in creatable_vgpu_types now (they list nothing: the GPU is full)."),
                new Rejection(SourceVf, "0000:83:00.4", RejectionCode.TypeMismatch, "VF 0000:83:00.4 has vGPU type id 1157 but names it 'NVIDIA L40S-24Q', the source 'NVIDIA L40S-24C'; rule 0 requires the same profile."),
                new Rejection(SourceVf, "0000:83:00.5", RejectionCode.TypeMismatch, "VF 0000:83:00.5 offers vGPU type id 1157 as 'NVIDIA L40S-24Q', the source is 'NVIDIA L40S-24C'; rule 0 requires the same profile."),
                new Rejection(SourceVf, "0000:83:00.0", RejectionCode.NoCapacity, $"None of the 1 unconfigured VF(s) of GPU 0000:83:00.0 lists {Wanted} in creatable_vgpu_types now (they list NVIDIA L40S-24Q: another GPU model, or vGPUs of another size are there)."),
                new Rejection(SourceVf, "0000:84:00.0", RejectionCode.NoCapacity, $"None of the 2 unconfigured VF(s) of GPU 0000:84:00.0 lists {Wanted} in creatable_vgpu_types now (they list NVIDIA A-1, NVIDIA A-2, NVIDIA A-3, NVIDIA A-4, ...: another GPU model, or vGPUs of another size are there)."),
                new Rejection(SourceVf, "0000:87:00.0", RejectionCode.NoCapacity, $"None of the 1 unconfigured VF(s) of GPU 0000:87:00.0 lists {Wanted} in creatable_vgpu_types now (they list NVIDIA B-1, NVIDIA B-2, NVIDIA B-3, NVIDIA B-4: another GPU model, or vGPUs of another size are there)."),
                new Rejection(SourceVf, "0000:82:00.4", RejectionCode.InUse, "0000:82:00.4 is assigned to guest 'held' defined on dest."),
            },
            answer.Rejections.ToArray(),
            string.Join("\n", answer.Rejections));
        Assert.IsEmpty(dest.Operations.Where(o => o.Contains("0000:86:00.0", StringComparison.Ordinal)), "another vendor's function is not read");
        Assert.IsEmpty(dest.Writes().Where(w => !w.StartsWith("write bus/pci/devices/0000:81:00.4/vfio_migration_version", StringComparison.Ordinal)), "only the configured VF is probed; nothing is configured");
    }

    [TestMethod]
    public async Task Candidates_UnderRequireVerified_AreTheConfiguredVfsAlone_TheUnconfiguredOnesNeedConfiguring()
    {
        var scenario = VfGuest();
        var gpu = new FakeGpu(PciAddress.Parse("0000:81:00.0"), L40s24);
        scenario.Destination.AddVf(gpu, "0000:81:00.5");
        scenario.Destination.AddVf(gpu, "0000:81:00.4", type: 1157, version: new FakeVersion(Version));

        var answer = await AskAsync(scenario);

        CollectionAssert.AreEqual(new[] { $"PciFunction 0000:81:00.4 pf 0000:81:00.0 {Wanted} Verified bus/pci/devices/0000:81:00.4/vfio_migration_version note " }, answer.Targets.Select(Describe).ToArray());
        Assert.IsEmpty(answer.Rejections);
    }

    [TestMethod]
    public async Task PfWhoseVfsAreAllConfigured_IsNoCapacityRejection_ItsConfiguredVfsAreTheCandidates()
    {
        var scenario = VfGuest();
        var gpu = new FakeGpu(PciAddress.Parse("0000:81:00.0"), L40s24);
        scenario.Destination.AddVf(gpu, "0000:81:00.5", type: 1157, version: new FakeVersion(Version));
        scenario.Destination.AddVf(gpu, "0000:81:00.4", type: 1157, version: new FakeVersion(Version));

        var answer = await AskAsync(scenario);

        CollectionAssert.AreEqual(
            new[]
            {
                $"PciFunction 0000:81:00.4 pf 0000:81:00.0 {Wanted} Verified bus/pci/devices/0000:81:00.4/vfio_migration_version note ",
                $"PciFunction 0000:81:00.5 pf 0000:81:00.0 {Wanted} Verified bus/pci/devices/0000:81:00.5/vfio_migration_version note ",
            },
            answer.Targets.Select(Describe).ToArray(),
            string.Join("\n", answer.Targets.Select(Describe)));
        CollectionAssert.AreEqual(Array.Empty<Rejection>(), answer.Rejections.ToArray(), "no VF is unconfigured, so none can fail to list the type: " + string.Join("\n", answer.Rejections));
    }

    [TestMethod]
    public async Task SourceWithoutAVersion_UnderAllowTypeMatch_EveryVfIsUnverified_WithTheReason()
    {
        var scenario = VfGuest(version: false);
        var gpu = new FakeGpu(PciAddress.Parse("0000:81:00.0"), L40s24);
        scenario.Destination.AddVf(gpu, "0000:81:00.5");
        scenario.Destination.AddVf(gpu, "0000:81:00.4", type: 1157, version: new FakeVersion(Version));

        var answer = await AskAsync(scenario, new PlanOptions { VerificationPolicy = VerificationPolicy.AllowTypeMatch });

        const string Why = "not verified: bus/pci/devices/0000:17:00.4/vfio_migration_version does not exist: the device does not say it can migrate";
        CollectionAssert.AreEqual(
            new[]
            {
                $"PciFunction 0000:81:00.4 pf 0000:81:00.0 {Wanted} Unverified  note {Why}",
                $"NewVfVgpu 0000:81:00.5 pf 0000:81:00.0 {Wanted} Unverified  note {Why}",
            },
            answer.Targets.Select(Describe).ToArray());
        Assert.IsEmpty(scenario.Destination.Writes(), "nothing to write");
    }

    [TestMethod]
    public async Task Plan_ConfiguresAnUnconfiguredVf_ConfirmsIt_AndTheReleaseResetsIt()
    {
        var scenario = VfGuest();
        var gpu = new FakeGpu(PciAddress.Parse("0000:81:00.0"), L40s24);
        var vf = scenario.Destination.AddVf(gpu, "0000:81:00.4", version: new FakeVersion(Version));

        var result = await scenario.PlanAsync();
        var device = result.Best.Devices.Single();
        var created = result.Best.Created.Single();
        var configured = vf.Vf!.Type;
        await result.DisposeAsync();

        Assert.IsTrue(result.Succeeded, string.Join("\n", result.Best.Reasons));
        Assert.AreEqual(new TargetDeviceInfo(new PciTarget(vf.Address), "0000:81:00.0", Wanted), device.Target);
        Assert.AreEqual(DeviceAction.Create, device.Action);
        Assert.AreEqual(Verification.Verified, device.Verification);
        Assert.AreEqual(new ProbeRecord(ProbePoint.PciDevice, SysfsPath.PciAttribute(vf.Address, "vfio_migration_version"), Errno.None, false), device.DecidedBy);
        Assert.AreEqual(CreationMethod.Vf, created.Method);
        Assert.AreEqual("0000:81:00.4", created.Parent);
        Assert.AreEqual("1157", created.Type.Value);
        Assert.AreEqual(1157u, configured);
        CollectionAssert.AreEqual(
            new[]
            {
                "write bus/pci/devices/0000:81:00.4/nvidia/current_vgpu_type 1157",
                $"write bus/pci/devices/0000:81:00.4/vfio_migration_version {Version}",
                "write bus/pci/devices/0000:81:00.4/nvidia/current_vgpu_type 0",
            },
            scenario.Destination.Writes().ToArray());
        Assert.AreEqual(0u, vf.Vf.Type, "the release reset it");
    }
}
