using System.Xml.Linq;
using VfioMigration.HostSimulator;
using VfioMigration.HostSimulator.Scenarios;
using VfioMigration.Integration.Tests.Xml;
using VfioMigration.Planner;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Hypervisor;
using VfioMigration.Planner.Json;
using VfioMigration.Planner.Sysfs;
using VfioMigration.Planner.Xml;
using static VfioMigration.Integration.Tests.Planning.PlanningScenarios;

namespace VfioMigration.Integration.Tests.Planning;

/// <summary>
/// The planner end to end: source and destination hosts are simulator scenarios, their libvirt
/// side the test driver on the XML the simulator generates (<c>test:///tmp/.../host.xml</c>), their
/// sysfs the front end a subclass provides. Every case checks the mapping, the reasons, what the
/// probes cost, and that the destination is exactly as before after a failed, cancelled or
/// released plan (or holds exactly the planned mdevs after a committed one).
/// </summary>
public abstract partial class PlannerEndToEndTests
{
    /// <summary>MSTest's context, for the plan JSON of each run.</summary>
    public TestContext TestContext { get; set; } = null!;

    private protected abstract ISysfsFrontEnd FrontEnd { get; }

    /// <summary>
    /// Whether the simulator's operation log sees a write to an attribute that does not exist. The
    /// in-process front end passes it to the tree (which logs ENOENT); through FUSE the kernel's
    /// lookup fails first, so such a probe never reaches the tree.
    /// </summary>
    private protected abstract bool LogsWritesToAbsentAttributes { get; }

    [TestMethod]
    public async Task OneDevice_ReusesAnIdleMdevItsDriverAccepts_AndCommitKeepsTheHostAsItWas()
    {
        using var bed = new PlanningTestBed(FrontEnd);
        var source = bed.Add(Source());
        var destination = bed.Add(Destination([NvidiaParent(ParentA, Accepts535, 4, VgpuType)], mdevs: [Mdev(IdleMdev, ParentA, VgpuType)]));
        var before = destination.Simulator.Snapshot();

        await using var result = await PlanAsync(source, SingleGuest, [destination.Host]);
        var why = Describe(result);

        Assert.IsTrue(result.Succeeded, why);
        var device = result.Best.Devices.Single();
        AssertMapping(device, SingleMdev, IdleMdev, DeviceAction.Reuse, ProbePoint.MdevDevice);
        await AssertDestinationXmlAsync(bed, source, SingleGuest, result.Best, validate: false);
        AssertProbesBounded(destination, before, result.Best);
        AssertSourceOnlyRead(source);

        await result.Best.CommitAsync();
        AssertExactlyPlannedMdevs(destination, before, result.Best);
    }

    [TestMethod]
    public async Task OneDevice_CreatesOnAnAcceptingParent_AndCommitLeavesExactlyThatMdev()
    {
        using var bed = new PlanningTestBed(FrontEnd);
        var source = bed.Add(Source());
        var destination = bed.Add(Destination([NvidiaParent(ParentA, Accepts535, 4, VgpuType)]));
        var before = destination.Simulator.Snapshot();

        await using var result = await PlanAsync(source, SingleGuest, [destination.Host]);
        var why = Describe(result);

        Assert.IsTrue(result.Succeeded, why);
        var device = result.Best.Devices.Single();
        AssertMapping(device, SingleMdev, expectedTarget: null, DeviceAction.Create, ProbePoint.MdevType, ProbePoint.MdevDevice);
        Assert.AreEqual(NodeDeviceName(ParentA), device.Target.Parent);
        Assert.AreEqual(1, result.Best.Statistics.Creates);
        await AssertDestinationXmlAsync(bed, source, SingleGuest, result.Best, validate: false);
        AssertProbesBounded(destination, before, result.Best);

        await result.Best.CommitAsync();
        AssertExactlyPlannedMdevs(destination, before, result.Best);
    }

    [TestMethod]
    public async Task SeveralDevices_AllCompatible_MapsEachAndNeverProbesWhatTheTypeRulesOut()
    {
        using var bed = new PlanningTestBed(FrontEnd);
        var source = bed.Add(Source());
        var destination = bed.Add(Destination(
            [NvidiaParent(ParentA, Accepts535, 8, VgpuType, OtherVgpuType), NvidiaParent(ParentOtherType, Accepts535, 8, OtherVgpuType)],
            mdevs: [Mdev(IdleOtherTypeMdev, ParentOtherType, OtherVgpuType)],
            pciDevices: [Vf(DestinationOtherVf, "vfio-pci:ice", CompatibleFirmware), Vf(DestinationVf, VfMigrationType, CompatibleFirmware)]));
        var before = destination.Simulator.Snapshot();

        await using var result = await PlanAsync(source, MultiGuest, [destination.Host]);
        var why = Describe(result);

        Assert.IsTrue(result.Succeeded, why);
        var plan = result.Best;
        Assert.HasCount(3, plan.Devices);
        AssertMapping(DeviceFor(plan, MultiMdev1), MultiMdev1, null, DeviceAction.Create, ProbePoint.MdevType, ProbePoint.MdevDevice);
        AssertMapping(DeviceFor(plan, MultiMdev2), MultiMdev2, null, DeviceAction.Create, ProbePoint.MdevType, ProbePoint.MdevDevice);
        AssertMapping(DeviceFor(plan, SourceVf), SourceVf, DestinationVf, DeviceAction.Reuse, ProbePoint.PciDevice);
        Assert.AreNotEqual(DeviceFor(plan, MultiMdev1).Target.Id, DeviceFor(plan, MultiMdev2).Target.Id);
        Assert.IsTrue(plan.Devices.Where(d => d.Source.Kind == SourceDeviceKind.Mdev).All(d => d.Target.Parent == NodeDeviceName(ParentA) && d.Target.Type == VgpuType), why);
        Assert.IsTrue(plan.Rejections.Any(r => r.Code == RejectionCode.TypeMismatch), why);
        Assert.IsTrue(plan.Rejections.Where(r => r.Candidate is not null).All(r => r.Code == RejectionCode.TypeMismatch), why);
        AssertRejectionsNameTheirCandidates(plan);
        await AssertDestinationXmlAsync(bed, source, MultiGuest, plan, validate: true);
        AssertProbesBounded(destination, before, plan, OtherVgpuType, IdleOtherTypeMdev, DestinationOtherVf);

        await plan.CommitAsync();
        AssertExactlyPlannedMdevs(destination, before, plan);
    }

