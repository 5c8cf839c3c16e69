using VfioMigration.Planner;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Hypervisor;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.Bench;

/// <summary>One device of a guest on its source host: its mdev, type and the source's <c>migration_version</c>.</summary>
/// <param name="Uuid">The source mdev.</param>
/// <param name="Type">Its type.</param>
/// <param name="Version">Its <c>migration_version</c> as read (empty when it has none).</param>
public sealed record SourceMdev(MdevUuid Uuid, MdevTypeId Type, string Version)
{
    /// <summary>The guest's mdevs on <paramref name="source"/>, in device order.</summary>
    public static async Task<IReadOnlyList<SourceMdev>> ReadAsync(MigrationHost source, DomainSelector guest, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        var definition = await source.Hypervisor.GetDomainAsync(guest, cancellationToken).ConfigureAwait(false);
        var inventory = await source.Hypervisor.GetInventoryAsync(InventoryScope.Mdevs, cancellationToken).ConfigureAwait(false);
        var devices = new List<SourceMdev>();
        foreach (var device in definition.Devices.HostDevices.OfType<MdevHostDevice>())
        {
            var type = inventory.Mdevs.First(m => m.Uuid == device.Uuid).Type;
            var version = await source.FileSystem.ReadAsync(SysfsPath.MdevAttribute(device.Uuid, VersionCheck.Attribute), cancellationToken).ConfigureAwait(false);
            devices.Add(new SourceMdev(device.Uuid, type, version.Value?.TrimEnd('\n') ?? string.Empty));
        }

        return devices;
    }
}

/// <summary>A destination mdev a strategy placed a source device on.</summary>
/// <param name="Host">The destination.</param>
/// <param name="Target">The destination mdev.</param>
/// <param name="SourceVersion">The source device's <c>migration_version</c>.</param>
public sealed record Placement(MigrationHost Host, MdevUuid Target, string SourceVersion);

/// <summary>
/// What the destination's version check says when the migration reaches it: the source's
/// <c>migration_version</c> written into the target mdev's own attribute, as the vendor driver's
/// resume path checks it. A refusal there is a late failure: inside the migration stream, after the
/// guest's memory has been copied.
/// </summary>
public static class VersionCheck
{
    /// <summary>The version attribute.</summary>
    public const string Attribute = "migration_version";

    /// <summary>Counts the placements the check refuses, and those it cannot decide (no device-level attribute).</summary>
    public static async Task<(int Refused, int Undecided)> CountAsync(IEnumerable<Placement> placements, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(placements);
        var (refused, undecided) = (0, 0);
        foreach (var placement in placements)
        {
            var result = await placement.Host.FileSystem.WriteAsync(SysfsPath.MdevAttribute(placement.Target, Attribute), placement.SourceVersion, cancellationToken).ConfigureAwait(false);
            if (result.Error == Errno.ENOENT)
            {
                undecided++;
            }
            else if (!result.Succeeded)
            {
                refused++;
            }
        }

        return (refused, undecided);
    }

    /// <summary>The mdevs a complete plan maps its source mdevs to, with the source versions.</summary>
    public static IEnumerable<Placement> Of(MigrationPlan plan, IReadOnlyList<SourceMdev> source)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(source);
        var versions = source.ToDictionary(d => d.Uuid, d => d.Version);
        return plan.Devices
            .Where(d => d.Source.Uuid is not null && d.Target.Target is MdevTarget)
            .Select(d => new Placement(plan.Destination, ((MdevTarget)d.Target.Target).Uuid, versions[d.Source.Uuid!.Value]));
    }
}

/// <summary>The outcome of a type-only placement.</summary>
/// <param name="Placed">Every device given a target, in order.</param>
/// <param name="Devices">Devices of the guests in all.</param>
/// <param name="Created">The mdevs created for the placements, by host (kept until <see cref="TypeOnlyStrategy.ReleaseAsync"/>).</param>
public sealed record TypeOnlyOutcome(IReadOnlyList<Placement> Placed, int Devices, IReadOnlyList<(MigrationHost Host, MdevUuid Uuid)> Created);

/// <summary>
/// How OpenStack Nova and KubeVirt place a guest's mdevs: by type alone, first fit, no probe. Each
/// guest goes to the first destination that has, for every one of its devices, an idle mdev of the
/// type (in the destination's listing order) or a parent offering the type with an instance left
/// (created there through sysfs). The destinations' inventories are read before the clock starts
/// (Nova's placement service keeps them in its database). Not part of the library.
/// </summary>
public static class TypeOnlyStrategy
{
    /// <summary>Reads the inventory and the guests' devices of every destination, untimed, for <see cref="PlaceAsync"/>.</summary>
    public static async Task<IReadOnlyList<HostCapacity>> ReadCapacityAsync(IReadOnlyList<MigrationHost> destinations, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destinations);
        var capacities = new List<HostCapacity>();
        foreach (var host in destinations)
        {
            var inventory = await host.Hypervisor.GetInventoryAsync(InventoryScope.MdevParents | InventoryScope.Mdevs, cancellationToken).ConfigureAwait(false);
            var owners = DeviceOwners.FromDomains(await host.Hypervisor.ListDomainsAsync(cancellationToken).ConfigureAwait(false));
            capacities.Add(new HostCapacity(
                host,
                [.. inventory.Mdevs.Where(m => owners.OwnerOf(m.Uuid) is null).Select(m => (m.Uuid, m.Type))],
                [.. inventory.Parents.SelectMany(p => p.Types.Where(t => t.AvailableInstances > 0).Select(t => (p.SysfsName, t.Id, t.AvailableInstances)))]));
        }

