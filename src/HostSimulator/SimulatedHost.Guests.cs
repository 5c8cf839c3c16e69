using System.Globalization;
using VfioMigration.HostSimulator.Model;
using VfioMigration.Planner;
using VfioMigration.Planner.Devices;

namespace VfioMigration.HostSimulator;

/// <content>Guests arriving and leaving by migration, checked as libvirt's prepare step checks them.</content>
public sealed partial class SimulatedHost
{
    /// <summary>The guest named or identified by <paramref name="selector"/>, or null.</summary>
    internal GuestModel? FindGuest(DomainSelector selector)
    {
        lock (_gate)
        {
            return _guests.Find(g => selector.IsUuid ? g.Uuid == Guid.Parse(selector.Value) : g.Name == selector.Value);
        }
    }

    /// <summary>
    /// Takes in a migrated guest with the host devices of its destination XML, after the checks
    /// libvirt's prepare step makes: no guest of that name or UUID here yet, every mdev exists here
    /// with the model's device API, every PCI function exists here, and no other guest uses either.
    /// </summary>
    /// <returns>Null when the guest was admitted; otherwise libvirt's reason, and nothing changed.</returns>
    internal string? AdmitGuest(GuestModel arriving, DomainHostDevices destination)
    {
        lock (_gate)
        {
            if (_guests.Find(g => g.Name == arriving.Name || g.Uuid == arriving.Uuid) is { } existing)
            {
                return $"operation failed: domain '{existing.Name}' already exists with uuid {existing.Uuid:D}";
            }

            var hostdevs = new List<GuestHostdevModel>();
            foreach (var device in destination.HostDevices)
            {
                var (hostdev, refusal) = device switch
                {
                    MdevHostDevice mdev => AdmitMdevLocked(mdev),
                    PciHostDevice pci => AdmitPciLocked(pci),
                    _ => (null, $"unsupported configuration: host device {device.Ordinal} of the destination XML is of a kind the simulated host does not have"),
                };
                if (refusal is not null)
                {
                    return refusal;
                }

                hostdevs.Add(hostdev!);
            }

            _guests.Add(arriving with { Hostdevs = hostdevs });
            return null;
        }
    }

    /// <summary>Removes a guest that migrated away (libvirt undefines or forgets it on the source).</summary>
    internal void RemoveGuest(Guid uuid)
    {
        lock (_gate)
        {
            _guests.RemoveAll(g => g.Uuid == uuid);
        }
    }

    private (GuestHostdevModel? Hostdev, string? Refusal) AdmitMdevLocked(MdevHostDevice device)
    {
        if (!_mdevs.TryGetValue(device.Uuid, out var mdev))
        {
            return (null, $"device not found: mediated device '{device.Uuid}' not found");
        }

        if (mdev.Type.DeviceApi != device.Model)
        {
            return (null, $"unsupported configuration: mediated device '{device.Uuid}' has device API {mdev.Type.DeviceApi}, the XML asks for model '{device.Model}'");
        }

        if (UserOfLocked(h => h.Mdev == device.Uuid) is { } user)
        {
            return (null, $"Requested operation is not valid: mediated device '{device.Uuid}' is in use by driver QEMU, domain {user.Name}");
        }

        return (new GuestHostdevModel(device.Uuid, null, device.Model, device.Alias, PciGuestAddress(device.GuestAddress)), null);
    }

    private (GuestHostdevModel? Hostdev, string? Refusal) AdmitPciLocked(PciHostDevice device)
    {
        if (!_pciFunctions.Any(f => f.Address == device.Address))
        {
            return (null, $"device not found: PCI device {device.Address} not found: could not access /sys/bus/pci/devices/{device.Address}/config");
        }

        if (UserOfLocked(h => h.Pci == device.Address) is { } user)
        {
            return (null, $"Requested operation is not valid: PCI device {device.Address} is in use by driver QEMU, domain {user.Name}");
        }

        return (new GuestHostdevModel(null, device.Address, "vfio-pci", device.Alias, PciGuestAddress(device.GuestAddress)), null);
    }

    private GuestModel? UserOfLocked(Func<GuestHostdevModel, bool> uses) => _guests.Find(g => g.Hostdevs.Any(uses));

    /// <summary>A guest-side PCI address from the XML's hex attributes; other address kinds, and parts missing or out of range, are not modelled and are dropped.</summary>
    private static PciAddress? PciGuestAddress(GuestAddress? address)
    {
        if (address is not { Type: "pci" })
        {
            return null;
        }

        int? Part(string name) =>
            address.Attributes.FirstOrDefault(a => a.Key == name).Value is { } text
            && text.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            && int.TryParse(text.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var value)
                ? value
                : null;
        var text = string.Create(CultureInfo.InvariantCulture, $"{Part("domain"):x4}:{Part("bus"):x2}:{Part("slot"):x2}.{Part("function"):x}");
        return PciAddress.TryParse(text, out var parsed) ? parsed : null;
    }
}
