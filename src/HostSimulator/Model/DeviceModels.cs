using System.Globalization;
using VfioMigration.HostSimulator.Scenarios;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.HostSimulator.Model;

/// <summary>An mdev-capable parent and its capacity. State changes only under the host's lock.</summary>
internal sealed class ParentModel
{
    public ParentModel(DeviceName name, PciAddress? address, string? vendorId, string? productId, string? driver, CapacityMode capacity, int poolSize, Errno exhaustionErrno)
    {
        Name = name;
        Address = address;
        VendorId = vendorId;
        ProductId = productId;
        Driver = driver;
        Capacity = capacity;
        PoolSize = poolSize;
        ExhaustionErrno = exhaustionErrno;
        DevicePath = DevicePathOf(name, address);
    }

    public DeviceName Name { get; }

    public PciAddress? Address { get; }

    public string? VendorId { get; }

    public string? ProductId { get; }

    public string? Driver { get; }

    public CapacityMode Capacity { get; }

    public int PoolSize { get; }

    public Errno ExhaustionErrno { get; }

    /// <summary>The parent's real directory, relative to the sysfs root (<c>devices/pci0000:00/0000:00:02.0</c>, <c>devices/virtual/mtty/mtty</c>).</summary>
    public string DevicePath { get; }

    public List<MdevTypeModel> Types { get; } = [];

    public bool Present { get; set; } = true;

    public DirectoryNode? Directory { get; set; }

    public int PoolUsed => Types.Sum(t => t.Instances.Count * t.PoolUnits);

    public static string DevicePathOf(DeviceName name, PciAddress? address) =>
        address is { } pci
            ? string.Create(CultureInfo.InvariantCulture, $"devices/pci{pci.Domain:x4}:{pci.Bus:x2}/{pci}")
            : $"devices/virtual/{name.Value}/{name.Value}";
}

/// <summary>One mdev type of a parent.</summary>
internal sealed class MdevTypeModel(ParentModel parent, MdevTypeId id, string name, string? description, string deviceApi, int maxInstances, int poolUnits, VersionBehaviour? typeVersion, VersionBehaviour? deviceVersion)
{
    public ParentModel Parent { get; } = parent;

    public MdevTypeId Id { get; } = id;

    public string Name { get; } = name;

    public string? Description { get; } = description;

    public string DeviceApi { get; } = deviceApi;

    public int MaxInstances { get; } = maxInstances;

    public int PoolUnits { get; } = poolUnits;

    public VersionBehaviour? TypeVersion { get; } = typeVersion;

    /// <summary>The behaviour every device created with this type gets.</summary>
    public VersionBehaviour? DeviceVersion { get; } = deviceVersion;

    public List<MdevModel> Instances { get; } = [];

    public DirectoryNode? DevicesDirectory { get; set; }

    /// <summary>What <c>available_instances</c> shows now, per the parent's capacity mode.</summary>
    public int AvailableInstances
    {
        get
        {
            if (!Parent.Present)
            {
                return 0;
            }

            var own = MaxInstances - Instances.Count;
            return Parent.Capacity switch
            {
                CapacityMode.SharedPool => Math.Max(0, Math.Min(own, (Parent.PoolSize - Parent.PoolUsed) / PoolUnits)),
                CapacityMode.OneTypeAtATime when Parent.Types.Any(t => t != this && t.Instances.Count > 0) => 0,
                _ => Math.Max(0, own),
            };
        }
    }
}

/// <summary>A mediated device.</summary>
internal sealed class MdevModel(MdevUuid uuid, MdevTypeModel type)
{
    public MdevUuid Uuid { get; } = uuid;

    public MdevTypeModel Type { get; } = type;
}

/// <summary>A whole PCI function bound to a VFIO driver.</summary>
internal sealed record PciFunctionModel(PciAddress Address, string VendorId, string ProductId, string Driver, string? MigrationType, VersionBehaviour? Version)
{
    /// <summary>The PF of an SR-IOV virtual function; null for any other function.</summary>
    public PciAddress? PhysicalFunction { get; init; }

    public string DevicePath => ParentModel.DevicePathOf(default, Address);
}

/// <summary>A guest, for the libvirt side.</summary>
internal sealed record GuestModel(string Name, Guid Uuid, bool Running, int MemoryMiB, IReadOnlyList<GuestHostdevModel> Hostdevs);

/// <summary>One hostdev of a guest: an mdev (by UUID) or a PCI function.</summary>
internal sealed record GuestHostdevModel(MdevUuid? Mdev, PciAddress? Pci, string Model, string? Alias, PciAddress? GuestAddress);
