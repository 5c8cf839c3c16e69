using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Hypervisor;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.Planner.Planning;

/// <summary>A source device with everything the planner needs to find it a target.</summary>
/// <param name="Device">The device as the guest's XML has it.</param>
/// <param name="Info">Its public description.</param>
/// <param name="MdevType">The mdev type (mdevs whose type is known).</param>
/// <param name="VendorId">The PCI vendor of the device (PCI) or of its parent (mdevs), when known: the namespace hybrid candidates must share.</param>
/// <param name="ProductId">The PCI product id (PCI functions), when known.</param>
/// <param name="PciMigrationType">The checked <c>vfio_migration_type</c> (PCI functions that have one).</param>
/// <param name="Version">The device's opaque version, or why there is none.</param>
/// <param name="Problem">Why the device cannot be planned at all (unsupported kind, unknown type); null when it can.</param>
internal sealed record SourceDevice(HostDevice Device, SourceDeviceInfo Info, MdevTypeId? MdevType, string? VendorId, string? ProductId, string? PciMigrationType, SourceVersion Version, Rejection? Problem)
{
    /// <summary>The vGPU of a VF vGPU source (docs/nvidia-vf.md); null for every other kind.</summary>
    public VfState? Vgpu { get; init; }
}

/// <summary>The guest as read from the source host.</summary>
internal sealed record SourceFacts(GuestDefinition Guest, IReadOnlyList<SourceDevice> Devices, PlanCounters Cost)
{
    /// <summary>What the preflight knows of the source host (read once for every destination).</summary>
    public HostFacts Host { get; init; } = new(string.Empty, null, null);
}

/// <summary>Reads the guest's definition, its devices' types and their opaque versions from the source host.</summary>
internal static class SourceReader
{
    private const string MigrationVersion = "migration_version";
    private const string PciMigrationVersion = "vfio_migration_version";
    private const string PciMigrationType = "vfio_migration_type";

    public static async Task<SourceFacts> ReadAsync(MigrationHost source, DomainSelector guest, CancellationToken cancellationToken)
    {
        var cost = new PlanCounters();
        cost.HypervisorCall();
        var definition = await source.Hypervisor.GetDomainAsync(guest, cancellationToken).ConfigureAwait(false);
        var devices = await DescribeAsync(source, definition.Devices.HostDevices, cost, cancellationToken).ConfigureAwait(false);
        return new SourceFacts(definition, devices, cost);
    }

    /// <summary>Reads the types and versions of <paramref name="hostDevices"/> on <paramref name="source"/>.</summary>
    public static async Task<IReadOnlyList<SourceDevice>> DescribeAsync(MigrationHost source, IReadOnlyList<HostDevice> hostDevices, PlanCounters cost, CancellationToken cancellationToken)
    {
        // Only the kinds the guest has: every other node device is one more XML call.
        var scope = (hostDevices.Any(d => d is MdevHostDevice) ? InventoryScope.MdevParents | InventoryScope.Mdevs : 0)
            | (hostDevices.Any(d => d is PciHostDevice) ? InventoryScope.PciDevices : 0);
        var inventory = new HostInventory([], [], []);
        if (scope != 0)
        {
            cost.HypervisorCall();
            inventory = await source.Hypervisor.GetInventoryAsync(scope, cancellationToken).ConfigureAwait(false);
        }

        // Every attribute the devices need, in one batch: a remote sysfs answers it in one round trip.
        var paths = new List<SysfsPath>();
        foreach (var device in hostDevices)
        {
            switch (device)
            {
                case MdevHostDevice mdev:
                    paths.Add(SysfsPath.MdevAttribute(mdev.Uuid, MigrationVersion));
                    break;
                case PciHostDevice pci:
                    paths.Add(SysfsPath.PciAttribute(pci.Address, PciMigrationType));
                    paths.Add(SysfsPath.PciAttribute(pci.Address, PciMigrationVersion));
                    break;
            }
        }

        var roundTrips = source.FileSystem.RoundTrips;
        var versionReads = paths.Count == 0 ? Task.FromResult<IReadOnlyList<SysfsResult<string>>>([]) : source.FileSystem.ReadManyAsync(paths, cancellationToken).AsTask();

        // A PCI function with NVIDIA's vGPU interface and a type set is a VF vGPU (docs/nvidia-vf.md).
        // Read at the same time as the versions: a remote sysfs sends both in one round trip.
        var vfReads = new NvidiaSysfsVfControl(source.FileSystem, cost)
            .ReadAsync([.. hostDevices.OfType<PciHostDevice>().Select(p => p.Address)], cancellationToken);
        await Task.WhenAll(versionReads, vfReads).ConfigureAwait(false);
        cost.SysfsReads(paths.Count);
        var answers = paths.Zip(versionReads.Result).ToDictionary(pair => pair.First, pair => pair.Second);
        var vfs = vfReads.Result.Where(vf => vf.Current != 0).ToDictionary(vf => vf.Vf);

        var devices = new List<SourceDevice>(hostDevices.Count);
        foreach (var device in hostDevices)
        {
            devices.Add(device switch
            {
                MdevHostDevice mdev => await DescribeMdevAsync(source, mdev, inventory, answers, cost, cancellationToken).ConfigureAwait(false),
                PciHostDevice pci when vfs.TryGetValue(pci.Address, out var vf) => DescribeVf(pci, vf, answers),
                PciHostDevice pci => DescribePci(pci, inventory, answers),
                UnsupportedHostDevice other => Unsupported(other, other.Kind, other.Reason),
                _ => Unsupported(device, device.GetType().Name, "the planner does not know this kind of host device"),
            });
        }

        cost.SourceRoundTrips(source.FileSystem.RoundTrips - roundTrips);
        return devices;
    }

