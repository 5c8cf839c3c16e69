using VfioMigration.Planner;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Hypervisor;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.Bench;

/// <summary>The outcome of one exhaustive plan.</summary>
/// <param name="Devices">How many host devices the guest has.</param>
/// <param name="Mapped">How many of them got a verified target.</param>
/// <param name="Created">The mdevs created for the mapping (kept until <see cref="ExhaustiveStrategy.ReleaseAsync"/>).</param>
public sealed record ExhaustiveOutcome(int Devices, int Mapped, IReadOnlyList<MdevUuid> Created);

/// <summary>
/// The baseline the design discussion feared: userspace that cannot rule anything out without
/// asking the driver. For each source (type, version) it probes every idle mdev of that type and
/// every parent offering the type; where a parent has no type-level attribute it creates an mdev,
/// probes it and removes it. Only then does it pick targets. It uses the same host interfaces as
/// the planner, so the simulators count both the same way. Not part of the library.
/// </summary>
public static class ExhaustiveStrategy
{
    private const string VersionAttribute = "migration_version";

    /// <summary>Plans <paramref name="guest"/> of <paramref name="source"/> onto <paramref name="destination"/> exhaustively.</summary>
    public static async Task<ExhaustiveOutcome> PlanAsync(MigrationHost source, DomainSelector guest, MigrationHost destination, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(destination);
        var definition = await source.Hypervisor.GetDomainAsync(guest, cancellationToken).ConfigureAwait(false);
        var sourceInventory = await source.Hypervisor.GetInventoryAsync(InventoryScope.Mdevs, cancellationToken).ConfigureAwait(false);
        var devices = new List<(MdevTypeId Type, string Version)>();
        foreach (var device in definition.Devices.HostDevices.OfType<MdevHostDevice>())
        {
            var type = sourceInventory.Mdevs.First(m => m.Uuid == device.Uuid).Type;
            var version = await source.FileSystem.ReadAsync(SysfsPath.MdevAttribute(device.Uuid, VersionAttribute), cancellationToken).ConfigureAwait(false);
            devices.Add((type, version.Value?.TrimEnd('\n') ?? string.Empty));
        }

        var inventory = await destination.Hypervisor.GetInventoryAsync(InventoryScope.All, cancellationToken).ConfigureAwait(false);
        var owners = DeviceOwners.FromDomains(await destination.Hypervisor.ListDomainsAsync(cancellationToken).ConfigureAwait(false));
        var accepted = new Dictionary<(MdevTypeId, string), (List<MdevUuid> Idle, List<(DeviceName Parent, int Available)> Parents)>();
        foreach (var key in devices.Distinct())
        {
            accepted[key] = await ProbeEverythingAsync(destination, inventory, owners, key.Type, key.Version, cancellationToken).ConfigureAwait(false);
        }

        var created = new List<MdevUuid>();
        var taken = new HashSet<MdevUuid>();
        var used = new Dictionary<(DeviceName, MdevTypeId), int>();
        var mapped = 0;
        foreach (var (type, version) in devices)
        {
            var (idle, parents) = accepted[(type, version)];
            if (idle.FirstOrDefault(u => !taken.Contains(u)) is { Value: not null } reuse)
            {
                taken.Add(reuse);
                mapped++;
                continue;
            }

            foreach (var (parent, available) in parents)
            {
                if (used.GetValueOrDefault((parent, type)) >= available)
                {
                    continue;
                }

                var uuid = MdevUuid.NewRandom();
                if ((await destination.FileSystem.WriteAsync(SysfsPath.TypeAttribute(parent, type, "create"), uuid.Value, cancellationToken).ConfigureAwait(false)).Succeeded)
                {
                    used[(parent, type)] = used.GetValueOrDefault((parent, type)) + 1;
                    created.Add(uuid);
                    mapped++;
                    break;
                }
            }
        }

        return new ExhaustiveOutcome(devices.Count, mapped, created);
    }

    /// <summary>Removes the mdevs an exhaustive plan created.</summary>
    public static async Task ReleaseAsync(MigrationHost destination, ExhaustiveOutcome outcome)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(outcome);
        foreach (var uuid in outcome.Created)
        {
            await destination.FileSystem.WriteAsync(SysfsPath.MdevAttribute(uuid, "remove"), "1").ConfigureAwait(false);
        }
    }

    private static async Task<(List<MdevUuid> Idle, List<(DeviceName Parent, int Available)> Parents)> ProbeEverythingAsync(
        MigrationHost destination, HostInventory inventory, DeviceOwners owners, MdevTypeId type, string version, CancellationToken cancellationToken)
    {
        var sysfs = destination.FileSystem;
        var idle = new List<MdevUuid>();
        foreach (var mdev in inventory.Mdevs.Where(m => m.Type == type && owners.OwnerOf(m.Uuid) is null))
        {
            if ((await sysfs.WriteAsync(SysfsPath.MdevAttribute(mdev.Uuid, VersionAttribute), version, cancellationToken).ConfigureAwait(false)).Succeeded)
            {
                idle.Add(mdev.Uuid);
            }
        }

        var parents = new List<(DeviceName, int)>();
        foreach (var parent in inventory.Parents)
        {
            if (parent.Types.FirstOrDefault(t => t.Id == type) is not { AvailableInstances: > 0 } offered)
            {
                continue;
            }

            var typeLevel = await sysfs.WriteAsync(SysfsPath.TypeAttribute(parent.SysfsName, type, VersionAttribute), version, cancellationToken).ConfigureAwait(false);
            var accepts = typeLevel.Error == Errno.ENOENT
                ? await CreateProbeRemoveAsync(sysfs, parent.SysfsName, type, version, cancellationToken).ConfigureAwait(false)
                : typeLevel.Succeeded;
            if (accepts)
            {
                parents.Add((parent.SysfsName, offered.AvailableInstances));
            }
        }

        return (idle, parents);
    }

    /// <summary>No type-level attribute: the only way to ask is to make a device and ask it.</summary>
    private static async Task<bool> CreateProbeRemoveAsync(IHostFileSystem sysfs, DeviceName parent, MdevTypeId type, string version, CancellationToken cancellationToken)
    {
        var uuid = MdevUuid.NewRandom();
        if (!(await sysfs.WriteAsync(SysfsPath.TypeAttribute(parent, type, "create"), uuid.Value, cancellationToken).ConfigureAwait(false)).Succeeded)
        {
            return false;
        }

        var probe = await sysfs.WriteAsync(SysfsPath.MdevAttribute(uuid, VersionAttribute), version, cancellationToken).ConfigureAwait(false);
        await sysfs.WriteAsync(SysfsPath.MdevAttribute(uuid, "remove"), "1", cancellationToken).ConfigureAwait(false);
        return probe.Succeeded;
    }
}
