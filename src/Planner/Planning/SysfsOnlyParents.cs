using System.Globalization;
using Microsoft.Extensions.Logging;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Diagnostics;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.Planner.Planning;

/// <summary>
/// Finds the mdev parents a host's sysfs has under <c>class/mdev_bus</c> and its libvirt does not
/// list. libvirt's udev backend knows PCI, CSS and AP parents only, so a virtual parent such as the
/// kernel's <c>mtty</c> sample (<c>/sys/devices/virtual/mtty/mtty</c>) has no node device: without
/// this look the planner would see no parent there and create nothing.
/// </summary>
/// <remarks>
/// Costs one listing when every parent is libvirt's; per unlisted parent one listing of its types,
/// then one batch read of every type's attributes and one listing of each type's <c>devices/</c>,
/// issued together. Every name read from a listing is validated before it is put into a path;
/// an invalid one is skipped with a warning.
/// </remarks>
internal static class SysfsOnlyParents
{
    private const string Name = "name";
    private const string AvailableInstances = "available_instances";
    private const string DeviceApi = "device_api";

    /// <summary>
    /// Returns <paramref name="listed"/> with every parent found only in sysfs added (named by its
    /// sysfs name, types read from sysfs), and the mdevs under those parents attached to them
    /// (libvirt lists such an mdev under <c>computer</c>, or not at all), together with the names of
    /// the added parents.
    /// </summary>
    public static async Task<(HostInventory Inventory, IReadOnlySet<DeviceName> Added)> AddAsync(
        MigrationHost host, HostInventory listed, PlanCounters counters, ILogger logger, CancellationToken cancellationToken)
    {
        var unlisted = await ListUnlistedAsync(host, listed, counters, logger, cancellationToken).ConfigureAwait(false);
        if (unlisted.Count == 0)
        {
            return (listed, new HashSet<DeviceName>());
        }

        var contents = await ReadParentsAsync(host, unlisted, counters, logger, cancellationToken).ConfigureAwait(false);
        var mdevs = listed.Mdevs.ToDictionary(mdev => mdev.Uuid);
        foreach (var (parent, _, found) in contents)
        {
            foreach (var (type, uuid) in found)
            {
                // The kernel is the authority on where an mdev sits and what it is; libvirt's node device, if any, keeps its name.
                mdevs[uuid] = mdevs.TryGetValue(uuid, out var known)
                    ? known with { Parent = parent, Type = type }
                    : new MediatedDevice(DeviceName.Parse(uuid.Value), uuid, type, parent, null, []);
            }
        }

        var typesByParent = contents.ToDictionary(c => c.Parent, c => c.Types);
        var added = unlisted.Select(parent => new MdevParent(
            parent,
            parent,
            PciAddress.TryParse(parent.Value, out var address) ? address : null,
            null,
            null,
            null,
            [.. typesByParent[parent]])).ToList();
        foreach (var parent in added)
        {
            Log.ParentFoundInSysfsOnly(logger, parent.Name.Value, host.Name, parent.Types.Count);
        }

        // Sorted as libvirt's inventory is, so plans stay reproducible.
        var inventory = listed with
        {
            Parents = [.. listed.Parents.Concat(added).OrderBy(p => p.Name.Value, StringComparer.Ordinal)],
            Mdevs = [.. mdevs.Values.OrderBy(m => m.Uuid.Value, StringComparer.Ordinal)],
        };
        return (inventory, unlisted.ToHashSet());
    }