    [TestMethod]
    public async Task Incompatible_EveryCandidateRefusesTheVersion_FailsWithTheErrnoAndLeavesTheHostAsItWas()
    {
        using var bed = new PlanningTestBed(FrontEnd);
        var source = bed.Add(Source());
        var destination = bed.Add(Destination([NvidiaParent(ParentA, Accepts550Only, 4, VgpuType)], mdevs: [Mdev(IdleMdev, ParentA, VgpuType)]));
        var before = destination.Simulator.Snapshot();

        await using var result = await PlanAsync(source, SingleGuest, [destination.Host]);
        var why = Describe(result);

        Assert.IsFalse(result.Succeeded, why);
        var plan = result.Best;
        Assert.IsEmpty(plan.Devices);
        Assert.IsNull(plan.DestinationXml);
        var onIdle = AssertRejected(plan, IdleMdev, RejectionCode.VersionRejected);
        Assert.AreEqual(Errno.EINVAL, onIdle.Errno);
        StringAssert.Contains(onIdle.Message, "EINVAL");
        var onType = AssertRejected(plan, VgpuType, RejectionCode.VersionRejected);
        Assert.AreEqual(Errno.EINVAL, onType.Errno);
        AssertRejectionsNameTheirCandidates(plan);
        Assert.IsNotEmpty(plan.Reasons);
        Assert.AreEqual(0, plan.Statistics.Creates);
        AssertProbesBounded(destination, before, plan);
        AssertNoCreateWrites(destination, before);
        AssertStateUnchanged(destination, before);
    }

    [TestMethod]
    public async Task Unverifiable_UnderRequireVerified_FailsAndLeavesTheHostAsItWas()
    {
        using var bed = new PlanningTestBed(FrontEnd);
        var source = bed.Add(Source());
        var destination = bed.Add(Destination([NvidiaParent(ParentA, migration: null, 4, VgpuType)]));
        var before = destination.Simulator.Snapshot();

        await using var result = await PlanAsync(source, SingleGuest, [destination.Host]);
        var why = Describe(result);

        Assert.IsFalse(result.Succeeded, why);
        Assert.IsEmpty(result.Best.Devices);
        AssertRejected(result.Best, VgpuType, RejectionCode.Unverifiable);
        AssertRejectionsNameTheirCandidates(result.Best);
        Assert.AreEqual(CreatedDeviceState.Removed, result.Best.Created.Single().State, "the one device created to ask the driver is removed");
        AssertProbesBounded(destination, before, result.Best);
        AssertStateUnchanged(destination, before);
    }

    [TestMethod]
    public async Task Unverifiable_UnderAllowTypeMatch_IsPlannedUnverified_AndReleaseLeavesTheHostAsItWas()
    {
        using var bed = new PlanningTestBed(FrontEnd);
        var source = bed.Add(Source());
        var destination = bed.Add(Destination([NvidiaParent(ParentA, migration: null, 4, VgpuType)]));
        var before = destination.Simulator.Snapshot();

        var result = await PlanAsync(source, SingleGuest, [destination.Host], new PlanOptions { VerificationPolicy = VerificationPolicy.AllowTypeMatch });
        var why = Describe(result);

        Assert.IsTrue(result.Succeeded, why);
        var device = result.Best.Devices.Single();
        Assert.AreEqual(Verification.Unverified, device.Verification);
        Assert.IsNull(device.DecidedBy);
        Assert.IsFalse(string.IsNullOrWhiteSpace(device.Note), "an unverified mapping says why");
        Assert.AreEqual(DeviceAction.Create, device.Action);
        Assert.AreEqual(VgpuType, device.Target.Type);
        Assert.AreEqual(1, result.Best.UnverifiedCount);
        await AssertDestinationXmlAsync(bed, source, SingleGuest, result.Best, validate: false);
        AssertProbesBounded(destination, before, result.Best);

        Assert.IsEmpty(await result.Best.ReleaseAsync());
        Assert.AreEqual(PlanState.Released, result.Best.State);
        AssertStateUnchanged(destination, before);
    }

    [TestMethod]
    public async Task Mixed_TheVgpusFitButTheVfFirmwareRefuses_FailsAndRemovesWhatItCreated()
    {
        using var bed = new PlanningTestBed(FrontEnd);
        var source = bed.Add(Source());
        var destination = bed.Add(Destination(
            [NvidiaParent(ParentA, Accepts535, 8, VgpuType)],
            pciDevices: [Vf(DestinationVf, VfMigrationType, IncompatibleFirmware)]));
        var before = destination.Simulator.Snapshot();

        await using var result = await PlanAsync(source, MultiGuest, [destination.Host]);
        var why = Describe(result);

        Assert.IsFalse(result.Succeeded, why);
        var plan = result.Best;
        Assert.IsNull(plan.DestinationXml);
        var onVf = AssertRejected(plan, DestinationVf, RejectionCode.VersionRejected);
        Assert.AreEqual(Errno.ENODEV, onVf.Errno);
        Assert.AreEqual(SourceVf, onVf.Source);
        AssertRejectionsNameTheirCandidates(plan);
        Assert.IsTrue(plan.Reasons.Any(reason => reason.Contains(SourceVf, StringComparison.Ordinal)), why);
        Assert.IsEmpty(plan.Created, "the VF is refused before any vGPU is created, so nothing is left to remove");
        AssertProbesBounded(destination, before, plan);
        AssertStateUnchanged(destination, before);
    }

