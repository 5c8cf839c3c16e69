using System.Text;
using System.Xml.Linq;
using VfioMigration.Planner;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Hypervisor;
using VfioMigration.Planner.Sysfs;
using VfioMigration.Planner.Xml;

namespace VfioMigration.HostSimulator;

/// <summary>
/// Mocked libvirt for unit tests: the planner's <see cref="IHypervisor"/> over a
/// <see cref="SimulatedHost"/>, entirely in-process. It never loads <c>libvirt.so.0</c>, so tests
/// that use it run where libvirt is not installed (macOS, Windows, a bare CI image).
/// </summary>
/// <remarks>
/// <para>Guests and node devices are read from <see cref="SimulatedHost.ToLibvirtXml"/> with the
/// library's own XML readers, so a guest's hostdevs make its devices in use as libvirt's would.</para>
/// <para><see cref="CreateMdevAsync"/> and <see cref="DestroyMdevAsync"/> go through the host's sysfs
/// tree (as libvirt does through mdevctl), so the host's faults, capacity and operation log apply;
/// a persistent device is created like a transient one (the simulator has no defined-but-stopped mdevs).</para>
/// <para><see cref="MigrateAsync"/> moves the guest to <see cref="MigrationCall.Destination"/> (another
/// <see cref="SimulatedHypervisor"/>; client-driven and peer-to-peer alike), after checking the
/// destination XML against the destination's devices as libvirt's prepare step does: an mdev UUID or
/// PCI address the destination lacks, or one another guest there uses, fails the call and leaves both hosts as they were.</para>
/// </remarks>
public sealed class SimulatedHypervisor : IHypervisor
{
    private long _calls;

    /// <summary>Connects to <paramref name="host"/>.</summary>
    /// <param name="host">The simulated host this connection serves.</param>
    public SimulatedHypervisor(SimulatedHost host)
    {
        ArgumentNullException.ThrowIfNull(host);
        Host = host;
        Uri = $"sim:///{host.Name}";
    }

    /// <summary>The simulated host behind this connection.</summary>
    public SimulatedHost Host { get; }

    /// <summary>The connection URI, <c>sim:///NAME</c>.</summary>
    public string Uri { get; }

    /// <inheritdoc />
    public string HostName => Host.Name;

    /// <summary>How many calls this connection has served.</summary>
    public long LibvirtCalls => Interlocked.Read(ref _calls);

    /// <inheritdoc />
    /// <exception cref="HypervisorNotFoundException">No guest has that name or UUID.</exception>
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

        throw new HypervisorNotFoundException($"{Uri}: Domain not found: no domain with matching name or uuid '{guest}'");
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<DomainHostDevices>> ListDomainsAsync(CancellationToken cancellationToken = default)
    {
        Count(cancellationToken);
        return Task.FromResult<IReadOnlyList<DomainHostDevices>>([.. Domains().Select(d => DomainXmlReader.Read(d.ToString()))]);
    }

    /// <inheritdoc />
    public Task<HostInventory> GetInventoryAsync(InventoryScope scope, CancellationToken cancellationToken = default)
    {
        Count(cancellationToken);
        return Task.FromResult(Inventory().Only(scope));
    }

    /// <inheritdoc />
    /// <exception cref="HypervisorException">No PCI parent has that node device name, it has no such type, or the kernel refused (the errno is in the message).</exception>
    public async Task CreateMdevAsync(MdevCreation request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        Count(cancellationToken);
        var parent = Inventory().Parents.FirstOrDefault(p => p.Name == request.Parent)
            ?? throw new HypervisorNotFoundException($"{Uri}: Node device not found: no node device with matching name '{request.Parent}'");
        if (!parent.Types.Any(t => t.Id == request.Type))
        {
            throw new HypervisorException($"{Uri}: unsupported configuration: parent '{request.Parent}' has no mdev type '{request.Type}'");
        }

        var result = await Host.FileTree.WriteAsync(
            $"class/mdev_bus/{parent.SysfsName}/mdev_supported_types/{request.Type}/create",
            Encoding.ASCII.GetBytes(request.Uuid.Value + "\n"),
            cancellationToken).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            throw new HypervisorException($"{Uri}: internal error: Unable to create mediated device {request.Uuid} on {request.Parent}: {result.Error}");
        }
    }

    /// <inheritdoc />
    /// <exception cref="HypervisorException">No mdev has that UUID, or the kernel refused.</exception>
    public async Task DestroyMdevAsync(MdevUuid uuid, bool persistent, CancellationToken cancellationToken = default)
    {
        Count(cancellationToken);
        var result = await Host.FileTree.WriteAsync($"bus/mdev/devices/{uuid}/remove", "1\n"u8.ToArray(), cancellationToken).ConfigureAwait(false);
        if (result.Error == Errno.ENOENT)
        {
            throw new HypervisorException($"{Uri}: no mediated device with UUID {uuid} exists, so it cannot be destroyed.");
        }

        if (!result.Succeeded)
        {
            throw new HypervisorException($"{Uri}: internal error: Unable to remove mediated device {uuid}: {result.Error}");
        }
    }

    /// <inheritdoc />
    /// <exception cref="HypervisorNotFoundException">The guest is not on this host.</exception>
    /// <exception cref="HypervisorException">The destination is not a simulated host, or its prepare step refused the destination XML.</exception>
    public Task MigrateAsync(MigrationCall migration, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(migration);
        Count(cancellationToken);
        var guest = Host.FindGuest(migration.Guest)
            ?? throw new HypervisorNotFoundException($"{Uri}: Domain not found: no domain with matching name or uuid '{migration.Guest}'");
        var destination = migration.Destination as SimulatedHypervisor
            ?? throw new HypervisorException($"{Uri}: operation failed: cannot migrate to '{migration.Destination.Uri}': a simulated host migrates only to another simulated host");
        DomainHostDevices devices;
        try
        {
            devices = DomainXmlReader.Read(migration.DestinationXml);
        }
        catch (LibvirtXmlException e)
        {
            throw new HypervisorException($"{destination.Uri}: XML error: the destination XML cannot be read: {e.Message}", e);
        }

        if (devices.Name != guest.Name || !Guid.TryParse(devices.Uuid, out var uuid) || uuid != guest.Uuid)
        {
            throw new HypervisorException($"{destination.Uri}: unsupported configuration: the destination XML names domain '{devices.Name}' ({devices.Uuid}), not the migrating '{guest.Name}' ({guest.Uuid:D})");
        }

        destination.Count(cancellationToken);
        if (destination.Host.AdmitGuest(guest, devices) is { } refusal)
        {
            throw new HypervisorException($"{destination.Uri}: {refusal}");
        }

        Host.RemoveGuest(guest.Uuid);
        return Task.CompletedTask;
    }

    private HostInventory Inventory() => NodeDeviceXmlReader.ReadInventory(Node().Elements("device").Select(d => d.ToString()));

    private XElement Node() => XElement.Parse(Host.ToLibvirtXml());

    private IEnumerable<XElement> Domains() => Node().Elements("domain");

    private void Count(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Interlocked.Increment(ref _calls);
    }
}
