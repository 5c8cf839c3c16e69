using VfioMigration.HostSimulator;

namespace VfioMigration.Bench;

/// <summary>
/// What a strategy did to destination hosts, counted from the simulators' own operation logs and
/// libvirt connections, so the planner and the exhaustive baseline are counted the same way.
/// </summary>
/// <param name="Probes">Writes of a version attribute (each one runs vendor driver code).</param>
/// <param name="Creates">Successful writes of a type's <c>create</c>.</param>
/// <param name="Removes">Successful writes of an mdev's <c>remove</c>.</param>
/// <param name="LibvirtCalls">libvirt API calls on the destination connections.</param>
/// <param name="ProbeBound">At most one probe per distinct (parent, type, source version) probed, plus one per device of the guest.</param>
/// <param name="WastedCreates">mdevs created on a parent with a type-level attribute that no longer exist after the run (created, then removed).</param>
public sealed record OperationCounts(int Probes, int Creates, int Removes, long LibvirtCalls, int ProbeBound, int WastedCreates)
{
    /// <summary>No operations.</summary>
    public static OperationCounts Zero { get; } = new(0, 0, 0, 0, 0, 0);

    /// <summary>The sum of two counts.</summary>
    public OperationCounts Add(OperationCounts other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return new(Probes + other.Probes, Creates + other.Creates, Removes + other.Removes, LibvirtCalls + other.LibvirtCalls, ProbeBound + other.ProbeBound, WastedCreates + other.WastedCreates);
    }

    /// <summary>Counts the operations between two snapshots of one host.</summary>
    /// <param name="before">Taken before the run.</param>
    /// <param name="after">Taken after the run, before anything is released.</param>
    /// <param name="libvirtCalls">The libvirt calls made on the host's connection during the run.</param>
    /// <param name="guestDevices">How many devices the guest planned has (the "one per chosen device" part of the bound).</param>
    /// <param name="typeLevelParents">The host's parents that have a type-level version attribute.</param>
    public static OperationCounts Between(HostSnapshot before, HostSnapshot after, long libvirtCalls, int guestDevices, IReadOnlySet<string> typeLevelParents)
    {
        ArgumentNullException.ThrowIfNull(typeLevelParents);
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(after);
        var devices = before.State.Mdevs.Concat(after.State.Mdevs)
            .DistinctBy(m => m.Uuid)
            .ToDictionary(m => m.Uuid.Value, m => (m.Parent, Type: m.Type.Value), StringComparer.Ordinal);
        var writes = after.OperationsSince(before).Where(o => o.IsWrite).ToList();
        var probes = writes.Where(o => o.Path.EndsWith("migration_version", StringComparison.Ordinal)).ToList();
        var creates = writes.Where(o => o.Path.EndsWith("/create", StringComparison.Ordinal) && o.Result == Planner.Sysfs.Errno.None).ToList();
        var survivors = after.State.Mdevs.Select(m => m.Uuid.Value).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var wasted = creates.Count(c => typeLevelParents.Contains(ParentOfCreate(c.Path)) && !survivors.Contains(c.Data!));
        var triples = probes.Select(p => ProbeKey(p.Path, p.Data!, devices)).Distinct(StringComparer.Ordinal).Count();
        return new(
            probes.Count,
            creates.Count,
            writes.Count(o => o.Path.EndsWith("/remove", StringComparison.Ordinal) && o.Result == Planner.Sysfs.Errno.None),
            libvirtCalls,
            triples + guestDevices,
            wasted);
    }

    /// <summary>The parent in <c>class/mdev_bus/&lt;parent&gt;/mdev_supported_types/&lt;type&gt;/create</c>.</summary>
    private static string ParentOfCreate(string path)
    {
        var parts = path.Split('/');
        var typesAt = Array.IndexOf(parts, "mdev_supported_types");
        return typesAt > 0 ? parts[typesAt - 1] : path;
    }

    /// <summary>(parent, type, version) of a probe: from the path for a type-level attribute, from the device's parent and type for a device-level one.</summary>
    private static string ProbeKey(string path, string version, Dictionary<string, (string Parent, string Type)> devices)
    {
        var parts = path.Split('/');
        var typesAt = Array.IndexOf(parts, "mdev_supported_types");
        if (typesAt > 0)
        {
            return $"{parts[typesAt - 1]}|{parts[typesAt + 1]}|{version}";
        }

        var uuid = parts.Length >= 2 ? parts[^2] : path;
        return devices.TryGetValue(uuid, out var device) ? $"{device.Parent}|{device.Type}|{version}" : $"{uuid}|?|{version}";
    }
}
