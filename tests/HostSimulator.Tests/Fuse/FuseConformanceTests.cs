using VfioMigration.HostSimulator.Tests.Conformance;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.HostSimulator.Tests.Fuse;

/// <summary>
/// The conformance suite through the kernel: each scenario's tree mounted with FUSE and read with
/// <see cref="LocalHostFileSystem"/>'s real system calls, so every errno is the one the kernel hands
/// to a process.
/// </summary>
[TestClass]
public sealed class FuseConformanceTests : HostFileSystemConformanceTests
{
    private readonly Dictionary<IHostFileSystem, TemporaryMount> _mounts = [];

    protected override IHostFileSystem OpenHost(SimulatedHost host)
    {
        var mount = TemporaryMount.Of(host.FileTree);
        var fileSystem = new LocalHostFileSystem(mount.Directory);
        _mounts.Add(fileSystem, mount);
        return fileSystem;
    }

    protected override void CloseHost(IHostFileSystem fileSystem)
    {
        if (_mounts.Remove(fileSystem, out var mount))
        {
            mount.Dispose();
        }
    }
}
