using VfioMigration.Planner.Sysfs;

namespace VfioMigration.HostSimulator;

/// <summary>What a node of the simulated file tree is.</summary>
public enum SimulatedNodeKind
{
    /// <summary>A directory.</summary>
    Directory,

    /// <summary>A regular file (a sysfs attribute).</summary>
    File,

    /// <summary>A symbolic link.</summary>
    Symlink,
}

/// <summary>The <c>lstat</c> view of one node.</summary>
/// <param name="Kind">Directory, attribute file or link.</param>
/// <param name="Mode">Permission bits, e.g. <c>0o444</c> for a read-only attribute, <c>0o200</c> for <c>create</c>.</param>
/// <param name="Size">Size in bytes as sysfs reports it (4096 for attributes, the target length for links).</param>
public readonly record struct SimulatedNodeStat(SimulatedNodeKind Kind, int Mode, long Size);

/// <summary>
/// What one write leaves on the open file it was made through, for the per-open attributes of the
/// reference driver migref (docs/reference-driver.md): the reason of a refusal, read at offset 4096
/// of the same open file, and for write and ask the file's new content (the question followed by
/// its answer).
/// </summary>
/// <param name="Error">The write's errno, as <see cref="ISimulatedFileTree.WriteAsync"/> returns it.</param>
/// <param name="Reason">The reason the driver keeps for a refusal (or an empty answer); null when it keeps none.</param>
/// <param name="Content">The open file's content from now on (write and ask); null when reads stay the attribute's own.</param>
public readonly record struct SimulatedWriteOutcome(Errno Error, string? Reason, byte[]? Content);

/// <summary>
/// The simulated host seen as a file tree, with a kernel's semantics. Both front ends sit on it:
/// the in-process <see cref="IHostFileSystem"/> and the FUSE mount. Paths are relative to the
/// sysfs root, <c>/</c>-separated, <c>""</c> for the root. Intermediate symbolic links are followed
/// as the kernel's path walk would; the last component is not followed by <see cref="GetAttributes"/>
/// and <see cref="ReadLink"/> (lstat semantics) and is followed by <see cref="ReadAsync"/>,
/// <see cref="WriteAsync"/>, <see cref="CheckOpen"/> and <see cref="ListDirectory"/>, as <c>open</c>
/// does. Safe for concurrent use.
/// </summary>
public interface ISimulatedFileTree
{
    /// <summary><c>lstat</c>: ENOENT when absent, ENOTDIR when a middle component is a file.</summary>
    Errno GetAttributes(string path, out SimulatedNodeStat stat);

    /// <summary><c>opendir</c> + <c>readdir</c>: the entry names (no <c>.</c>/<c>..</c>).</summary>
    Errno ListDirectory(string path, out IReadOnlyList<string> entries);

    /// <summary><c>readlink</c>: the link's target text (relative, as sysfs writes them); EINVAL when not a link.</summary>
    Errno ReadLink(string path, out string target);

    /// <summary>The permission check of <c>open</c>: EACCES when opening a read-only attribute for writing or a write-only one for reading, EISDIR for a directory opened for writing, ENOENT when absent.</summary>
    Errno CheckOpen(string path, bool forWrite);

    /// <summary><c>open(O_RDONLY)</c> + <c>read</c>: the whole content, after the simulated read latency; faults (EIO, a missing parent) surface here.</summary>
    ValueTask<SysfsResult<byte[]>> ReadAsync(string path, CancellationToken cancellationToken = default);

    /// <summary><c>open(O_WRONLY)</c> + one <c>write</c> of <paramref name="data"/>: the errno the kernel or vendor driver would return, after the simulated latency.</summary>
    ValueTask<SysfsResult> WriteAsync(string path, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default);

    /// <summary>
    /// <see cref="WriteAsync"/>, with what the write leaves on its open file (see
    /// <see cref="SimulatedWriteOutcome"/>). The default keeps nothing: a tree without per-open
    /// attributes needs no more.
    /// </summary>
    async ValueTask<SimulatedWriteOutcome> WriteForOpenFileAsync(string path, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default) =>
        new((await WriteAsync(path, data, cancellationToken).ConfigureAwait(false)).Error, null, null);
}
