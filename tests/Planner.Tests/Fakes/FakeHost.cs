using System.Globalization;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Sysfs;
using VfioMigration.Planner.Xml;

namespace VfioMigration.Planner.Tests.Fakes;

/// <summary>A version attribute: what a read returns and which written versions it accepts.</summary>
internal sealed class FakeVersion(string version, params string[] alsoAccepts)
{
    public string Version { get; } = version;

    public HashSet<string> Accepts { get; } = [version, .. alsoAccepts];

    /// <summary>The errno a refused write returns (the i915 sample used EINVAL for a mismatch).</summary>
    public Errno RejectWith { get; init; } = Errno.EINVAL;

    public Errno Write(string written) => Accepts.Contains(written) ? Errno.None : RejectWith;
}

internal sealed class FakeType(FakeParent parent, MdevTypeId id, string deviceApi, int max)
{
    public FakeParent Parent => parent;

    public MdevTypeId Id => id;

    public string DeviceApi => deviceApi;

    public int Max { get; set; } = max;

    /// <summary>The type-level <c>migration_version</c>; null when the type has none.</summary>
    public FakeVersion? TypeVersion { get; set; }

    /// <summary>The device-level attribute mdevs created from this type get; null when they have none.</summary>
    public FakeVersion? DeviceVersion { get; set; }
}

internal sealed class FakeParent(DeviceName name, DeviceName sysfsName, string vendorId, bool oneTypeAtATime)
{
    /// <summary>The libvirt node device name; a virtual parent's is its sysfs name, although libvirt does not list it.</summary>
    public DeviceName Name => name;

    /// <summary>Whether libvirt lists it as a node device; false for a virtual parent such as mtty.</summary>
    public bool ListedByLibvirt { get; init; } = true;

    public DeviceName SysfsName => sysfsName;

    public string VendorId => vendorId;

    public bool OneTypeAtATime => oneTypeAtATime;

    public List<FakeType> Types { get; } = [];

    public FakeType AddType(string id, string deviceApi = "vfio-pci", int max = 4, FakeVersion? typeVersion = null, FakeVersion? deviceVersion = null)
    {
        var type = new FakeType(this, MdevTypeId.Parse(id), deviceApi, max) { TypeVersion = typeVersion, DeviceVersion = deviceVersion };
        Types.Add(type);
        return type;
    }
}

internal sealed class FakeMdev(MdevUuid uuid, FakeType type, FakeVersion? version)
{
    public MdevUuid Uuid => uuid;

    public FakeType Type => type;

    public FakeVersion? Version { get; set; } = version;
}

internal sealed class FakePci(PciAddress address, string vendorId, string productId, string? migrationType, FakeVersion? version)
{
    public PciAddress Address => address;

    public string VendorId => vendorId;

    public string ProductId => productId;

    public string? MigrationType => migrationType;

    public FakeVersion? Version { get; set; } = version;

    /// <summary>NVIDIA's vGPU files of a virtual function (docs/nvidia-vf.md); null for an ordinary function.</summary>
    public FakeVf? Vf { get; init; }
}

/// <summary>A vGPU type an SR-IOV GPU offers, and how many vGPUs of it fit on the GPU.</summary>
internal sealed record FakeVgpuType(uint Id, string Name, int Max);

/// <summary>
/// An SR-IOV GPU (the PF) whose VFs share its capacity, as the simulator models it: one type at a
/// time, and an unconfigured VF lists each type that still fits.
/// </summary>
internal sealed class FakeGpu(PciAddress address, params FakeVgpuType[] types)
{
    public PciAddress Address => address;

    public IReadOnlyList<FakeVgpuType> Types => types;

    public List<FakePci> Vfs { get; } = [];

    /// <summary>What <paramref name="vf"/> can make now: its own type when configured; otherwise each type that fits beside the GPU's vGPUs.</summary>
    public IEnumerable<FakeVgpuType> Creatable(FakeVf vf)
    {
        if (vf.Type != 0)
        {
            return types.Where(t => t.Id == vf.Type);
        }

        var made = Vfs.Select(f => f.Vf!.Type).Where(id => id != 0).ToList();
        return types.Where(t => made.All(id => id == t.Id) && made.Count < t.Max);
    }
}

/// <summary>A VF's <c>nvidia/current_vgpu_type</c> and <c>creatable_vgpu_types</c>, and its <c>physfn</c> link (to <paramref name="gpu"/>; none when null).</summary>
internal sealed class FakeVf(FakeGpu? gpu)
{
    public FakeGpu? Gpu => gpu;

    /// <summary>The current vGPU type id; 0 without a vGPU.</summary>
    public uint Type { get; set; }

    /// <summary>When set, <c>creatable_vgpu_types</c> reads as this text, whatever the GPU holds.</summary>
    public string? CreatableText { get; set; }