    [TestMethod]
    public async Task Mixed_AnIdleMdevRefusesAndAnotherParentAccepts_CreatesThere_AndReleaseLeavesTheHostAsItWas()
    {
        using var bed = new PlanningTestBed(FrontEnd);
        var source = bed.Add(Source());
        var destination = bed.Add(Destination(
            [NvidiaParent(ParentA, Accepts550Only, 4, VgpuType), NvidiaParent(ParentB, Accepts535, 4, VgpuType)],
            mdevs: [Mdev(IdleMdev, ParentA, VgpuType)]));
        var before = destination.Simulator.Snapshot();

        var result = await PlanAsync(source, SingleGuest, [destination.Host]);
        var why = Describe(result);

        Assert.IsTrue(result.Succeeded, why);
        var device = result.Best.Devices.Single();
        AssertMapping(device, SingleMdev, null, DeviceAction.Create, ProbePoint.MdevType, ProbePoint.MdevDevice);
        Assert.AreEqual(NodeDeviceName(ParentB), device.Target.Parent);
        Assert.AreEqual(Errno.EINVAL, AssertRejected(result.Best, IdleMdev, RejectionCode.VersionRejected).Errno);
        AssertRejectionsNameTheirCandidates(result.Best);
        AssertProbesBounded(destination, before, result.Best);

        Assert.IsEmpty(await result.Best.ReleaseAsync());
        AssertStateUnchanged(destination, before);
    }

    [TestMethod]
    public async Task CapacityTakenByAnotherActorDuringTheProbe_GoesOnToTheOtherParent_AndLeavesOnlyTheOtherActorsMdevs()
    {
        using var bed = new PlanningTestBed(FrontEnd);
        var source = bed.Add(Source());
        var destination = bed.Add(Destination([NvidiaParent(ParentA, Accepts535, 2, VgpuType), NvidiaParent(ParentB, Accepts535, 2, VgpuType)]));
        HostSnapshot? afterOtherActor = null;
        string? filledParent = null;
        var intercepted = new InterceptingFileSystem(
            destination.Host.FileSystem,
            (path, _) => path.Value.EndsWith($"/mdev_supported_types/{VgpuType}/migration_version", StringComparison.Ordinal),
            async path =>
            {
                filledParent = path.Value.Split('/')[2];
                await FillParentAsync(destination.Simulator, filledParent, VgpuType);
                afterOtherActor = destination.Simulator.Snapshot();
            },
            afterWrite: false);

        var result = await PlanAsync(source, SingleGuest, [destination.Host with { FileSystem = intercepted }]);
        var why = Describe(result);

        Assert.IsTrue(intercepted.Fired, "the type-level probe was never written");
        Assert.IsTrue(result.Succeeded, why);
        var otherParent = filledParent == ParentA ? ParentB : ParentA;
        var device = result.Best.Devices.Single();
        AssertMapping(device, SingleMdev, null, DeviceAction.Create, ProbePoint.MdevType, ProbePoint.MdevDevice);
        Assert.AreEqual(NodeDeviceName(otherParent), device.Target.Parent, why);
        var rejection = AssertRejected(result.Best, NodeDeviceName(filledParent!), RejectionCode.NoCapacity);
        Assert.IsTrue(rejection.Errno is null or Errno.EUSERS, why);
        AssertRejectionsNameTheirCandidates(result.Best);
        AssertProbesBounded(destination, afterOtherActor!, result.Best);

        Assert.IsEmpty(await result.Best.ReleaseAsync());
        AssertStateUnchanged(destination, afterOtherActor!);
    }

    [TestMethod]
    public async Task CapacityTakenByAnotherActorJustBeforeTheCreate_FailsWithNoCapacity_AndLeavesOnlyTheOtherActorsMdevs()
    {
        using var bed = new PlanningTestBed(FrontEnd);
        var source = bed.Add(Source());
        var destination = bed.Add(Destination([NvidiaParent(ParentA, Accepts535, 2, VgpuType)]));
        HostSnapshot? afterOtherActor = null;
        var intercepted = new InterceptingFileSystem(
            destination.Host.FileSystem,
            (path, _) => path.Value.EndsWith("/create", StringComparison.Ordinal),
            async _ =>
            {
                await FillParentAsync(destination.Simulator, ParentA, VgpuType);
                afterOtherActor = destination.Simulator.Snapshot();
            },
            afterWrite: false);

        await using var result = await PlanAsync(source, SingleGuest, [destination.Host with { FileSystem = intercepted }]);
        var why = Describe(result);

        Assert.IsTrue(intercepted.Fired, "the planner never wrote a create");
        Assert.IsFalse(result.Succeeded, why);
        var rejection = AssertRejected(result.Best, NodeDeviceName(ParentA), RejectionCode.NoCapacity);
        Assert.AreEqual(Errno.EUSERS, rejection.Errno, why);
        StringAssert.Contains(rejection.Message, "EUSERS");
        AssertRejectionsNameTheirCandidates(result.Best);
        Assert.IsEmpty(result.Best.Created, "the refused create made nothing");
        AssertStateUnchanged(destination, afterOtherActor!);
    }

