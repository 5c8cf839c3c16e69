using System.Globalization;
using Microsoft.Extensions.Logging;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Hypervisor;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.Planner.Planning;

/// <summary>
/// A host's inventory read from sysfs (<see cref="InventorySource.Sysfs"/>): the same records
/// libvirt's node devices give, without a libvirt call per device. libvirt is asked only for the
/// mdevs it has defined and not started (one listing; they have no sysfs presence).
/// </summary>
/// <remarks>
/// Costs: one listing of <c>bus/pci/devices</c> and one of <c>class/mdev_bus</c>; per parent one
/// listing of its types; then, issued together, one batch read of every type's attributes and of
/// every PCI function's <c>vendor</c> and <c>device</c>, one listing of each type's <c>devices/</c>,
/// and one <c>readlink</c> of each function's <c>driver</c>. Names follow libvirt's rules
/// (<c>pci_dddd_bb_ss_f</c>; <c>mdev_&lt;uuid&gt;_&lt;parent&gt;</c> since libvirt 7.7, non-alphanumerics as <c>_</c>).
/// What sysfs cannot give is left empty: an mdev's IOMMU group and the vendor attributes libvirt
/// keeps from mdevctl (the planner uses neither). A parent that is not a PCI function (the kernel's
/// <c>mtty</c>, a channel subsystem) is named by its sysfs name and treated as libvirt's path treats a
/// parent libvirt does not list: creation there goes through sysfs.
/// </remarks>
internal static class SysfsInventory
{
    /// <summary>
    /// The inventory of the kinds <paramref name="scope"/> asks for, and the parents libvirt cannot
    /// create on; null when the host's sysfs cannot be listed (<c>bus/pci/devices</c>): then only
    /// libvirt can tell.
    /// </summary>
    public static async Task<(HostInventory Inventory, IReadOnlySet<DeviceName> SysfsOnly)?> ReadAsync(
        MigrationHost host, InventoryScope scope, PlanCounters counters, ILogger logger, CancellationToken cancellationToken)
    {
        var functions = await host.FileSystem.ListAsync(SysfsPath.PciDevices, cancellationToken).ConfigureAwait(false);
        counters.SysfsReads(1);
        if (!functions.Succeeded)
        {
            return null;
        }

        var mdevKinds = scope.HasFlag(InventoryScope.MdevParents) || scope.HasFlag(InventoryScope.Mdevs);
        counters.SysfsReads(mdevKinds ? 1 : 0);
        if (mdevKinds)
        {
            counters.HypervisorCall();
        }

        var definedTask = mdevKinds
            ? host.Hypervisor.GetInventoryAsync(InventoryScope.DefinedInactiveMdevs, cancellationToken)
            : Task.FromResult(new HostInventory([], [], []));
        var parents = mdevKinds ? await SysfsOnlyParents.ListParentsAsync(host, logger, cancellationToken).ConfigureAwait(false) : [];

        var addresses = new SortedSet<PciAddress>(Comparer<PciAddress>.Create((a, b) => string.CompareOrdinal(a.ToString(), b.ToString())));
        foreach (var parent in parents)
        {
            if (PciAddress.TryParse(parent.Value, out var address))
            {
                addresses.Add(address);
            }
        }

        if (scope.HasFlag(InventoryScope.PciDevices))
        {
            foreach (var entry in functions.Value!)
            {
                if (PciAddress.TryParse(entry, out var address))
                {
                    addresses.Add(address);
                }
            }
        }

        var contentsTask = SysfsOnlyParents.ReadParentsAsync(host, parents, counters, logger, cancellationToken);
        var pciTask = ReadFunctionsAsync(host, [.. addresses], counters, cancellationToken);
        await Task.WhenAll(contentsTask, pciTask, definedTask).ConfigureAwait(false);
        var contents = await contentsTask.ConfigureAwait(false);
        var pci = (await pciTask.ConfigureAwait(false)).ToDictionary(f => f.Address);
        var defined = await definedTask.ConfigureAwait(false);

        var parentRecords = new List<MdevParent>();
        var mdevs = new Dictionary<MdevUuid, MediatedDevice>();
        var sysfsOnly = new HashSet<DeviceName>();
        foreach (var (sysfsName, types, found) in contents)
        {
            var name = sysfsName;
            if (PciAddress.TryParse(sysfsName.Value, out var address) && pci.TryGetValue(address, out var function))
            {
                name = function.Name;
                parentRecords.Add(new MdevParent(name, sysfsName, address, function.VendorId, function.ProductId, function.Driver, types));
            }
            else
            {
                sysfsOnly.Add(sysfsName);
                parentRecords.Add(new MdevParent(name, sysfsName, PciAddress.TryParse(sysfsName.Value, out var other) ? other : null, null, null, null, types));
            }

            foreach (var (type, uuid) in found)
            {
                mdevs[uuid] = new MediatedDevice(MediatedDevice.NodeDeviceName(uuid, sysfsName), uuid, type, name, null, []);
            }
        }

        // A definition libvirt has not started has no device in sysfs; one that runs is the kernel's.
        foreach (var mdev in defined.Mdevs)
        {
            mdevs.TryAdd(mdev.Uuid, mdev);
        }

        var inventory = new HostInventory(
            [.. parentRecords.OrderBy(p => p.Name.Value, StringComparer.Ordinal)],
            [.. mdevs.Values.OrderBy(m => m.Uuid.Value, StringComparer.Ordinal)],
            scope.HasFlag(InventoryScope.PciDevices) ? [.. pci.Values.OrderBy(d => d.Address.ToString(), StringComparer.Ordinal)] : []);
        return (inventory.Only(scope), sysfsOnly);
    }

