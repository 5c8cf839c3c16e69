using VfioMigration.HostSimulator;
using VfioMigration.HostSimulator.Fuse;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.Integration.Tests.Planning;

/// <summary>
/// The end-to-end planning cases with each simulated host mounted through FUSE and read by the
/// planner's own <see cref="LocalHostFileSystem"/>: real open/read/write system calls. Each test
/// mounts on directories inside its own temp directory and unmounts when its bed is disposed.
/// </summary>
[TestClass]
public sealed class FusePlannerEndToEndTests : PlannerEndToEndTests
{
    private protected override ISysfsFrontEnd FrontEnd { get; } = new FuseFrontEnd();

    private protected override bool LogsWritesToAbsentAttributes => false;

    [TestInitialize]
    public void RequireFuse()
    {
        if (!File.Exists("/dev/fuse"))
        {
            Assert.Inconclusive("/dev/fuse is absent on this machine, so nothing can be mounted through FUSE.");
        }
    }

    private sealed class FuseFrontEnd : ISysfsFrontEnd
    {
        public SysfsAttachment Attach(SimulatedHost host, string workDirectory)
        {
            var mountPoint = Directory.CreateDirectory(Path.Combine(workDirectory, $"sysfs-{host.Name}-{Guid.NewGuid():N}")).FullName;
            var mount = FuseMount.Mount(host.FileTree, mountPoint);
            return new SysfsAttachment(new LocalHostFileSystem(mountPoint), mount);
        }
    }
}