    [TestMethod]
    public async Task ACreateFails_TheDeviceCreatedBeforeItIsRemoved_AndTheReasonNamesTheErrno()
    {
        using var bed = new PlanningTestBed(FrontEnd);
        var source = bed.Add(Source());
        var destination = bed.Add(Destination(
            [NvidiaParent(ParentA, Accepts535, 8, VgpuType)],
            pciDevices: [Vf(DestinationVf, VfMigrationType, CompatibleFirmware)],
            faults: [new FaultSpec { Operation = SimulatedOperation.Create, Nth = 2, Errno = "EIO" }]));
        var before = destination.Simulator.Snapshot();

        await using var result = await PlanAsync(source, MultiGuest, [destination.Host]);
        var why = Describe(result);

        Assert.IsFalse(result.Succeeded, why);
        var rejection = AssertRejected(result.Best, VgpuType, RejectionCode.CreateFailed);
        Assert.AreEqual(Errno.EIO, rejection.Errno, why);
        AssertRejectionsNameTheirCandidates(result.Best);
        Assert.IsNotEmpty(result.Best.Created, "the first create succeeded and is journaled");
        Assert.IsTrue(result.Best.Created.All(created => created.State == CreatedDeviceState.Removed), why);
        Assert.IsEmpty(result.Best.RemovalFailures);
        AssertProbesBounded(destination, before, result.Best);
        AssertStateUnchanged(destination, before);
    }

    [TestMethod]
    public async Task AProbeHangs_IsCutOffAsProbeTimeout_NeverVerified_AndLeavesTheHostAsItWas()
    {
        using var bed = new PlanningTestBed(FrontEnd);
        var source = bed.Add(Source());
        var destination = bed.Add(Destination(
            [NvidiaParent(ParentA, Accepts535, 4, VgpuType)],
            faults: [new FaultSpec { Operation = SimulatedOperation.VersionWrite, Type = VgpuType, HangMs = 1500 }]));
        var before = destination.Simulator.Snapshot();

        await using var result = await PlanAsync(source, SingleGuest, [destination.Host], new PlanOptions { ProbeTimeout = TimeSpan.FromMilliseconds(150) });
        var why = Describe(result);

        Assert.IsFalse(result.Succeeded, why);
        Assert.IsEmpty(result.Best.Devices);
        var rejection = AssertRejected(result.Best, VgpuType, RejectionCode.ProbeTimeout);
        Assert.AreEqual(Errno.ETIMEDOUT, rejection.Errno);
        AssertRejectionsNameTheirCandidates(result.Best);
        Assert.AreEqual(1, result.Best.Statistics.Probes, why);
        Assert.AreEqual(0, result.Best.Statistics.Creates, why);
        AssertNoCreateWrites(destination, before);
        AssertStateUnchanged(destination, before);
    }

    [TestMethod]
    public async Task CancelledAfterTheFirstCreate_ThrowsOperationCanceled_AndLeavesTheHostAsItWas()
    {
        using var bed = new PlanningTestBed(FrontEnd);
        var source = bed.Add(Source());
        var destination = bed.Add(Destination(
            [NvidiaParent(ParentA, Accepts535, 8, VgpuType)],
            pciDevices: [Vf(DestinationVf, VfMigrationType, CompatibleFirmware)]));
        var before = destination.Simulator.Snapshot();
        using var cancellation = new CancellationTokenSource();
        var intercepted = new InterceptingFileSystem(
            destination.Host.FileSystem,
            (path, _) => path.Value.EndsWith("/create", StringComparison.Ordinal),
            _ => cancellation.CancelAsync(),
            afterWrite: true);

        await Assert.ThrowsAsync<OperationCanceledException>(() => PlanAsync(source, MultiGuest, [destination.Host with { FileSystem = intercepted }], cancellationToken: cancellation.Token));

        Assert.IsTrue(intercepted.Fired, "the planner never wrote a create");
        Assert.IsTrue(CreatesSince(destination, before).Any(op => op.Result == Errno.None), "the create reached the host before the cancellation");
        AssertStateUnchanged(destination, before);
    }

    [TestMethod]
    public async Task TwoPlansAtOnceAgainstTheSameDestination_NeverGetTheSameTarget()
    {
        using var bed = new PlanningTestBed(FrontEnd);
        var source = bed.Add(Source());
        var destination = bed.Add(Destination([NvidiaParent(ParentA, Accepts535, 4, VgpuType)], mdevs: [Mdev(IdleMdev, ParentA, VgpuType)]));
        var before = destination.Simulator.Snapshot();

        await PlanTwiceAtOnceAsync(bed, source, destination, results =>
        {
            Assert.IsTrue(results.All(result => result.Succeeded), string.Join('\n', results.Select(Describe)));
            var targets = results.Select(result => result.Best.Devices.Single().Target.Id).ToList();
            Assert.AreNotEqual(targets[0], targets[1]);
            CollectionAssert.Contains(targets, IdleMdev);
        });

        AssertStateUnchanged(destination, before);
    }

    [TestMethod]
    public async Task TwoDestinations_TheBestIsReturned_AndTheOtherIsReleasedLeavingItsHostAsItWas()
    {
        using var bed = new PlanningTestBed(FrontEnd);
        var source = bed.Add(Source());
        var needsCreate = bed.Add(Destination([NvidiaParent(ParentA, Accepts535, 4, VgpuType)]));
        var hasIdle = bed.Add(Destination([NvidiaParent(ParentB, Accepts535, 4, VgpuType)], mdevs: [Mdev(IdleMdev, ParentB, VgpuType)]));
        var needsCreateBefore = needsCreate.Simulator.Snapshot();

        await using var result = await PlanAsync(source, SingleGuest, [needsCreate.Host, hasIdle.Host]);
        var why = Describe(result);

        Assert.IsTrue(result.Succeeded, why);
        Assert.AreSame(hasIdle.Host, result.Best.Destination);
        AssertMapping(result.Best.Devices.Single(), SingleMdev, IdleMdev, DeviceAction.Reuse, ProbePoint.MdevDevice);
        var alternative = result.Alternatives.Single(plan => plan.Destination == needsCreate.Host);
        Assert.IsTrue(alternative.IsComplete, "the other destination worked too, with a creation");
        Assert.AreEqual(PlanState.Released, alternative.State);
        AssertStateUnchanged(needsCreate, needsCreateBefore);
    }

