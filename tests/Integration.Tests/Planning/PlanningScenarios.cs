using VfioMigration.HostSimulator.Scenarios;

namespace VfioMigration.Integration.Tests.Planning;

/// <summary>
/// The simulated hosts of the end-to-end planning tests, built in code so each test states only
/// what differs. The source runs two guests: <see cref="SingleGuest"/> with one NVIDIA-like vGPU,
/// and <see cref="MultiGuest"/> with two vGPUs and an mlx5 VF.
/// </summary>
internal static class PlanningScenarios
{
    public const string SingleGuest = "single";
    public const string MultiGuest = "multi";

    public const string VgpuType = "nvidia-222";
    public const string OtherVgpuType = "nvidia-230";
    public const string SourceVersion = "nvidia-535.129.03";
    public const string SourceFirmware = "mlx5-fw-22.36.1010";
    public const string VfMigrationType = "vfio-pci:mlx5";

    public const string SourceParent = "0000:3b:00.0";
    public const string SingleMdev = "5a000000-0000-4000-8000-000000000001";
    public const string MultiMdev1 = "5a000000-0000-4000-8000-000000000002";
    public const string MultiMdev2 = "5a000000-0000-4000-8000-000000000003";
    public const string SourceVf = "0000:d8:00.2";

    public const string ParentA = "0000:5e:00.0";
    public const string ParentB = "0000:af:00.0";
    public const string ParentOtherType = "0000:86:00.0";
    public const string IdleMdev = "d0000000-0000-4000-8000-0000000000a1";
    public const string IdleOtherTypeMdev = "d0000000-0000-4000-8000-0000000000a2";
    public const string DestinationVf = "0000:af:00.2";
    public const string DestinationOtherVf = "0000:af:00.3";

    public const string SerialGuest = "serial";
    public const string Mtty = "mtty";
    public const string MttyType = "mtty-2";
    public const string SerialMdev1 = "8e3b5a10-6c1d-4f2e-9a7b-00000000c001";
    public const string SerialMdev2 = "8e3b5a10-6c1d-4f2e-9a7b-00000000c002";
    public const string IdleMttyMdev = "d0000000-0000-4000-8000-0000000000b1";

    /// <summary>An mtty whose types have a <c>migration_version</c> (the kernel's sample has none), so plans onto it verify.</summary>
    public static readonly MigrationSpec MttyMigration = new() { Version = "mtty-v1" };

    /// <summary>A 535 driver: accepts any 535.x source.</summary>
    public static readonly MigrationSpec Accepts535 = new()
    {
        Version = "nvidia-535.154.05",
        Accepts = new AcceptSpec { Range = new VersionRangeSpec { Prefix = "nvidia-", Min = "535.0", Max = "535.999" } },
    };

    /// <summary>A 550 driver: refuses 535 sources with EINVAL.</summary>
    public static readonly MigrationSpec Accepts550Only = new()
    {
        Version = "nvidia-550.54.14",
        Accepts = new AcceptSpec { Range = new VersionRangeSpec { Prefix = "nvidia-", Min = "550.0", Max = "550.999" } },
    };

    /// <summary>Firmware that accepts the source VF's.</summary>
    public static readonly MigrationSpec CompatibleFirmware = new()
    {
        Version = "mlx5-fw-22.39.1002",
        Accepts = new AcceptSpec { Prefix = "mlx5-fw-22." },
    };

    /// <summary>Firmware that refuses the source VF's with ENODEV.</summary>
    public static readonly MigrationSpec IncompatibleFirmware = new()
    {
        Version = "mlx5-fw-28.39.1002",
        RejectErrno = "ENODEV",
    };

