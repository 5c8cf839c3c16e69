using VfioMigration.HostSimulator.Scenarios;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.HostSimulator.Model;

/// <summary>A node of the simulated sysfs tree. Mutated only under the host's lock.</summary>
internal abstract class TreeNode
{
    /// <summary>The directory holding this node; null for the root.</summary>
    public DirectoryNode? Container { get; set; }

    /// <summary>Set when the node was unlinked (its device removed, its parent gone), so an operation that opened it earlier sees ENODEV.</summary>
    public bool Detached { get; private set; }

    public abstract SimulatedNodeStat Stat { get; }

    public virtual void Detach() => Detached = true;
}

internal sealed class DirectoryNode : TreeNode
{
    private readonly SortedDictionary<string, TreeNode> _children = new(StringComparer.Ordinal);

    public override SimulatedNodeStat Stat => new(SimulatedNodeKind.Directory, 0b111_101_101, 0);

    public IReadOnlyCollection<string> Names => _children.Keys;

    public TreeNode? Find(string name) => _children.GetValueOrDefault(name);

    public T Add<T>(string name, T node)
        where T : TreeNode
    {
        if (!_children.TryAdd(name, node))
        {
            throw new InvalidOperationException($"The simulated tree already has '{name}' here; the scenario validation should have refused this.");
        }

        node.Container = this;
        return node;
    }

    public DirectoryNode Directory(string name) =>
        _children.TryGetValue(name, out var existing) ? (DirectoryNode)existing : Add(name, new DirectoryNode());

    /// <summary>Makes (or finds) the directories of a relative path below this one.</summary>
    public DirectoryNode Directories(string relativePath)
    {
        var current = this;
        foreach (var segment in relativePath.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            current = current.Directory(segment);
        }

        return current;
    }

    public void Remove(string name)
    {
        if (_children.Remove(name, out var node))
        {
            node.Detach();
        }
    }

    public override void Detach()
    {
        base.Detach();
        foreach (var child in _children.Values)
        {
            child.Detach();
        }
    }
}

internal sealed class LinkNode(string target) : TreeNode
{
    public string Target { get; } = target;

    public override SimulatedNodeStat Stat => new(SimulatedNodeKind.Symlink, 0b111_111_111, Target.Length);
}

/// <summary>What an attribute is about: which parent, type and device it belongs to (for fault matching and the log).</summary>
internal readonly record struct AttributeOwner(string? Parent, string? Type, string? Device);

/// <summary>A sysfs attribute file whose content and write handling come from the model.</summary>
internal abstract class AttributeNode(AttributeOwner owner, int mode) : TreeNode
{
    public AttributeOwner Owner { get; } = owner;

    public int Mode { get; } = mode;

    public bool Readable => (Mode & 0b100_100_100) != 0;

    public bool Writable => (Mode & 0b010_010_010) != 0;

    /// <summary>Which operation a write of this attribute is (for latency, faults and the log); null when it cannot be written.</summary>
    public abstract SimulatedOperation? WriteOperation { get; }

    public override SimulatedNodeStat Stat => new(SimulatedNodeKind.File, Mode, 4096);

    /// <summary>The <c>show</c> callback: called under the host's lock.</summary>
    public virtual SysfsResult<byte[]> Show() => SysfsResult.Failed<byte[]>(Errno.EACCES);

    /// <summary>The <c>store</c> callback: called under the host's lock with the bytes of one <c>write</c> (never empty, at most a page).</summary>
    public virtual Errno Store(ReadOnlySpan<byte> data) => Errno.EACCES;

    /// <summary><see cref="Store"/>, with what the write leaves on its open file (a per-open attribute overrides this).</summary>
    public virtual SimulatedWriteOutcome StoreForOpenFile(ReadOnlySpan<byte> data) => new(Store(data), null, null);
}