    [TestMethod]
    public async Task TheOnlyParentFailsToCreate_TheUnplacedReasonSaysNothingAcceptedTheDevice()
    {
        using var bed = new PlanningTestBed(FrontEnd);
        var source = bed.Add(Source());
        var destination = bed.Add(Destination(
            [NvidiaParent(ParentA, Accepts535, 4, VgpuType)],
            faults: [new FaultSpec { Operation = SimulatedOperation.Create, Nth = 1, Errno = "EIO" }]));

        await using var result = await PlanAsync(source, SingleGuest, [destination.Host]);
        var why = Describe(result);

        Assert.IsFalse(result.Succeeded, why);
        AssertRejected(result.Best, VgpuType, RejectionCode.CreateFailed);
        var unplaced = result.Best.Rejections.Single(r => r.Code == RejectionCode.NotPlaced && r.Source == SingleMdev);
        Assert.DoesNotContain("other devices", unplaced.Message, "the guest has no other device; its only candidate was rejected");
        StringAssert.Contains(unplaced.Message, "rejected");
    }

    [TestMethod]
    public async Task TheSourceVersionIsUnreadable_FailsAsNotMigratable_WithoutTouchingTheDestination()
    {
        using var bed = new PlanningTestBed(FrontEnd);
        var source = bed.Add(Source() with { Faults = [new FaultSpec { Operation = SimulatedOperation.Read, Device = SingleMdev, Errno = "EIO" }] });
        var destination = bed.Add(Destination([NvidiaParent(ParentA, Accepts535, 4, VgpuType)], mdevs: [Mdev(IdleMdev, ParentA, VgpuType)]));
        var before = destination.Simulator.Snapshot();

        await using var result = await PlanAsync(source, SingleGuest, [destination.Host]);
        var why = Describe(result);

        Assert.IsFalse(result.Succeeded, why);
        Assert.IsEmpty(result.Best.Devices);
        var rejection = result.Best.Rejections.Single(r => r.Code == RejectionCode.NotMigratable);
        Assert.AreEqual(SingleMdev, rejection.Source);
        Assert.IsNull(rejection.Candidate);
        StringAssert.Contains(rejection.Message, SingleMdev);
        Assert.AreEqual(0, result.Best.Statistics.Probes);
        Assert.IsEmpty(destination.Simulator.Snapshot().OperationsSince(before), "the destination's sysfs was touched for a device that cannot migrate anywhere");
        AssertStateUnchanged(destination, before);
    }

    [TestMethod]
    public async Task TwoPlansAtOnceForTheOnlyTarget_OneGetsIt_TheOtherIsTurnedAwayAsInUse()
    {
        using var bed = new PlanningTestBed(FrontEnd);
        var source = bed.Add(Source());
        var destination = bed.Add(Destination([NvidiaParent(ParentA, Accepts535, 1, VgpuType)], mdevs: [Mdev(IdleMdev, ParentA, VgpuType)]));
        var before = destination.Simulator.Snapshot();

        await PlanTwiceAtOnceAsync(bed, source, destination, results =>
        {
            var why = string.Join('\n', results.Select(Describe));
            var winner = results.Single(result => result.Succeeded).Best;
            var loser = results.Single(result => !result.Succeeded).Best;
            AssertMapping(winner.Devices.Single(), SingleMdev, IdleMdev, DeviceAction.Reuse, ProbePoint.MdevDevice);
            Assert.IsEmpty(loser.Devices, why);
            var rejections = loser.Rejections.Where(r => r.Candidate is not null).ToList();
            Assert.IsTrue(rejections.Any(r => r.Candidate == IdleMdev && r.Code == RejectionCode.InUse), why);
            Assert.IsTrue(rejections.Where(r => r.Code != RejectionCode.InUse).All(r => r.Code == RejectionCode.NoCapacity), why);
            AssertRejectionsNameTheirCandidates(loser);
        });

        AssertStateUnchanged(destination, before);
    }

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public async Task PreserveUuid_CreatesWithTheSourceUuid_AndTheXmlKeepsIt(bool idleMdevUnderAnotherUuid)
    {
        using var bed = new PlanningTestBed(FrontEnd);
        var source = bed.Add(Source());

        // An idle mdev of the right type under another UUID is not reused: the target must have the source's UUID.
        var destination = bed.Add(Destination([NvidiaParent(ParentA, Accepts535, 4, VgpuType)], mdevs: idleMdevUnderAnotherUuid ? [Mdev(IdleMdev, ParentA, VgpuType)] : []));
        var before = destination.Simulator.Snapshot();

        await using var result = await PlanAsync(source, SingleGuest, [destination.Host], new PlanOptions { UuidStrategy = UuidStrategy.Preserve });
        var why = Describe(result);

        Assert.IsTrue(result.Succeeded, why);
        AssertMapping(result.Best.Devices.Single(), SingleMdev, SingleMdev, DeviceAction.PreserveUuid, ProbePoint.MdevType, ProbePoint.MdevDevice);
        await AssertDestinationXmlAsync(bed, source, SingleGuest, result.Best, validate: false);
        AssertProbesBounded(destination, before, result.Best);

        await result.Best.CommitAsync();
        AssertExactlyPlannedMdevs(destination, before, result.Best);
    }