    /// <summary>
    /// Reads from sysfs the types of each of <paramref name="parents"/> and the mdevs under each type:
    /// one listing of each parent's types, then one batch read of every type's attributes and one
    /// listing of each type's <c>devices/</c>, issued together.
    /// </summary>
    public static async Task<IReadOnlyList<ParentContents>> ReadParentsAsync(MigrationHost host, IReadOnlyList<DeviceName> parents, PlanCounters counters, ILogger logger, CancellationToken cancellationToken)
    {
        var typeLists = await Task.WhenAll(parents.Select(parent => ListTypesAsync(host, parent, counters, logger, cancellationToken))).ConfigureAwait(false);
        var slots = parents.Zip(typeLists).SelectMany(pair => pair.Second.Select(type => (Parent: pair.First, Type: type))).ToList();

        var paths = slots.SelectMany(slot => (SysfsPath[])[
            SysfsPath.TypeAttribute(slot.Parent, slot.Type, Name),
            SysfsPath.TypeAttribute(slot.Parent, slot.Type, AvailableInstances),
            SysfsPath.TypeAttribute(slot.Parent, slot.Type, DeviceApi)]).ToList();
        var readsTask = paths.Count == 0 ? Task.FromResult<IReadOnlyList<SysfsResult<string>>>([]) : host.FileSystem.ReadManyAsync(paths, cancellationToken).AsTask();
        var devicesTask = Task.WhenAll(slots.Select(slot => ListDevicesAsync(host, slot.Parent, slot.Type, logger, cancellationToken)));
        await Task.WhenAll(readsTask, devicesTask).ConfigureAwait(false);
        var reads = await readsTask.ConfigureAwait(false);
        var devices = await devicesTask.ConfigureAwait(false);
        counters.SysfsReads(paths.Count + slots.Count);

        var types = parents.ToDictionary(parent => parent, _ => new List<MdevTypeInfo>());
        var mdevs = parents.ToDictionary(parent => parent, _ => new List<(MdevTypeId, MdevUuid)>());
        for (var i = 0; i < slots.Count; i++)
        {
            var (parent, type) = slots[i];
            if (ReadType(host, parent, type, reads[3 * i], reads[(3 * i) + 1], reads[(3 * i) + 2], logger) is { } info)
            {
                types[parent].Add(info);
            }

            mdevs[parent].AddRange(devices[i].Select(uuid => (type, uuid)));
        }

        return [.. parents.Select(parent => new ParentContents(parent, types[parent], mdevs[parent]))];
    }

    /// <summary>The sysfs note a plan gives a device on a parent found only in sysfs.</summary>
    public static string Note(DeviceName parent) =>
        $"parent {parent} was found in sysfs (class/mdev_bus), not listed by libvirt";

    /// <summary>The parents under <c>class/mdev_bus</c> (none when mdev support is not loaded).</summary>
    public static Task<List<DeviceName>> ListParentsAsync(MigrationHost host, ILogger logger, CancellationToken cancellationToken) =>
        ListValidAsync<DeviceName>(host, SysfsPath.MdevBus, DeviceName.TryParse, "device name", absentIsNormal: true, logger, cancellationToken);

    private static async Task<List<DeviceName>> ListUnlistedAsync(MigrationHost host, HostInventory listed, PlanCounters counters, ILogger logger, CancellationToken cancellationToken)
    {
        // ENOENT: no mdev support loaded, so there is nothing libvirt could have missed.
        var parents = await ListParentsAsync(host, logger, cancellationToken).ConfigureAwait(false);
        counters.SysfsReads(1);
        var known = listed.Parents.Select(p => p.SysfsName).ToHashSet();
        return [.. parents.Where(parent => !known.Contains(parent))];
    }

    private static async Task<List<MdevTypeId>> ListTypesAsync(MigrationHost host, DeviceName parent, PlanCounters counters, ILogger logger, CancellationToken cancellationToken)
    {
        var types = await ListValidAsync<MdevTypeId>(host, SysfsPath.SupportedTypes(parent), MdevTypeId.TryParse, "mdev type id", absentIsNormal: false, logger, cancellationToken).ConfigureAwait(false);
        counters.SysfsReads(1);
        return types;
    }

    private static Task<List<MdevUuid>> ListDevicesAsync(MigrationHost host, DeviceName parent, MdevTypeId type, ILogger logger, CancellationToken cancellationToken) =>
        ListValidAsync<MdevUuid>(host, SysfsPath.TypeAttribute(parent, type, "devices"), MdevUuid.TryParse, "mdev UUID", absentIsNormal: false, logger, cancellationToken);

