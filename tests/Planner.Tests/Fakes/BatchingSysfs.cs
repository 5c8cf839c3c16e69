using VfioMigration.Planner.Sysfs;

namespace VfioMigration.Planner.Tests.Fakes;

/// <summary>
/// A <see cref="FakeSysfs"/> seen through a file system that batches writes, as a remote one does:
/// every <see cref="WriteManyAsync"/> is recorded as one batch (its paths in order) before its writes
/// reach the fake one by one, so a test can tell one batch from writes made one at a time; every
/// <see cref="ReadManyAsync"/> likewise, in <see cref="ReadBatches"/>.
/// </summary>
internal sealed class BatchingSysfs(FakeSysfs inner) : IHostFileSystem
{
    private readonly Lock _gate = new();
    private readonly List<IReadOnlyList<string>> _batches = [];
    private readonly List<IReadOnlyList<string>> _readBatches = [];

    /// <summary>When set, every batch throws this before writing anything (the host unreachable).</summary>
    public Exception? BatchFailure { get; set; }

    /// <summary>The batches written, each as the paths it wrote, in order.</summary>
    public IReadOnlyList<IReadOnlyList<string>> Batches
    {
        get
        {
            lock (_gate)
            {
                return [.. _batches];
            }
        }
    }

    /// <summary>The batch reads made, each as the paths it read, in order (an empty one too).</summary>
    public IReadOnlyList<IReadOnlyList<string>> ReadBatches
    {
        get
        {
            lock (_gate)
            {
                return [.. _readBatches];
            }
        }
    }

    /// <summary>Whether it tells the planner that calls made at once share a round trip (the planner then probes in waves).</summary>
    public bool BatchesCalls { get; init; }

    public string Description => inner.Description;

    public ValueTask<SysfsResult<string>> ReadAsync(SysfsPath path, CancellationToken cancellationToken = default) => inner.ReadAsync(path, cancellationToken);

    public async ValueTask<IReadOnlyList<SysfsResult<string>>> ReadManyAsync(IReadOnlyList<SysfsPath> paths, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            _readBatches.Add([.. paths.Select(p => p.Value)]);
        }

        var results = new List<SysfsResult<string>>();
        foreach (var path in paths)
        {
            results.Add(await inner.ReadAsync(path, cancellationToken));
        }

        return results;
    }

    public ValueTask<SysfsResult> WriteAsync(SysfsPath path, string value, CancellationToken cancellationToken = default) => inner.WriteAsync(path, value, cancellationToken);

    public ValueTask<SysfsExchange> ExchangeAsync(SysfsPath path, string value, CancellationToken cancellationToken = default) => inner.ExchangeAsync(path, value, cancellationToken);

    public async ValueTask<IReadOnlyList<SysfsResult>> WriteManyAsync(IReadOnlyList<(SysfsPath Path, string Value)> writes, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            _batches.Add([.. writes.Select(w => w.Path.Value)]);
        }

        if (BatchFailure is { } failure)
        {
            throw failure;
        }

        var results = new List<SysfsResult>();
        foreach (var (path, value) in writes)
        {
            results.Add(await inner.WriteAsync(path, value, cancellationToken));
        }

        return results;
    }

    public ValueTask<SysfsResult<IReadOnlyList<string>>> ListAsync(SysfsPath path, CancellationToken cancellationToken = default) => inner.ListAsync(path, cancellationToken);

    public ValueTask<SysfsResult<string>> ReadLinkAsync(SysfsPath path, CancellationToken cancellationToken = default) => inner.ReadLinkAsync(path, cancellationToken);
}