        return capacities;
    }

    /// <summary>
    /// Places every guest's devices, first fit by type, then creates the mdevs the placement needs:
    /// the destinations in parallel, one creation after the other on each (as each host's mdevctl
    /// would). A creation the kernel refuses (the type's capacity went to another type on a
    /// one-type-at-a-time card) leaves that device unplaced.
    /// </summary>
    public static async Task<TypeOnlyOutcome> PlaceAsync(IReadOnlyList<IReadOnlyList<SourceMdev>> guests, IReadOnlyList<HostCapacity> destinations, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(guests);
        ArgumentNullException.ThrowIfNull(destinations);
        var picked = destinations.ToDictionary(d => d, _ => new List<(MdevUuid Target, (DeviceName Parent, MdevTypeId Type)? Slot, string Version)>());
        foreach (var guest in guests)
        {
            if (destinations.Select(d => (Destination: d, Picks: d.TryTake(guest))).FirstOrDefault(d => d.Picks is not null) is ({ } destination, { } picks))
            {
                picked[destination].AddRange(picks.Select((pick, i) => (pick.Idle ?? MdevUuid.NewRandom(), pick.Slot, guest[i].Version)));
            }
        }

        var perHost = await Task.WhenAll(picked.Select(async pair =>
        {
            var (placed, created) = (new List<Placement>(), new List<(MigrationHost, MdevUuid)>());
            foreach (var (target, slot, version) in pair.Value)
            {
                if (slot is var (parent, type))
                {
                    var create = await pair.Key.Host.FileSystem.WriteAsync(SysfsPath.TypeAttribute(parent, type, "create"), target.Value, cancellationToken).ConfigureAwait(false);
                    if (!create.Succeeded)
                    {
                        continue;
                    }

                    created.Add((pair.Key.Host, target));
                }

                placed.Add(new Placement(pair.Key.Host, target, version));
            }

            return (placed, created);
        })).ConfigureAwait(false);
        return new TypeOnlyOutcome([.. perHost.SelectMany(h => h.placed)], guests.Sum(g => g.Count), [.. perHost.SelectMany(h => h.created)]);
    }

    /// <summary>Removes the mdevs a placement created.</summary>
    public static async Task ReleaseAsync(TypeOnlyOutcome outcome)
    {
        ArgumentNullException.ThrowIfNull(outcome);
        foreach (var (host, uuid) in outcome.Created)
        {
            await host.FileSystem.WriteAsync(SysfsPath.MdevAttribute(uuid, "remove"), "1").ConfigureAwait(false);
        }
    }
}

/// <summary>A destination's free capacity as a type-only placer sees it: idle mdevs and creatable (parent, type) instances.</summary>
public sealed class HostCapacity
{
    private readonly List<(MdevUuid Uuid, MdevTypeId Type)> _idle;
    private readonly List<(DeviceName Parent, MdevTypeId Type, int Available)> _slots;

    /// <summary>The capacity of <paramref name="host"/>.</summary>
    public HostCapacity(MigrationHost host, IEnumerable<(MdevUuid Uuid, MdevTypeId Type)> idle, IEnumerable<(DeviceName Parent, MdevTypeId Type, int Available)> slots)
    {
        Host = host;
        _idle = [.. idle];
        _slots = [.. slots];
    }

    /// <summary>The destination.</summary>
    public MigrationHost Host { get; }

    /// <summary>
    /// Takes a target for every device of <paramref name="guest"/> (an idle mdev, or a slot to create
    /// on), all or nothing; null when some device's type has nothing left here.
    /// </summary>
    public IReadOnlyList<(MdevUuid? Idle, (DeviceName Parent, MdevTypeId Type)? Slot)>? TryTake(IReadOnlyList<SourceMdev> guest)
    {
        ArgumentNullException.ThrowIfNull(guest);
        var idle = new List<(MdevUuid, MdevTypeId)>(_idle);
        var slots = new List<(DeviceName Parent, MdevTypeId Type, int Available)>(_slots);
        var picks = new List<(MdevUuid?, (DeviceName, MdevTypeId)?)>();
        foreach (var device in guest)
        {
            var mdev = idle.FindIndex(m => m.Item2 == device.Type);
            if (mdev >= 0)
            {
                picks.Add((idle[mdev].Item1, null));
                idle.RemoveAt(mdev);
                continue;
            }

            var slot = slots.FindIndex(s => s.Type == device.Type && s.Available > 0);
            if (slot < 0)
            {
                return null;
            }

            picks.Add((null, (slots[slot].Parent, device.Type)));
            slots[slot] = slots[slot] with { Available = slots[slot].Available - 1 };
        }

        _idle.Clear();
        _idle.AddRange(idle);
        _slots.Clear();
        _slots.AddRange(slots);
        return picks;
    }
}
