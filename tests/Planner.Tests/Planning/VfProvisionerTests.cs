using Microsoft.Extensions.Logging.Abstractions;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Planning;
using VfioMigration.Planner.Sysfs;
using VfioMigration.Planner.Tests.Fakes;
using VfioMigration.Planner.Tests.State;

namespace VfioMigration.Planner.Tests.Planning;

/// <summary>
/// Configuring VF vGPUs (docs/nvidia-vf.md) on their own: the creatable list re-read before the
/// write, the intent journaled before it and the outcome after, the read-back and the probe that
/// confirm it, the reset of a VF the confirmation refuses, and the order of a GPU's configures.
/// </summary>
[TestClass]
public sealed class VfProvisionerTests
{
    private const string Version = "nvidia-vf-v1";
    private static readonly PciAddress Pf = PciAddress.Parse("0000:c1:00.0");
    private static readonly PciAddress Vf = PciAddress.Parse("0000:c1:00.5");
    private static readonly VgpuType Type = new(1044, "NVIDIA H100-10C");

    private readonly FakeHost _fake = new("dest");
    private readonly RecordingStore _store = new();
    private readonly PlanCounters _counters = new();
    private readonly FakeVfControl _control;
    private readonly PlanOptions _options = new();
    private readonly ProvisioningJournal _journal;
    private readonly VfProvisioner _provisioner;

    public VfProvisionerTests()
    {
        var host = _fake.ToHost();
        _control = new FakeVfControl(_store);
        _journal = new ProvisioningJournal(host, _store, Guid.NewGuid(), _counters, NullLogger.Instance);
        var probes = new ProbeRunner(host, _options, new InMemoryVerdictCache(), TimeProvider.System, _counters, NullLogger.Instance);
        var inventory = new DestinationInventory(new HostInventory([], [], []), DeviceOwners.FromDomains([]), new HashSet<DeviceName>());
        var evaluator = new CandidateEvaluator(host, _options, inventory, probes, new RejectionLog("dest", NullLogger.Instance), _counters);
        _provisioner = new VfProvisioner(_options, _journal, probes, evaluator, _control);
    }

    private static MdevUuid Key(PciAddress vf) => NvidiaSysfsVfControl.JournalKey(vf);

    private static string Reset(PciAddress vf) => $"write bus/pci/devices/{vf}/nvidia/current_vgpu_type 0";

    private static PendingVf Pending(PciAddress vf, int order = 0, PciAddress? pf = null, SourceVersion? version = null)
    {
        var address = PciAddress.Parse("0000:81:00.4");
        var source = new SourceDevice(
            new PciHostDevice(0, "hostdev0", null, address, true, "vfio", PciHostDeviceForm.Hostdev),
            new SourceDeviceInfo(SourceDeviceKind.VfVgpu, 0, "hostdev0", null, address, "nvidia-vgpu 1044", null, null),
            null,
            "0x10de",
            "0x2331",
            null,
            version ?? new SourceVersion(VersionState.Present, Version, string.Empty),
            null);
        var device = new PciDevice(DeviceName.Parse(vf.ToNodeDeviceName()), vf, "nvidia", "0x10de", "0x2331");
        return new PendingVf(0, order, source, new VfOption(device, new VfState(vf, pf ?? Pf, 0, [Type]), Type, Configured: false));
    }

    /// <summary>A VF whose <c>creatable_vgpu_types</c> lists <see cref="Type"/> and whose <c>vfio_migration_version</c> (once configured) accepts <paramref name="accepts"/>; none when null.</summary>
    private void Listing(PciAddress vf, string? accepts = Version)
    {
        _control.Creatable[vf] = SysfsResult.Of<IReadOnlyList<VgpuType>>([new VgpuType(1043, "NVIDIA H100-5C"), Type]);
        if (accepts is not null)
        {
            _fake.AddPci(vf.ToString(), "0x10de", "0x2331", null, new FakeVersion(accepts) { RejectWith = Errno.ENODEV });
        }
    }

