using System.Collections.Concurrent;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Hypervisor;

namespace VfioMigration.Planner.Evacuation;

/// <summary>
/// An <see cref="IHypervisor"/> that reads a host's node devices and defined guests once per
/// evacuation and hands every plan the same answer. Listing them costs one libvirt call per device
/// (a round trip each on a remote connection: over 700 on a host with 512 mdevs), and in an
/// evacuation nothing else changes them: what this evacuation's own plans create or reuse is held
/// by their claims, and capacity is re-read from sysfs before every creation.
/// </summary>
/// <remarks>
/// After a failed libvirt creation the planner re-lists to see whether the device exists anyway;
/// so a failed creation drops the snapshot and the next read asks libvirt again.
/// </remarks>
internal sealed class InventorySnapshotHypervisor(IHypervisor inner) : IHypervisor
{
    private readonly ConcurrentDictionary<InventoryScope, Lazy<Task<HostInventory>>> _inventories = new();
    private Lazy<Task<IReadOnlyList<DomainHostDevices>>>? _domains;

    /// <inheritdoc />
    public string Uri => inner.Uri;

    /// <inheritdoc />
    public string HostName => inner.HostName;

    /// <inheritdoc />
    public long LibvirtCalls => inner.LibvirtCalls;

    /// <inheritdoc />
    public Task<GuestDefinition> GetDomainAsync(DomainSelector guest, CancellationToken cancellationToken = default) =>
        inner.GetDomainAsync(guest, cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<DomainHostDevices>> ListDomainsAsync(CancellationToken cancellationToken = default)
    {
        var domains = Volatile.Read(ref _domains);
        if (domains is null)
        {
            Interlocked.CompareExchange(ref _domains, new(() => inner.ListDomainsAsync(CancellationToken.None)), null);
            domains = Volatile.Read(ref _domains)!;
        }

        return Shared(domains, () => Interlocked.CompareExchange(ref _domains, null, domains), cancellationToken);
    }

    /// <inheritdoc />
    public Task<HostInventory> GetInventoryAsync(InventoryScope scope, CancellationToken cancellationToken = default)
    {
        var inventory = _inventories.GetOrAdd(scope, s => new(() => inner.GetInventoryAsync(s, CancellationToken.None)));
        return Shared(inventory, () => _inventories.TryRemove(KeyValuePair.Create(scope, inventory)), cancellationToken);
    }

    /// <inheritdoc />
    public async Task CreateMdevAsync(MdevCreation request, CancellationToken cancellationToken = default)
    {
        try
        {
            await inner.CreateMdevAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (HypervisorException e) when (e is not HypervisorNotSupportedException)
        {
            _inventories.Clear();
            throw;
        }
    }

    /// <inheritdoc />
    public Task DestroyMdevAsync(MdevUuid uuid, bool persistent, CancellationToken cancellationToken = default) =>
        inner.DestroyMdevAsync(uuid, persistent, cancellationToken);

    /// <inheritdoc />
    public Task<HypervisorVersions?> GetVersionsAsync(CancellationToken cancellationToken = default) =>
        inner.GetVersionsAsync(cancellationToken);

    /// <inheritdoc />
    public Task MigrateAsync(MigrationCall migration, CancellationToken cancellationToken = default) =>
        inner.MigrateAsync(migration, cancellationToken);

    /// <summary>The shared read, awaited with the caller's cancellation; a failed read is forgotten so the next caller asks again.</summary>
    private static async Task<T> Shared<T>(Lazy<Task<T>> read, Action forget, CancellationToken cancellationToken)
    {
        try
        {
            return await read.Value.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            forget();
            throw;
        }
    }
}
