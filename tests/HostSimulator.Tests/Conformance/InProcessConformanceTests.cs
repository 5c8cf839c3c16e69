using VfioMigration.Planner.Sysfs;

namespace VfioMigration.HostSimulator.Tests.Conformance;

/// <summary>The conformance suite against the in-process front end.</summary>
[TestClass]
public sealed class InProcessConformanceTests : HostFileSystemConformanceTests
{
    protected override IHostFileSystem OpenHost(SimulatedHost host) => host.CreateFileSystem();
}
