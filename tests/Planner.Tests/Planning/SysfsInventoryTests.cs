using Microsoft.Extensions.Logging.Abstractions;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Hypervisor;
using VfioMigration.Planner.Planning;
using VfioMigration.Planner.Sysfs;
using VfioMigration.Planner.Tests.Fakes;

namespace VfioMigration.Planner.Tests.Planning;

/// <summary>
/// The inventory read from sysfs (<see cref="InventorySource.Sysfs"/>): the records libvirt would
/// give, named as libvirt names them, for the kinds asked; what it reads and counts; what it makes of
/// content that is not what sysfs should hold.
/// </summary>
[TestClass]
public sealed class SysfsInventoryTests
{
    private const string GpuAddress = "0000:41:00.0";
    private const string NicAddress = "0000:03:00.1";
    private const string Gpu = "pci_0000_41_00_0";
    private const string Nic = "pci_0000_03_00_1";

    /// <summary>
    /// A host with a GPU parent (one nvidia-63 mdev), a virtual mtty parent (one mtty-2 mdev) and a NIC
    /// function, whose <c>bus/pci/devices</c> lists the two functions (out of order) and two entries that are no address.
    /// </summary>
    private static (FakeHost Host, FakeMdev OnGpu, FakeMdev OnMtty) Host()
    {
        var host = new FakeHost("dest");
        var onGpu = host.AddMdev(host.AddParent(GpuAddress).AddType("nvidia-63", max: 4), uuid: MdevUuid.Parse("b0000000-0000-4000-8000-000000000001"));
        var onMtty = host.AddMdev(host.AddVirtualParent("mtty").AddType("mtty-2", "vfio-ccw", max: 2), uuid: MdevUuid.Parse("a0000000-0000-4000-8000-000000000002"));
        host.FileSystem.ExtraEntries["bus/pci/devices"] = [GpuAddress, "..", NicAddress, "0000:zz:00.0"];
        Function(host, GpuAddress, "0x10de\n", "0x2236\n", "../../../bus/pci/drivers/nvidia");
        Function(host, NicAddress, "0x15b3\n", "0x101e\n", "../../../bus/pci/drivers/vfio-pci");
        return (host, onGpu, onMtty);
    }

    private static void Function(FakeHost host, string address, string? vendor, string? device, string? driver)
    {
        if (vendor is not null)
        {
            host.FileSystem.Reads[$"bus/pci/devices/{address}/vendor"] = SysfsResult.Of(vendor);
        }

        if (device is not null)
        {
            host.FileSystem.Reads[$"bus/pci/devices/{address}/device"] = SysfsResult.Of(device);
        }

        if (driver is not null)
        {
            host.FileSystem.Links[$"bus/pci/devices/{address}/driver"] = driver;
        }
    }

    private static async Task<(HostInventory Inventory, IReadOnlySet<DeviceName> SysfsOnly, PlanStatistics Cost)> ReadAsync(FakeHost host, InventoryScope scope)
    {
        var counters = new PlanCounters();
        var read = await SysfsInventory.ReadAsync(host.ToHost(), scope, counters, NullLogger.Instance, CancellationToken.None);
        Assert.IsNotNull(read, "the host's sysfs lists bus/pci/devices");
        return (read.Value.Inventory, read.Value.SysfsOnly, counters.Snapshot());
    }

    private static string Describe(MdevParent parent) =>
        $"{parent.Name} {parent.SysfsName} {parent.Address?.ToString() ?? "-"} {parent.VendorId ?? "-"} {parent.ProductId ?? "-"} {parent.Driver ?? "-"} "
        + string.Join(",", parent.Types.Select(t => $"{t.Id}/{t.Name}/{t.DeviceApi}/{t.AvailableInstances}"));

    private static string Describe(MediatedDevice mdev) => $"{mdev.Name} {mdev.Uuid} {mdev.Type} {mdev.Parent} {mdev.IommuGroup?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "-"} {mdev.Attributes.Count}";

