using VfioMigration.HostSimulator;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.Bench;

/// <summary>
/// An <see cref="ISimulatedFileTree"/> that adds up the managed bytes the simulated host allocates
/// answering the planner's sysfs calls (its path walk, operation log, the bytes a read returns): on
/// a real host the kernel does that work, outside the planner's process, so the bench reports it
/// apart from the planner's own allocations.
/// </summary>
/// <remarks>
/// Counted with <see cref="GC.GetAllocatedBytesForCurrentThread"/> around each call, which is exact
/// for a call that completes before it returns, as every call does with no simulated latency (the
/// runs whose allocations the bench reports). A call that goes asynchronous (a simulated delay) is
/// counted in <see cref="AsynchronousCalls"/> and only its synchronous part is added: a run that
/// reports allocations checks that there were none.
/// </remarks>
/// <param name="inner">The simulated host's tree.</param>
public sealed class AllocationCountingTree(ISimulatedFileTree inner) : ISimulatedFileTree
{
    private long _bytes;
    private long _asynchronous;

    /// <summary>Managed bytes allocated inside the tree's calls so far.</summary>
    public long AllocatedBytes => Interlocked.Read(ref _bytes);

    /// <summary>Calls so far that did not complete before returning (their later part is not counted).</summary>
    public long AsynchronousCalls => Interlocked.Read(ref _asynchronous);

    /// <inheritdoc />
    public Errno GetAttributes(string path, out SimulatedNodeStat stat)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        var errno = inner.GetAttributes(path, out stat);
        Add(before);
        return errno;
    }

    /// <inheritdoc />
    public Errno ListDirectory(string path, out IReadOnlyList<string> entries)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        var errno = inner.ListDirectory(path, out entries);
        Add(before);
        return errno;
    }

    /// <inheritdoc />
    public Errno ReadLink(string path, out string target)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        var errno = inner.ReadLink(path, out target);
        Add(before);
        return errno;
    }

    /// <inheritdoc />
    public Errno CheckOpen(string path, bool forWrite)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        var errno = inner.CheckOpen(path, forWrite);
        Add(before);
        return errno;
    }

    /// <inheritdoc />
    public ValueTask<SysfsResult<byte[]>> ReadAsync(string path, CancellationToken cancellationToken = default)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        return Counted(inner.ReadAsync(path, cancellationToken), before);
    }

    /// <inheritdoc />
    public ValueTask<SysfsResult> WriteAsync(string path, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        return Counted(inner.WriteAsync(path, data, cancellationToken), before);
    }

    /// <inheritdoc />
    public ValueTask<SimulatedWriteOutcome> WriteForOpenFileAsync(string path, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        return Counted(inner.WriteForOpenFileAsync(path, data, cancellationToken), before);
    }

    private ValueTask<T> Counted<T>(ValueTask<T> pending, long before)
    {
        if (!pending.IsCompleted)
        {
            Interlocked.Increment(ref _asynchronous);
        }

        Add(before);
        return pending;
    }

    private void Add(long before) => Interlocked.Add(ref _bytes, GC.GetAllocatedBytesForCurrentThread() - before);
}
