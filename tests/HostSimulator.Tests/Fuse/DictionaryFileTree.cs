using System.Collections.Concurrent;
using System.Text;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.HostSimulator.Tests.Fuse;

/// <summary>
/// A small dictionary-backed <see cref="ISimulatedFileTree"/> for testing the FUSE layer alone.
/// Through FUSE the kernel resolves symbolic links itself before it opens, reads or lists, so the
/// double does not follow links; it records every write it receives.
/// </summary>
internal sealed class DictionaryFileTree : ISimulatedFileTree
{
    private readonly ConcurrentDictionary<string, Node> _nodes = new(StringComparer.Ordinal);

    private DictionaryFileTree()
    {
    }

    /// <summary>Every write that reached the tree, in order: path and the bytes as text.</summary>
    public ConcurrentQueue<(string Path, string Data)> Writes { get; } = new();

    /// <summary>Number of reads that reached the tree.</summary>
    public int ReadCount => _readCount;

    private int _readCount;

    /// <summary>
    /// <c>dir/</c> with <c>ro</c> (r--r--r--, "hello\n"), <c>wo</c> (0200), <c>rw</c> (0644, stores writes),
    /// <c>rejects</c> (0200, every write EINVAL), <c>broken</c> (0444, read fails EIO), <c>sub/</c>;
    /// <c>link</c> → <c>dir</c>.
    /// </summary>
    public static DictionaryFileTree Sample()
    {
        var tree = new DictionaryFileTree();
        tree.Add("", Node.Directory());
        tree.Add("dir", Node.Directory());
        tree.Add("dir/sub", Node.Directory());
        tree.Add("dir/ro", Node.File(0b100_100_100, "hello\n"));
        tree.Add("dir/wo", Node.File(0b010_000_000, string.Empty));
        tree.Add("dir/rw", Node.File(0b110_100_100, "1\n"));
        tree.Add("dir/rejects", Node.File(0b010_000_000, string.Empty) with { WriteError = Errno.EINVAL });
        tree.Add("dir/broken", Node.File(0b100_100_100, string.Empty) with { ReadError = Errno.EIO });
        tree.Add("link", Node.Link("dir"));
        return tree;
    }

    /// <summary>A tree with <paramref name="count"/> read-only attributes <c>dir/attr{i}</c>.</summary>
    public static DictionaryFileTree WithAttributes(int count)
    {
        var tree = new DictionaryFileTree();
        tree.Add("", Node.Directory());
        tree.Add("dir", Node.Directory());
        for (var i = 0; i < count; i++)
        {
            tree.Add($"dir/attr{i}", Node.File(0b100_100_100, $"{i}\n"));
        }

        return tree;
    }

    public string ContentOf(string path) => _nodes[path].Content;

    public Errno GetAttributes(string path, out SimulatedNodeStat stat)
    {
        stat = default;
        var error = Find(path, out var node);
        if (error != Errno.None)
        {
            return error;
        }

        stat = new SimulatedNodeStat(node.Kind, node.Mode, node.Kind == SimulatedNodeKind.Symlink ? node.Content.Length : node.Kind == SimulatedNodeKind.File ? 4096 : 0);
        return Errno.None;
    }

    public Errno ListDirectory(string path, out IReadOnlyList<string> entries)
    {
        entries = [];
        var error = Find(path, out var node);
        if (error != Errno.None)
        {
            return error;
        }

        if (node.Kind != SimulatedNodeKind.Directory)
        {
            return Errno.ENOTDIR;
        }

        var prefix = path.Length == 0 ? string.Empty : path + "/";
        entries = _nodes.Keys.Where(key => key.Length > prefix.Length && key.StartsWith(prefix, StringComparison.Ordinal) && !key[prefix.Length..].Contains('/', StringComparison.Ordinal))
            .Select(key => key[prefix.Length..]).ToList();
        return Errno.None;
    }

    public Errno ReadLink(string path, out string target)
    {
        target = string.Empty;
        var error = Find(path, out var node);
        if (error != Errno.None)
        {
            return error;
        }

        if (node.Kind != SimulatedNodeKind.Symlink)
        {
            return Errno.EINVAL;
        }

        target = node.Content;
        return Errno.None;
    }

    public Errno CheckOpen(string path, bool forWrite)
    {
        var error = Find(path, out var node);
        if (error != Errno.None)
        {
            return error;
        }

        return node.Kind switch
        {
            SimulatedNodeKind.Directory => forWrite ? Errno.EISDIR : Errno.None,
            _ when forWrite && (node.Mode & 0b010_010_010) == 0 => Errno.EACCES,
            _ when !forWrite && (node.Mode & 0b100_100_100) == 0 => Errno.EACCES,
            _ => Errno.None,
        };
    }

    public ValueTask<SysfsResult<byte[]>> ReadAsync(string path, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _readCount);
        var error = CheckOpen(path, forWrite: false);
        if (error == Errno.None && _nodes[path].ReadError is var readError and not Errno.None)
        {
            error = readError;
        }

        return ValueTask.FromResult(error == Errno.None
            ? SysfsResult.Of(Encoding.ASCII.GetBytes(_nodes[path].Content))
            : SysfsResult.Failed<byte[]>(error));
    }

    public ValueTask<SysfsResult> WriteAsync(string path, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        var error = CheckOpen(path, forWrite: true);
        if (error != Errno.None)
        {
            return ValueTask.FromResult(new SysfsResult(error));
        }

        var text = Encoding.ASCII.GetString(data.Span);
        Writes.Enqueue((path, text));
        var node = _nodes[path];
        if (node.WriteError != Errno.None)
        {
            return ValueTask.FromResult(new SysfsResult(node.WriteError));
        }

        _nodes[path] = node with { Content = text };
        return ValueTask.FromResult(SysfsResult.Success);
    }

    private void Add(string path, Node node) => _nodes[path] = node;

    /// <summary>lstat's walk: ENOTDIR when a middle component is not a directory, ENOENT when anything is missing.</summary>
    private Errno Find(string path, out Node node)
    {
        var parts = path.Length == 0 ? [] : path.Split('/');
        for (var i = 1; i < parts.Length; i++)
        {
            if (_nodes.TryGetValue(string.Join('/', parts[..i]), out var parent) && parent.Kind != SimulatedNodeKind.Directory)
            {
                node = parent;
                return Errno.ENOTDIR;
            }
        }

        return _nodes.TryGetValue(path, out node!) ? Errno.None : Errno.ENOENT;
    }

    private sealed record Node(SimulatedNodeKind Kind, int Mode, string Content)
    {
        public Errno WriteError { get; init; }

        public Errno ReadError { get; init; }

        public static Node Directory() => new(SimulatedNodeKind.Directory, 0b111_101_101, string.Empty);

        public static Node File(int mode, string content) => new(SimulatedNodeKind.File, mode, content);

        public static Node Link(string target) => new(SimulatedNodeKind.Symlink, 0b111_111_111, target);
    }
}