    [TestMethod]
    public async Task ASysfsThatCannotListPciDevices_GivesNoInventory_AfterOneRead()
    {
        var host = new FakeHost("dest");
        host.AddParent(GpuAddress).AddType("nvidia-63");
        var counters = new PlanCounters();

        var read = await SysfsInventory.ReadAsync(host.ToHost(), InventoryScope.All, counters, NullLogger.Instance, CancellationToken.None);

        Assert.IsNull(read);
        CollectionAssert.AreEqual(new[] { "list bus/pci/devices" }, host.Operations);
        Assert.AreEqual((0, 1), (counters.Snapshot().LibvirtCalls, counters.Snapshot().SysfsReads));
    }

    [TestMethod]
    public async Task PciFunctionsOnly_AreEveryAddressListed_InOrder_WithIdsAndDriver_AndNoMdevListingOrLibvirtCall()
    {
        var (host, _, _) = Host();

        var (inventory, sysfsOnly, cost) = await ReadAsync(host, InventoryScope.PciDevices);

        Assert.AreEqual(
            $"{Nic} {NicAddress} vfio-pci 0x15b3 0x101e | {Gpu} {GpuAddress} nvidia 0x10de 0x2236",
            string.Join(" | ", inventory.PciDevices.Select(d => $"{d.Name} {d.Address} {d.Driver} {d.VendorId} {d.ProductId}")));
        Assert.IsEmpty(inventory.Parents);
        Assert.IsEmpty(inventory.Mdevs);
        Assert.IsEmpty(sysfsOnly);
        CollectionAssert.AreEqual(
            new[]
            {
                "list bus/pci/devices",
                $"read bus/pci/devices/{NicAddress}/vendor", $"read bus/pci/devices/{NicAddress}/device",
                $"read bus/pci/devices/{GpuAddress}/vendor", $"read bus/pci/devices/{GpuAddress}/device",
                $"readlink bus/pci/devices/{NicAddress}/driver", $"readlink bus/pci/devices/{GpuAddress}/driver",
            },
            host.Operations);
        Assert.AreEqual((0, 7), (cost.LibvirtCalls, cost.SysfsReads), "the listing, then two ids and a driver link per function");
    }

    [TestMethod]
    public async Task MdevKinds_ParentsAreNamedAsLibvirtNamesThem_AVirtualOneBySysfs_AndOnlyTheParentsFunctionsAreRead()
    {
        var (host, onGpu, onMtty) = Host();

        var (inventory, sysfsOnly, cost) = await ReadAsync(host, InventoryScope.MdevParents | InventoryScope.Mdevs);

        CollectionAssert.AreEqual(
            new[]
            {
                "mtty mtty - - - - mtty-2/mtty-2/vfio-ccw/1",
                $"{Gpu} {GpuAddress} {GpuAddress} 0x10de 0x2236 nvidia nvidia-63/nvidia-63/vfio-pci/3",
            },
            inventory.Parents.Select(Describe).ToArray());
        CollectionAssert.AreEqual(
            new[]
            {
                $"mdev_a0000000_0000_4000_8000_000000000002_mtty {onMtty.Uuid} mtty-2 mtty - 0",
                $"mdev_b0000000_0000_4000_8000_000000000001_0000_41_00_0 {onGpu.Uuid} nvidia-63 {Gpu} - 0",
            },
            inventory.Mdevs.Select(Describe).ToArray());
        Assert.IsEmpty(inventory.PciDevices, "functions are not asked for, though the parent's was read");
        CollectionAssert.AreEquivalent(new[] { DeviceName.Parse("mtty") }, sysfsOnly.ToArray());
        Assert.IsFalse(host.Operations.Any(o => o.Contains(NicAddress, StringComparison.Ordinal)), string.Join("\n", host.Operations));
        Assert.AreEqual("hv:Inventory DefinedInactiveMdevs", host.Operations[1]);
        Assert.AreEqual((1, 15), (cost.LibvirtCalls, cost.SysfsReads), "2 listings, 2 type listings, 3 attributes and a devices/ listing per type (2), the parent function's ids and driver (3)");
    }

