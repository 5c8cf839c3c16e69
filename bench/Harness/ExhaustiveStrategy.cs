using System.Globalization;
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
    /// <summary>Plans <paramref name="guest"/> of <paramref name="source"/> onto <paramref name="destination"/> exhaustively.</summary>
    public static async Task<ExhaustiveOutcome> PlanAsync(MigrationHost source, DomainSelector guest, MigrationHost destination, CancellationToken cancellationToken = default)
    {
        var (devices, candidates) = await ReadCandidatesAsync(source, guest, destination, cancellationToken).ConfigureAwait(false);
        var accepted = new Dictionary<(MdevTypeId, string), (List<MdevUuid> Idle, List<(DeviceName Parent, int Available)> Parents)>();
        foreach (var (key, ofKey) in candidates)
        {
            accepted[key] = await ProbeEverythingAsync(destination.FileSystem, ofKey, key.Type, key.Version, cancellationToken).ConfigureAwait(false);
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

    /// <summary>
    /// How many candidates an exhaustive search has to ask about for <paramref name="guest"/> on
    /// <paramref name="destination"/>: per distinct source (type, version), the idle mdevs of the
    /// type plus the parents offering it with room. It probes each once, so this is its probe count
    /// (on a parent with no type-level attribute, one create-probe-remove).
    /// </summary>
    public static async Task<int> CountCandidatesAsync(MigrationHost source, DomainSelector guest, MigrationHost destination, CancellationToken cancellationToken = default)
    {
        var (_, candidates) = await ReadCandidatesAsync(source, guest, destination, cancellationToken).ConfigureAwait(false);
        return candidates.Values.Sum(c => c.Idle.Count + c.Parents.Count);
    }

    /// <summary>The guest's devices as (type, version) in device order, and the destination's candidates for each distinct one.</summary>
    private static async Task<(List<(MdevTypeId Type, string Version)> Devices, Dictionary<(MdevTypeId Type, string Version), Candidates> Candidates)> ReadCandidatesAsync(
        MigrationHost source, DomainSelector guest, MigrationHost destination, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(destination);
        var devices = (await SourceMdev.ReadAsync(source, guest, cancellationToken).ConfigureAwait(false)).Select(d => (d.Type, d.Version)).ToList();

        var inventory = await destination.Hypervisor.GetInventoryAsync(InventoryScope.All, cancellationToken).ConfigureAwait(false);
        var owners = DeviceOwners.FromDomains(await destination.Hypervisor.ListDomainsAsync(cancellationToken).ConfigureAwait(false));
        var unlisted = await UnlistedParentsAsync(destination.FileSystem, inventory, cancellationToken).ConfigureAwait(false);
        var candidates = new Dictionary<(MdevTypeId Type, string Version), Candidates>();
        foreach (var key in devices.Distinct())
        {
            var idle = inventory.Mdevs.Where(m => m.Type == key.Type).Select(m => m.Uuid).ToList();
            var parents = inventory.Parents
                .Select(p => (p.SysfsName, Offered: p.Types.FirstOrDefault(t => t.Id == key.Type)))
                .Where(p => p.Offered is { AvailableInstances: > 0 })
                .Select(p => (p.SysfsName, p.Offered!.AvailableInstances))
                .ToList();
            foreach (var parent in unlisted)
            {
                var (available, mdevs) = await ReadTypeAsync(destination.FileSystem, parent, key.Type, cancellationToken).ConfigureAwait(false);
                idle.AddRange(mdevs);
                if (available > 0)
                {
                    parents.Add((parent, available));
                }
            }

            candidates[key] = new Candidates([.. idle.Distinct().Where(uuid => owners.OwnerOf(uuid) is null)], parents);
        }

        return (devices, candidates);
    }

    /// <summary>
    /// The parents under <c>class/mdev_bus</c> that libvirt does not list (a virtual parent such as
    /// migref or mtty has no node device): a search that asks everything has to look there too.
    /// </summary>
    private static async Task<IReadOnlyList<DeviceName>> UnlistedParentsAsync(IHostFileSystem sysfs, HostInventory inventory, CancellationToken cancellationToken)
    {
        var listed = inventory.Parents.Select(p => p.SysfsName).ToHashSet();
        var names = await sysfs.ListAsync(SysfsPath.MdevBus, cancellationToken).ConfigureAwait(false);
        return [.. (names.Value ?? [])
            .Select(name => DeviceName.TryParse(name, out var parent) ? parent : (DeviceName?)null)
            .OfType<DeviceName>()
            .Where(parent => !listed.Contains(parent))
            .OrderBy(parent => parent.Value, StringComparer.Ordinal)];
    }

    /// <summary>A type's <c>available_instances</c> on a parent libvirt does not list, and its mdevs (0 and none when the parent lacks the type).</summary>
    private static async Task<(int Available, IReadOnlyList<MdevUuid> Mdevs)> ReadTypeAsync(IHostFileSystem sysfs, DeviceName parent, MdevTypeId type, CancellationToken cancellationToken)
    {
        var available = await sysfs.ReadAsync(SysfsPath.TypeAttribute(parent, type, "available_instances"), cancellationToken).ConfigureAwait(false);
        var listing = await sysfs.ListAsync(SysfsPath.Type(parent, type).Append("devices"), cancellationToken).ConfigureAwait(false);
        var count = int.TryParse(available.Value?.TrimEnd('\n'), NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) ? parsed : 0;
        return (count, [.. (listing.Value ?? []).Select(name => MdevUuid.TryParse(name, out var uuid) ? uuid : (MdevUuid?)null).OfType<MdevUuid>().OrderBy(uuid => uuid.Value, StringComparer.Ordinal)]);
    }

    private static async Task<(List<MdevUuid> Idle, List<(DeviceName Parent, int Available)> Parents)> ProbeEverythingAsync(
        IHostFileSystem sysfs, Candidates candidates, MdevTypeId type, string version, CancellationToken cancellationToken)
    {
        var idle = new List<MdevUuid>();
        foreach (var uuid in candidates.Idle)
        {
            if ((await sysfs.WriteAsync(SysfsPath.MdevAttribute(uuid, VersionCheck.Attribute), version, cancellationToken).ConfigureAwait(false)).Succeeded)
            {
                idle.Add(uuid);
            }
        }

        var parents = new List<(DeviceName, int)>();
        foreach (var (parent, available) in candidates.Parents)
        {
            var typeLevel = await sysfs.WriteAsync(SysfsPath.TypeAttribute(parent, type, VersionCheck.Attribute), version, cancellationToken).ConfigureAwait(false);
            var accepts = typeLevel.Error == Errno.ENOENT
                ? await CreateProbeRemoveAsync(sysfs, parent, type, version, cancellationToken).ConfigureAwait(false)
                : typeLevel.Succeeded;
            if (accepts)
            {
                parents.Add((parent, available));
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

        var probe = await sysfs.WriteAsync(SysfsPath.MdevAttribute(uuid, VersionCheck.Attribute), version, cancellationToken).ConfigureAwait(false);
        await sysfs.WriteAsync(SysfsPath.MdevAttribute(uuid, "remove"), "1", cancellationToken).ConfigureAwait(false);
        return probe.Succeeded;
    }

    /// <summary>What an exhaustive search asks about for one (type, version): idle mdevs of the type, and parents offering it with room (and how much).</summary>
    private sealed record Candidates(IReadOnlyList<MdevUuid> Idle, IReadOnlyList<(DeviceName Parent, int Available)> Parents);
}
