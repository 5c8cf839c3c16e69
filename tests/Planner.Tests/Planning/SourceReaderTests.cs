using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Planning;
using VfioMigration.Planner.Sysfs;
using VfioMigration.Planner.Tests.Fakes;

namespace VfioMigration.Planner.Tests.Planning;

/// <summary>
/// What the source reader makes of each kind of host device the guest owns (an mdev, a PCI function
/// with or without a migration type, a VF vGPU, an unsupported or unknown kind), which node devices
/// and files it reads for them, and what it counts.
/// </summary>
[TestClass]
public sealed class SourceReaderTests
{
    private const string Function = "0000:03:00.1";
    private const string Vf = "0000:c1:00.4";

    private static readonly SourceVersion V1 = new(VersionState.Present, Scenario.Version, string.Empty);

    private readonly CancellationToken _token = CancellationToken.None;

    private static SourceVersion Absent(string path) => SourceVersion.Absent($"{path} does not exist: the device does not say it can migrate");

    [TestMethod]
    public async Task Mdev_LibvirtListsItAndItsParent_TypeApiParentAndVendorComeFromThere_VersionFromSysfs()
    {
        var host = new FakeHost("src");
        var type = host.AddParent("0000:01:00.0", vendorId: "0x10de").AddType("nvidia-63", "vfio-ap", deviceVersion: new FakeVersion(Scenario.Version));
        var mdev = host.AddMdev(type);
        host.DefineGuest("vm1", new MdevHostDevice(0, "hostdev0", null, mdev.Uuid, "vfio-pci", null, null));

        var facts = await SourceReader.ReadAsync(host.ToHost(), DomainSelector.Parse("vm1"), _token);

        var device = facts.Devices.Single();
        Assert.AreEqual(new SourceDeviceInfo(SourceDeviceKind.Mdev, 0, "hostdev0", mdev.Uuid, null, "nvidia-63", "vfio-ap", "pci_0000_01_00_0"), device.Info, "the device API is the parent's type's, not the hostdev's model");
        Assert.AreEqual((type.Id, "0x10de", (string?)null, (string?)null, V1, (Rejection?)null), (device.MdevType, device.VendorId, device.ProductId, device.PciMigrationType, device.Version, device.Problem));
        Assert.IsNull(device.Vgpu);
        Assert.AreSame(facts.Guest.Devices.HostDevices[0], device.Device);
        CollectionAssert.AreEqual(new[] { "hv:GetDomain vm1", "hv:Inventory MdevParents, Mdevs", $"read bus/mdev/devices/{mdev.Uuid}/migration_version" }, host.Operations);
        Assert.AreEqual((2, 1), (facts.Cost.Snapshot().LibvirtCalls, facts.Cost.Snapshot().SysfsReads));
        Assert.AreEqual(new HostFacts(string.Empty, null, null), facts.Host, "the preflight reads the host's facts, not the source reader");
    }

    [TestMethod]
    public async Task Mdev_OfATypeItsListedParentNoLongerOffers_HasTheHostdevsModelAsItsApi()
    {
        var host = new FakeHost("src");
        var parent = host.AddParent("0000:01:00.0");
        var gone = parent.AddType("nvidia-63", "vfio-ap");
        parent.AddType("nvidia-64", "vfio-ccw");
        var mdev = host.AddMdev(gone);
        parent.Types.Remove(gone);
        host.DefineGuest("vm1", new MdevHostDevice(0, "hostdev0", null, mdev.Uuid, "vfio-pci", null, null));

        var facts = await SourceReader.ReadAsync(host.ToHost(), DomainSelector.Parse("vm1"), _token);

        Assert.AreEqual(new SourceDeviceInfo(SourceDeviceKind.Mdev, 0, "hostdev0", mdev.Uuid, null, "nvidia-63", "vfio-pci", "pci_0000_01_00_0"), facts.Devices.Single().Info);
    }

