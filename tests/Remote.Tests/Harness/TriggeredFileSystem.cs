using VfioMigration.Planner.Sysfs;

namespace VfioMigration.Remote.Tests.Harness;

/// <summary>
/// Passes every call to a host's file system and runs a fault once, at a chosen point of a plan:
/// before the first batched read, or right after the first mdev was created.
/// </summary>
internal sealed class TriggeredFileSystem(IHostFileSystem inner, Action? beforeFirstBatchRead = null, Action? afterFirstCreate = null) : IHostFileSystem
{
    private Action? _beforeRead = beforeFirstBatchRead;
    private Action? _afterCreate = afterFirstCreate;

    public string Description => inner.Description;

    public ValueTask<SysfsResult<string>> ReadAsync(SysfsPath path, CancellationToken cancellationToken = default) => inner.ReadAsync(path, cancellationToken);

    public ValueTask<IReadOnlyList<SysfsResult<string>>> ReadManyAsync(IReadOnlyList<SysfsPath> paths, CancellationToken cancellationToken = default)
    {
        Interlocked.Exchange(ref _beforeRead, null)?.Invoke();
        return inner.ReadManyAsync(paths, cancellationToken);
    }

    public async ValueTask<SysfsResult> WriteAsync(SysfsPath path, string value, CancellationToken cancellationToken = default)
    {
        var result = await inner.WriteAsync(path, value, cancellationToken);
        if (result.Succeeded && path.Name == "create")
        {
            Interlocked.Exchange(ref _afterCreate, null)?.Invoke();
        }

        return result;
    }

    public ValueTask<SysfsResult<IReadOnlyList<string>>> ListAsync(SysfsPath path, CancellationToken cancellationToken = default) => inner.ListAsync(path, cancellationToken);

    public ValueTask<SysfsResult<string>> ReadLinkAsync(SysfsPath path, CancellationToken cancellationToken = default) => inner.ReadLinkAsync(path, cancellationToken);
}