    [TestMethod]
    [DataRow(InventoryScope.MdevParents, 2, 0)]
    [DataRow(InventoryScope.Mdevs, 0, 2)]
    public async Task OneMdevKind_ReadsBoth_KeepsTheOneAsked(InventoryScope scope, int parents, int mdevs)
    {
        var (host, _, _) = Host();

        var (inventory, _, cost) = await ReadAsync(host, scope);

        Assert.AreEqual((parents, mdevs, 0), (inventory.Parents.Count, inventory.Mdevs.Count, inventory.PciDevices.Count));
        Assert.AreEqual((1, 15), (cost.LibvirtCalls, cost.SysfsReads));
    }

    [TestMethod]
    public async Task Everything_HasEachFunctionOnce_ParentsAndMdevs()
    {
        var (host, _, _) = Host();

        var (inventory, _, cost) = await ReadAsync(host, InventoryScope.All);

        CollectionAssert.AreEqual(new[] { Nic, Gpu }, inventory.PciDevices.Select(d => d.Name.Value).ToArray());
        CollectionAssert.AreEqual(new[] { "mtty", Gpu }, inventory.Parents.Select(p => p.Name.Value).ToArray());
        Assert.HasCount(2, inventory.Mdevs);
        Assert.AreEqual((1, 18), (cost.LibvirtCalls, cost.SysfsReads), "as for the mdev kinds, and the NIC's ids and driver (3)");
    }

    [TestMethod]
    public async Task MdevsLibvirtDefinedAndDidNotStart_AreAdded_ARunningOneIsTheKernels()
    {
        var (host, onGpu, _) = Host();
        var defined = new MediatedDevice(DeviceName.Parse("mdev_c0000000_0000_4000_8000_000000000003_0000_41_00_0"), MdevUuid.Parse("c0000000-0000-4000-8000-000000000003"), MdevTypeId.Parse("nvidia-63"), DeviceName.Parse(Gpu), null, []);
        host.Hypervisor.DefinedMdevs.Add(defined);
        host.Hypervisor.DefinedMdevs.Add(defined with { Uuid = onGpu.Uuid, Name = DeviceName.Parse("stale"), Type = MdevTypeId.Parse("nvidia-64") });

        var (inventory, _, _) = await ReadAsync(host, InventoryScope.Mdevs);

        CollectionAssert.AreEqual(
            new[] { "a0000000-0000-4000-8000-000000000002 mtty-2", $"{onGpu.Uuid} nvidia-63", "c0000000-0000-4000-8000-000000000003 nvidia-63" },
            inventory.Mdevs.Select(m => $"{m.Uuid} {m.Type}").ToArray());
        Assert.AreSame(defined, inventory.Mdevs[2]);
    }

    [TestMethod]
    public async Task FunctionsWithoutReadableOrValidIdsAndDriver_HaveThemEmpty()
    {
        var (host, _, _) = Host();
        host.FileSystem.Reads.Remove($"bus/pci/devices/{NicAddress}/device");
        host.FileSystem.Links.Remove($"bus/pci/devices/{NicAddress}/driver");
        Function(host, GpuAddress, "0x10de; reboot\n", "0x2236\n", "../../../bus/pci/drivers/\u001b[2Jnvidia");

        var (inventory, _, _) = await ReadAsync(host, InventoryScope.All);

        Assert.AreEqual(
            $"{Nic} - 0x15b3 - | {Gpu} - - 0x2236",
            string.Join(" | ", inventory.PciDevices.Select(d => $"{d.Name} {d.Driver ?? "-"} {d.VendorId ?? "-"} {d.ProductId ?? "-"}")));
        Assert.AreEqual($"{Gpu} {GpuAddress} {GpuAddress} - 0x2236 - nvidia-63/nvidia-63/vfio-pci/3", Describe(inventory.Parents[1]));
    }

