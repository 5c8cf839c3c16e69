using VfioMigration.HostSimulator;

namespace VfioMigration.Integration.Tests.Planning;

/// <summary>The end-to-end planning cases with the simulator's in-process sysfs.</summary>
[TestClass]
public sealed class InProcessPlannerEndToEndTests : PlannerEndToEndTests
{
    private protected override ISysfsFrontEnd FrontEnd { get; } = new InProcessFrontEnd();

    private protected override bool LogsWritesToAbsentAttributes => true;

    private sealed class InProcessFrontEnd : ISysfsFrontEnd
    {
        public SysfsAttachment Attach(SimulatedHost host, string workDirectory) => new(host.CreateFileSystem(), null);
    }
}
