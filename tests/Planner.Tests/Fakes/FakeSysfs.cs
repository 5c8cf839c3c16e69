using System.Globalization;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.Planner.Tests.Fakes;

/// <summary>The host model seen as sysfs, with the kernel's errnos; every operation is recorded.</summary>
internal sealed class FakeSysfs(FakeHost host) : IHostFileSystem
{
    /// <summary>Writes to these paths fail with the errno.</summary>
    public Dictionary<string, Errno> FailingWrites { get; } = [];

    /// <summary>Writes to these paths throw, as when the host cannot be reached.</summary>
    public HashSet<string> ThrowingWrites { get; } = [];

    /// <summary>Writes to these paths reach the host, then the answer is lost, as when a connection drops mid-write.</summary>
    public HashSet<string> WritesLosingTheirAnswer { get; } = [];

    /// <summary>Writes to these paths never answer until cancelled.</summary>
    public HashSet<string> HangingWrites { get; } = [];

    /// <summary>What a write to these per-open attributes (a parent's <c>migration_query</c>) reads back on the same open file.</summary>
    public Dictionary<string, SysfsExchange> Answers { get; } = [];

    /// <summary>Completes when a write to a hanging path starts.</summary>
    public TaskCompletionSource HangStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>What reads of these paths give instead of the model's: a failure, or a driver's odd text.</summary>
    public Dictionary<string, SysfsResult<string>> Reads { get; } = [];

    /// <summary>Listings of these directories fail with the errno.</summary>
    public Dictionary<string, Errno> FailingLists { get; } = [];

    /// <summary>Names these directory listings show besides the model's (stray or hostile entries).</summary>
    public Dictionary<string, string[]> ExtraEntries { get; } = [];

    public string Description => $"fake sysfs of {host.Name}";

    /// <summary>Whether the planner should batch its calls as over SSH (probe waves, <see cref="IHostFileSystem.BatchesCalls"/>); false as on a local host.</summary>
    public bool BatchesCalls { get; set; }

    public ValueTask<SysfsResult<string>> ReadAsync(SysfsPath path, CancellationToken cancellationToken = default)
    {
        host.Record($"read {path}");
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(Reads.TryGetValue(path.Value, out var given) ? given : Read(path.Value.Split('/')));
    }

    public async ValueTask<SysfsResult> WriteAsync(SysfsPath path, string value, CancellationToken cancellationToken = default)
    {
        host.Record($"write {path} {value}");
        cancellationToken.ThrowIfCancellationRequested();
        if (HangingWrites.Contains(path.Value))
        {
            HangStarted.TrySetResult();
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }

        if (path.Value.Split('/') is ["class", "mdev_bus", var parent, "mdev_supported_types", var type, "create"] && host.FindType(parent, type) is { } created)
        {
            await host.WhileCreatingAsync(created, cancellationToken);
        }

        if (ThrowingWrites.Contains(path.Value))
        {
            throw new IOException($"ssh: connection to {host.Name} lost");
        }

        if (FailingWrites.TryGetValue(path.Value, out var failure))
        {
            return new SysfsResult(failure);
        }

        var errno = Write(path.Value.Split('/'), value);
        if (WritesLosingTheirAnswer.Contains(path.Value))
        {
            throw new IOException($"ssh: connection to {host.Name} lost after the write was sent");
        }

        return new SysfsResult(errno);
    }

    public async ValueTask<SysfsExchange> ExchangeAsync(SysfsPath path, string value, CancellationToken cancellationToken = default)
    {
        if (!Answers.TryGetValue(path.Value, out var answer))
        {
            return new SysfsExchange((await WriteAsync(path, value, cancellationToken)).Error, null, null);
        }

        host.Record($"write {path} {value}");
        cancellationToken.ThrowIfCancellationRequested();
        return answer;
    }

    public ValueTask<SysfsResult<IReadOnlyList<string>>> ListAsync(SysfsPath path, CancellationToken cancellationToken = default)
    {
        host.Record($"list {path}");
        cancellationToken.ThrowIfCancellationRequested();
        if (FailingLists.TryGetValue(path.Value, out var failure))
        {
            return ValueTask.FromResult(SysfsResult.Failed<IReadOnlyList<string>>(failure));
        }

        if (ExtraEntries.TryGetValue(path.Value, out var extra))
        {
            var listed = List(path.Value.Split('/'));
            return ValueTask.FromResult(SysfsResult.Of<IReadOnlyList<string>>([.. listed.Value ?? [], .. extra]));
        }

        return ValueTask.FromResult(List(path.Value.Split('/')));
    }

    private SysfsResult<IReadOnlyList<string>> List(string[] parts)
    {
        lock (host.Gate)
        {
            switch (parts)
            {
                case ["class", "mdev_bus"] when host.Parents.Count > 0:
                    return SysfsResult.Of<IReadOnlyList<string>>([.. host.Parents.Select(p => p.SysfsName.Value)]);
                case ["class", "mdev_bus", var parent, "mdev_supported_types"] when host.Parents.FirstOrDefault(p => p.SysfsName.Value == parent) is { } p:
                    return SysfsResult.Of<IReadOnlyList<string>>([.. p.Types.Select(t => t.Id.Value)]);
                case ["class", "mdev_bus", var parent, "mdev_supported_types", var type, "devices"] when host.FindType(parent, type) is { } t:
                    return SysfsResult.Of<IReadOnlyList<string>>([.. host.Mdevs.Where(m => m.Type == t).Select(m => m.Uuid.Value)]);
                default:
                    return SysfsResult.Failed<IReadOnlyList<string>>(Errno.ENOENT);
            }
        }
    }

