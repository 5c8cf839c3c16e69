using VfioMigration.Planner.Sysfs;

namespace VfioMigration.Planner.Tests.Fakes;

/// <summary>
/// A <see cref="FakeSysfs"/> seen through a file system that answers <see cref="ReadManyAsync"/>
/// itself, as a remote one does (one round trip per call): every call is recorded with the paths it
/// asked, so a test can tell a call made for nothing from no call.
/// </summary>
internal sealed class ReadManyRecordingSysfs(FakeSysfs inner) : IHostFileSystem
{
    private readonly Lock _gate = new();
    private readonly List<IReadOnlyList<string>> _calls = [];

    /// <summary>The <see cref="ReadManyAsync"/> calls, each as the paths it read, in order.</summary>
    public IReadOnlyList<IReadOnlyList<string>> Calls
    {
        get
        {
            lock (_gate)
            {
                return [.. _calls];
            }
        }
    }

    public string Description => inner.Description;

    public ValueTask<SysfsResult<string>> ReadAsync(SysfsPath path, CancellationToken cancellationToken = default) => inner.ReadAsync(path, cancellationToken);

    public async ValueTask<IReadOnlyList<SysfsResult<string>>> ReadManyAsync(IReadOnlyList<SysfsPath> paths, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            _calls.Add([.. paths.Select(p => p.Value)]);
        }

        var results = new List<SysfsResult<string>>();
        foreach (var path in paths)
        {
            results.Add(await inner.ReadAsync(path, cancellationToken));
        }

        return results;
    }

    public ValueTask<SysfsResult> WriteAsync(SysfsPath path, string value, CancellationToken cancellationToken = default) => inner.WriteAsync(path, value, cancellationToken);

    public ValueTask<SysfsResult<IReadOnlyList<string>>> ListAsync(SysfsPath path, CancellationToken cancellationToken = default) => inner.ListAsync(path, cancellationToken);

    public ValueTask<SysfsResult<string>> ReadLinkAsync(SysfsPath path, CancellationToken cancellationToken = default) => inner.ReadLinkAsync(path, cancellationToken);
}