    /// <summary>The <c>creatable_vgpu_types</c> text as the driver prints it (<c>1157 : NVIDIA L40S-24C</c> lines).</summary>
    public string Creatable() =>
        CreatableText ?? string.Concat((gpu?.Creatable(this) ?? []).Select(t => string.Create(CultureInfo.InvariantCulture, $"{t.Id} : {t.Name}\n")));

    /// <summary>A write to <c>current_vgpu_type</c>, as the simulator's: 0 destroys the vGPU; EBUSY on a configured VF; EINVAL for an id its list lacks or text that is no number.</summary>
    public Errno Write(string value)
    {
        if (!uint.TryParse(value.TrimEnd('\n'), NumberStyles.None, CultureInfo.InvariantCulture, out var id))
        {
            return Errno.EINVAL;
        }

        if (id == 0)
        {
            Type = 0;
            return Errno.None;
        }

        if (Type != 0)
        {
            return Errno.EBUSY;
        }

        if (!Creatable().Split('\n').Any(line => line.StartsWith(string.Create(CultureInfo.InvariantCulture, $"{id} :"), StringComparison.Ordinal)))
        {
            return Errno.EINVAL;
        }

        Type = id;
        return Errno.None;
    }
}

/// <summary>
/// One simulated host: a small model (parents, types, mdevs, PCI functions, defined guests) seen
/// through an in-memory sysfs and an in-memory hypervisor, with fault injection and a log of
/// every operation.
/// </summary>
internal sealed class FakeHost
{
    private int _counter;

    public FakeHost(string name)
    {
        Name = name;
        Hypervisor = new FakeHypervisor(this);
        FileSystem = new FakeSysfs(this);
    }

    public string Name { get; }

    public FakeHypervisor Hypervisor { get; }

    public FakeSysfs FileSystem { get; }

    public Lock Gate { get; } = new();

    public List<FakeParent> Parents { get; } = [];

    public List<FakeMdev> Mdevs { get; } = [];

    public List<FakePci> Pcis { get; } = [];

    public List<DomainHostDevices> Domains { get; } = [];

    public Dictionary<string, string> GuestXml { get; } = [];

    /// <summary>Called before every sysfs and hypervisor operation with its description; may cancel the test's token.</summary>
    public Action<string>? BeforeOperation { get; set; }

    public List<string> Operations { get; } = [];

    /// <summary>Awaited inside every mdev create (sysfs or libvirt) before the device is made, so a test can hold creates in flight.</summary>
    public Func<FakeType, CancellationToken, Task>? WhileCreating { get; set; }

    public Task WhileCreatingAsync(FakeType type, CancellationToken cancellationToken) =>
        WhileCreating?.Invoke(type, cancellationToken) ?? Task.CompletedTask;

    public MigrationHost ToHost() => new(Name, Hypervisor, FileSystem);

    public FakeParent AddParent(string address, string vendorId = "0x10de", bool oneTypeAtATime = false)
    {
        var pci = PciAddress.Parse(address);
        var parent = new FakeParent(DeviceName.Parse(pci.ToNodeDeviceName()), DeviceName.Parse(address), vendorId, oneTypeAtATime);
        Parents.Add(parent);
        return parent;
    }

    /// <summary>A virtual parent such as mtty: in sysfs under <c>class/mdev_bus</c>, but no libvirt node device.</summary>
    public FakeParent AddVirtualParent(string name)
    {
        var parent = new FakeParent(DeviceName.Parse(name), DeviceName.Parse(name), vendorId: "", oneTypeAtATime: false) { ListedByLibvirt = false };
        Parents.Add(parent);
        return parent;
    }

    public FakeMdev AddMdev(FakeType type, FakeVersion? version = null, MdevUuid? uuid = null)
    {
        var mdev = new FakeMdev(uuid ?? NextUuid(), type, version ?? type.DeviceVersion);
        Mdevs.Add(mdev);
        return mdev;
    }

    public FakePci AddPci(string address, string vendorId, string productId, string? migrationType = null, FakeVersion? version = null)
    {
        var pci = new FakePci(PciAddress.Parse(address), vendorId, productId, migrationType, version);
        Pcis.Add(pci);
        return pci;
    }

    /// <summary>An NVIDIA VF of <paramref name="gpu"/> (none: no <c>physfn</c> link) listed by libvirt, with a vGPU of type <paramref name="type"/> (0: none).</summary>
    public FakePci AddVf(FakeGpu? gpu, string address, uint type = 0, FakeVersion? version = null, string? creatable = null, string vendorId = "0x10de")
    {
        var pci = new FakePci(PciAddress.Parse(address), vendorId, "0x26b9", null, version) { Vf = new FakeVf(gpu) { Type = type, CreatableText = creatable } };
        gpu?.Vfs.Add(pci);
        Pcis.Add(pci);
        return pci;
    }

    /// <summary>Defines a guest owning <paramref name="devices"/> (rendered as libvirt XML, then read back by the real reader); returns its UUID, which no guest of another host has.</summary>
    public string DefineGuest(string name, params HostDevice[] devices) =>
        DefineGuest(name, string.Create(CultureInfo.InvariantCulture, $"{Name.GetHashCode(StringComparison.Ordinal) & 0x7fffffff:x8}-0000-4000-9000-{++_counter:x12}"), devices);