    /// <summary>The source host: one NVIDIA-like GPU with three vGPUs and an mlx5 VF, two running guests.</summary>
    public static Scenario Source() => new()
    {
        Version = 1,
        Name = "e2e-source",
        Parents = [NvidiaParent(SourceParent, new MigrationSpec { Version = SourceVersion }, 16, VgpuType)],
        Mdevs = [Mdev(SingleMdev, SourceParent, VgpuType), Mdev(MultiMdev1, SourceParent, VgpuType), Mdev(MultiMdev2, SourceParent, VgpuType)],
        PciDevices = [Vf(SourceVf, VfMigrationType, new MigrationSpec { Version = SourceFirmware })],
        Guests =
        [
            new GuestSpec { Name = SingleGuest, Uuid = "9e000000-0000-4000-8000-000000000001", Running = true, Hostdevs = [new HostdevSpec { Mdev = SingleMdev, Alias = "ua-vgpu0" }] },
            new GuestSpec
            {
                Name = MultiGuest,
                Uuid = "9e000000-0000-4000-8000-000000000002",
                Running = true,
                Hostdevs =
                [
                    new HostdevSpec { Mdev = MultiMdev1, Alias = "ua-vgpu0" },
                    new HostdevSpec { Mdev = MultiMdev2, Alias = "ua-vgpu1" },
                    new HostdevSpec { Pci = SourceVf, Alias = "ua-vf0" },
                ],
            },
        ],
    };

    /// <summary>A source host with the kernel's mtty (a virtual parent, which libvirt lists no node device for) and guest <see cref="SerialGuest"/> owning two mtty-2 mdevs.</summary>
    public static Scenario MttySource() => new()
    {
        Version = 1,
        Name = "e2e-mtty-source",
        Parents = [MttyParent(MttyMigration)],
        Mdevs = [Mdev(SerialMdev1, Mtty, MttyType), Mdev(SerialMdev2, Mtty, MttyType)],
        Guests = [new GuestSpec { Name = SerialGuest, Uuid = "4b2e7c90-5555-4a6b-8c9d-00000000e001", Running = true, Hostdevs = [new HostdevSpec { Mdev = SerialMdev1, Alias = "ua-serial0" }, new HostdevSpec { Mdev = SerialMdev2, Alias = "ua-serial1" }] }],
    };

    /// <summary>The kernel's mtty sample as examples/scenarios/mtty.json has it: types mtty-1 and mtty-2 sharing 24 ports, ENOSPC when they are gone.</summary>
    public static ParentSpec MttyParent(MigrationSpec? migration) => new()
    {
        Name = Mtty,
        Capacity = CapacityMode.SharedPool,
        PoolSize = 24,
        ExhaustionErrno = "ENOSPC",
        Migration = migration,
        Types =
        [
            new MdevTypeSpec { Id = "mtty-1", Name = "Single port serial", DeviceApi = "vfio-pci", PoolUnits = 1 },
            new MdevTypeSpec { Id = MttyType, Name = "Dual port serial", DeviceApi = "vfio-pci", PoolUnits = 2 },
        ],
    };

    /// <summary>A destination host with the given parts.</summary>
    public static Scenario Destination(
        IReadOnlyList<ParentSpec> parents,
        IReadOnlyList<MdevSpec>? mdevs = null,
        IReadOnlyList<PciDeviceSpec>? pciDevices = null,
        IReadOnlyList<FaultSpec>? faults = null) => new()
    {
        Version = 1,
        Name = "e2e-destination",
        Parents = parents,
        Mdevs = mdevs ?? [],
        PciDevices = pciDevices ?? [],
        Faults = faults ?? [],
    };

    /// <summary>An NVIDIA-like parent with per-type capacity; <paramref name="migration"/> null means no <c>migration_version</c> at all.</summary>
    public static ParentSpec NvidiaParent(string address, MigrationSpec? migration, int maxInstances, params string[] types) => new()
    {
        Address = address,
        VendorId = "0x10de",
        ProductId = "0x1eb8",
        Driver = "nvidia",
        Migration = migration,
        Types = [.. types.Select(type => new MdevTypeSpec { Id = type, Name = $"GRID {type}", DeviceApi = "vfio-pci", MaxInstances = maxInstances })],
    };

    public static MdevSpec Mdev(string uuid, string parent, string type, MigrationSpec? migration = null) =>
        new() { Uuid = uuid, Parent = parent, Type = type, Migration = migration };

    public static PciDeviceSpec Vf(string address, string migrationType, MigrationSpec? migration) =>
        new() { Address = address, VendorId = "0x15b3", ProductId = "0x101e", Driver = "vfio-pci", MigrationType = migrationType, Migration = migration };

    /// <summary>libvirt's node device name of a PCI parent: <c>0000:5e:00.0</c> is <c>pci_0000_5e_00_0</c>.</summary>
    public static string NodeDeviceName(string pciAddress) => "pci_" + pciAddress.Replace(':', '_').Replace('.', '_');
}
