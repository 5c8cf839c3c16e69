using System.Text;
using VfioMigration.HostSimulator.Scenarios;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.HostSimulator.Model;

/// <summary>
/// The <see cref="ISimulatedFileTree"/> of a <see cref="SimulatedHost"/>: the kernel's path walk
/// (symbolic links followed relative to their directory), sysfs open checks, and the host's
/// latency and faults around each read and write.
/// </summary>
internal sealed class SimulatedFileTree(SimulatedHost host, OperationLatency latency, IReadOnlyList<FaultRule> faults, TimeProvider timeProvider) : ISimulatedFileTree
{
    /// <summary>The kernel's MAXSYMLINKS.</summary>
    private const int MaxLinksFollowed = 40;

    /// <summary>sysfs takes at most one page per write.</summary>
    private const int PageSize = 4096;

    private const int LoggedDataLength = 120;

    // Not in the shared Errno contract; the values are the kernel's.
    private const Errno ELOOP = (Errno)40;
    private const Errno E2BIG = (Errno)7;

    public Errno GetAttributes(string path, out SimulatedNodeStat stat)
    {
        ArgumentNullException.ThrowIfNull(path);
        lock (host.Gate)
        {
            var errno = Walk(path, followLast: false, out var node);
            stat = node?.Stat ?? default;
            return errno;
        }
    }

    public Errno ListDirectory(string path, out IReadOnlyList<string> entries)
    {
        ArgumentNullException.ThrowIfNull(path);
        entries = [];
        lock (host.Gate)
        {
            var errno = Walk(path, followLast: true, out var node);
            if (errno != Errno.None)
            {
                return errno;
            }

            if (node is not DirectoryNode directory)
            {
                return Errno.ENOTDIR;
            }

            entries = [.. directory.Names];
            return Errno.None;
        }
    }

    public Errno ReadLink(string path, out string target)
    {
        ArgumentNullException.ThrowIfNull(path);
        target = string.Empty;
        lock (host.Gate)
        {
            var errno = Walk(path, followLast: false, out var node);
            if (errno != Errno.None)
            {
                return errno;
            }

            if (node is not LinkNode link)
            {
                return Errno.EINVAL;
            }

            target = link.Target;
            return Errno.None;
        }
    }

    public Errno CheckOpen(string path, bool forWrite)
    {
        ArgumentNullException.ThrowIfNull(path);
        lock (host.Gate)
        {
            return Open(path, forWrite, out _);
        }
    }

    public async ValueTask<SysfsResult<byte[]>> ReadAsync(string path, CancellationToken cancellationToken = default)
    {
        var (errno, _, content) = await RunAsync(path, write: false, ReadOnlyMemory<byte>.Empty, cancellationToken).ConfigureAwait(false);
        return errno == Errno.None ? SysfsResult.Of(content!) : SysfsResult.Failed<byte[]>(errno);
    }

    public async ValueTask<SysfsResult> WriteAsync(string path, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default) =>
        new((await WriteForOpenFileAsync(path, data, cancellationToken).ConfigureAwait(false)).Error);

    public async ValueTask<SimulatedWriteOutcome> WriteForOpenFileAsync(string path, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        var (errno, reason, content) = await RunAsync(path, write: true, data, cancellationToken).ConfigureAwait(false);
        return new(errno, reason, content);
    }

    /// <summary>
    /// open, then (outside the lock) the simulated latency and any hang, then show/store under the
    /// lock; every outcome is logged. Content is what a read shows, or what a write leaves on its
    /// open file; Reason what a write's refusal leaves there.
    /// </summary>
    private async ValueTask<(Errno Error, string? Reason, byte[]? Content)> RunAsync(string path, bool write, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(path);
        cancellationToken.ThrowIfCancellationRequested();
        var logged = write ? Escape(data.Span) : null;
        AttributeNode attribute;
        List<FaultRule> fired;
        int delay;
        lock (host.Gate)
        {
            var errno = Open(path, write, out var opened);
            if (errno == Errno.None && opened is null)
            {
                errno = Errno.EISDIR; // read() on a directory
            }
            else if (errno == Errno.None && write && data.Length > PageSize)
            {
                errno = E2BIG; // kernfs refuses a sysfs write larger than a page before the store runs
            }

            if (errno != Errno.None)
            {
                host.RecordLocked(path, logged, errno);
                return (errno, null, null);
            }

            attribute = opened!;
            var operation = write ? attribute.WriteOperation!.Value : SimulatedOperation.Read;
            fired = [.. faults.Where(f => f.Fires(operation, attribute.Owner))];
            delay = latency.For(operation) + fired.Sum(f => f.HangMs);
        }

        if (delay > 0)
        {
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(delay), timeProvider, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                lock (host.Gate)
                {
                    host.RecordLocked(path, logged, Errno.ECANCELED);
                }

                throw;
            }
        }

