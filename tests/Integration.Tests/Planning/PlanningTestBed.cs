using VfioMigration.HostSimulator;
using VfioMigration.HostSimulator.Scenarios;
using VfioMigration.Planner;
using VfioMigration.Planner.Hypervisor;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.Integration.Tests.Planning;

/// <summary>How a test reaches a simulated host's sysfs: the front end under test.</summary>
internal interface ISysfsFrontEnd
{
    /// <summary>Opens <paramref name="host"/>'s sysfs; <paramref name="workDirectory"/> is the test's own temp directory; dispose the result to close it.</summary>
    SysfsAttachment Attach(SimulatedHost host, string workDirectory);
}

/// <summary>An opened sysfs front end and what closes it.</summary>
internal sealed record SysfsAttachment(IHostFileSystem FileSystem, IDisposable? Closer);

/// <summary>One simulated host seen by the planner: the model, its libvirt test-driver connection and its sysfs.</summary>
internal sealed record SimulatedEndpoint(SimulatedHost Simulator, LibvirtHypervisor Hypervisor, MigrationHost Host, string HostFile);

/// <summary>
/// The hosts of one test: each scenario becomes a simulated host, its libvirt test-driver file in a
/// temp directory, a <see cref="LibvirtHypervisor"/> on <c>test:///that/file.xml</c> and a sysfs
/// through the front end under test. Disposing closes everything (unmounting FUSE front ends)
/// and deletes the directory; plans must be disposed before it.
/// </summary>
internal sealed class PlanningTestBed : IDisposable
{
    private readonly ISysfsFrontEnd _frontEnd;
    private readonly List<IDisposable> _owned = [];

    public PlanningTestBed(ISysfsFrontEnd frontEnd)
    {
        _frontEnd = frontEnd;
        Directory = System.IO.Directory.CreateTempSubdirectory("planner-e2e-").FullName;
    }

    /// <summary>The test's temp directory.</summary>
    public string Directory { get; }

    /// <summary>Builds the host <paramref name="scenario"/> describes and connects to it.</summary>
    public SimulatedEndpoint Add(Scenario scenario)
    {
        var simulator = SimulatedHost.FromScenario(scenario);
        var hostFile = Path.Combine(Directory, $"{simulator.Name}-{_owned.Count}.xml");
        simulator.WriteLibvirtXml(hostFile);
        var attachment = _frontEnd.Attach(simulator, Directory);
        if (attachment.Closer is not null)
        {
            _owned.Add(attachment.Closer);
        }

        var hypervisor = Connect(hostFile);
        return new SimulatedEndpoint(simulator, hypervisor, new MigrationHost(simulator.Name, hypervisor, attachment.FileSystem), hostFile);
    }

    /// <summary>A second, independent libvirt connection to <paramref name="endpoint"/>'s host file (same URI), sharing its sysfs.</summary>
    public MigrationHost SecondConnection(SimulatedEndpoint endpoint) =>
        endpoint.Host with { Hypervisor = Connect(endpoint.HostFile) };

    /// <summary>Writes a file into the test's directory and returns its path.</summary>
    public string WriteFile(string name, string content)
    {
        var path = Path.Combine(Directory, name);
        File.WriteAllText(path, content);
        return path;
    }

    public void Dispose()
    {
        // Last opened, first closed: connections, then mounts.
        for (var i = _owned.Count - 1; i >= 0; i--)
        {
            _owned[i].Dispose();
        }

        System.IO.Directory.Delete(Directory, recursive: true);
    }

    private LibvirtHypervisor Connect(string hostFile)
    {
        var hypervisor = LibvirtHypervisor.Open($"test://{hostFile}");
        _owned.Add(hypervisor);
        return hypervisor;
    }
}