    private async Task<VfResult> ConfigureOneAsync(PendingVf pending) => (await _provisioner.ConfigureAllAsync([pending], CancellationToken.None)).Single();

    [TestMethod]
    public async Task AVfThatAcceptsTheVersion_IsConfiguredAfterItsIntent_RecordedAfterTheWrite_AndVerifiedByItsOwnProbe()
    {
        Listing(Vf);
        var pending = Pending(Vf, order: 3);

        var result = await ConfigureOneAsync(pending);

        var path = SysfsPath.PciAttribute(Vf, "vfio_migration_version");
        Assert.AreEqual(new VfResult(pending, new ConfiguredVfOption(pending.Vf, Verification.Verified, new ProbeRecord(ProbePoint.PciDevice, path, Errno.None, false), null), null, false), result);
        CollectionAssert.AreEqual(new[] { $"creatable {Vf}", $"set {Vf} 1044 after journal {Key(Vf)} Intent", $"current {Vf}" }, _control.Calls.ToArray());
        CollectionAssert.AreEqual(new[] { $"journal {Key(Vf)} Intent", $"journal {Key(Vf)} Created" }, _store.Writes.ToArray());
        Assert.IsTrue(_store.Entries.All(e => e.Order == 3 && e.Method == CreationMethod.Vf && e.Parent == "0000:c1:00.5" && e.Type.Value == "1044"));
        CollectionAssert.AreEqual(new[] { $"write {path} {Version}" }, _fake.Writes().ToArray(), "one probe, on the VF itself");
        Assert.IsTrue(_journal.HoldsVf(Vf));
        Assert.AreEqual(1, _counters.Snapshot().Probes);
    }

    [TestMethod]
    public async Task AVfThatNoLongerListsTheType_IsNoCapacity_AndNothingIsWrittenOrJournaled()
    {
        _control.Creatable[Vf] = SysfsResult.Of<IReadOnlyList<VgpuType>>([new VgpuType(1044, "NVIDIA H100-10Q")]);
        var pending = Pending(Vf);

        var result = await ConfigureOneAsync(pending);

        Assert.AreEqual(new VfResult(pending, null, new Rejection("0000:81:00.4", "0000:c1:00.5", RejectionCode.NoCapacity, "VF 0000:c1:00.5 no longer lists vgpu 1044 (NVIDIA H100-10C) in creatable_vgpu_types (GPU 0000:c1:00.0 is full, or another plan took its last vGPU of that size); nothing was written."), false), result);
        CollectionAssert.AreEqual(new[] { $"creatable {Vf}" }, _control.Calls.ToArray());
        Assert.IsEmpty(_store.Writes);
    }

    [TestMethod]
    public async Task AVfWhoseCreatableListCannotBeRead_IsNoCapacity_WithTheErrno()
    {
        _control.Creatable[Vf] = SysfsResult.Failed<IReadOnlyList<VgpuType>>(Errno.EIO);
        var pending = Pending(Vf);

        var result = await ConfigureOneAsync(pending);

        Assert.AreEqual(new VfResult(pending, null, new Rejection("0000:81:00.4", "0000:c1:00.5", RejectionCode.NoCapacity, "Reading bus/pci/devices/0000:c1:00.5/nvidia/creatable_vgpu_types failed with EIO; nothing was written.", Errno.EIO), false), result);
        Assert.IsEmpty(_store.Writes);
    }