        lock (host.Gate)
        {
            foreach (var fault in fired.Where(f => f.DisappearingParent is { Present: true }))
            {
                host.DetachParentLocked(fault.DisappearingParent!);
            }

            var (errno, reason, content) = Complete(attribute, write, data.Span, fired.Find(f => f.Errno != Errno.None)?.Errno);
            host.RecordLocked(path, logged, errno);
            return (errno, reason, content);
        }
    }

    private static (Errno Error, string? Reason, byte[]? Content) Complete(AttributeNode attribute, bool write, ReadOnlySpan<byte> data, Errno? injected)
    {
        if (injected is { } errno)
        {
            return (errno, null, null);
        }

        if (attribute.Detached)
        {
            return (Errno.ENODEV, null, null); // kernfs: the file was opened, then its node was removed
        }

        if (!write)
        {
            var shown = attribute.Show();
            return (shown.Error, null, shown.Value);
        }

        // sysfs_kf_write returns 0 for an empty write without calling the store.
        if (data.IsEmpty)
        {
            return (Errno.None, null, null);
        }

        var stored = attribute.StoreForOpenFile(data);
        return (stored.Error, stored.Reason, stored.Content);
    }

    /// <summary>The checks of <c>open</c>; <paramref name="attribute"/> is null for a directory opened for reading.</summary>
    private Errno Open(string path, bool forWrite, out AttributeNode? attribute)
    {
        attribute = null;
        var errno = Walk(path, followLast: true, out var node);
        if (errno != Errno.None)
        {
            return errno;
        }

        switch (node)
        {
            case DirectoryNode:
                return forWrite ? Errno.EISDIR : Errno.None;
            case AttributeNode file when forWrite ? !file.Writable : !file.Readable:
                return Errno.EACCES;
            case AttributeNode file:
                attribute = file;
                return Errno.None;
            default:
                return Errno.ENOENT;
        }
    }

    /// <summary>The kernel's path walk over the model; callers hold the lock.</summary>
    private Errno Walk(string path, bool followLast, out TreeNode? node)
    {
        node = null;
        var pending = new Stack<string>();
        PushComponents(pending, path);
        TreeNode current = host.Root;
        var linksFollowed = 0;
        while (pending.TryPop(out var name))
        {
            if (current is not DirectoryNode directory)
            {
                return Errno.ENOTDIR;
            }

            if (name == ".")
            {
                continue;
            }

            if (name == "..")
            {
                current = directory.Container ?? host.Root;
                continue;
            }

            var child = directory.Find(name);
            if (child is null)
            {
                return Errno.ENOENT;
            }

            if (child is LinkNode link && (pending.Count > 0 || followLast))
            {
                if (++linksFollowed > MaxLinksFollowed)
                {
                    return ELOOP;
                }

                PushComponents(pending, link.Target);
                if (link.Target.StartsWith('/'))
                {
                    current = host.Root;
                }

                continue;
            }

            current = child;
        }

        node = current;
        return Errno.None;
    }

    private static void PushComponents(Stack<string> pending, string path)
    {
        var components = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        for (var i = components.Length - 1; i >= 0; i--)
        {
            pending.Push(components[i]);
        }
    }

    private static string Escape(ReadOnlySpan<byte> data)
    {
        var text = new StringBuilder();
        foreach (var b in data)
        {
            if (text.Length >= LoggedDataLength)
            {
                text.Append("...");
                break;
            }

            text.Append(b switch
            {
                (byte)'\n' => "\\n",
                (byte)'\\' => "\\\\",
                >= 0x20 and <= 0x7e => ((char)b).ToString(),
                _ => $"\\x{b:x2}",
            });
        }

        return text.ToString();
    }
}