    [TestMethod]
    public async Task AParentDisappearsJustBeforeTheCreate_GoesOnToTheOtherParent_AndReleaseLeavesEveryMdevAsItWas()
    {
        using var bed = new PlanningTestBed(FrontEnd);
        var source = bed.Add(Source());
        var destination = bed.Add(Destination([NvidiaParent(ParentA, Accepts535, 4, VgpuType), NvidiaParent(ParentB, Accepts535, 4, VgpuType)]));
        var before = destination.Simulator.Snapshot();
        string? unplugged = null;
        var intercepted = new InterceptingFileSystem(
            destination.Host.FileSystem,
            (path, _) => path.Value.EndsWith("/create", StringComparison.Ordinal),
            path =>
            {
                unplugged = path.Value.Split('/')[2];
                Assert.IsTrue(destination.Simulator.RemoveParent(unplugged), $"{unplugged} was not there to unplug");
                return Task.CompletedTask;
            },
            afterWrite: false);

        var result = await PlanAsync(source, SingleGuest, [destination.Host with { FileSystem = intercepted }]);
        var why = Describe(result);

        Assert.IsTrue(intercepted.Fired, "the planner never wrote a create");
        Assert.IsTrue(result.Succeeded, why);
        var remaining = unplugged == ParentA ? ParentB : ParentA;
        var device = result.Best.Devices.Single();
        AssertMapping(device, SingleMdev, null, DeviceAction.Create, ProbePoint.MdevType, ProbePoint.MdevDevice);
        Assert.AreEqual(NodeDeviceName(remaining), device.Target.Parent, why);
        var rejection = AssertRejected(result.Best, NodeDeviceName(unplugged!), RejectionCode.CreateFailed);
        Assert.IsNotNull(rejection.Errno, why);
        AssertRejectionsNameTheirCandidates(result.Best);

        Assert.IsEmpty(await result.Best.ReleaseAsync());
        var after = destination.Simulator.Snapshot().State;
        Assert.AreEqual(before.State.Mdevs, after.Mdevs);
        CollectionAssert.AreEqual(before.State.Parents.Where(p => p.Name != unplugged).ToList(), after.Parents.ToList());
    }

    [TestMethod]
    public async Task VirtualParentLibvirtDoesNotList_ReusesAndCreatesOnIt_ThroughSysfs_AndReleaseLeavesTheHostAsItWas()
    {
        using var bed = new PlanningTestBed(FrontEnd);
        var source = bed.Add(MttySource());
        var destination = bed.Add(Destination([MttyParent(MttyMigration)], mdevs: [Mdev(IdleMttyMdev, Mtty, MttyType)]));
        Assert.IsEmpty((await destination.Hypervisor.GetInventoryAsync(InventoryScope.MdevParents)).Parents, "the test-driver host file lists no node device for mtty, as real libvirt lists none");
        var before = destination.Simulator.Snapshot();

        var result = await PlanAsync(source, SerialGuest, [destination.Host]);
        var why = Describe(result);

        Assert.IsTrue(result.Succeeded, why);
        var plan = result.Best;
        Assert.IsTrue(plan.Devices.All(d => d.Target.Parent == Mtty && d.Target.Type == MttyType && d.Verification == Verification.Verified), why);
        Assert.IsTrue(plan.Devices.All(d => d.Note?.Contains("found in sysfs (class/mdev_bus), not listed by libvirt", StringComparison.Ordinal) == true), why);
        Assert.AreEqual(IdleMttyMdev, plan.Devices.Single(d => d.Action == DeviceAction.Reuse).Target.Id);
        var made = plan.Devices.Single(d => d.Action == DeviceAction.Create);
        var created = plan.Created.Single();
        Assert.AreEqual(made.Target.Id, created.Uuid.Value);
        Assert.AreEqual(CreationMethod.Sysfs, created.Method);
        Assert.AreEqual(Mtty, created.Parent);
        Assert.HasCount(1, CreatesSince(destination, before).Where(op => op.Path.EndsWith($"/{Mtty}/mdev_supported_types/{MttyType}/create", StringComparison.Ordinal) && op.Result == Errno.None));
        await AssertDestinationXmlAsync(bed, source, SerialGuest, plan, validate: true);
        AssertProbesBounded(destination, before, plan);

        Assert.IsEmpty(await plan.ReleaseAsync());
        AssertStateUnchanged(destination, before);
    }

    [TestMethod]
    public async Task VirtualParentLibvirtDoesNotList_TheSecondCreateFails_FailsAndLeavesTheHostAsItWas()
    {
        using var bed = new PlanningTestBed(FrontEnd);
        var source = bed.Add(MttySource());
        var destination = bed.Add(Destination([MttyParent(MttyMigration)], faults: [new FaultSpec { Operation = SimulatedOperation.Create, Nth = 2, Errno = "EIO" }]));
        var before = destination.Simulator.Snapshot();

        await using var result = await PlanAsync(source, SerialGuest, [destination.Host]);
        var why = Describe(result);

        Assert.IsFalse(result.Succeeded, why);
        var rejection = AssertRejected(result.Best, $"{Mtty}/{MttyType}", RejectionCode.CreateFailed);
        Assert.AreEqual(Errno.EIO, rejection.Errno, why);
        Assert.IsNotEmpty(result.Best.Created, "the first create succeeded and is journaled");
        Assert.IsTrue(result.Best.Created.All(c => c.Method == CreationMethod.Sysfs && c.State == CreatedDeviceState.Removed), why);
        AssertStateUnchanged(destination, before);
    }