    [TestMethod]
    [DataRow(Errno.EINVAL, RejectionCode.NoCapacity)]
    [DataRow(Errno.ENOSPC, RejectionCode.NoCapacity)]
    [DataRow(Errno.EUSERS, RejectionCode.NoCapacity)]
    [DataRow(Errno.EBUSY, RejectionCode.CreateFailed)]
    public async Task AWriteTheDriverRefuses_ClosesTheIntent_AndTheVfIsNotTheJournals(Errno errno, RejectionCode code)
    {
        Listing(Vf);
        _control.SetFailures[Vf] = errno;
        var pending = Pending(Vf, order: 2);

        var result = await ConfigureOneAsync(pending);

        Assert.AreEqual(new VfResult(pending, null, new Rejection("0000:81:00.4", "0000:c1:00.5", code, $"Writing 1044 to bus/pci/devices/0000:c1:00.5/nvidia/current_vgpu_type failed with {errno} (the driver refused the vGPU: the type is no longer creatable there, or the VF is busy); the VF is as it was.", errno), false), result);
        CollectionAssert.AreEqual(new[] { $"journal {Key(Vf)} Intent", $"journal {Key(Vf)} Removed" }, _store.Writes.ToArray());
        Assert.AreEqual(2, _store.Entries[^1].Order);
        Assert.IsEmpty(_journal.Devices);
        Assert.IsEmpty(_fake.Writes(), "no probe, no reset");
    }

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public async Task AWriteWhoseOutcomeIsUnknown_IsJournaledAsMade_BeforeTheExceptionLeaves(bool cancelled)
    {
        Listing(Vf);
        _control.SetThrows[Vf] = cancelled ? new OperationCanceledException() : new IOException("ssh: connection to dest lost");

        var error = await Assert.ThrowsAsync<Exception>(() => _provisioner.ConfigureAllAsync([Pending(Vf, order: 1)], CancellationToken.None));

        Assert.AreSame(_control.SetThrows[Vf], error);
        CollectionAssert.AreEqual(new[] { $"journal {Key(Vf)} Intent", $"journal {Key(Vf)} Created" }, _store.Writes.ToArray());
        Assert.AreEqual(new CreatedDevice("dest", Key(Vf), "0000:c1:00.5", MdevTypeId.Parse("1044"), CreationMethod.Vf, false, CreatedDeviceState.Kept, null), _journal.Devices.Single());
    }

    [TestMethod]
    [DataRow(true, "0")]
    [DataRow(false, "EIO")]
    public async Task AVfThatDoesNotReadBackTheType_IsReset_AndRefused(bool readable, string readsBack)
    {
        Listing(Vf);
        _control.ReadBack[Vf] = readable ? SysfsResult.Of(0u) : SysfsResult.Failed<uint>(Errno.EIO);
        var pending = Pending(Vf);

        var result = await ConfigureOneAsync(pending);

        Assert.AreEqual(new VfResult(pending, null, new Rejection("0000:81:00.4", "0000:c1:00.5", RejectionCode.CreateFailed, $"VF 0000:c1:00.5 reads back {readsBack} from current_vgpu_type after 1044 was written; it was reset."), true), result);
        CollectionAssert.AreEqual(new[] { Reset(Vf) }, _fake.Writes().ToArray(), "no probe: the VF is reset at once");
        CollectionAssert.AreEqual(new[] { $"journal {Key(Vf)} Intent", $"journal {Key(Vf)} Created", $"journal {Key(Vf)} Removed", "release pci:0000:c1:00.5" }, _store.Writes.ToArray());
        Assert.IsFalse(_journal.HoldsVf(Vf));
    }

    [TestMethod]
    public async Task ASourceWithoutAVersion_IsConfiguredUnverified_WithoutAProbe()
    {
        Listing(Vf);
        var pending = Pending(Vf, version: SourceVersion.Absent("bus/pci/devices/0000:81:00.4/vfio_migration_version does not exist"));

        var result = await ConfigureOneAsync(pending);

        Assert.AreEqual(new ConfiguredVfOption(pending.Vf, Verification.Unverified, null, "not verified: bus/pci/devices/0000:81:00.4/vfio_migration_version does not exist"), result.Made);
        Assert.IsNull(result.Refusal);
        Assert.IsEmpty(_fake.Writes());
        Assert.AreEqual(0, _counters.Snapshot().Probes);
    }