    /// <summary>Defines a guest with a given UUID (the same guest defined on two hosts); returns the UUID.</summary>
    public string DefineGuest(string name, string uuid, params HostDevice[] devices)
    {
        var xml = $"""
            <domain type='kvm'>
              <name>{name}</name>
              <uuid>{uuid}</uuid>
              <memory unit='KiB'>1048576</memory>
              <os><type arch='x86_64' machine='q35'>hvm</type></os>
              <devices>
            {string.Concat(devices.Select(Render))}  </devices>
            </domain>
            """;
        Domains.Add(DomainXmlReader.Read(xml));
        GuestXml[name] = xml;
        return uuid;
    }

    private static string Render(HostDevice device) => device switch
    {
        MdevHostDevice mdev => $"""
                <hostdev mode='subsystem' type='mdev' model='{mdev.Model}'>
                  <source><address uuid='{mdev.Uuid}'/></source>
                  <alias name='hostdev{mdev.Ordinal}'/>
                </hostdev>

            """,
        PciHostDevice pci => $"""
                <hostdev mode='subsystem' type='pci' managed='yes'>
                  <source><address domain='0x{pci.Address.Domain:x4}' bus='0x{pci.Address.Bus:x2}' slot='0x{pci.Address.Slot:x2}' function='0x{pci.Address.Function:x1}'/></source>
                  <alias name='hostdev{pci.Ordinal}'/>
                </hostdev>

            """,
        _ => """
                <hostdev mode='subsystem' type='usb'>
                  <source><vendor id='0x1234'/><product id='0xbeef'/></source>
                </hostdev>

            """,
    };

    public static MdevHostDevice MdevDevice(int ordinal, FakeMdev mdev) =>
        new(ordinal, $"hostdev{ordinal}", null, mdev.Uuid, mdev.Type.DeviceApi, null, null);

    public static PciHostDevice PciDevice(int ordinal, FakePci pci) =>
        new(ordinal, $"hostdev{ordinal}", null, pci.Address, Managed: true, "vfio", PciHostDeviceForm.Hostdev);

    public int Available(FakeType type)
    {
        lock (Gate)
        {
            var onParent = Mdevs.Where(m => m.Type.Parent == type.Parent).ToList();
            if (type.Parent.OneTypeAtATime && onParent.Any(m => m.Type != type))
            {
                return 0;
            }

            return type.Max - onParent.Count(m => m.Type == type);
        }
    }

    /// <summary>The kernel's create: EEXIST for a UUID in use, EUSERS when no instance is left.</summary>
    public Errno Create(FakeType type, MdevUuid uuid)
    {
        lock (Gate)
        {
            if (Mdevs.Any(m => m.Uuid == uuid))
            {
                return Errno.EEXIST;
            }

            if (Available(type) <= 0)
            {
                return Errno.EUSERS;
            }

            Mdevs.Add(new FakeMdev(uuid, type, type.DeviceVersion));
            return Errno.None;
        }
    }

    public Errno Remove(MdevUuid uuid)
    {
        lock (Gate)
        {
            return Mdevs.RemoveAll(m => m.Uuid == uuid) == 1 ? Errno.None : Errno.ENODEV;
        }
    }

    public FakeType? FindType(string parentSysfsName, string typeId)
    {
        lock (Gate)
        {
            return Parents.FirstOrDefault(p => p.SysfsName.Value == parentSysfsName)?.Types.FirstOrDefault(t => t.Id.Value == typeId);
        }
    }

    public FakeMdev? FindMdev(string uuid)
    {
        lock (Gate)
        {
            return Mdevs.FirstOrDefault(m => m.Uuid.Value == uuid);
        }
    }

    /// <summary>Everything a planner could leave behind: the mdevs and each type's capacity.</summary>
    public string Snapshot()
    {
        lock (Gate)
        {
            var mdevs = Mdevs.Select(m => $"mdev {m.Uuid} {m.Type.Parent.SysfsName}/{m.Type.Id}").Order(StringComparer.Ordinal);
            var types = Parents.SelectMany(p => p.Types).Select(t => $"type {t.Parent.SysfsName}/{t.Id} available {Available(t)}");
            return string.Join("\n", mdevs.Concat(types));
        }
    }

    public void Record(string operation)
    {
        BeforeOperation?.Invoke(operation);
        lock (Gate)
        {
            Operations.Add(operation);
        }
    }

    public IReadOnlyList<string> Writes()
    {
        lock (Gate)
        {
            return [.. Operations.Where(o => o.StartsWith("write ", StringComparison.Ordinal))];
        }
    }

    private MdevUuid NextUuid() =>
        MdevUuid.Parse(string.Create(CultureInfo.InvariantCulture, $"{Name.GetHashCode(StringComparison.Ordinal) & 0x7fffffff:x8}-0000-4000-8000-{++_counter:x12}"));
}
