using VfioMigration.Planner.Sysfs;

namespace VfioMigration.Integration.Tests.Planning;

/// <summary>
/// A sysfs decorator that runs <c>action</c> once, at the first write whose path and value match
/// <c>trigger</c>: before the write reaches the host (another actor gets there first) or right
/// after it returned (something happens once the write is done). Everything else passes through.
/// </summary>
internal sealed class InterceptingFileSystem(IHostFileSystem inner, Func<SysfsPath, string, bool> trigger, Func<SysfsPath, Task> action, bool afterWrite) : IHostFileSystem
{
    private int _fired;

    /// <summary>True once the action has run.</summary>
    public bool Fired => Volatile.Read(ref _fired) == 1;

    public string Description => $"{inner.Description} (intercepted)";

    public bool BatchesCalls => inner.BatchesCalls;

    public ValueTask<SysfsResult<string>> ReadAsync(SysfsPath path, CancellationToken cancellationToken = default) =>
        inner.ReadAsync(path, cancellationToken);

    public ValueTask<IReadOnlyList<SysfsResult<string>>> ReadManyAsync(IReadOnlyList<SysfsPath> paths, CancellationToken cancellationToken = default) =>
        inner.ReadManyAsync(paths, cancellationToken);

    public ValueTask<SysfsResult<IReadOnlyList<string>>> ListAsync(SysfsPath path, CancellationToken cancellationToken = default) =>
        inner.ListAsync(path, cancellationToken);

    public ValueTask<SysfsResult<string>> ReadLinkAsync(SysfsPath path, CancellationToken cancellationToken = default) =>
        inner.ReadLinkAsync(path, cancellationToken);

    public async ValueTask<SysfsResult> WriteAsync(SysfsPath path, string value, CancellationToken cancellationToken = default)
    {
        var fire = trigger(path, value) && Interlocked.CompareExchange(ref _fired, 1, 0) == 0;
        if (fire && !afterWrite)
        {
            await action(path);
        }

        var result = await inner.WriteAsync(path, value, cancellationToken);
        if (fire && afterWrite)
        {
            await action(path);
        }

        return result;
    }
}