    [TestMethod]
    public async Task Mdev_LibvirtDoesNotListIt_TypeComesFromItsLink_ApiFromTheHostdevModel_NoParentOrVendor()
    {
        var host = new FakeHost("src");
        var mdev = host.AddMdev(host.AddParent("0000:01:00.0").AddType("nvidia-63", "vfio-ap"));
        host.Hypervisor.UnlistedMdevs.Add(mdev.Uuid);
        host.DefineGuest("vm1", new MdevHostDevice(0, "hostdev0", null, mdev.Uuid, "vfio-pci", null, null));

        var facts = await SourceReader.ReadAsync(host.ToHost(), DomainSelector.Parse("vm1"), _token);

        var device = facts.Devices.Single();
        Assert.AreEqual(new SourceDeviceInfo(SourceDeviceKind.Mdev, 0, "hostdev0", mdev.Uuid, null, "nvidia-63", "vfio-pci", null), device.Info);
        Assert.AreEqual((MdevTypeId.Parse("nvidia-63"), (string?)null, (Rejection?)null), (device.MdevType, device.VendorId, device.Problem));
        Assert.AreEqual(Absent($"bus/mdev/devices/{mdev.Uuid}/migration_version"), device.Version);
        Assert.AreEqual($"readlink bus/mdev/devices/{mdev.Uuid}/mdev_type", host.Operations[^1]);
        Assert.AreEqual((2, 2), (facts.Cost.Snapshot().LibvirtCalls, facts.Cost.Snapshot().SysfsReads));
    }

    [TestMethod]
    [DataRow("mtty-2", "mtty-2")]
    [DataRow("../../../devices/virtual/mtty/mtty/mdev_supported_types/mtty-2", "mtty-2")]
    [DataRow("../../../devices/virtual/mtty/mtty/mdev_supported_types/", null)]
    [DataRow("../../mdev_supported_types/mtty 2", null)]
    [DataRow("../../mdev_supported_types/.hidden", null)]
    public async Task Mdev_TypeFromItsLink_IsTheLastSegment_WhenThatIsAValidTypeId(string link, string? expected)
    {
        var host = new FakeHost("src");
        var uuid = MdevUuid.Parse("83b8f4f2-509f-382f-3c1e-e6bfe0fa1001");
        host.FileSystem.Links[$"bus/mdev/devices/{uuid}/mdev_type"] = link;

        var device = (await SourceReader.DescribeAsync(host.ToHost(), [new MdevHostDevice(2, null, null, uuid, "vfio-pci", null, null)], new PlanCounters(), _token)).Single();

        Assert.AreEqual(expected, device.MdevType?.Value);
        Assert.AreEqual(expected ?? "unknown", device.Info.Type);
        Assert.AreEqual(expected is null, device.Problem is not null);
    }

    [TestMethod]
    public async Task Mdev_NeitherListedNorInSysfs_CannotBePlanned_ItsTypeUnknown()
    {
        var host = new FakeHost("src");
        host.AddParent("0000:01:00.0").AddType("nvidia-63");
        var uuid = MdevUuid.Parse("83b8f4f2-509f-382f-3c1e-e6bfe0fa1001");
        host.DefineGuest("vm1", new MdevHostDevice(0, "hostdev0", null, uuid, "vfio-pci", null, null));

        var facts = await SourceReader.ReadAsync(host.ToHost(), DomainSelector.Parse("vm1"), _token);

        var device = facts.Devices.Single();
        Assert.AreEqual(new SourceDeviceInfo(SourceDeviceKind.Mdev, 0, "hostdev0", uuid, null, "unknown", "vfio-pci", null), device.Info);
        Assert.IsNull(device.MdevType);
        Assert.AreEqual(
            new Rejection(uuid.Value, null, RejectionCode.NotMigratable, $"The source mdev {uuid} is neither among the source host's node devices nor in its sysfs, so its type is unknown."),
            device.Problem);
    }

    [TestMethod]
    public async Task Pci_WithAMigrationType_IsThatType_WithItsIdsAndVersion()
    {
        var host = new FakeHost("src");
        var pci = host.AddPci(Function, "0x15b3", "0x101e", "mlx5-vf-v1", new FakeVersion("fw 1.2"));
        host.DefineGuest("vm1", FakeHost.PciDevice(0, pci));

        var facts = await SourceReader.ReadAsync(host.ToHost(), DomainSelector.Parse("vm1"), _token);

        var device = facts.Devices.Single();
        Assert.AreEqual(new SourceDeviceInfo(SourceDeviceKind.Pci, 0, "hostdev0", null, pci.Address, "mlx5-vf-v1", "vfio-pci", null), device.Info);
        Assert.AreEqual(((MdevTypeId?)null, "0x15b3", "0x101e", "mlx5-vf-v1", new SourceVersion(VersionState.Present, "fw 1.2", string.Empty), (Rejection?)null), (device.MdevType, device.VendorId, device.ProductId, device.PciMigrationType, device.Version, device.Problem));
        Assert.IsNull(device.Vgpu);
        CollectionAssert.AreEqual(
            new[]
            {
                "hv:GetDomain vm1", "hv:Inventory PciDevices",
                $"read bus/pci/devices/{Function}/vfio_migration_type", $"read bus/pci/devices/{Function}/vfio_migration_version",
                $"read bus/pci/devices/{Function}/nvidia/current_vgpu_type", $"read bus/pci/devices/{Function}/nvidia/creatable_vgpu_types", $"readlink bus/pci/devices/{Function}/physfn",
            },
            host.Operations);
        Assert.AreEqual((2, 5), (facts.Cost.Snapshot().LibvirtCalls, facts.Cost.Snapshot().SysfsReads), "two attributes, then the vGPU files (2) and physfn (1)");
    }

