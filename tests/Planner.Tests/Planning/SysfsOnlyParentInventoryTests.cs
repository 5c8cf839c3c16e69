using Microsoft.Extensions.Logging.Abstractions;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Hypervisor;
using VfioMigration.Planner.Planning;
using VfioMigration.Planner.Sysfs;
using VfioMigration.Planner.Tests.Fakes;

namespace VfioMigration.Planner.Tests.Planning;

/// <summary>
/// <see cref="SysfsOnlyParents"/> called directly, on a fake host: the inventory it makes of
/// libvirt's and the parents only sysfs shows (their order, libvirt's own inventory when there are
/// none), the type it reads from a type's attributes, and the reads it sends for a parent without
/// types (found missing by mutation testing, docs/testing.md).
/// </summary>
[TestClass]
public sealed class SysfsOnlyParentInventoryTests
{
    private static async Task<(HostInventory Listed, HostInventory Inventory, IReadOnlySet<DeviceName> Added)> AddAsync(MigrationHost host)
    {
        var listed = await host.Hypervisor.GetInventoryAsync(InventoryScope.All);
        var (inventory, added) = await SysfsOnlyParents.AddAsync(host, listed, new PlanCounters(), NullLogger.Instance, CancellationToken.None);
        return (listed, inventory, added);
    }

    [TestMethod]
    public async Task ParentsFoundOnlyInSysfs_JoinLibvirtsInOrdinalOrderOfTheirNames()
    {
        var host = new FakeHost("dest");
        host.AddParent("0000:41:00.0").AddType("nvidia-63");
        host.AddVirtualParent("mtty").AddType("mtty-2");
        host.AddVirtualParent("mdpy").AddType("mdpy-hd");

        var (_, inventory, added) = await AddAsync(host.ToHost());

        Assert.AreEqual("mdpy mtty pci_0000_41_00_0", string.Join(" ", inventory.Parents.Select(p => p.Name.Value)));
        CollectionAssert.AreEquivalent(new[] { "mdpy", "mtty" }, added.Select(name => name.Value).ToArray());
    }

    [TestMethod]
    public async Task EveryParentListedByLibvirt_TheInventoryIsLibvirtsOwn_AfterOneListing()
    {
        var host = new FakeHost("dest");
        host.AddParent("0000:42:00.0").AddType("nvidia-63");
        host.AddParent("0000:41:00.0").AddType("nvidia-63");
        host.AddMdev(host.Parents[0].Types[0]);

        var (listed, inventory, added) = await AddAsync(host.ToHost());

        Assert.AreSame(listed, inventory, "nothing to add: libvirt's inventory is returned as it is, neither copied nor sorted again");
        Assert.IsEmpty(added);
        CollectionAssert.AreEqual(new[] { "hv:Inventory All", "list class/mdev_bus" }, host.Operations.ToArray());
    }

    [TestMethod]
    public async Task TypeWhoseNameIsEmpty_HasNoName()
    {
        var host = new FakeHost("dest");
        host.AddVirtualParent("mtty").AddType("mtty-2", max: 2);
        host.FileSystem.Reads["class/mdev_bus/mtty/mdev_supported_types/mtty-2/name"] = SysfsResult.Of("\n");

        var contents = await SysfsOnlyParents.ReadParentsAsync(host.ToHost(), [DeviceName.Parse("mtty")], new PlanCounters(), NullLogger.Instance, CancellationToken.None);

        var type = contents.Single().Types.Single();
        Assert.IsNull(type.Name, "an empty name attribute is no name");
        Assert.AreEqual(new MdevTypeInfo(MdevTypeId.Parse("mtty-2"), null, "vfio-pci", 2), type);
    }

    [TestMethod]
    public async Task TypeWithAName_HasItWithoutTheNewline()
    {
        var host = new FakeHost("dest");
        host.AddVirtualParent("mtty").AddType("mtty-2", max: 2);
        host.FileSystem.Reads["class/mdev_bus/mtty/mdev_supported_types/mtty-2/name"] = SysfsResult.Of("Dual port serial\n");

        var contents = await SysfsOnlyParents.ReadParentsAsync(host.ToHost(), [DeviceName.Parse("mtty")], new PlanCounters(), NullLogger.Instance, CancellationToken.None);

        Assert.AreEqual(new MdevTypeInfo(MdevTypeId.Parse("mtty-2"), "Dual port serial", "vfio-pci", 2), contents.Single().Types.Single());
    }

    [TestMethod]
    public async Task ParentWithoutTypes_SendsNoBatchRead_OnlyTheListingOfItsTypes()
    {
        var host = new FakeHost("dest");
        host.AddVirtualParent("mtty");
        var sysfs = new BatchingSysfs(host.FileSystem);
        var counters = new PlanCounters();

        var contents = await SysfsOnlyParents.ReadParentsAsync(new MigrationHost(host.Name, host.Hypervisor, sysfs), [DeviceName.Parse("mtty")], counters, NullLogger.Instance, CancellationToken.None);

        var parent = contents.Single();
        Assert.AreEqual(("mtty", 0, 0), (parent.Parent.Value, parent.Types.Count, parent.Mdevs.Count));
        Assert.IsEmpty(sysfs.ReadBatches, "no type, so no attribute to read");
        CollectionAssert.AreEqual(new[] { "list class/mdev_bus/mtty/mdev_supported_types" }, host.Operations.ToArray());
        Assert.AreEqual(1, counters.Snapshot().SysfsReads);
    }

    [TestMethod]
    public async Task ParentWithAType_ReadsItsThreeAttributesInOneBatch()
    {
        var host = new FakeHost("dest");
        host.AddVirtualParent("mtty").AddType("mtty-2", max: 2);
        var sysfs = new BatchingSysfs(host.FileSystem);

        var contents = await SysfsOnlyParents.ReadParentsAsync(new MigrationHost(host.Name, host.Hypervisor, sysfs), [DeviceName.Parse("mtty")], new PlanCounters(), NullLogger.Instance, CancellationToken.None);

        Assert.AreEqual(new MdevTypeInfo(MdevTypeId.Parse("mtty-2"), "mtty-2", "vfio-pci", 2), contents.Single().Types.Single());
        const string Type = "class/mdev_bus/mtty/mdev_supported_types/mtty-2";
        CollectionAssert.AreEqual(new[] { $"{Type}/name", $"{Type}/available_instances", $"{Type}/device_api" }, sysfs.ReadBatches.Single().ToArray());
    }
}
