using System.Text;
using VfioMigration.HostSimulator.Scenarios;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.HostSimulator.Model;

/// <summary>A read-only attribute with fixed content (<c>name</c>, <c>device_api</c>, <c>vendor</c>...).</summary>
internal sealed class TextAttribute(AttributeOwner owner, string text) : AttributeNode(owner, 0b100_100_100)
{
    private readonly byte[] _content = Encoding.ASCII.GetBytes(text + "\n");

    public override SimulatedOperation? WriteOperation => null;

    public override SysfsResult<byte[]> Show() => SysfsResult.Of(_content);
}

/// <summary>A type's <c>available_instances</c>, computed from the parent's capacity at each read.</summary>
internal sealed class AvailableInstancesAttribute(AttributeOwner owner, MdevTypeModel type) : AttributeNode(owner, 0b100_100_100)
{
    public override SimulatedOperation? WriteOperation => null;

    public override SysfsResult<byte[]> Show() => SysfsResult.Of(Encoding.ASCII.GetBytes($"{type.AvailableInstances}\n"));
}

/// <summary>A type's <c>create</c> (write-only).</summary>
internal sealed class CreateAttribute(AttributeOwner owner, MdevTypeModel type, SimulatedHost host) : AttributeNode(owner, 0b010_000_000)
{
    public override SimulatedOperation? WriteOperation => SimulatedOperation.Create;

    public override Errno Store(ReadOnlySpan<byte> data) => host.CreateFromSysfs(type, data);
}

/// <summary>An mdev's <c>remove</c> (write-only).</summary>
internal sealed class RemoveAttribute(AttributeOwner owner, MdevModel mdev, SimulatedHost host) : AttributeNode(owner, 0b010_000_000)
{
    public override SimulatedOperation? WriteOperation => SimulatedOperation.Remove;

    public override Errno Store(ReadOnlySpan<byte> data) => host.RemoveFromSysfs(mdev, data);
}

/// <summary>A version attribute (<c>migration_version</c>, <c>vfio_migration_version</c>), read-write.</summary>
internal sealed class VersionAttribute(AttributeOwner owner, VersionBehaviour behaviour) : AttributeNode(owner, 0b110_100_100)
{
    public override SimulatedOperation? WriteOperation => SimulatedOperation.VersionWrite;

    public override SysfsResult<byte[]> Show() => behaviour.Read();

    public override Errno Store(ReadOnlySpan<byte> data) => behaviour.Write(data);

    public override SimulatedWriteOutcome StoreForOpenFile(ReadOnlySpan<byte> data) => new(behaviour.Write(data, out var reason), reason, null);
}

/// <summary>A parent's <c>migration_query</c> (write and ask, 0600): a read before any question fails ENODATA; a write asks.</summary>
internal sealed class QueryAttribute(AttributeOwner owner, MigrationQuery query) : AttributeNode(owner, 0b110_000_000)
{
    public override SimulatedOperation? WriteOperation => SimulatedOperation.VersionWrite;

    public override SysfsResult<byte[]> Show() => SysfsResult.Failed<byte[]>(Errno.ENODATA);

    public override Errno Store(ReadOnlySpan<byte> data) => query.Ask(data).Error;

    public override SimulatedWriteOutcome StoreForOpenFile(ReadOnlySpan<byte> data) => query.Ask(data);
}