    [TestMethod]
    public async Task VirtualParentLibvirtDoesNotList_ItsPoolHeldByAGuestThere_IsSeenFull_AndNothingIsTouched()
    {
        using var bed = new PlanningTestBed(FrontEnd);
        var source = bed.Add(MttySource());
        var tenants = Enumerable.Range(1, 11).Select(i => $"7e000000-0000-4000-8000-{i:x12}").ToList();
        var destination = bed.Add(Destination([MttyParent(MttyMigration)], mdevs: [.. tenants.Select(uuid => Mdev(uuid, Mtty, MttyType))]) with
        {
            Guests = [new GuestSpec { Name = "tenant", Uuid = "9e000000-0000-4000-8000-0000000000ff", Running = true, Hostdevs = [.. tenants.Select(uuid => new HostdevSpec { Mdev = uuid })] }],
        });
        var before = destination.Simulator.Snapshot();

        await using var result = await PlanAsync(source, SerialGuest, [destination.Host]);
        var why = Describe(result);

        Assert.IsFalse(result.Succeeded, why);
        Assert.IsTrue(tenants.All(uuid => result.Best.Rejections.Any(r => r.Candidate == uuid && r.Code == RejectionCode.InUse)), "every tenant mdev is seen in use by its guest");
        Assert.IsTrue(result.Best.Rejections.Any(r => r.Code == RejectionCode.NotPlaced), why);
        Assert.AreEqual(0, result.Best.Statistics.Creates, "22 of 24 ports are taken: one mtty-2 fits, the guest needs two");
        AssertNoCreateWrites(destination, before);
        AssertStateUnchanged(destination, before);
    }

    /// <summary>Plans the single-device guest onto <paramref name="destination"/> twice at once, through two libvirt connections, hands both results to <paramref name="check"/>, then disposes them.</summary>
    private static async Task PlanTwiceAtOnceAsync(PlanningTestBed bed, SimulatedEndpoint source, SimulatedEndpoint destination, Action<PlanResult[]> check)
    {
        var results = await Task.WhenAll(
            PlanAsync(source, SingleGuest, [destination.Host]),
            PlanAsync(source, SingleGuest, [bed.SecondConnection(destination)]));
        try
        {
            check(results);
        }
        finally
        {
            foreach (var result in results)
            {
                await result.DisposeAsync();
            }
        }
    }

    private static Task<PlanResult> PlanAsync(SimulatedEndpoint source, string guest, IReadOnlyList<MigrationHost> destinations, PlanOptions? options = null, CancellationToken cancellationToken = default) =>
        new MigrationPlanner().PlanAsync(new PlanRequest(source.Host, DomainSelector.Parse(guest), destinations, options), cancellationToken);

    /// <summary>What another tool does: creates instances of <paramref name="type"/> on <paramref name="parent"/> straight through the simulator until none is left.</summary>
    private static async Task FillParentAsync(SimulatedHost host, string parent, string type)
    {
        var create = $"class/mdev_bus/{parent}/mdev_supported_types/{type}/create";
        for (var created = 0; ; created++)
        {
            var result = await host.FileTree.WriteAsync(create, System.Text.Encoding.ASCII.GetBytes(Guid.NewGuid().ToString()));
            if (result.Error != Errno.None)
            {
                Assert.AreEqual(Errno.EUSERS, result.Error, $"the other actor's create #{created + 1} on {parent}");
                Assert.IsGreaterThan(0, created, $"the other actor found {parent} already full");
                return;
            }
        }
    }

    private string Describe(PlanResult result)
    {
        var json = PlanJson.Serialize(result);
        TestContext.WriteLine(json);
        return json;
    }

    private static PlannedDevice DeviceFor(MigrationPlan plan, string sourceId) =>
        plan.Devices.Single(device => device.Source.Id == sourceId);

    private static void AssertMapping(PlannedDevice device, string expectedSource, string? expectedTarget, DeviceAction action, params ProbePoint[] decidingPoints)
    {
        Assert.AreEqual(expectedSource, device.Source.Id);
        if (expectedTarget is not null)
        {
            Assert.AreEqual(expectedTarget, device.Target.Id);
        }

        Assert.AreEqual(action, device.Action, $"{expectedSource} -> {device.Target.Id}");
        Assert.AreEqual(Verification.Verified, device.Verification, $"{expectedSource} -> {device.Target.Id}");
        Assert.IsNotNull(device.DecidedBy);
        CollectionAssert.Contains(decidingPoints, device.DecidedBy.Point);
        Assert.AreEqual(Errno.None, device.DecidedBy.Errno);
        Assert.IsFalse(device.DecidedBy.FromCache);
        Assert.AreEqual(device.Source.Kind == SourceDeviceKind.Mdev ? VgpuType : VfMigrationType, device.Target.Type);
    }

    private static Rejection AssertRejected(MigrationPlan plan, string candidatePart, RejectionCode code)
    {
        var matching = plan.Rejections.Where(r => r.Code == code && r.Candidate is not null && r.Candidate.Contains(candidatePart, StringComparison.Ordinal)).ToList();
        Assert.IsNotEmpty(matching, $"no {code} rejection of a candidate naming '{candidatePart}'; rejections: {string.Join(" | ", plan.Rejections)}");
        return matching[0];
    }

    /// <summary>Every rejection of a candidate says which: its message names each part of the candidate (a UUID, an address, or parent and type).</summary>
    private static void AssertRejectionsNameTheirCandidates(MigrationPlan plan)
    {
        foreach (var rejection in plan.Rejections.Where(r => r.Candidate is not null))
        {
            foreach (var part in rejection.Candidate!.Split('/'))
            {
                StringAssert.Contains(rejection.Message, part, $"the {rejection.Code} message does not name its candidate {rejection.Candidate}");
            }
        }
    }