    private static async Task<SourceDevice> DescribeMdevAsync(
        MigrationHost source,
        MdevHostDevice mdev,
        HostInventory inventory,
        Dictionary<SysfsPath, SysfsResult<string>> answers,
        PlanCounters cost,
        CancellationToken cancellationToken)
    {
        var known = inventory.Mdevs.FirstOrDefault(m => m.Uuid == mdev.Uuid);
        var type = known?.Type;
        if (type is null)
        {
            // libvirt did not list it (its node-device cache can lag): the kernel's link names the type.
            var link = await source.FileSystem.ReadLinkAsync(SysfsPath.MdevAttribute(mdev.Uuid, "mdev_type"), cancellationToken).ConfigureAwait(false);
            cost.SysfsReads(1);
            if (link.Succeeded && MdevTypeId.TryParse(link.Value?[(link.Value.LastIndexOf('/') + 1)..], out var linked))
            {
                type = linked;
            }
        }

        var parent = known?.Parent is { } parentName ? inventory.Parents.FirstOrDefault(p => p.Name == parentName) : null;
        var deviceApi = parent?.Types.FirstOrDefault(t => t.Id == type)?.DeviceApi ?? mdev.Model;
        var info = new SourceDeviceInfo(SourceDeviceKind.Mdev, mdev.Ordinal, mdev.Alias, mdev.Uuid, null, type?.Value ?? "unknown", deviceApi, known?.Parent?.Value);
        var version = VersionText.FromRead(answers[SysfsPath.MdevAttribute(mdev.Uuid, MigrationVersion)], SysfsPath.MdevAttribute(mdev.Uuid, MigrationVersion));
        var problem = type is null
            ? new Rejection(info.Id, null, RejectionCode.NotMigratable, $"The source mdev {mdev.Uuid} is neither among the source host's node devices nor in its sysfs, so its type is unknown.")
            : null;
        return new SourceDevice(mdev, info, type, parent?.VendorId, null, null, version, problem);
    }

    private static SourceDevice DescribePci(PciHostDevice pci, HostInventory inventory, Dictionary<SysfsPath, SysfsResult<string>> answers)
    {
        var known = inventory.PciDevices.FirstOrDefault(d => d.Address == pci.Address);
        var typeRead = VersionText.FromRead(answers[SysfsPath.PciAttribute(pci.Address, PciMigrationType)], SysfsPath.PciAttribute(pci.Address, PciMigrationType));
        var migrationType = typeRead.State == VersionState.Present ? typeRead.Value : null;
        var type = migrationType ?? PciIdsType(known?.VendorId, known?.ProductId);
        var info = new SourceDeviceInfo(SourceDeviceKind.Pci, pci.Ordinal, pci.Alias, null, pci.Address, type, "vfio-pci", null);
        var version = VersionText.FromRead(answers[SysfsPath.PciAttribute(pci.Address, PciMigrationVersion)], SysfsPath.PciAttribute(pci.Address, PciMigrationVersion));
        var problem = migrationType is null && (known?.VendorId is null || known.ProductId is null)
            ? new Rejection(info.Id, null, RejectionCode.NotMigratable, $"The source PCI function {pci.Address} has no vfio_migration_type and the source host does not list its vendor and device ids, so there is no type to match.")
            : null;
        return new SourceDevice(pci, info, null, known?.VendorId, known?.ProductId, migrationType, version, problem);
    }

    private static SourceDevice DescribeVf(PciHostDevice pci, VfState vf, Dictionary<SysfsPath, SysfsResult<string>> answers)
    {
        var type = vf.CurrentType!;
        var info = new SourceDeviceInfo(SourceDeviceKind.VfVgpu, pci.Ordinal, pci.Alias, null, pci.Address, type.Display, "vfio-pci", vf.Pf?.ToString());
        var version = VersionText.FromRead(answers[SysfsPath.PciAttribute(pci.Address, PciMigrationVersion)], SysfsPath.PciAttribute(pci.Address, PciMigrationVersion));
        return new SourceDevice(pci, info, null, NvidiaSysfsVfControl.VendorId, null, null, version, null) { Vgpu = vf };
    }

    private static SourceDevice Unsupported(HostDevice device, string kind, string reason)
    {
        var info = new SourceDeviceInfo(SourceDeviceKind.Unsupported, device.Ordinal, device.Alias, null, null, kind, null, null);
        return new SourceDevice(device, info, null, null, null, null, SourceVersion.Absent(reason), new Rejection(info.Id, null, RejectionCode.UnsupportedDevice, $"The guest's {kind} (hostdev #{device.Ordinal}) cannot be planned: {reason}."));
    }

    /// <summary>The type key of a PCI function without a migration type: its vendor and device ids.</summary>
    public static string PciIdsType(string? vendorId, string? productId) => $"{vendorId ?? "?"}:{productId ?? "?"}";
}