    [TestMethod]
    [DataRow(null)]
    [DataRow("mlx5\u0001")]
    [DataRow("")]
    public async Task Pci_WithoutAValidMigrationType_IsItsVendorAndDeviceIds(string? planted)
    {
        var host = new FakeHost("src");
        var pci = host.AddPci(Function, "0x15b3", "0x101e");
        if (planted is not null)
        {
            host.FileSystem.Reads[$"bus/pci/devices/{Function}/vfio_migration_type"] = SysfsResult.Of(planted);
        }

        var device = (await SourceReader.DescribeAsync(host.ToHost(), [FakeHost.PciDevice(0, pci)], new PlanCounters(), _token)).Single();

        Assert.AreEqual(("0x15b3:0x101e", (string?)null, "0x15b3", "0x101e", (Rejection?)null), (device.Info.Type, device.PciMigrationType, device.VendorId, device.ProductId, device.Problem));
        Assert.AreEqual(Absent($"bus/pci/devices/{Function}/vfio_migration_version"), device.Version);
    }

    [TestMethod]
    public async Task Pci_TheHostDoesNotList_WithoutAMigrationType_CannotBePlanned()
    {
        var host = new FakeHost("src");
        var address = PciAddress.Parse(Function);

        var device = (await SourceReader.DescribeAsync(host.ToHost(), [new PciHostDevice(1, null, null, address, true, "vfio", PciHostDeviceForm.Interface)], new PlanCounters(), _token)).Single();

        Assert.AreEqual(new SourceDeviceInfo(SourceDeviceKind.Pci, 1, null, null, address, "?:?", "vfio-pci", null), device.Info);
        Assert.AreEqual(
            new Rejection(Function, null, RejectionCode.NotMigratable, $"The source PCI function {Function} has no vfio_migration_type and the source host does not list its vendor and device ids, so there is no type to match."),
            device.Problem);
    }

    [TestMethod]
    public async Task Pci_TheHostListsWithAVendorButNoDeviceId_WithoutAMigrationType_CannotBePlanned()
    {
        var host = new FakeHost("src");
        var pci = host.AddPci(Function, "0x15b3", productId: null);

        var device = (await SourceReader.DescribeAsync(host.ToHost(), [FakeHost.PciDevice(0, pci)], new PlanCounters(), _token)).Single();

        Assert.AreEqual("0x15b3:?", device.Info.Type);
        Assert.AreEqual(RejectionCode.NotMigratable, device.Problem?.Code);
    }

    [TestMethod]
    public async Task Pci_TheHostDoesNotList_WithAMigrationType_IsPlannedByThatType()
    {
        var host = new FakeHost("src");
        var address = PciAddress.Parse(Function);
        host.FileSystem.Reads[$"bus/pci/devices/{Function}/vfio_migration_type"] = SysfsResult.Of("mlx5-vf-v1\n");

        var device = (await SourceReader.DescribeAsync(host.ToHost(), [new PciHostDevice(0, null, null, address, true, "vfio", PciHostDeviceForm.Hostdev)], new PlanCounters(), _token)).Single();

        Assert.AreEqual(("mlx5-vf-v1", "mlx5-vf-v1", (string?)null, (Rejection?)null), (device.Info.Type, device.PciMigrationType, device.VendorId, device.Problem));
    }

