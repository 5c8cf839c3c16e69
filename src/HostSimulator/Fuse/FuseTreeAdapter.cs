using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Logging;
using VfioMigration.Planner.Sysfs;
using static VfioMigration.HostSimulator.Fuse.FuseNative;

namespace VfioMigration.HostSimulator.Fuse;

/// <summary>
/// The FUSE operations of one mount, in managed terms: each method answers one libfuse callback
/// from the simulated tree and returns 0 or a negated errno, as libfuse expects. Kept apart from
/// the native entry points (<see cref="FuseCallbacks"/>) so the sysfs semantics read plainly.
/// </summary>
/// <remarks>
/// Called concurrently from libfuse's worker threads while the kernel waits; the tree is safe for
/// concurrent use and nothing here holds a lock across a tree call, so a process reading its own
/// mount cannot deadlock.
/// </remarks>
internal sealed class FuseTreeAdapter
{
    private const uint DirectoryType = 0x4000;
    private const uint RegularFileType = 0x8000;
    private const uint SymlinkType = 0xA000;
    private const int AccessModeMask = 3;
    private const int ReadOnlyAccess = 0;
    private const int ReadWriteAccess = 2;

    /// <summary>Where the reference driver serves the reason of the last refusal on an open file.</summary>
    private const long ReasonOffset = 4096;

    /// <summary>EBADF: a read on a handle this mount never opened (a libfuse bug if it ever happens).</summary>
    private const int EBADF = 9;

    private readonly ISimulatedFileTree _tree;
    private readonly ILogger _logger;
    private readonly long _mountTimeSeconds = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
    private readonly ConcurrentDictionary<ulong, OpenFile> _openFiles = new();
    private readonly TaskCompletionSource _initialized = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _lastHandle;

    internal FuseTreeAdapter(ISimulatedFileTree tree, ILogger logger)
    {
        _tree = tree;
        _logger = logger;
    }

    /// <summary>Completes when libfuse has processed the kernel's INIT request: the mount answers from then on.</summary>
    internal Task Initialized => _initialized.Task;

    internal void MarkInitialized() => _initialized.TrySetResult();

    internal void LogCallbackFailure(string operation, string path, Exception exception) =>
        FuseLog.CallbackFailed(_logger, operation, path, exception);

    /// <summary><c>getattr</c> with lstat semantics: sizes and modes as the tree reports them.</summary>
    internal int GetAttributes(string path, ref Stat stat)
    {
        var error = _tree.GetAttributes(path, out var node);
        if (error != Errno.None)
        {
            return -(int)error;
        }

        (var type, var links) = node.Kind switch
        {
            SimulatedNodeKind.Directory => (DirectoryType, 2u),
            SimulatedNodeKind.Symlink => (SymlinkType, 1u),
            _ => (RegularFileType, 1u),
        };
        stat = default;
        stat.Mode = type | ((uint)node.Mode & 0xFFF);
        stat.LinkCount = links;
        stat.Size = node.Size;
        stat.BlockSize = 4096;
        stat.AccessSeconds = stat.ModifySeconds = stat.ChangeSeconds = _mountTimeSeconds;
        return 0;
    }

    internal int ReadLink(string path, Span<byte> buffer)
    {
        var error = _tree.ReadLink(path, out var target);
        if (error != Errno.None)
        {
            return -(int)error;
        }

        // readlink(2) truncates to the caller's buffer; libfuse wants the text NUL-terminated within size.
        var encoded = Encoding.UTF8.GetBytes(target);
        var length = Math.Min(encoded.Length, buffer.Length - 1);
        encoded.AsSpan(0, length).CopyTo(buffer);
        buffer[length] = 0;
        return 0;
    }

    internal int ListDirectory(string path, out IReadOnlyList<string> entries)
    {
        var error = _tree.ListDirectory(path, out entries);
        return -(int)error;
    }