    /// <summary>Each function's ids (one batch read) and bound driver (one <c>readlink</c> each, issued together).</summary>
    private static async Task<IReadOnlyList<PciDevice>> ReadFunctionsAsync(MigrationHost host, IReadOnlyList<PciAddress> addresses, PlanCounters counters, CancellationToken cancellationToken)
    {
        if (addresses.Count == 0)
        {
            return [];
        }

        var paths = addresses.SelectMany(a => (SysfsPath[])[SysfsPath.PciAttribute(a, "vendor"), SysfsPath.PciAttribute(a, "device")]).ToList();
        var idsTask = host.FileSystem.ReadManyAsync(paths, cancellationToken).AsTask();
        var driversTask = Task.WhenAll(addresses.Select(a => host.FileSystem.ReadLinkAsync(SysfsPath.PciAttribute(a, "driver"), cancellationToken).AsTask()));
        await Task.WhenAll(idsTask, driversTask).ConfigureAwait(false);
        var ids = await idsTask.ConfigureAwait(false);
        var drivers = await driversTask.ConfigureAwait(false);
        counters.SysfsReads(paths.Count + addresses.Count);
        return [.. addresses.Select((address, i) => new PciDevice(
            DeviceName.Parse(address.ToNodeDeviceName()),
            address,
            drivers[i].Succeeded ? DriverName(drivers[i].Value!) : null,
            ids[2 * i].Succeeded ? HexId(ids[2 * i].Value!) : null,
            ids[(2 * i) + 1].Succeeded ? HexId(ids[(2 * i) + 1].Value!) : null))];
    }

    /// <summary>A sysfs id (<c>0x10de</c>) as libvirt gives it (<c>0x%04x</c>); null for anything else.</summary>
    internal static string? HexId(string text)
    {
        var trimmed = text.Trim();
        var digits = trimmed.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? trimmed[2..] : trimmed;
        return digits.Length is > 0 and <= 4 && digits.All(char.IsAsciiHexDigit)
            ? string.Create(CultureInfo.InvariantCulture, $"0x{int.Parse(digits, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture):x4}")
            : null;
    }

    /// <summary>The driver's name, the last segment of the <c>driver</c> link; null when that is not a plain name (letters, digits, <c>_ - .</c>).</summary>
    internal static string? DriverName(string link)
    {
        var name = link.TrimEnd('/')[(link.TrimEnd('/').LastIndexOf('/') + 1)..];
        return name.Length is > 0 and <= 64 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.') && name is not "." and not ".."
            ? name
            : null;
    }
}