    [TestMethod]
    public async Task AVfWithoutAVersionAttribute_IsUnverifiedUnderAllowTypeMatch()
    {
        Listing(Vf, accepts: null);
        _options.VerificationPolicy = VerificationPolicy.AllowTypeMatch;
        var pending = Pending(Vf);

        var result = await ConfigureOneAsync(pending);

        Assert.AreEqual(new VfResult(pending, new ConfiguredVfOption(pending.Vf, Verification.Unverified, null, "not verified: the configured VF 0000:c1:00.5 has no vfio_migration_version"), null, false), result);
        Assert.IsTrue(_journal.HoldsVf(Vf));
    }

    [TestMethod]
    public async Task AVfWithoutAVersionAttribute_IsResetAndRefusedUnderRequireVerified()
    {
        Listing(Vf, accepts: null);
        var pending = Pending(Vf);

        var result = await ConfigureOneAsync(pending);

        Assert.AreEqual(new VfResult(pending, null, new Rejection("0000:81:00.4", "0000:c1:00.5", RejectionCode.Unverifiable, $"The VF 0000:c1:00.5, configured with vgpu 1044 (NVIDIA H100-10C), has no vfio_migration_version attribute, so nothing can verify it, {CandidateEvaluator.RequireVerifiedRefusal}; it was reset."), true), result);
        CollectionAssert.AreEqual(new[] { "write bus/pci/devices/0000:c1:00.5/vfio_migration_version nvidia-vf-v1", Reset(Vf) }, _fake.Writes().ToArray());
        Assert.IsFalse(_journal.HoldsVf(Vf));
    }

    [TestMethod]
    public async Task AVfThatRefusesTheVersion_IsResetAndRefused_NamingTheVf()
    {
        Listing(Vf, accepts: "nvidia-vf-v2");
        var pending = Pending(Vf);

        var result = await ConfigureOneAsync(pending);

        Assert.AreEqual(new VfResult(pending, null, new Rejection("0000:81:00.4", "0000:c1:00.5", RejectionCode.VersionRejected, "The VF 0000:c1:00.5 just configured with vgpu 1044 (NVIDIA H100-10C) refused the source's migration version: writing it to bus/pci/devices/0000:c1:00.5/vfio_migration_version failed with ENODEV, so the vendor driver says this device's state cannot be loaded there.", Errno.ENODEV), true), result);
        Assert.AreEqual(Reset(Vf), _fake.Writes()[^1]);
        Assert.IsFalse(_journal.HoldsVf(Vf));
    }

    [TestMethod]
    public async Task AResetThatFails_LeavesTheVfHeld_AndInTheJournalsFailures()
    {
        Listing(Vf, accepts: "nvidia-vf-v2");
        _fake.FileSystem.FailingWrites["bus/pci/devices/0000:c1:00.5/nvidia/current_vgpu_type"] = Errno.EBUSY;

        var result = await ConfigureOneAsync(Pending(Vf));

        Assert.IsTrue(result.DeviceRefused);
        Assert.IsTrue(_journal.HoldsVf(Vf));
        Assert.AreEqual("writing 0 to bus/pci/devices/0000:c1:00.5/nvidia/current_vgpu_type failed with EBUSY", _journal.Failures.Single().Message);
    }

