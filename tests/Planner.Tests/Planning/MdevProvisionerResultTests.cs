using Microsoft.Extensions.Logging.Abstractions;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Planning;
using VfioMigration.Planner.Sysfs;
using VfioMigration.Planner.Tests.Fakes;
using VfioMigration.Planner.Tests.State;

namespace VfioMigration.Planner.Tests.Planning;

/// <summary>
/// What <see cref="MdevProvisioner.CreateAllAsync"/> hands back for one create, seen directly: a
/// confirmed device, a create that made nothing, and a created device that refused the version, each
/// with whether the device itself refused (the planner then rules the option out for that version
/// instead of closing the parent's type for the plan).
/// </summary>
[TestClass]
public sealed class MdevProvisionerResultTests
{
    private const string Version = "v1";
    private const string CreatePath = "class/mdev_bus/0000:41:00.0/mdev_supported_types/nvidia-63/create";

    private readonly FakeHost _fake = new("dest");
    private readonly RecordingStore _store = new();
    private readonly PlanCounters _counters = new();
    private readonly PlanOptions _options = new();

    private MdevProvisioner Provisioner(MdevParent parent)
    {
        var host = _fake.ToHost();
        var journal = new ProvisioningJournal(host, _store, Guid.NewGuid(), _counters, NullLogger.Instance);
        var probes = new ProbeRunner(host, _options, new InMemoryVerdictCache(), TimeProvider.System, _counters, NullLogger.Instance);
        var inventory = new DestinationInventory(new HostInventory([parent], [], []), DeviceOwners.FromDomains([]), new HashSet<DeviceName>());
        var evaluator = new CandidateEvaluator(host, _options, inventory, probes, new RejectionLog("dest", NullLogger.Instance), _counters);
        return new MdevProvisioner(host, _options, _store, Guid.NewGuid(), journal, _counters, probes, evaluator, NullLogger.Instance);
    }

    /// <summary>One nvidia-63 create on 0000:41:00.0 whose created devices accept <paramref name="accepts"/>.</summary>
    private (MdevProvisioner Provisioner, PendingCreate Pending) OneCreate(string accepts)
    {
        _fake.AddParent("0000:41:00.0").AddType("nvidia-63", typeVersion: new FakeVersion(Version), deviceVersion: new FakeVersion(accepts) { RejectWith = Errno.ENODEV });
        var type = new MdevTypeInfo(MdevTypeId.Parse("nvidia-63"), "nvidia-63", "vfio-pci", 4);
        var parent = new MdevParent(DeviceName.Parse("pci_0000_41_00_0"), DeviceName.Parse("0000:41:00.0"), PciAddress.Parse("0000:41:00.0"), "0x10de", "0x1eb8", "nvidia", [type]);
        var sourceUuid = MdevUuid.Parse("83b8f4f2-509f-382f-3c1e-e6bfe0fa1001");
        var source = new SourceDevice(
            new MdevHostDevice(0, "hostdev0", null, sourceUuid, "vfio-pci", null, null),
            new SourceDeviceInfo(SourceDeviceKind.Mdev, 0, "hostdev0", sourceUuid, null, "nvidia-63", "vfio-pci", "pci_0000_01_00_0"),
            MdevTypeId.Parse("nvidia-63"),
            "0x10de",
            null,
            null,
            new SourceVersion(VersionState.Present, Version, string.Empty),
            null);
        var pending = new PendingCreate(0, 0, source, new CreateOption(parent, type), new OptionVerdict(VerdictKind.Verified, null, null), MdevUuid.NewRandom(), DeviceAction.Create, null);
        return (Provisioner(parent), pending);
    }

    [TestMethod]
    public async Task AConfirmedDevice_IsMade_AndNotRefused()
    {
        var (provisioner, pending) = OneCreate(accepts: Version);

        var result = (await provisioner.CreateAllAsync([pending], CancellationToken.None)).Single();

        Assert.IsNotNull(result.Made);
        Assert.AreEqual((pending.Uuid, Verification.Verified, (Rejection?)null, false), (result.Made.Uuid, result.Made.Verification, result.Refusal, result.DeviceRefused));
    }

    [TestMethod]
    public async Task ACreateThatMadeNothing_IsNotADeviceRefusal()
    {
        var (provisioner, pending) = OneCreate(accepts: Version);
        _fake.FileSystem.FailingWrites[CreatePath] = Errno.EIO;

        var result = (await provisioner.CreateAllAsync([pending], CancellationToken.None)).Single();

        Assert.AreEqual(
            new CreateResult(pending, null, new Rejection(pending.Source.Info.Id, pending.Create.Candidate, RejectionCode.CreateFailed, $"Creating a nvidia-63 mdev on pci_0000_41_00_0 failed: writing the UUID to {CreatePath} failed with EIO.", Errno.EIO), DeviceRefused: false),
            result);
    }

    [TestMethod]
    public async Task ACreatedDeviceThatRefusesTheVersion_IsADeviceRefusal()
    {
        var (provisioner, pending) = OneCreate(accepts: "other");

        var result = (await provisioner.CreateAllAsync([pending], CancellationToken.None)).Single();

        Assert.IsNull(result.Made);
        Assert.AreEqual((RejectionCode.VersionRejected, Errno.ENODEV, true), (result.Refusal!.Code, result.Refusal.Errno, result.DeviceRefused));
    }
}
