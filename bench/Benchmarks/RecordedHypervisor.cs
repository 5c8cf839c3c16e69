using VfioMigration.Planner;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Hypervisor;

namespace VfioMigration.Benchmarks;

/// <summary>
/// An <see cref="IHypervisor"/> that answers from what another one said once: one guest's
/// definition, the defined guests and the node devices. A plan against it costs the planner and
/// the sysfs side only, not libvirt's listing of hundreds of node devices (which the whole-plan
/// page measures). Like libvirt's test driver it cannot create mdevs, so the planner creates
/// through sysfs; the recorded inventory stays true only while every plan is released before the next.
/// </summary>
public sealed class RecordedHypervisor : IHypervisor
{
    private readonly DomainSelector _guest;
    private readonly GuestDefinition? _definition;
    private readonly IReadOnlyList<DomainHostDevices> _domains;
    private readonly HostInventory _inventory;

    private RecordedHypervisor(string uri, string hostName, DomainSelector guest, GuestDefinition? definition, IReadOnlyList<DomainHostDevices> domains, HostInventory inventory)
    {
        (Uri, HostName, _guest, _definition, _domains, _inventory) = (uri, hostName, guest, definition, domains, inventory);
    }

    /// <inheritdoc />
    public string Uri { get; }

    /// <inheritdoc />
    public string HostName { get; }

    /// <summary>Always 0: nothing reaches libvirt after the recording.</summary>
    public long LibvirtCalls => 0;

    /// <summary>Reads <paramref name="inner"/> once: <paramref name="guest"/>'s definition (when the host has it), the defined guests and every node device.</summary>
    public static async Task<RecordedHypervisor> RecordAsync(IHypervisor inner, DomainSelector guest)
    {
        ArgumentNullException.ThrowIfNull(inner);
        var domains = await inner.ListDomainsAsync();
        var definition = domains.Any(d => (guest.IsUuid ? d.Uuid : d.Name) == guest.Value) ? await inner.GetDomainAsync(guest) : null;
        var inventory = await inner.GetInventoryAsync(InventoryScope.All);
        return new RecordedHypervisor(inner.Uri, inner.HostName, guest, definition, domains, inventory);
    }

    /// <inheritdoc />
    public Task<GuestDefinition> GetDomainAsync(DomainSelector guest, CancellationToken cancellationToken = default) =>
        guest == _guest && _definition is not null
            ? Task.FromResult(_definition)
            : Task.FromException<GuestDefinition>(new HypervisorNotFoundException($"{HostName}: only '{_guest}' was recorded, not '{guest}'."));

    /// <inheritdoc />
    public Task<IReadOnlyList<DomainHostDevices>> ListDomainsAsync(CancellationToken cancellationToken = default) => Task.FromResult(_domains);

    /// <inheritdoc />
    public Task<HostInventory> GetInventoryAsync(InventoryScope scope, CancellationToken cancellationToken = default) =>
        Task.FromResult(_inventory.Only(scope));

    /// <inheritdoc />
    public Task CreateMdevAsync(MdevCreation request, CancellationToken cancellationToken = default) =>
        Task.FromException(new HypervisorNotSupportedException($"{HostName}: a recording cannot create mediated devices."));

    /// <inheritdoc />
    public Task DestroyMdevAsync(MdevUuid uuid, bool persistent, CancellationToken cancellationToken = default) =>
        Task.FromException(new HypervisorNotSupportedException($"{HostName}: a recording cannot destroy mediated devices."));

    /// <inheritdoc />
    public Task MigrateAsync(MigrationCall migration, CancellationToken cancellationToken = default) =>
        Task.FromException(new HypervisorNotSupportedException($"{HostName}: a recording cannot migrate."));
}
