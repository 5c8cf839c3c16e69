using VfioMigration.HostSimulator;
using VfioMigration.HostSimulator.Fuse;
using VfioMigration.Planner;
using VfioMigration.Planner.Hypervisor;
using VfioMigration.RemoteHosts;

namespace VfioMigration.Remote.Tests.Harness;

/// <summary>
/// One simulated host as a management node sees it: its sysfs is the simulator mounted through FUSE
/// (read by sshd's sessions), its libvirt is a libvirtd of its own serving the matching test-driver host.
/// </summary>
internal sealed class SimulatedRemoteHost : IDisposable
{
    private readonly FuseMount _mount;

    private SimulatedRemoteHost(string scenarioName, string directory, SimulatedHost simulated, FuseMount mount, LibvirtDaemon libvirt)
    {
        ScenarioName = scenarioName;
        Directory = directory;
        Simulated = simulated;
        _mount = mount;
        Libvirt = libvirt;
    }

    public string ScenarioName { get; }

    public string Directory { get; }

    public SimulatedHost Simulated { get; }

    public LibvirtDaemon Libvirt { get; }

    public string SysfsRoot => _mount.MountPoint;

    public string HostXml => Path.Combine(Directory, "host.xml");

    /// <summary>Loads examples/scenarios/<paramref name="scenario"/>.json (or the scenario file <paramref name="scenario"/> names), mounts it (through <paramref name="watch"/>'s wrapper of its file tree when given) and starts its libvirtd (listening on TCP too when <paramref name="tcp"/>).</summary>
    public static SimulatedRemoteHost Start(string scenario, bool tcp = false, Func<ISimulatedFileTree, ISimulatedFileTree>? watch = null)
    {
        if (!File.Exists("/dev/fuse"))
        {
            Assert.Fail("/dev/fuse is absent: the remote tests mount each simulated host through FUSE.");
        }

        var simulated = scenario.EndsWith(".json", StringComparison.Ordinal) ? SimulatedHost.Load(scenario) : Scenarios.Load(scenario);
        var directory = System.IO.Directory.CreateTempSubdirectory($"remote-{Path.GetFileNameWithoutExtension(scenario)}-").FullName;
        var sysfs = System.IO.Directory.CreateDirectory(Path.Combine(directory, "sysfs")).FullName;
        var mount = FuseMount.Mount(watch is null ? simulated.FileTree : watch(simulated.FileTree), sysfs);
        simulated.WriteLibvirtXml(Path.Combine(directory, "host.xml"));
        LibvirtDaemon libvirt;
        try
        {
            libvirt = LibvirtDaemon.Start(tcp);
        }
        catch
        {
            mount.Dispose();
            throw;
        }

        return Cleanup.Track(new SimulatedRemoteHost(scenario, directory, simulated, mount, libvirt));
    }

    /// <summary>The host as reached remotely: libvirt through its daemon, sysfs through <paramref name="ssh"/>.</summary>
    public HostDescription Remote(SshServer ssh, int? sshPort = null) =>
        new(Simulated.Name, Libvirt.Uri(HostXml), ssh.Options(SysfsRoot, sshPort));

    /// <summary>The same host reached locally: libvirt's in-process test driver and the simulator's in-process file system.</summary>
    public MigrationHost Local() => new(Simulated.Name, LibvirtHypervisor.Open("test://" + HostXml), Simulated.CreateFileSystem());

    /// <summary>
    /// The host as a planner running on it reaches it: the very sysfs mount and libvirtd that
    /// <see cref="Remote"/> reaches over SSH, without SSH (what a plan over SSH adds is its difference);
    /// <paramref name="readOnly"/> as the connection over SSH is opened.
    /// </summary>
    public MigrationHost LocalThroughMount(bool readOnly = false) => new(Simulated.Name, LibvirtHypervisor.Open(Libvirt.Uri(HostXml), readOnly), new Planner.Sysfs.LocalHostFileSystem(SysfsRoot));

    public void Dispose()
    {
        Libvirt.Dispose();
        _mount.Dispose();
        Cleanup.Untrack(this);
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}

/// <summary>The example scenarios, copied next to the test assembly.</summary>
internal static class Scenarios
{
    public static string PathOf(string scenario) => Path.Combine(AppContext.BaseDirectory, "scenarios", scenario + ".json");

    public static SimulatedHost Load(string scenario) => SimulatedHost.Load(PathOf(scenario));
}