    [TestMethod]
    public async Task VfWithAVgpuTypeSet_IsAVfVgpu_NamedByItsOwnList_UnderItsPf()
    {
        var host = new FakeHost("src");
        var pci = host.AddPci(Vf, "0x10de", "0x2336", version: new FakeVersion("vgpu-v9"));
        PlantVf(host, Vf, "1044\n");
        host.DefineGuest("vm1", FakeHost.PciDevice(0, pci));

        var facts = await SourceReader.ReadAsync(host.ToHost(), DomainSelector.Parse("vm1"), _token);

        var device = facts.Devices.Single();
        Assert.AreEqual(new SourceDeviceInfo(SourceDeviceKind.VfVgpu, 0, "hostdev0", null, pci.Address, "vgpu 1044 (NVIDIA H100-10C)", "vfio-pci", "0000:c1:00.0"), device.Info);
        Assert.AreEqual(((MdevTypeId?)null, "0x10de", (string?)null, (string?)null, new SourceVersion(VersionState.Present, "vgpu-v9", string.Empty), (Rejection?)null), (device.MdevType, device.VendorId, device.ProductId, device.PciMigrationType, device.Version, device.Problem));
        Assert.AreEqual((pci.Address, PciAddress.Parse("0000:c1:00.0"), 1044u), (device.Vgpu?.Vf, device.Vgpu?.Pf, device.Vgpu?.Current));
        CollectionAssert.AreEqual(new[] { new VgpuType(1044, "NVIDIA H100-10C"), new VgpuType(1045, "NVIDIA H100-20C") }, device.Vgpu!.Creatable.ToArray());
    }

    [TestMethod]
    public async Task VfWithNoVgpuTypeSet_IsAPlainPciFunction()
    {
        var host = new FakeHost("src");
        var pci = host.AddPci(Vf, "0x10de", "0x2336", "nvidia-vf-v1");
        PlantVf(host, Vf, "0\n");

        var device = (await SourceReader.DescribeAsync(host.ToHost(), [FakeHost.PciDevice(0, pci)], new PlanCounters(), _token)).Single();

        Assert.AreEqual((SourceDeviceKind.Pci, "nvidia-vf-v1", "0x2336"), (device.Info.Kind, device.Info.Type, device.ProductId));
        Assert.IsNull(device.Vgpu);
    }

    [TestMethod]
    public async Task UnsupportedHostdev_CannotBePlanned_WithItsKindAndReason_AndNothingIsListed()
    {
        var host = new FakeHost("src");
        host.DefineGuest("vm1", new UnsupportedHostDevice(0, null, null, "usb", "unused"));

        var facts = await SourceReader.ReadAsync(host.ToHost(), DomainSelector.Parse("vm1"), _token);

        var device = facts.Devices.Single();
        const string Kind = "hostdev mode='subsystem' type='usb'";
        var reason = $"This {Kind} is not a VFIO mediated device or PCI function, so the planner cannot choose or check its destination; make sure the destination host provides it.";
        Assert.AreEqual(new SourceDeviceInfo(SourceDeviceKind.Unsupported, 0, null, null, null, Kind, null, null), device.Info);
        Assert.AreEqual(SourceVersion.Absent(reason), device.Version);
        Assert.AreEqual(new Rejection("hostdev #0", null, RejectionCode.UnsupportedDevice, $"The guest's {Kind} (hostdev #0) cannot be planned: {reason}."), device.Problem);
        CollectionAssert.AreEqual(new[] { "hv:GetDomain vm1" }, host.Operations, "no inventory for a guest without mdevs or PCI functions");
        Assert.AreEqual((1, 0), (facts.Cost.Snapshot().LibvirtCalls, facts.Cost.Snapshot().SysfsReads));
    }

    [TestMethod]
    public async Task AHostDeviceKindThePlannerDoesNotKnow_CannotBePlanned()
    {
        var host = new FakeHost("src");

        var device = (await SourceReader.DescribeAsync(host.ToHost(), [new OtherHostDevice(3)], new PlanCounters(), _token)).Single();

        Assert.AreEqual(new SourceDeviceInfo(SourceDeviceKind.Unsupported, 3, "other3", null, null, nameof(OtherHostDevice), null, null), device.Info);
        Assert.AreEqual(
            new Rejection("hostdev #3", null, RejectionCode.UnsupportedDevice, $"The guest's {nameof(OtherHostDevice)} (hostdev #3) cannot be planned: the planner does not know this kind of host device."),
            device.Problem);
        Assert.IsEmpty(host.Operations);
    }

    [TestMethod]
    public async Task MdevsAndPciFunctions_OneInventoryOfBothKinds_OneBatchOfAttributes_InTheGuestsOrder()
    {
        var host = new FakeHost("src");
        var mdev = host.AddMdev(host.AddParent("0000:01:00.0").AddType("nvidia-63", deviceVersion: new FakeVersion(Scenario.Version)));
        var pci = host.AddPci(Function, "0x15b3", "0x101e", "mlx5-vf-v1");
        host.DefineGuest("vm1", FakeHost.PciDevice(0, pci), FakeHost.MdevDevice(1, mdev));

        var facts = await SourceReader.ReadAsync(host.ToHost(), DomainSelector.Parse("vm1"), _token);

        CollectionAssert.AreEqual(new[] { SourceDeviceKind.Pci, SourceDeviceKind.Mdev }, facts.Devices.Select(d => d.Info.Kind).ToArray());
        Assert.AreEqual(V1, facts.Devices[1].Version);
        CollectionAssert.AreEqual(
            new[] { $"read bus/pci/devices/{Function}/vfio_migration_type", $"read bus/pci/devices/{Function}/vfio_migration_version", $"read bus/mdev/devices/{mdev.Uuid}/migration_version" },
            host.Operations.Skip(2).Take(3).ToArray());
        Assert.AreEqual("hv:Inventory All", host.Operations[1]);
        Assert.AreEqual((2, 6), (facts.Cost.Snapshot().LibvirtCalls, facts.Cost.Snapshot().SysfsReads));
    }

