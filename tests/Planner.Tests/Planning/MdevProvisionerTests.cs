using Microsoft.Extensions.Logging.Testing;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Planning;
using VfioMigration.Planner.State;
using VfioMigration.Planner.Sysfs;
using VfioMigration.Planner.Tests.Fakes;
using VfioMigration.Planner.Tests.State;

namespace VfioMigration.Planner.Tests.Planning;

/// <summary>
/// Creating and confirming mdevs, seen from the store and the host: the intent durable before the
/// create is issued and the outcome recorded after it, each create written once, the whole text of
/// every way a create fails, and the created device's own verdict.
/// </summary>
[TestClass]
public sealed class MdevProvisionerTests
{
    private const string Parent = "pci_0000_41_00_0";
    private const string CreatePath = "class/mdev_bus/0000:41:00.0/mdev_supported_types/nvidia-63/create";

    /// <summary>How long a held create waits for another that a correct planner never starts at the same time.</summary>
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(1);

    private readonly FakeLogger<MigrationPlanner> _logger = new();

    public TestContext TestContext { get; set; } = null!;

    /// <summary>A guest with one mtty mdev; a destination whose mtty parent only sysfs shows (libvirt does not list it).</summary>
    private static Scenario OneSysfsOnlyDevice()
    {
        var scenario = new Scenario();
        var sourceType = scenario.Source.AddVirtualParent("mtty").AddType("mtty-2", deviceVersion: new FakeVersion(Scenario.Version));
        scenario.Source.DefineGuest("vm1", FakeHost.MdevDevice(0, scenario.Source.AddMdev(sourceType)));
        scenario.Destination.AddVirtualParent("mtty").AddType("mtty-2", typeVersion: new FakeVersion(Scenario.Version), deviceVersion: new FakeVersion(Scenario.Version));
        return scenario;
    }

