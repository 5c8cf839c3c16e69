namespace VfioMigration.Planner.Devices;

/// <summary>Which defined guest (running or not) references each mdev and PCI function of a host.</summary>
public sealed class DeviceOwners
{
    private readonly Dictionary<MdevUuid, string> _mdevs = [];
    private readonly Dictionary<PciAddress, string> _pci = [];

    private DeviceOwners()
    {
    }

    /// <summary>Builds the map from every guest defined on the host; when two guests name one device, the first listed wins.</summary>
    public static DeviceOwners FromDomains(IEnumerable<DomainHostDevices> domains)
    {
        ArgumentNullException.ThrowIfNull(domains);
        var owners = new DeviceOwners();
        foreach (var domain in domains)
        {
            foreach (var device in domain.HostDevices)
            {
                switch (device)
                {
                    case MdevHostDevice mdev:
                        owners._mdevs.TryAdd(mdev.Uuid, domain.Name);
                        break;
                    case PciHostDevice pci:
                        owners._pci.TryAdd(pci.Address, domain.Name);
                        break;
                }
            }
        }

        return owners;
    }

    /// <summary>The name of the guest whose XML references this mdev, or null when none does.</summary>
    public string? OwnerOf(MdevUuid uuid) => _mdevs.GetValueOrDefault(uuid);

    /// <summary>The name of the guest whose XML references this PCI function, or null when none does.</summary>
    public string? OwnerOf(PciAddress address) => _pci.GetValueOrDefault(address);
}
