using System.Diagnostics;
using VfioMigration.Planner;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Hypervisor;

namespace VfioMigration.Bench;

/// <summary>An <see cref="IHypervisor"/> that adds up the time spent inside it (libvirt, and the parsing of libvirt's XML into records), so a plan's own time can be told from its libvirt time.</summary>
public sealed class TimedHypervisor(IHypervisor inner) : IHypervisor
{
    private readonly Lock _gate = new();
    private long _ticks;
    private int _inFlight;
    private long _busySince;

    /// <summary>Time so far during which at least one call into the wrapped hypervisor was in flight (overlapping calls count once).</summary>
    public TimeSpan Elapsed
    {
        get
        {
            lock (_gate)
            {
                return Stopwatch.GetElapsedTime(0, _ticks);
            }
        }
    }

    /// <inheritdoc />
    public string Uri => inner.Uri;

    /// <inheritdoc />
    public string HostName => inner.HostName;

    /// <inheritdoc />
    public long LibvirtCalls => inner.LibvirtCalls;

    /// <inheritdoc />
    public Task<GuestDefinition> GetDomainAsync(DomainSelector guest, CancellationToken cancellationToken = default) =>
        TimeAsync(() => inner.GetDomainAsync(guest, cancellationToken));

    /// <inheritdoc />
    public Task<IReadOnlyList<DomainHostDevices>> ListDomainsAsync(CancellationToken cancellationToken = default) =>
        TimeAsync(() => inner.ListDomainsAsync(cancellationToken));

    /// <inheritdoc />
    public Task<HostInventory> GetInventoryAsync(InventoryScope scope, CancellationToken cancellationToken = default) =>
        TimeAsync(() => inner.GetInventoryAsync(scope, cancellationToken));

    /// <inheritdoc />
    public Task CreateMdevAsync(MdevCreation request, CancellationToken cancellationToken = default) =>
        TimeAsync(async () =>
        {
            await inner.CreateMdevAsync(request, cancellationToken).ConfigureAwait(false);
            return true;
        });

    /// <inheritdoc />
    public Task DestroyMdevAsync(MdevUuid uuid, bool persistent, CancellationToken cancellationToken = default) =>
        TimeAsync(async () =>
        {
            await inner.DestroyMdevAsync(uuid, persistent, cancellationToken).ConfigureAwait(false);
            return true;
        });

    /// <inheritdoc />
    public Task MigrateAsync(MigrationCall migration, CancellationToken cancellationToken = default) =>
        inner.MigrateAsync(migration, cancellationToken);

    private async Task<T> TimeAsync<T>(Func<Task<T>> call)
    {
        Enter();
        try
        {
            return await call().ConfigureAwait(false);
        }
        finally
        {
            Leave();
        }
    }

    // Calls overlap (a plan lists node devices and guests side by side): count the time at least one is in flight, once.
    private void Enter()
    {
        lock (_gate)
        {
            if (_inFlight++ == 0)
            {
                _busySince = Stopwatch.GetTimestamp();
            }
        }
    }

    private void Leave()
    {
        lock (_gate)
        {
            if (--_inFlight == 0)
            {
                _ticks += Stopwatch.GetTimestamp() - _busySince;
            }
        }
    }
}
