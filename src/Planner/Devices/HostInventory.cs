using VfioMigration.Planner.Hypervisor;

namespace VfioMigration.Planner.Devices;

/// <summary>What a host offers, as read from libvirt's node devices.</summary>
/// <param name="Parents">Devices that can host mediated devices (libvirt capability <c>mdev_types</c>).</param>
/// <param name="Mdevs">Existing mediated devices.</param>
/// <param name="PciDevices">PCI functions.</param>
public sealed record HostInventory(IReadOnlyList<MdevParent> Parents, IReadOnlyList<MediatedDevice> Mdevs, IReadOnlyList<PciDevice> PciDevices)
{
    /// <summary>This inventory with only the kinds <paramref name="scope"/> asks for (the others empty).</summary>
    /// <param name="scope">The kinds to keep.</param>
    public HostInventory Only(InventoryScope scope) => new(
        scope.HasFlag(InventoryScope.MdevParents) ? Parents : [],
        scope.HasFlag(InventoryScope.Mdevs) ? Mdevs : [],
        scope.HasFlag(InventoryScope.PciDevices) ? PciDevices : []);
}

/// <summary>A device that can create mediated devices.</summary>
/// <param name="Name">libvirt node device name, e.g. <c>pci_0000_00_02_0</c>.</param>
/// <param name="SysfsName">The device's directory name in sysfs, under <c>class/mdev_bus/</c> (<c>0000:00:02.0</c>, or <c>mtty</c> for a virtual parent).</param>
/// <param name="Address">Its PCI address, when it is a PCI function (libvirt gives the parts in decimal).</param>
/// <param name="VendorId">PCI vendor id as <c>0x%04x</c>, when known.</param>
/// <param name="ProductId">PCI product id as <c>0x%04x</c>, when known.</param>
/// <param name="Driver">The host driver bound to it, when known.</param>
/// <param name="Types">The mdev types it supports, with their current capacity.</param>
public sealed record MdevParent(DeviceName Name, DeviceName SysfsName, PciAddress? Address, string? VendorId, string? ProductId, string? Driver, IReadOnlyList<MdevTypeInfo> Types);

/// <summary>An mdev type offered by a parent.</summary>
/// <param name="Id">The type id (<c>i915-GVTg_V5_4</c>).</param>
/// <param name="Name">Human name, when the driver gives one.</param>
/// <param name="DeviceApi">The device API (<c>vfio-pci</c>, <c>vfio-ccw</c>, <c>vfio-ap</c>).</param>
/// <param name="AvailableInstances">How many more instances can be created now (advisory: it can change under you).</param>
public sealed record MdevTypeInfo(MdevTypeId Id, string? Name, string DeviceApi, int AvailableInstances);

/// <summary>An existing mediated device.</summary>
/// <param name="Name">libvirt node device name (<c>mdev_&lt;uuid&gt;_&lt;parent&gt;</c> since libvirt 7.7; never build it, match on <paramref name="Uuid"/>).</param>
/// <param name="Uuid">The mdev UUID (lower case).</param>
/// <param name="Type">Its mdev type.</param>
/// <param name="Parent">The parent's libvirt node device name.</param>
/// <param name="IommuGroup">Its IOMMU group number, when known.</param>
/// <param name="Attributes">Vendor attributes libvirt reports (<c>&lt;attr name= value=/&gt;</c>), in order.</param>
public sealed record MediatedDevice(DeviceName Name, MdevUuid Uuid, MdevTypeId Type, DeviceName? Parent, int? IommuGroup, IReadOnlyList<KeyValuePair<string, string>> Attributes)
{
    /// <summary>
    /// libvirt's node device name for an mdev since 7.7: <c>mdev_&lt;uuid&gt;_&lt;parent&gt;</c> with
    /// every non-alphanumeric character as <c>_</c> (<c>mdev_6f1c..._0000_3b_00_0</c>). For an inventory
    /// read without libvirt; match devices on <see cref="Uuid"/>, never on a name built here.
    /// </summary>
    /// <param name="uuid">The mdev's UUID.</param>
    /// <param name="parentSysfsName">Its parent's sysfs name (<see cref="MdevParent.SysfsName"/>: <c>0000:3b:00.0</c>, <c>mtty</c>).</param>
    public static DeviceName NodeDeviceName(MdevUuid uuid, DeviceName parentSysfsName)
    {
        return DeviceName.Parse($"mdev_{Underscored(uuid.Value)}_{Underscored(parentSysfsName.Value)}");
    }

    private static string Underscored(string text) =>
        string.Create(text.Length, text, static (span, source) =>
        {
            for (var i = 0; i < source.Length; i++)
            {
                span[i] = char.IsAsciiLetterOrDigit(source[i]) ? source[i] : '_';
            }
        });
}

/// <summary>A PCI function on the host.</summary>
/// <param name="Name">libvirt node device name, e.g. <c>pci_0000_3b_00_1</c>.</param>
/// <param name="Address">Its PCI address.</param>
/// <param name="Driver">The bound host driver (<c>vfio-pci</c> when ready for assignment), when any.</param>
/// <param name="VendorId">PCI vendor id as <c>0x%04x</c>.</param>
/// <param name="ProductId">PCI product id as <c>0x%04x</c>.</param>
public sealed record PciDevice(DeviceName Name, PciAddress Address, string? Driver, string? VendorId, string? ProductId);