    /// <summary>
    /// Probes are bounded: each (attribute, version) was written at most once, the plan counts
    /// exactly the version writes the host saw (at least those that reached it, when the front end
    /// hides writes to absent attributes), and no attribute of a candidate the type rules
    /// out (named by <paramref name="neverProbed"/>) was written.
    /// </summary>
    private void AssertProbesBounded(SimulatedEndpoint destination, HostSnapshot before, MigrationPlan plan, params string[] neverProbed)
    {
        var versionWrites = destination.Simulator.Snapshot().OperationsSince(before)
            .Where(op => op.IsWrite && op.Path.EndsWith("migration_version", StringComparison.Ordinal))
            .ToList();
        foreach (var repeated in versionWrites.GroupBy(op => (op.Path, op.Data)).Where(group => group.Count() > 1))
        {
            Assert.Fail($"{repeated.Key.Path} was probed {repeated.Count()} times with '{repeated.Key.Data}'.");
        }

        var observed = LogsWritesToAbsentAttributes ? versionWrites : [.. versionWrites.Where(op => op.Result != Errno.ENOENT)];
        var message = $"the plan counted {plan.Statistics.Probes} probes; the host saw: {string.Join(", ", versionWrites.Select(op => $"{op.Path} {op.Result}"))}";
        if (LogsWritesToAbsentAttributes)
        {
            Assert.AreEqual(observed.Count, plan.Statistics.Probes, message);
        }
        else
        {
            Assert.IsGreaterThanOrEqualTo(observed.Count, plan.Statistics.Probes, message);
        }
        foreach (var excluded in neverProbed)
        {
            Assert.IsFalse(versionWrites.Any(op => op.Path.Contains(excluded, StringComparison.Ordinal)), $"{excluded} was probed although its type rules it out");
        }
    }

    private static IEnumerable<OperationRecord> CreatesSince(SimulatedEndpoint host, HostSnapshot before) =>
        host.Simulator.Snapshot().OperationsSince(before).Where(op => op.IsWrite && op.Path.EndsWith("/create", StringComparison.Ordinal));

    private static void AssertNoCreateWrites(SimulatedEndpoint destination, HostSnapshot before) =>
        Assert.IsFalse(CreatesSince(destination, before).Any(), "the planner created an mdev although nothing accepted the source");

    private static void AssertStateUnchanged(SimulatedEndpoint host, HostSnapshot before) =>
        Assert.AreEqual(before.State, host.Simulator.Snapshot().State, $"{host.Simulator.Name} is not as it was before the plan");

    private static void AssertSourceOnlyRead(SimulatedEndpoint source) =>
        Assert.IsFalse(source.Simulator.Snapshot().Operations.Any(op => op.IsWrite), "the planner wrote to the source host");

    /// <summary>After a commit the destination holds exactly the mdevs it held before plus the ones the plan created, on the planned parents, of the planned types.</summary>
    private static void AssertExactlyPlannedMdevs(SimulatedEndpoint destination, HostSnapshot before, MigrationPlan plan)
    {
        Assert.AreEqual(PlanState.Committed, plan.State);
        var expected = before.State.Mdevs
            .Select(mdev => $"{mdev.Uuid} {NodeDeviceName(mdev.Parent)} {mdev.Type}")
            .Concat(plan.Devices.Where(d => d.Action != DeviceAction.Reuse).Select(d => $"{d.Target.Id} {d.Target.Parent} {d.Target.Type}"))
            .Order(StringComparer.Ordinal)
            .ToList();
        var actual = destination.Simulator.Snapshot().State.Mdevs
            .Select(mdev => $"{mdev.Uuid} {NodeDeviceName(mdev.Parent)} {mdev.Type}")
            .Order(StringComparer.Ordinal)
            .ToList();
        CollectionAssert.AreEqual(expected, actual);
        Assert.IsTrue(plan.Created.Where(c => c.State == CreatedDeviceState.Kept).All(c => plan.Devices.Any(d => d.Target.Id == c.Uuid.Value)), "a kept device is not in the mapping");
    }

    /// <summary>
    /// The destination XML differs from the source's migratable XML only in hostdev sources, and
    /// each rewritten source names the planned target; optionally libvirt's schema accepts it.
    /// </summary>
    private static async Task AssertDestinationXmlAsync(PlanningTestBed bed, SimulatedEndpoint source, string guest, MigrationPlan plan, bool validate)
    {
        Assert.IsNotNull(plan.DestinationXml, plan.DestinationXmlNote);
        var sourceXml = (await source.Hypervisor.GetDomainAsync(DomainSelector.Parse(guest))).MigratableXml;
        Assert.IsTrue(
            XNode.DeepEquals(MaskHostdevSources(sourceXml), MaskHostdevSources(plan.DestinationXml)),
            $"more than hostdev sources changed:\n{plan.DestinationXml}");

        var written = DomainXmlReader.Read(plan.DestinationXml).HostDevices;
        foreach (var device in plan.Devices)
        {
            var rewritten = written.Single(d => d.Ordinal == device.Source.Ordinal);
            var named = rewritten switch
            {
                MdevHostDevice mdev => mdev.Uuid.Value,
                PciHostDevice pci => pci.Address.ToString(),
                _ => null,
            };
            Assert.AreEqual(device.Target.Id, named, $"hostdev #{device.Source.Ordinal}");
        }

        if (validate)
        {
            var path = bed.WriteFile($"{guest}-destination.xml", plan.DestinationXml);
            var (exitCode, messages) = VirtXmlValidate.Domain(path);
            Assert.AreEqual(0, exitCode, messages);
        }
    }

    private static XElement MaskHostdevSources(string xml)
    {
        var root = XElement.Parse(xml);
        var hostdevSources = root.Descendants("hostdev")
            .Concat(root.Descendants("interface").Where(e => (string?)e.Attribute("type") == "hostdev"))
            .Select(device => device.Element("source"))
            .OfType<XElement>()
            .ToList();
        Assert.IsNotEmpty(hostdevSources, "the guest has host devices");
        foreach (var sourceElement in hostdevSources)
        {
            sourceElement.RemoveAll();
        }

        return root;
    }
}
