namespace VfioMigration.Planner.Sysfs;

/// <summary>
/// Access to one host's sysfs, with the kernel's semantics: each operation reports the errno a
/// kernel would (an absent attribute is <see cref="Errno.ENOENT"/>, a rejected version write is
/// whatever the vendor driver returned). Implementations: the local file system under a root
/// directory (<c>/sys</c> by default), the host simulator (in-process), and a remote host over SSH.
/// </summary>
/// <remarks>
/// Operations report errors as an <see cref="Errno"/> in the result instead of throwing, because a
/// failing sysfs operation is normal data to the planner (an incompatible target, an exhausted type).
/// They throw only when the host itself cannot be reached, and on cancellation.
/// Implementations must be safe for concurrent use.
/// </remarks>
public interface IHostFileSystem
{
    /// <summary>A short description of the host for messages, e.g. <c>local /sys</c> or <c>root@host2 (ssh)</c>.</summary>
    string Description { get; }

    /// <summary>Reads a whole attribute (one <c>open</c>, <c>read</c> until end of file, <c>close</c>).</summary>
    /// <returns>The content exactly as read (sysfs values usually end with a newline), or the errno of the failing step.</returns>
    ValueTask<SysfsResult<string>> ReadAsync(SysfsPath path, CancellationToken cancellationToken = default);

    /// <summary>
    /// Writes <paramref name="value"/> into an attribute with one <c>open(O_WRONLY)</c> and a single
    /// <c>write()</c> of the whole string, as sysfs requires; the result carries the errno of
    /// <c>open</c> or of <c>write</c>.
    /// </summary>
    /// <param name="path">The attribute.</param>
    /// <param name="value">ASCII text, at most 4096 bytes (one page).</param>
    /// <param name="cancellationToken">Cancels the wait; the write may still reach the kernel.</param>
    ValueTask<SysfsResult> WriteAsync(SysfsPath path, string value, CancellationToken cancellationToken = default);

    /// <summary>
    /// Writes <paramref name="value"/> as <see cref="WriteAsync"/> does, but on a file opened for
    /// reading and writing, then reads on that same open file what a per-open attribute keeps for
    /// it: the reply after the write and the reason at offset 4096 (see <see cref="SysfsExchange"/>).
    /// The default makes a plain <see cref="WriteAsync"/> and reads nothing, which is what a file
    /// system that cannot keep one file open for the reads can offer (the SSH file system keeps it
    /// open on the host for the one batch).
    /// </summary>
    /// <param name="path">The attribute.</param>
    /// <param name="value">ASCII text, at most 4096 bytes (one page).</param>
    /// <param name="cancellationToken">Cancels the wait; the write may still reach the kernel.</param>
    async ValueTask<SysfsExchange> ExchangeAsync(SysfsPath path, string value, CancellationToken cancellationToken = default) =>
        new((await WriteAsync(path, value, cancellationToken).ConfigureAwait(false)).Error, null, null);

    /// <summary>
    /// Writes several attributes in the order given, each as <see cref="WriteAsync"/> does (one
    /// <c>write()</c>, its own errno), every one attempted whatever the others returned. Remote
    /// implementations send them in one round trip; the default writes them one by one.
    /// </summary>
    /// <param name="writes">The attributes and the values to write into them.</param>
    /// <param name="cancellationToken">Cancels the wait; writes may still reach the kernel.</param>
    /// <returns>One result per write, in the order given.</returns>
    async ValueTask<IReadOnlyList<SysfsResult>> WriteManyAsync(IReadOnlyList<(SysfsPath Path, string Value)> writes, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(writes);
        var results = new SysfsResult[writes.Count];
        for (var i = 0; i < writes.Count; i++)
        {
            results[i] = await WriteAsync(writes[i].Path, writes[i].Value, cancellationToken).ConfigureAwait(false);
        }

        return results;
    }

    /// <summary>
    /// Round trips to the host so far (a remote file system's requests, each answered over the
    /// network); 0 for a file system that makes none (local sysfs, in process). Plans report the
    /// difference (<see cref="PlanStatistics.SourceRoundTrips"/>, <see cref="PlanStatistics.DestinationRoundTrips"/>).
    /// </summary>
    long RoundTrips => 0;

    /// <summary>
    /// Whether calls made at the same moment share one round trip (a remote file system that batches
    /// them). The planner then evaluates the candidates its search will reach in waves, one round trip
    /// per step, at the price of a probe it may not need after a refusal; on a file system that does
    /// not (false: local sysfs, in process) it probes one candidate at a time and never one it does not
    /// need.
    /// </summary>
    bool BatchesCalls => false;

    /// <summary>Lists the entry names of a directory (not <c>.</c> and <c>..</c>), in no particular order.</summary>
    ValueTask<SysfsResult<IReadOnlyList<string>>> ListAsync(SysfsPath path, CancellationToken cancellationToken = default);

    /// <summary>Reads the target of a symbolic link (as <c>readlink</c> returns it, usually relative).</summary>
    ValueTask<SysfsResult<string>> ReadLinkAsync(SysfsPath path, CancellationToken cancellationToken = default);

    /// <summary>
    /// Reads several attributes. Remote implementations answer in one round trip; the default reads
    /// them one by one.
    /// </summary>
    /// <returns>One result per path, in the order given.</returns>
    async ValueTask<IReadOnlyList<SysfsResult<string>>> ReadManyAsync(IReadOnlyList<SysfsPath> paths, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var results = new SysfsResult<string>[paths.Count];
        for (var i = 0; i < paths.Count; i++)
        {
            results[i] = await ReadAsync(paths[i], cancellationToken).ConfigureAwait(false);
        }

        return results;
    }
}