    [TestMethod]
    public async Task SourceRoundTrips_AreTheFileSystemsRoundTripsWhileTheDevicesWereRead()
    {
        var host = new FakeHost("src");
        var mdev = host.AddMdev(host.AddParent("0000:01:00.0").AddType("nvidia-63"));
        host.Hypervisor.UnlistedMdevs.Add(mdev.Uuid);
        host.DefineGuest("vm1", FakeHost.MdevDevice(0, mdev));
        host.BeforeOperation = _ => host.FileSystem.RoundTrips++;

        var facts = await SourceReader.ReadAsync(host.ToHost(), DomainSelector.Parse("vm1"), _token);

        Assert.AreEqual(4, host.FileSystem.RoundTrips, "the domain, the inventory, the version, the type link");
        Assert.AreEqual(2, facts.Cost.Snapshot().SourceRoundTrips, "the version and the link; the libvirt calls before are not the devices' reads");
    }

    [TestMethod]
    public void PciIdsType_MarksAMissingIdWithAQuestionMark()
    {
        Assert.AreEqual("0x8086:0x1572", SourceReader.PciIdsType("0x8086", "0x1572"));
        Assert.AreEqual("?:0x1572", SourceReader.PciIdsType(null, "0x1572"));
        Assert.AreEqual("0x8086:?", SourceReader.PciIdsType("0x8086", null));
    }

    /// <summary>NVIDIA's vGPU files of a VF with <paramref name="current"/> set, two creatable types, and its PF 0000:c1:00.0.</summary>
    private static void PlantVf(FakeHost host, string vf, string current)
    {
        host.FileSystem.Reads[$"bus/pci/devices/{vf}/nvidia/current_vgpu_type"] = SysfsResult.Of(current);
        host.FileSystem.Reads[$"bus/pci/devices/{vf}/nvidia/creatable_vgpu_types"] = SysfsResult.Of("1044 : NVIDIA H100-10C\n1045 : NVIDIA H100-20C\n");
        host.FileSystem.Links[$"bus/pci/devices/{vf}/physfn"] = "../0000:c1:00.0";
    }

    /// <summary>A host device of a kind the source reader has no arm for.</summary>
    private sealed record OtherHostDevice(int Ordinal) : HostDevice(Ordinal, $"other{Ordinal}", null);

    [TestMethod]
    public async Task AGuestWithoutMdevsOrPciFunctions_IssuesNoBatchRead_OneWithAnMdevIssuesOneBatchOfItsVersion()
    {
        var none = new FakeHost("src");
        var noneFileSystem = new BatchingSysfs(none.FileSystem);
        var some = new FakeHost("src");
        var mdev = some.AddMdev(some.AddParent("0000:01:00.0").AddType("nvidia-63", deviceVersion: new FakeVersion(Scenario.Version)));
        var someFileSystem = new BatchingSysfs(some.FileSystem);

        var unsupported = await SourceReader.DescribeAsync(new MigrationHost(none.Name, none.Hypervisor, noneFileSystem), [new UnsupportedHostDevice(0, null, null, "usb", "unused")], new PlanCounters(), _token);
        var described = await SourceReader.DescribeAsync(new MigrationHost(some.Name, some.Hypervisor, someFileSystem), [FakeHost.MdevDevice(0, mdev)], new PlanCounters(), _token);

        Assert.AreEqual(SourceDeviceKind.Unsupported, unsupported.Single().Info.Kind);
        Assert.HasCount(0, noneFileSystem.ReadBatches, "a remote sysfs would spend a round trip on a batch of nothing");
        Assert.AreEqual(V1, described.Single().Version);
        Assert.AreEqual($"bus/mdev/devices/{mdev.Uuid}/migration_version", string.Join(" | ", someFileSystem.ReadBatches.Select(c => string.Join(" ", c))));
    }
}