    private static Scenario OneDevice(CreateBehaviour behaviour = CreateBehaviour.NotSupported, bool typeAttribute = true, bool deviceAttribute = true)
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63");
        scenario.DestinationType(typeAttribute: typeAttribute, deviceAttribute: deviceAttribute);
        scenario.Destination.Hypervisor.Create = behaviour;
        return scenario;
    }

    private Task<PlanResult> PlanAsync(Scenario scenario, IPlannerStateStore store, PlanOptions? options = null) =>
        new MigrationPlanner(logger: _logger, claims: store).PlanAsync(scenario.Request(options), TestContext.CancellationToken);

    /// <summary>The messages logged with <paramref name="eventId"/>, in order.</summary>
    private string[] Logged(int eventId) => [.. _logger.Collector.GetSnapshot().Where(r => r.Id.Id == eventId).Select(r => r.Message)];

    private static string[] WritesOf(RecordingStore store, MdevUuid uuid) => [.. store.Writes.Where(w => w.Contains(uuid.Value, StringComparison.Ordinal))];

    [TestMethod]
    [DataRow(true, "hv:CreateMdev ", CreationMethod.Libvirt, true)]
    [DataRow(true, "hv:CreateMdev ", CreationMethod.Libvirt, false)]
    [DataRow(false, $"write {CreatePath} ", CreationMethod.Sysfs, true)]
    public async Task ACreate_IsIssuedAfterItsIntentIsDurable_AndRecordedOnceAfterIt(bool libvirtCreates, string createOperation, CreationMethod method, bool persistent)
    {
        var scenario = OneDevice(libvirtCreates ? CreateBehaviour.Works : CreateBehaviour.NotSupported);
        var store = new RecordingStore();
        var atCreate = new List<string[]>();
        scenario.Destination.BeforeOperation = operation =>
        {
            if (operation.StartsWith(createOperation, StringComparison.Ordinal))
            {
                atCreate.Add([.. store.Writes]);
            }
        };

        var result = await PlanAsync(scenario, store, new PlanOptions { PersistentMdevs = persistent });
        var uuid = result.Best.Created.Single().Uuid;
        var planned = WritesOf(store, uuid);
        await result.DisposeAsync();

        Assert.HasCount(1, atCreate, "one create");
        CollectionAssert.AreEqual(new[] { $"claim mdev:{uuid}", $"journal {uuid} Intent" }, atCreate[0].Where(w => w.Contains(uuid.Value, StringComparison.Ordinal)).ToArray(), "claimed and intended before the create, nothing recorded yet");
        CollectionAssert.AreEqual(new[] { $"claim mdev:{uuid}", $"journal {uuid} Intent", $"journal {uuid} Created" }, planned);
        var entries = store.Entries.Where(e => e.Uuid == uuid).ToList();
        Assert.AreEqual((CreationMethod.Libvirt, persistent, 0, Parent, "nvidia-63"), (entries[0].Method, entries[0].Persistent, entries[0].Order, entries[0].Parent, entries[0].Type.Value), "the intent plans a libvirt create");
        Assert.AreEqual((method, method == CreationMethod.Libvirt && persistent, JournalState.Created), (entries[1].Method, entries[1].Persistent, entries[1].State), "the record says how it was made");
        Assert.AreEqual(JournalState.Removed, entries[2].State);
        Assert.AreEqual("end", store.Writes[^1]);
        Assert.IsFalse(scenario.Destination.Operations.Any(o => o.EndsWith("/physfn", StringComparison.Ordinal)), "one parent shares its capacity with no other");
        CollectionAssert.AreEqual(libvirtCreates ? Array.Empty<string>() : new[] { "libvirt cannot create mdevs on dest (Device is not a fibre channel HBA); falling back to sysfs" }, Logged(1009));
    }

    [TestMethod]
    public async Task ALibvirtCreateReportedFailedThatExists_IsKeptAndJournaled_AndSaysSo()
    {
        var scenario = OneDevice(CreateBehaviour.ReportsFailureButCreates);
        var store = new RecordingStore();

        await using var result = await PlanAsync(scenario, store);

        var uuid = result.Best.Created.Single().Uuid;
        CollectionAssert.AreEqual(new[] { $"claim mdev:{uuid}", $"journal {uuid} Intent", $"journal {uuid} Created" }, WritesOf(store, uuid));
        CollectionAssert.AreEqual(new[] { $"libvirt reported a failed create of mdev {uuid} on dest, but the device exists: keeping it (internal error: Unable to create mediated device: cause unknown)" }, Logged(1010));
    }

    [TestMethod]
    public async Task AStoreThatCannotCloseAnIntent_DoesNotStopThePlan_TheClaimIsStillReleased()
    {
        var scenario = OneDevice();
        scenario.Destination.FileSystem.FailingWrites[CreatePath] = Errno.EIO;
        var store = new RecordingStore { FailJournal = e => e.State == JournalState.Removed };

        await using var result = await PlanAsync(scenario, store);

        Assert.IsFalse(result.Succeeded);
        var uuid = store.Entries.Single().Uuid;
        CollectionAssert.AreEqual(new[] { $"claim mdev:{uuid}", $"journal {uuid} Intent", $"release mdev:{uuid}" }, WritesOf(store, uuid));
        CollectionAssert.AreEqual(new[] { $"Could not record in the state store that mdev {uuid} on dest was removed (recovery will find it gone): disk full" }, Logged(1018));
    }

    [TestMethod]
    [DataRow(false, true, true)]
    [DataRow(false, false, true)]
    [DataRow(true, false, true)]
    [DataRow(false, false, false)]
    public async Task ParentsThatAreVfsOfOneGpu_CreateOneAfterTheOther_EachPhysfnReadOnce(bool batches, bool libvirtCreates, bool oneGpu)
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63", "nvidia-63");
        foreach (var (vf, pf) in new[] { ("0000:41:00.4", "0000:41:00.0"), ("0000:41:00.5", oneGpu ? "0000:41:00.0" : "0000:41:00.1") })
        {
            scenario.DestinationType(parent: vf, max: 1);
            scenario.Destination.FileSystem.Links[$"bus/pci/devices/{vf}/physfn"] = $"../{pf}";
        }

        scenario.Destination.Hypervisor.Create = libvirtCreates ? CreateBehaviour.Works : CreateBehaviour.NotSupported;
        var gate = new CreateGate(scenario.Destination, holdUntilStarted: 2, Patience);
        var destination = new MigrationHost("dest", scenario.Destination.Hypervisor, new BatchingSysfs(scenario.Destination.FileSystem) { BatchesCalls = batches });

        await using var result = await new MigrationPlanner(claims: scenario.Claims).PlanAsync(new PlanRequest(scenario.Source.ToHost(), DomainSelector.Parse("vm1"), [destination], new PlanOptions()), TestContext.CancellationToken);

        Assert.IsTrue(result.Succeeded, string.Join("\n", result.Best.Reasons));
        Assert.AreEqual(oneGpu ? 1 : 2, gate.MaxInFlight, oneGpu ? "VFs of one GPU share its capacity: their creates never overlap" : "VFs of two GPUs create at once");
        var operations = scenario.Destination.Operations;
        var sysfsReads = operations.Concat(scenario.Source.Operations).Count(o => o.StartsWith("read ", StringComparison.Ordinal) || o.StartsWith("list ", StringComparison.Ordinal) || o.StartsWith("readlink ", StringComparison.Ordinal));
        Assert.AreEqual(sysfsReads, result.Best.Statistics.SysfsReads, "each physfn link read is counted");
        CollectionAssert.AreEqual(new[] { "readlink bus/pci/devices/0000:41:00.4/physfn", "readlink bus/pci/devices/0000:41:00.5/physfn" }, operations.Where(o => o.EndsWith("/physfn", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToArray());
        if (batches)
        {
            Assert.IsTrue(operations.FindIndex(o => o.EndsWith("/physfn", StringComparison.Ordinal)) < operations.FindIndex(o => o.Contains("/migration_version", StringComparison.Ordinal)), "read while the candidates are probed");
        }
    }

    [TestMethod]
    public async Task APciParentOnlySysfsShows_IsNotPrefetched_ItsPhysfnIsReadWhenItsCreateIsIssued()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63", "nvidia-63", "nvidia-63");
        foreach (var vf in new[] { "0000:41:00.4", "0000:41:00.5" })
        {
            scenario.DestinationType(parent: vf, max: 1);
            scenario.Destination.FileSystem.Links[$"bus/pci/devices/{vf}/physfn"] = "../0000:41:00.0";
        }

        scenario.Destination.AddVirtualParent("0000:42:00.0").AddType("nvidia-63", max: 1, typeVersion: new FakeVersion(Scenario.Version), deviceVersion: new FakeVersion(Scenario.Version));
        var destination = new MigrationHost("dest", scenario.Destination.Hypervisor, new BatchingSysfs(scenario.Destination.FileSystem) { BatchesCalls = true });

        await using var result = await new MigrationPlanner(claims: scenario.Claims).PlanAsync(new PlanRequest(scenario.Source.ToHost(), DomainSelector.Parse("vm1"), [destination], new PlanOptions()), TestContext.CancellationToken);

        Assert.IsTrue(result.Succeeded, string.Join("\n", result.Best.Reasons));
        var operations = scenario.Destination.Operations;
        var probed = operations.FindIndex(o => o.Contains("mdev_supported_types/nvidia-63/migration_version", StringComparison.Ordinal));
        var sysfsOnly = operations.IndexOf("readlink bus/pci/devices/0000:42:00.0/physfn");
        Assert.IsGreaterThan(-1, probed, string.Join("\n", operations));
        Assert.IsTrue(operations.FindIndex(o => o == "readlink bus/pci/devices/0000:41:00.4/physfn") < probed, "the listed parents' links are read while the candidates are probed");
        Assert.IsGreaterThan(probed, sysfsOnly, "the sysfs-only parent's link is read when its create is issued, not with the probes:\n" + string.Join("\n", operations));
    }

    [TestMethod]
    [DataRow(false, $"{Parent}/nvidia-63")]
    [DataRow(true, "mtty/mtty-2")]
    public async Task AUuidARacerClaimsAfterTheClaimsWereRead_IsNotCreated(bool sysfsOnly, string candidate)
    {
        var scenario = sysfsOnly ? OneSysfsOnlyDevice() : OneDevice();
        var sourceUuid = scenario.Source.Mdevs.Single().Uuid;
        var store = new RecordingStore();
        var racer = store.RaceAfterTheClaimsRead(scenario.Destination.Hypervisor.Uri, TargetKeys.Mdev(sourceUuid));

        await using var result = await PlanAsync(scenario, store, new PlanOptions { UuidStrategy = UuidStrategy.Preserve });

        Assert.IsFalse(result.Succeeded);
        Assert.AreEqual(new Rejection(sourceUuid.Value, candidate, RejectionCode.CreateFailed, $"The UUID {sourceUuid} is claimed by another plan (plan {racer} for guest vm9, process {Environment.ProcessId} (this one)).", Errno.EEXIST), result.Best.Rejections.Single(r => r.Code == RejectionCode.CreateFailed));
        Assert.IsEmpty(scenario.DestinationWrites("/create"));
        Assert.IsFalse(scenario.Destination.Operations.Any(o => o.StartsWith("hv:CreateMdev", StringComparison.Ordinal)));
        Assert.IsEmpty(result.Best.Created);
        Assert.AreEqual(racer, (await store.Claims.HolderOfAsync(scenario.Destination.Hypervisor.Uri, TargetKeys.Mdev(sourceUuid), Guid.Empty))!.Plan, "the racer keeps its claim");
    }

    [TestMethod]
    public async Task ALibvirtCreateThatFails_IsCreateFailed_WithLibvirtsWords_AndItsIntentIsClosed()
    {
        var scenario = OneDevice(CreateBehaviour.Fails);
        var store = new RecordingStore();

        await using var result = await PlanAsync(scenario, store);

        var failure = result.Best.Rejections.Single(r => r.Code == RejectionCode.CreateFailed);
        Assert.AreEqual($"libvirt could not create a nvidia-63 mdev on {Parent}: internal error: mdevctl failed", failure.Message);
        Assert.IsNull(failure.Errno);
        var uuid = store.Entries.Single(e => e.State == JournalState.Intent).Uuid;
        CollectionAssert.AreEqual(new[] { $"claim mdev:{uuid}", $"journal {uuid} Intent", $"journal {uuid} Removed", $"release mdev:{uuid}" }, WritesOf(store, uuid));
        CollectionAssert.AreEqual(new[] { "hv:CreateMdev", "hv:Inventory" }, scenario.Destination.Operations.Where(o => o.StartsWith("hv:CreateMdev", StringComparison.Ordinal) || o == "hv:Inventory Mdevs").Select(o => o.Split(' ')[0]).ToArray(), "libvirt is asked once whether the device exists after all");
        Assert.AreEqual(scenario.Source.Hypervisor.LibvirtCalls + scenario.Destination.Hypervisor.LibvirtCalls, result.Best.Statistics.LibvirtCalls, "the create and the look are counted");
    }

    [TestMethod]
    public async Task ALibvirtCreateThatFails_OnAHostThatCannotBeListed_IsTakenAsNotMade()
    {
        var scenario = OneDevice(CreateBehaviour.Fails);
        scenario.Destination.BeforeOperation = operation =>
        {
            if (operation.StartsWith("hv:CreateMdev", StringComparison.Ordinal))
            {
                scenario.Destination.Hypervisor.Unreachable = "connection reset by peer";
            }
        };

        await using var result = await PlanAsync(scenario, new RecordingStore());

        Assert.IsFalse(result.Succeeded);
        Assert.IsEmpty(result.Best.Created, "a device libvirt cannot say exists is not journaled");
    }

    [TestMethod]
    [DataRow(Errno.EUSERS, RejectionCode.NoCapacity)]
    [DataRow(Errno.ENOSPC, RejectionCode.NoCapacity)]
    [DataRow(Errno.EPERM, RejectionCode.NoCapacity)]
    [DataRow(Errno.EIO, RejectionCode.CreateFailed)]
    [DataRow(Errno.EEXIST, RejectionCode.CreateFailed)]
    public async Task ASysfsCreateThatFails_IsRefusedWithTheErrno_AndItsIntentIsClosedAndReleased(Errno errno, RejectionCode code)
    {
        var scenario = OneDevice();
        scenario.Destination.FileSystem.FailingWrites[CreatePath] = errno;
        var store = new RecordingStore();

        await using var result = await PlanAsync(scenario, store);

        var message = code == RejectionCode.NoCapacity
            ? $"Parent {Parent} refused another nvidia-63 instance: writing the UUID to {CreatePath} failed with {errno} (no instances left)."
            : $"Creating a nvidia-63 mdev on {Parent} failed: writing the UUID to {CreatePath} failed with {errno}.";
        var source = scenario.Source.Mdevs.Single().Uuid.Value;
        Assert.AreEqual(new Rejection(source, $"{Parent}/nvidia-63", code, message, errno), result.Best.Rejections.Single(r => r.Code == code && r.Candidate == $"{Parent}/nvidia-63"));
        Assert.HasCount(1, scenario.DestinationWrites("/create"), "each create is written once");
        var uuid = store.Entries.Single(e => e.State == JournalState.Intent).Uuid;
        CollectionAssert.AreEqual(new[] { $"claim mdev:{uuid}", $"journal {uuid} Intent", $"journal {uuid} Removed", $"release mdev:{uuid}" }, WritesOf(store, uuid));
        Assert.IsEmpty(result.Best.Created);
    }

    [TestMethod]
    public async Task APreservedUuidThatTurnsOutToExist_IsCreatedOnceMore_WithANewUuid_AndSaysSo()
    {
        var scenario = OneDevice();
        var sourceUuid = scenario.Source.Mdevs.Single().Uuid;
        var squatter = scenario.Destination.AddMdev(scenario.Destination.Parents[0].AddType("nvidia-99", max: 1), uuid: sourceUuid);
        scenario.Destination.Hypervisor.UnlistedMdevs.Add(squatter.Uuid);
        var store = new RecordingStore();

        await using var result = await PlanAsync(scenario, store, new PlanOptions { UuidStrategy = UuidStrategy.Preserve });

        Assert.IsTrue(result.Succeeded, string.Join("\n", result.Best.Reasons));
        var device = result.Best.Devices.Single();
        Assert.AreEqual(DeviceAction.Create, device.Action);
        Assert.AreEqual($"the source UUID {sourceUuid} already exists on dest, so a new UUID is used", device.Note);
        var made = result.Best.Created.Single().Uuid;
        Assert.AreEqual(made.Value, device.Target.Id);
        CollectionAssert.AreEqual(new[] { $"write {CreatePath} {sourceUuid}", $"write {CreatePath} {made}" }, scenario.DestinationWrites("/create").ToArray());
        CollectionAssert.AreEqual(new[] { $"claim mdev:{sourceUuid}", $"journal {sourceUuid} Intent", $"journal {sourceUuid} Removed", $"release mdev:{sourceUuid}" }, WritesOf(store, sourceUuid));
        CollectionAssert.AreEqual(new[] { $"claim mdev:{made}", $"journal {made} Intent", $"journal {made} Created" }, WritesOf(store, made));
        Assert.AreEqual(sourceUuid, scenario.Destination.FindMdev(sourceUuid.Value)!.Uuid, "the squatter is left alone");
    }

    [TestMethod]
    public async Task ACreatedDeviceWithoutTheAttribute_IsVerifiedByTheTypeLevelYes_AndSaysSo()
    {
        var scenario = OneDevice(deviceAttribute: false);

        await using var result = await scenario.PlanAsync();

        var device = result.Best.Devices.Single();
        Assert.AreEqual(Verification.Verified, device.Verification);
        Assert.AreEqual(new ProbeRecord(ProbePoint.MdevType, SysfsPath.Parse("class/mdev_bus/0000:41:00.0/mdev_supported_types/nvidia-63/migration_version"), Errno.None, false), device.DecidedBy);
        Assert.AreEqual("the created device has no migration_version; verified at the type level before creating", device.Note);
    }

    [TestMethod]
    public async Task NeitherTypeNorDevice_IsUnverifiedUnderAllowTypeMatch_WithBothNotes()
    {
        var scenario = OneDevice(typeAttribute: false, deviceAttribute: false);

        await using var result = await scenario.PlanAsync(new PlanOptions { VerificationPolicy = VerificationPolicy.AllowTypeMatch, UuidStrategy = UuidStrategy.Preserve });

        Assert.IsTrue(result.Succeeded);
        var device = result.Best.Devices.Single();
        Assert.AreEqual(Verification.Unverified, device.Verification);
        Assert.IsNull(device.DecidedBy);
        Assert.AreEqual($"not verified: neither type nvidia-63 on {Parent} nor the created device has migration_version", device.Note);
    }

    [TestMethod]
    public async Task NeitherTypeNorDevice_IsRefusedAndRemovedUnderRequireVerified()
    {
        var scenario = OneDevice(typeAttribute: false, deviceAttribute: false);
        var before = scenario.Destination.Snapshot();

        await using var result = await scenario.PlanAsync();

        Assert.IsFalse(result.Succeeded);
        var created = result.Best.Created.Single();
        Assert.AreEqual(CreatedDeviceState.Removed, created.State);
        var refusal = result.Best.Rejections.Single(r => r.Code == RejectionCode.Unverifiable);
        Assert.AreEqual($"Neither type nvidia-63 on {Parent} nor the mdev {created.Uuid} created there has a migration_version attribute, so nothing can verify it, {CandidateEvaluator.RequireVerifiedRefusal}.", refusal.Message);
        Assert.AreEqual(before, scenario.Destination.Snapshot());
    }

    [TestMethod]
    public async Task ACreatedDeviceThatRefuses_IsRefusedNamingIt_AndRemoved()
    {
        var scenario = OneDevice();
        scenario.Destination.Parents[0].Types[0].DeviceVersion = new FakeVersion("other") { RejectWith = Errno.ENODEV };

        await using var result = await scenario.PlanAsync();

        var created = result.Best.Created.Single();
        var path = $"bus/mdev/devices/{created.Uuid}/migration_version";
        Assert.AreEqual($"The mdev {created.Uuid} just created from type nvidia-63 on {Parent} refused the source's migration version: writing it to {path} failed with ENODEV, so the vendor driver says this device's state cannot be loaded there.", result.Best.Rejections.Single(r => r.Code == RejectionCode.VersionRejected).Message);
        Assert.AreEqual(CreatedDeviceState.Removed, created.State);
    }

    [TestMethod]
    public async Task ASourceWithoutAVersion_IsCreatedUnverified_AndTheCreatedDeviceIsNotProbed()
    {
        var scenario = new Scenario();
        scenario.Source.DefineGuest("vm1", FakeHost.MdevDevice(0, scenario.Source.AddMdev(scenario.SourceType(version: null))));
        scenario.DestinationType();

        await using var result = await scenario.PlanAsync(new PlanOptions { VerificationPolicy = VerificationPolicy.AllowTypeMatch });

        Assert.IsTrue(result.Succeeded);
        var device = result.Best.Devices.Single();
        Assert.AreEqual(Verification.Unverified, device.Verification);
        StringAssert.StartsWith(device.Note, "not verified: ");
        Assert.IsEmpty(scenario.DestinationWrites("migration_version"), "nothing to write");
    }

    [TestMethod]
    public async Task ALibvirtCreateThatFailsOnAParent_StopsThatParentsCreates_ClosesEachIntentOnce_AndTheNextRoundCreatesElsewhere()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63", "nvidia-63");
        var taken = scenario.DestinationType(parent: "0000:41:00.0", max: 2);
        scenario.DestinationType(parent: "0000:42:00.0", max: 2);
        scenario.Destination.Hypervisor.Create = CreateBehaviour.Works;
        scenario.Destination.WhileCreating = (type, _) =>
        {
            if (type == taken && scenario.Destination.Mdevs.All(m => m.Type != taken))
            {
                // Someone else takes the parent's room while its first create is under way.
                scenario.Destination.AddMdev(taken);
                scenario.Destination.AddMdev(taken);
            }

            return Task.CompletedTask;
        };
        var store = new RecordingStore();

        await using var result = await PlanAsync(scenario, store);

        Assert.IsTrue(result.Succeeded, string.Join("\n", result.Best.Reasons));
        CollectionAssert.AreEqual(new[] { "pci_0000_42_00_0", "pci_0000_42_00_0" }, result.Best.Devices.Select(d => d.Target.Parent).ToArray());
        var intended = store.Entries.Where(e => e.State == JournalState.Intent).Select(e => e.Uuid).ToList();
        var created = result.Best.Created.Select(c => c.Uuid).ToList();
        Assert.HasCount(4, intended, "two creates in each round");
        var issued = scenario.Destination.Operations.Where(o => o.StartsWith("hv:CreateMdev ", StringComparison.Ordinal)).Select(o => MdevUuid.Parse(o["hv:CreateMdev ".Length..])).ToList();
        CollectionAssert.AreEqual(new[] { intended[0], intended[2], intended[3] }, issued, "41 stops at its first failure: its second create is never issued");
        CollectionAssert.AreEquivalent(new[] { intended[2], intended[3] }, created);
        foreach (var closed in intended.Take(2))
        {
            CollectionAssert.AreEqual(new[] { $"claim mdev:{closed}", $"journal {closed} Intent", $"journal {closed} Removed", $"release mdev:{closed}" }, WritesOf(store, closed), "each intent closed once");
        }

        Assert.IsEmpty(scenario.DestinationWrites("/create"), "a create libvirt never got is not written to sysfs either");
    }

    [TestMethod]
    public async Task ACreateOnAParentOnlySysfsShows_IsIntendedAndMadeThroughSysfs_NeverPersistent()
    {
        var scenario = OneSysfsOnlyDevice();
        var store = new RecordingStore();

        await using var result = await PlanAsync(scenario, store, new PlanOptions { PersistentMdevs = true });

        Assert.IsTrue(result.Succeeded, string.Join("\n", result.Best.Reasons));
        var uuid = result.Best.Created.Single().Uuid;
        CollectionAssert.AreEqual(
            new[] { (CreationMethod.Sysfs, false, JournalState.Intent), (CreationMethod.Sysfs, false, JournalState.Created) },
            store.Entries.Where(e => e.Uuid == uuid).Select(e => (e.Method, e.Persistent, e.State)).ToArray());
        Assert.IsFalse(scenario.Destination.Operations.Any(o => o.StartsWith("hv:CreateMdev", StringComparison.Ordinal)), "libvirt cannot create on a parent it does not list");
        CollectionAssert.AreEqual(new[] { $"write class/mdev_bus/mtty/mdev_supported_types/mtty-2/create {uuid}" }, scenario.DestinationWrites("/create").ToArray());
    }

    [TestMethod]
    [DataRow(true, true)]
    [DataRow(true, false)]
    [DataRow(false, true)]
    [DataRow(false, false)]
    public async Task ACreateCancelledMidway_IsJournaledWhenTheDeviceExists_ItsIntentClosedWhenNot_AndNothingIsLeft(bool libvirtCreates, bool made)
    {
        var scenario = OneDevice(libvirtCreates ? CreateBehaviour.Works : CreateBehaviour.NotSupported);
        var before = scenario.Destination.Snapshot();
        var store = new RecordingStore();
        using var cancellation = new CancellationTokenSource();
        MdevUuid? issued = null;
        scenario.Destination.BeforeOperation = operation =>
        {
            if (operation.StartsWith("hv:CreateMdev ", StringComparison.Ordinal) || operation.StartsWith($"write {CreatePath} ", StringComparison.Ordinal))
            {
                issued = MdevUuid.Parse(operation[(operation.LastIndexOf(' ') + 1)..]);
            }
        };
        scenario.Destination.WhileCreating = async (type, _) =>
        {
            // The kernel makes the device (or not) while the plan is cancelled: the create's wait ends in a cancellation either way.
            if (made)
            {
                Assert.AreEqual(Errno.None, scenario.Destination.Create(type, issued!.Value));
            }

            await cancellation.CancelAsync();
            throw new OperationCanceledException(cancellation.Token);
        };

        await Assert.ThrowsAsync<OperationCanceledException>(() => new MigrationPlanner(claims: store).PlanAsync(scenario.Request(), cancellation.Token));

        var uuid = issued!.Value;
        var expected = made
            ? new[] { $"claim mdev:{uuid}", $"journal {uuid} Intent", $"journal {uuid} Created", $"journal {uuid} Removed" }
            : new[] { $"claim mdev:{uuid}", $"journal {uuid} Intent", $"journal {uuid} Removed", $"release mdev:{uuid}" };
        CollectionAssert.AreEqual(expected, WritesOf(store, uuid));
        Assert.AreEqual(before, scenario.Destination.Snapshot(), "a device made before the cancellation is removed");
    }

    [TestMethod]
    public void Join_KeepsEitherNote_OrBoth()
    {
        Assert.IsNull(MdevProvisioner.Join(null, null));
        Assert.AreEqual("a", MdevProvisioner.Join("a", null));
        Assert.AreEqual("b", MdevProvisioner.Join(null, "b"));
        Assert.AreEqual("a; b", MdevProvisioner.Join("a", "b"));
    }
}
