using VfioMigration.HostSimulator;
using VfioMigration.HostSimulator.Scenarios;
using VfioMigration.Planner;
using VfioMigration.Planner.Hypervisor;

namespace VfioMigration.Bench;

/// <summary>
/// A simulated host as the planner sees a real one: the libvirt side is libvirt's test driver on
/// the host's generated XML, the sysfs side the in-process simulator. Owns the connection and the
/// temporary file.
/// </summary>
public sealed class BenchHost : IDisposable
{
    private readonly LibvirtHypervisor _hypervisor;
    private readonly string _file;

    /// <summary>Builds the host from a scenario.</summary>
    public BenchHost(Scenario scenario)
    {
        Simulated = SimulatedHost.FromScenario(scenario);
        _file = Path.Combine(Path.GetTempPath(), $"vfio-bench-{Simulated.Name}-{Guid.NewGuid():N}.xml");
        Simulated.WriteLibvirtXml(_file);
        _hypervisor = LibvirtHypervisor.Open($"test://{_file}");
        Libvirt = new TimedHypervisor(_hypervisor);
        Tree = new AllocationCountingTree(Simulated.FileTree);
        Host = new MigrationHost(Simulated.Name, Libvirt, new InProcessHostFileSystem(Tree, $"simulated host '{Simulated.Name}' (in-process)"));
    }

    /// <summary>The simulated host (state, operation log).</summary>
    public SimulatedHost Simulated { get; }

    /// <summary>The simulated host's sysfs tree as the planner reaches it, counting what the simulated host allocates answering (the kernel's work on a real host).</summary>
    public AllocationCountingTree Tree { get; }

    /// <summary>The host's libvirt connection, timed.</summary>
    public TimedHypervisor Libvirt { get; }

    /// <summary>The host as the planner takes it.</summary>
    public MigrationHost Host { get; }

    /// <summary>Closes the connection and deletes the host file.</summary>
    public void Dispose()
    {
        _hypervisor.Dispose();
        File.Delete(_file);
    }
}