    public ValueTask<SysfsResult<string>> ReadLinkAsync(SysfsPath path, CancellationToken cancellationToken = default)
    {
        host.Record($"readlink {path}");
        cancellationToken.ThrowIfCancellationRequested();
        var parts = path.Value.Split('/');
        if (parts is ["bus", "mdev", "devices", var uuid, "mdev_type"] && host.FindMdev(uuid) is { } mdev)
        {
            return ValueTask.FromResult(SysfsResult.Of($"../../../devices/pci0000:00/{mdev.Type.Parent.SysfsName}/mdev_supported_types/{mdev.Type.Id}"));
        }

        if (parts is ["bus", "pci", "devices", var function, "physfn"] && FindPci(function)?.Vf?.Gpu is { } gpu)
        {
            return ValueTask.FromResult(SysfsResult.Of($"../{gpu.Address}"));
        }

        return ValueTask.FromResult(SysfsResult.Failed<string>(Errno.ENOENT));
    }

    private SysfsResult<string> Read(string[] parts)
    {
        switch (parts)
        {
            case ["class", "mdev_bus", var parent, "mdev_supported_types", var type, "available_instances"] when host.FindType(parent, type) is { } t:
                return SysfsResult.Of(host.Available(t).ToString(CultureInfo.InvariantCulture) + "\n");
            case ["class", "mdev_bus", var parent, "mdev_supported_types", var type, "migration_version"] when host.FindType(parent, type)?.TypeVersion is { } v:
                return SysfsResult.Of(v.Version + "\n");
            case ["class", "mdev_bus", var parent, "mdev_supported_types", var type, "name"] when host.FindType(parent, type) is { } t:
                return SysfsResult.Of(t.Id.Value + "\n");
            case ["class", "mdev_bus", var parent, "mdev_supported_types", var type, "device_api"] when host.FindType(parent, type) is { } t:
                return SysfsResult.Of(t.DeviceApi + "\n");
            case ["bus", "mdev", "devices", var uuid, "migration_version"] when host.FindMdev(uuid)?.Version is { } v:
                return SysfsResult.Of(v.Version + "\n");
            case ["bus", "pci", "devices", var address, "nvidia", var attribute] when FindPci(address)?.Vf is { } vf:
                return attribute switch
                {
                    "current_vgpu_type" => SysfsResult.Of(vf.Type.ToString(CultureInfo.InvariantCulture) + "\n"),
                    "creatable_vgpu_types" => SysfsResult.Of(vf.Creatable()),
                    _ => SysfsResult.Failed<string>(Errno.ENOENT),
                };
            case ["bus", "pci", "devices", var address, "vfio_migration_version"] when FindPci(address)?.Vf is { Type: 0 }:
                // A VF without a vGPU has nothing to migrate.
                return SysfsResult.Failed<string>(Errno.ENODEV);
            case ["bus", "pci", "devices", var address, var attribute] when FindPci(address) is { } pci:
                return attribute switch
                {
                    "vfio_migration_type" when pci.MigrationType is { } type => SysfsResult.Of(type + "\n"),
                    "vfio_migration_version" when pci.Version is { } v => SysfsResult.Of(v.Version + "\n"),
                    _ => SysfsResult.Failed<string>(Errno.ENOENT),
                };
            default:
                return SysfsResult.Failed<string>(Errno.ENOENT);
        }
    }

    private Errno Write(string[] parts, string value)
    {
        switch (parts)
        {
            case ["class", "mdev_bus", var parent, "mdev_supported_types", var type, "create"] when host.FindType(parent, type) is { } t:
                return MdevUuid.TryParse(value.TrimEnd('\n'), out var created) ? host.Create(t, created) : Errno.EINVAL;
            case ["class", "mdev_bus", var parent, "mdev_supported_types", var type, "migration_version"] when host.FindType(parent, type)?.TypeVersion is { } v:
                return v.Write(value);
            case ["bus", "mdev", "devices", var uuid, "migration_version"] when host.FindMdev(uuid)?.Version is { } v:
                return v.Write(value);
            case ["bus", "mdev", "devices", var uuid, "remove"] when host.FindMdev(uuid) is { } mdev:
                return value.TrimEnd('\n') == "1" ? host.Remove(mdev.Uuid) : Errno.EINVAL;
            case ["bus", "pci", "devices", var address, "nvidia", "current_vgpu_type"] when FindPci(address)?.Vf is { } vf:
                lock (host.Gate)
                {
                    return vf.Write(value);
                }

            case ["bus", "pci", "devices", var address, "vfio_migration_version"] when FindPci(address)?.Vf is { Type: 0 }:
                return Errno.ENODEV;
            case ["bus", "pci", "devices", var address, "vfio_migration_version"] when FindPci(address)?.Version is { } v:
                return v.Write(value);
            default:
                return Errno.ENOENT;
        }
    }

    private FakePci? FindPci(string address)
    {
        lock (host.Gate)
        {
            return host.Pcis.FirstOrDefault(p => p.Address.ToString() == address);
        }
    }
}