    [TestMethod]
    public async Task AVirtualParent_IsNoFunction_EvenBesideTheHostBridge0000_00_00_0()
    {
        var host = new FakeHost("dest");
        host.AddVirtualParent("mtty").AddType("mtty-2");
        host.FileSystem.ExtraEntries["bus/pci/devices"] = ["0000:00:00.0"];
        Function(host, "0000:00:00.0", null, "0x1237\n", null);

        var (inventory, sysfsOnly, _) = await ReadAsync(host, InventoryScope.All);

        Assert.AreEqual("mtty mtty - - - - mtty-2/mtty-2/vfio-pci/4", Describe(inventory.Parents.Single()));
        Assert.AreEqual("pci_0000_00_00_0 - - 0x1237", string.Join(" | ", inventory.PciDevices.Select(d => $"{d.Name} {d.Driver ?? "-"} {d.VendorId ?? "-"} {d.ProductId}")), "no vendor file, no driver link");
        CollectionAssert.AreEquivalent(new[] { DeviceName.Parse("mtty") }, sysfsOnly.ToArray());
    }

    [TestMethod]
    public async Task AHostWithoutMdevSupport_HasNoParentsOrMdevs()
    {
        var host = new FakeHost("dest");
        host.FileSystem.ExtraEntries["bus/pci/devices"] = [NicAddress];
        Function(host, NicAddress, "0x15b3\n", "0x101e\n", "../../../bus/pci/drivers/vfio-pci");

        var (inventory, sysfsOnly, cost) = await ReadAsync(host, InventoryScope.All);

        Assert.AreEqual((0, 0, 1), (inventory.Parents.Count, inventory.Mdevs.Count, inventory.PciDevices.Count));
        Assert.IsEmpty(sysfsOnly);
        Assert.AreEqual(5, cost.SysfsReads, "two listings, the function's ids and driver");
    }

    [TestMethod]
    public async Task NoFunctionAndNoParent_ReadsNoFunctionAttributes()
    {
        var host = new FakeHost("dest");
        host.FileSystem.ExtraEntries["bus/pci/devices"] = [];

        var (inventory, _, cost) = await ReadAsync(host, InventoryScope.All);

        Assert.AreEqual((0, 0, 0), (inventory.Parents.Count, inventory.Mdevs.Count, inventory.PciDevices.Count));
        CollectionAssert.AreEqual(new[] { "list bus/pci/devices", "hv:Inventory DefinedInactiveMdevs", "list class/mdev_bus" }, host.Operations);
        Assert.AreEqual(2, cost.SysfsReads);
    }

    [TestMethod]
    public async Task NoPciFunctionToRead_IssuesNoBatchRead_OneWithFunctionsIssuesOneBatchOfTheirIds()
    {
        var empty = new FakeHost("dest");
        empty.FileSystem.ExtraEntries["bus/pci/devices"] = [];
        var emptyFileSystem = new BatchingSysfs(empty.FileSystem);
        var nic = new FakeHost("dest");
        nic.FileSystem.ExtraEntries["bus/pci/devices"] = [NicAddress];
        Function(nic, NicAddress, "0x15b3\n", "0x101e\n", "../../../bus/pci/drivers/vfio-pci");
        var nicFileSystem = new BatchingSysfs(nic.FileSystem);

        var none = await SysfsInventory.ReadAsync(new MigrationHost(empty.Name, empty.Hypervisor, emptyFileSystem), InventoryScope.PciDevices, new PlanCounters(), NullLogger.Instance, CancellationToken.None);
        var one = await SysfsInventory.ReadAsync(new MigrationHost(nic.Name, nic.Hypervisor, nicFileSystem), InventoryScope.PciDevices, new PlanCounters(), NullLogger.Instance, CancellationToken.None);

        Assert.IsNotNull(none);
        Assert.IsNotNull(one);
        Assert.IsEmpty(none.Value.Inventory.PciDevices);
        Assert.HasCount(0, emptyFileSystem.ReadBatches, "a remote sysfs would spend a round trip on a batch of nothing");
        Assert.AreEqual(Nic, one.Value.Inventory.PciDevices.Single().Name.Value);
        Assert.AreEqual($"bus/pci/devices/{NicAddress}/vendor bus/pci/devices/{NicAddress}/device", string.Join(" | ", nicFileSystem.ReadBatches.Select(c => string.Join(" ", c))));
    }
}
