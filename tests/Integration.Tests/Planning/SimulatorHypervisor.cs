using System.Xml.Linq;
using VfioMigration.HostSimulator;
using VfioMigration.Planner;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Hypervisor;
using VfioMigration.Planner.Xml;

namespace VfioMigration.Integration.Tests.Planning;

/// <summary>
/// The planner's hypervisor over a simulated host, behaving as libvirt's test driver does on the
/// host file the simulator writes: node devices and guests from <see cref="SimulatedHost.ToLibvirtXml"/>
/// (read with the real XML readers), mdev creation not supported (so the planner uses sysfs).
/// </summary>
internal sealed class SimulatorHypervisor(SimulatedHost host) : IHypervisor
{
    private long _calls;

    public string Uri => $"test:///simulated/{host.Name}";

    public string HostName => host.Name;

    public long LibvirtCalls => Interlocked.Read(ref _calls);

    public Task<GuestDefinition> GetDomainAsync(DomainSelector guest, CancellationToken cancellationToken = default)
    {
        Count(cancellationToken);
        foreach (var domain in Domains())
        {
            var xml = domain.ToString();
            var devices = DomainXmlReader.Read(xml);
            if (guest.IsUuid ? string.Equals(devices.Uuid, guest.Value, StringComparison.OrdinalIgnoreCase) : devices.Name == guest.Value)
            {
                return Task.FromResult(new GuestDefinition(xml, devices));
            }
        }

        throw new HypervisorException($"Domain not found: no domain with matching name or uuid '{guest}'");
    }

    public Task<IReadOnlyList<DomainHostDevices>> ListDomainsAsync(CancellationToken cancellationToken = default)
    {
        Count(cancellationToken);
        return Task.FromResult<IReadOnlyList<DomainHostDevices>>([.. Domains().Select(d => DomainXmlReader.Read(d.ToString()))]);
    }

    public Task<HostInventory> GetInventoryAsync(InventoryScope scope, CancellationToken cancellationToken = default)
    {
        Count(cancellationToken);
        var all = NodeDeviceXmlReader.ReadInventory(Node().Elements("device").Select(d => d.ToString()));
        return Task.FromResult(new HostInventory(
            scope.HasFlag(InventoryScope.MdevParents) ? all.Parents : [],
            scope.HasFlag(InventoryScope.Mdevs) ? all.Mdevs : [],
            scope.HasFlag(InventoryScope.PciDevices) ? all.PciDevices : []));
    }

    public Task CreateMdevAsync(MdevCreation request, CancellationToken cancellationToken = default)
    {
        Count(cancellationToken);
        throw new HypervisorNotSupportedException("unsupported configuration: Device is not a fibre channel HBA");
    }

    public Task DestroyMdevAsync(MdevUuid uuid, bool persistent, CancellationToken cancellationToken = default)
    {
        Count(cancellationToken);
        return Task.CompletedTask;
    }

    public Task MigrateAsync(MigrationCall migration, CancellationToken cancellationToken = default)
    {
        Count(cancellationToken);
        throw new HypervisorNotSupportedException("this function is not supported by the connection driver: virDomainMigrate3");
    }

    private XElement Node() => XElement.Parse(host.ToLibvirtXml());

    private IEnumerable<XElement> Domains() => Node().Elements("domain");

    private void Count(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Interlocked.Increment(ref _calls);
    }
}
