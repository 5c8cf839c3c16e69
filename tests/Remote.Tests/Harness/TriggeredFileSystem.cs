using VfioMigration.Planner.Sysfs;

namespace VfioMigration.Remote.Tests.Harness;

/// <summary>
/// Passes every call to a host's file system and runs a fault once, at a chosen point of a plan:
/// before the first batched read, or after the first call that created an mdev. The planner creates on
/// several parents at once, so the after-create fault waits until no call is in flight (later
/// calls wait for it): it falls between calls, with a device already on the host.
/// </summary>
internal sealed class TriggeredFileSystem(IHostFileSystem inner, Action? beforeFirstBatchRead = null, Action? afterFirstCreate = null) : IHostFileSystem
{
    private Action? _beforeRead = beforeFirstBatchRead;
    private Action? _afterCreate = afterFirstCreate;
    private Action? _pending;
    private readonly Lock _gate = new();
    private Task _fault = Task.CompletedTask;
    private int _inFlight;

    public string Description => inner.Description;

    public bool BatchesCalls => inner.BatchesCalls;

    public ValueTask<SysfsResult<string>> ReadAsync(SysfsPath path, CancellationToken cancellationToken = default) =>
        PassAsync(() => inner.ReadAsync(path, cancellationToken));

    public ValueTask<IReadOnlyList<SysfsResult<string>>> ReadManyAsync(IReadOnlyList<SysfsPath> paths, CancellationToken cancellationToken = default)
    {
        Interlocked.Exchange(ref _beforeRead, null)?.Invoke();
        return PassAsync(() => inner.ReadManyAsync(paths, cancellationToken));
    }

    public async ValueTask<SysfsResult> WriteAsync(SysfsPath path, string value, CancellationToken cancellationToken = default)
    {
        var result = await PassAsync(() => inner.WriteAsync(path, value, cancellationToken));
        if (result.Succeeded && path.Name == "create")
        {
            Interlocked.CompareExchange(ref _pending, Interlocked.Exchange(ref _afterCreate, null), null);
        }

        return result;
    }

    public async ValueTask<IReadOnlyList<SysfsResult>> WriteManyAsync(IReadOnlyList<(SysfsPath Path, string Value)> writes, CancellationToken cancellationToken = default)
    {
        var results = await PassAsync(() => inner.WriteManyAsync(writes, cancellationToken));
        if (writes.Where((w, i) => results[i].Succeeded && w.Path.Name == "create").Any())
        {
            Interlocked.CompareExchange(ref _pending, Interlocked.Exchange(ref _afterCreate, null), null);
        }

        return results;
    }

    public ValueTask<SysfsResult<IReadOnlyList<string>>> ListAsync(SysfsPath path, CancellationToken cancellationToken = default) =>
        PassAsync(() => inner.ListAsync(path, cancellationToken));

    public ValueTask<SysfsResult<string>> ReadLinkAsync(SysfsPath path, CancellationToken cancellationToken = default) =>
        PassAsync(() => inner.ReadLinkAsync(path, cancellationToken));

    private async ValueTask<T> PassAsync<T>(Func<ValueTask<T>> call)
    {
        // Under the gate, a call either sees the fault pending and waits for it, or counts itself in
        // flight before the fault can look: the fault never starts beside a call that passed it.
        while (true)
        {
            Task wait;
            lock (_gate)
            {
                if (Interlocked.Exchange(ref _pending, null) is { } fault)
                {
                    _fault = RunWhenIdleAsync(fault);
                }

                if (_fault.IsCompleted)
                {
                    _inFlight++;
                    break;
                }

                wait = _fault;
            }

            await wait;
        }

        try
        {
            return await call();
        }
        finally
        {
            lock (_gate)
            {
                _inFlight--;
            }
        }
    }

    private async Task RunWhenIdleAsync(Action fault)
    {
        while (true)
        {
            lock (_gate)
            {
                if (_inFlight == 0)
                {
                    fault();
                    return;
                }
            }

            await Task.Delay(1);
        }
    }
}