    /// <summary>
    /// <c>open</c>: the access check happens here, as kernfs does it at open time (EACCES for a
    /// read-only attribute opened for writing and the reverse). <c>O_TRUNC</c> is ignored, as sysfs
    /// ignores it, so shell redirection works.
    /// </summary>
    internal int Open(string path, int flags, out ulong handle)
    {
        handle = 0;
        var access = flags & AccessModeMask;
        var error = _tree.CheckOpen(path, forWrite: access != ReadOnlyAccess);
        if (error == Errno.None && access == ReadWriteAccess)
        {
            error = _tree.CheckOpen(path, forWrite: false);
        }

        if (error != Errno.None)
        {
            return -(int)error;
        }

        handle = (ulong)Interlocked.Increment(ref _lastHandle);
        _openFiles[handle] = new OpenFile();
        return 0;
    }

    /// <summary>
    /// <c>read</c>: like sysfs's seq_file, the attribute is produced once per open file (at the read
    /// from offset 0) and later reads page through that snapshot, so <c>cat</c> costs one tree read.
    /// </summary>
    internal int Read(string path, ulong handle, Span<byte> destination, long offset)
    {
        if (!_openFiles.TryGetValue(handle, out var file))
        {
            return -EBADF;
        }

        // The reference driver's per-open reason sits at offset 4096 of the same open file.
        if (offset >= ReasonOffset)
        {
            var reason = file.Reason ?? [];
            return CopyFrom(reason, offset - ReasonOffset, destination);
        }

        var content = file.Content;
        if (content is null || (offset == 0 && !file.Asked))
        {
            var result = Wait(_tree.ReadAsync(path));
            if (!result.Succeeded)
            {
                return -(int)result.Error;
            }

            content = file.Content = result.Value!;
        }

        return CopyFrom(content, offset, destination);
    }

    /// <summary>
    /// <c>write</c>: one write system call is one tree write of the whole buffer (sysfs ignores the
    /// offset); the tree refuses more than a page (E2BIG) as kernfs does. What the write leaves on
    /// its open file (a refusal's reason; write and ask's question and answer) is kept with the
    /// handle, as the reference driver keeps it per open file.
    /// </summary>
    internal int Write(string path, ulong handle, ReadOnlySpan<byte> data)
    {
        if (!_openFiles.TryGetValue(handle, out var file))
        {
            return -EBADF;
        }

        var outcome = Wait(_tree.WriteForOpenFileAsync(path, data.ToArray()));
        file.Reason = outcome.Reason is null ? null : Encoding.ASCII.GetBytes(outcome.Reason);
        if (outcome.Content is not null || file.Asked)
        {
            // A new question replaces the last; a refused one leaves nothing asked (reads fail again).
            file.Asked = outcome.Content is not null;
            file.Content = outcome.Content;
        }

        return outcome.Error == Errno.None ? data.Length : -(int)outcome.Error;
    }

    private static int CopyFrom(byte[] content, long offset, Span<byte> destination)
    {
        if (offset >= content.Length)
        {
            return 0;
        }

        var count = (int)Math.Min(destination.Length, content.Length - offset);
        content.AsSpan((int)offset, count).CopyTo(destination);
        return count;
    }

    /// <summary><c>truncate</c>/<c>ftruncate</c>: accepted and ignored on a writable attribute, as sysfs does.</summary>
    internal int Truncate(string path) => -(int)_tree.CheckOpen(path, forWrite: true);

    internal void Release(ulong handle) => _openFiles.TryRemove(handle, out _);

    /// <summary>
    /// libfuse calls back on its own threads and waits for the answer, so the simulated latency is
    /// waited for here; the tree never needs this thread to make progress.
    /// </summary>
    private static T Wait<T>(ValueTask<T> pending) =>
        pending.IsCompletedSuccessfully ? pending.Result : pending.AsTask().GetAwaiter().GetResult();

    private sealed class OpenFile
    {
        /// <summary>The snapshot taken at the read from offset 0 (racing reads of one descriptor may each take one), or the question and answer of write and ask.</summary>
        public volatile byte[]? Content;

        /// <summary>The reason the last write on this open file left (read at offset 4096); null for none.</summary>
        public volatile byte[]? Reason;

        /// <summary>Set while <see cref="Content"/> is write and ask's question and answer, which reads never replace.</summary>
        public volatile bool Asked;
    }
}