    /// <summary>A parser of a validated name, as the device name types offer (<c>TryParse</c>).</summary>
    public delegate bool Parser<T>(string text, out T value);

    /// <summary>
    /// The entries of the directory at <paramref name="path"/> that parse as <typeparamref name="T"/>, in
    /// ordinal order; the other entries are skipped with one warning that counts them and names the first few. A listing that fails gives none, with
    /// a warning unless it is ENOENT and <paramref name="absentIsNormal"/>.
    /// </summary>
    public static async Task<List<T>> ListValidAsync<T>(MigrationHost host, SysfsPath path, Parser<T> parse, string what, bool absentIsNormal, ILogger logger, CancellationToken cancellationToken)
    {
        var listing = await host.FileSystem.ListAsync(path, cancellationToken).ConfigureAwait(false);
        if (!listing.Succeeded)
        {
            if (!(absentIsNormal && listing.Error == Errno.ENOENT))
            {
                Log.SysfsListFailed(logger, path, host.Name, listing.Error);
            }

            return [];
        }

        const int NamedInWarning = 3;
        // Most listings (a type's devices/) hold none or one entry: those need no sorting.
        var entries = listing.Value!;
        var valid = new List<T>(entries.Count);
        List<string>? skipped = null;
        foreach (var entry in entries.Count > 1 ? entries.Order(StringComparer.Ordinal) : (IEnumerable<string>)entries)
        {
            if (parse(entry, out var value))
            {
                valid.Add(value);
            }
            else
            {
                (skipped ??= []).Add(entry);
            }
        }

        if (skipped is not null)
        {
            var named = string.Join(", ", skipped.Take(NamedInWarning).Select(e => $"'{MdevUuid.Shorten(e)}'")) + (skipped.Count > NamedInWarning ? ", ..." : string.Empty);
            Log.SysfsEntriesSkipped(logger, path, host.Name, skipped.Count, what, named);
        }

        return valid;
    }

    /// <summary>A type from its attributes; null (with a warning) when its device API or capacity cannot be read, since nothing could be matched or counted on it.</summary>
    private static MdevTypeInfo? ReadType(MigrationHost host, DeviceName parent, MdevTypeId type, SysfsResult<string> name, SysfsResult<string> available, SysfsResult<string> deviceApi, ILogger logger)
    {
        var api = deviceApi.Succeeded ? deviceApi.Value?.Trim() : null;
        if (string.IsNullOrEmpty(api))
        {
            Log.SysfsEntrySkipped(logger, SysfsPath.Type(parent, type), host.Name, type.Value, $"its device_api could not be read ({deviceApi.Error})");
            return null;
        }

        if (!available.Succeeded || !int.TryParse(available.Value?.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var instances))
        {
            Log.SysfsEntrySkipped(logger, SysfsPath.Type(parent, type), host.Name, type.Value, $"its available_instances is not a count ({(available.Succeeded ? $"'{MdevUuid.Shorten(available.Value)}'" : available.Error.ToString())})");
            return null;
        }

        // name is optional in the ABI.
        var humanName = name.Succeeded ? name.Value?.TrimEnd('\n') : null;
        return new MdevTypeInfo(type, string.IsNullOrEmpty(humanName) ? null : humanName, api, instances);
    }
}

/// <summary>What sysfs shows under one mdev parent.</summary>
/// <param name="Parent">The parent's sysfs name.</param>
/// <param name="Types">Its types whose device API and capacity could be read.</param>
/// <param name="Mdevs">The mdevs under it, with their types (also under types whose attributes could not be read).</param>
internal sealed record ParentContents(DeviceName Parent, IReadOnlyList<MdevTypeInfo> Types, IReadOnlyList<(MdevTypeId Type, MdevUuid Uuid)> Mdevs);