    [TestMethod]
    public async Task TheVfsOfOneGpu_AreConfiguredInOrder_StoppingAtTheFirstFailure_AnotherGpusStillAre()
    {
        var (first, second, third, other) = (PciAddress.Parse("0000:c1:00.4"), Vf, PciAddress.Parse("0000:c1:00.6"), PciAddress.Parse("0000:e1:00.4"));
        Listing(first);
        _control.Creatable[second] = SysfsResult.Of<IReadOnlyList<VgpuType>>([]);
        Listing(third);
        Listing(other);

        var results = await _provisioner.ConfigureAllAsync([Pending(first, 0), Pending(second, 1), Pending(third, 2), Pending(other, 3, PciAddress.Parse("0000:e1:00.0"))], CancellationToken.None);

        CollectionAssert.AreEquivalent(new[] { 0, 1, 3 }, results.Select(r => r.Pending.Order).ToArray());
        Assert.IsNotNull(results.Single(r => r.Pending.Order == 0).Made);
        Assert.AreEqual(RejectionCode.NoCapacity, results.Single(r => r.Pending.Order == 1).Refusal!.Code);
        Assert.IsNotNull(results.Single(r => r.Pending.Order == 3).Made);
        var calls = _control.Calls;
        Assert.IsFalse(calls.Any(c => c.Contains(third.ToString(), StringComparison.Ordinal)), "the GPU's configures stop at its first failure");
        Assert.IsTrue(calls.IndexOf($"current {first}") < calls.IndexOf($"creatable {second}"), "the next VF of a GPU re-reads its list after the one before is confirmed");
        CollectionAssert.AreEquivalent(new[] { first, other }, _journal.Devices.Select(d => PciAddress.Parse(d.Parent)).ToArray());
    }

    [TestMethod]
    public async Task NothingPending_AsksNothing()
    {
        Assert.IsEmpty(await _provisioner.ConfigureAllAsync([], CancellationToken.None));
        Assert.IsEmpty(_control.Calls);
    }

    /// <summary>The VF vGPU interface in memory: a creatable list per VF, the current type a write sets, and injected failures; every call recorded, a write with the journal write before it.</summary>
    private sealed class FakeVfControl(RecordingStore store) : IVfVgpuControl
    {
        private readonly Lock _gate = new();
        private readonly List<string> _calls = [];
        private readonly Dictionary<PciAddress, uint> _current = [];

        public Dictionary<PciAddress, SysfsResult<IReadOnlyList<VgpuType>>> Creatable { get; } = [];

        public Dictionary<PciAddress, Errno> SetFailures { get; } = [];

        public Dictionary<PciAddress, Exception> SetThrows { get; } = [];

        /// <summary>What reading <c>current_vgpu_type</c> returns instead of the type last written.</summary>
        public Dictionary<PciAddress, SysfsResult<uint>> ReadBack { get; } = [];

        public List<string> Calls
        {
            get
            {
                lock (_gate)
                {
                    return [.. _calls];
                }
            }
        }

        public Task<IReadOnlyList<VfState>> ReadAsync(IReadOnlyList<PciAddress> functions, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("configuring reads no VF state");

        public Task<SysfsResult<IReadOnlyList<VgpuType>>> CreatableAsync(PciAddress vf, CancellationToken cancellationToken)
        {
            Add($"creatable {vf}");
            return Task.FromResult(Creatable.TryGetValue(vf, out var listed) ? listed : SysfsResult.Failed<IReadOnlyList<VgpuType>>(Errno.ENOENT));
        }

        public Task<SysfsResult<uint>> CurrentAsync(PciAddress vf, CancellationToken cancellationToken)
        {
            Add($"current {vf}");
            lock (_gate)
            {
                return Task.FromResult(ReadBack.TryGetValue(vf, out var read) ? read : SysfsResult.Of(_current.GetValueOrDefault(vf)));
            }
        }

        public Task<SysfsResult> SetTypeAsync(PciAddress vf, uint id, CancellationToken cancellationToken)
        {
            Add($"set {vf} {id} after {(store.Writes is [.., var last] ? last : "nothing")}");
            if (SetThrows.TryGetValue(vf, out var error))
            {
                throw error;
            }

            if (SetFailures.TryGetValue(vf, out var errno))
            {
                return Task.FromResult(new SysfsResult(errno));
            }

            lock (_gate)
            {
                _current[vf] = id;
            }

            return Task.FromResult(new SysfsResult(Errno.None));
        }

        private void Add(string call)
        {
            lock (_gate)
            {
                _calls.Add(call);
            }
        }
    }
}
