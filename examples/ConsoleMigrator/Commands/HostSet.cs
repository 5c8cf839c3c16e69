using VfioMigration.ConsoleMigrator.Cli;
using VfioMigration.HostSimulator;
using VfioMigration.Planner;
using VfioMigration.Planner.Hypervisor;
using VfioMigration.Planner.Sysfs;
using VfioMigration.RemoteHosts;

namespace VfioMigration.ConsoleMigrator.Commands;

/// <summary>
/// The source and destination hosts of a command, built from its options: a libvirt URI with a
/// sysfs root directory, or a simulator scenario (the libvirt side generated from it, the sysfs
/// side the in-process simulator). Owns the connections and temporary files it made.
/// </summary>
internal sealed class HostSet : IDisposable
{
    /// <summary>The options that describe hosts, shared by <c>plan</c> and <c>migrate</c>.</summary>
    public static readonly IReadOnlyList<OptionSpec> Options =
    [
        new("--source", "URI", "libvirt URI of the source host (not needed with --source-scenario)."),
        new("--dest", "URI", "libvirt URI of a destination host.", Repeatable: true),
        new("--source-sysfs", "DIR", "The source host's sysfs as a local directory (default: /sys for a local URI, SSH to the URI's host for a remote one)."),
        new("--dest-sysfs", "DIR", "A destination's sysfs as a local directory, in the order of --dest (default as for --source-sysfs).", Repeatable: true),
        new("--ssh-key", "FILE", "Private key for the SSH sysfs of remote hosts (default ~/.ssh/id_ed25519, then id_rsa)."),
        new("--known-hosts", "FILE", "known_hosts file that remote host keys are checked against (default ~/.ssh/known_hosts)."),
        new("--accept-new-host-key", null, "Accept (and do not record) a remote host key that known_hosts does not list; a changed key is still refused."),
        new("--source-scenario", "FILE", "Simulate the source host from a scenario instead (libvirt test driver + in-process sysfs)."),
        new("--dest-scenario", "FILE", "Simulate a destination host from a scenario (after the --dest hosts).", Repeatable: true),
    ];

    private readonly List<IDisposable> _owned = [];
    private readonly List<string> _temporaryFiles = [];
    private readonly List<MigrationHost> _destinations = [];

    private HostSet()
    {
    }

    /// <summary>The source host.</summary>
    public MigrationHost Source { get; private set; } = null!;

    /// <summary>The destination hosts, <c>--dest</c> ones first, then <c>--dest-scenario</c> ones.</summary>
    public IReadOnlyList<MigrationHost> Destinations => _destinations;

    /// <summary>True when a destination is simulated in this process (a scenario): nothing of it outlives the process, so neither should state about it.</summary>
    public bool Ephemeral { get; private set; }

    /// <summary>Builds the hosts the options describe.</summary>
    /// <exception cref="UsageException">The options do not describe exactly one source and at least one destination.</exception>
    public static HostSet FromArguments(Arguments args)
    {
        var sourceUri = args.Value("--source");
        var sourceScenario = args.Value("--source-scenario");
        if ((sourceUri is null) == (sourceScenario is null))
        {
            throw new UsageException("give the source host as exactly one of --source URI and --source-scenario FILE.");
        }

        var destUris = args.Values("--dest");
        var destSysfs = args.Values("--dest-sysfs");
        var destScenarios = args.Values("--dest-scenario");
        if (destUris.Count + destScenarios.Count == 0)
        {
            throw new UsageException("give at least one destination host (--dest URI or --dest-scenario FILE).");
        }

        if (destSysfs.Count > destUris.Count)
        {
            throw new UsageException($"{destSysfs.Count} --dest-sysfs given for {destUris.Count} --dest: give one per --dest, in the same order.");
        }

        var remote = RemoteDefaults(args);
        var hosts = new HostSet();
        try
        {
            hosts.Source = sourceScenario is null
                ? hosts.FromUri("source", sourceUri!, args.Value("--source-sysfs"), remote)
                : hosts.FromScenario(sourceScenario);
            for (var i = 0; i < destUris.Count; i++)
            {
                hosts._destinations.Add(hosts.FromUri($"destination {i + 1}", destUris[i], i < destSysfs.Count ? destSysfs[i] : null, remote));
            }

            foreach (var scenario in destScenarios)
            {
                hosts._destinations.Add(hosts.FromScenario(scenario));
                hosts.Ephemeral = true;
            }

            return hosts;
        }
        catch
        {
            hosts.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Builds the hosts a state command names: each URI with the sysfs root at the same position in
    /// <paramref name="sysfsRoots"/> (or the default: /sys locally, SSH remotely), as <see cref="Destinations"/>;
    /// the SSH options are read from <paramref name="args"/>. No source.
    /// </summary>
    /// <exception cref="UsageException">More sysfs roots than URIs, or a URI that cannot be parsed.</exception>
    public static HostSet FromUris(IReadOnlyList<string> uris, IReadOnlyList<string> sysfsRoots, Arguments args)
    {
        if (sysfsRoots.Count > uris.Count)
        {
            throw new UsageException($"{sysfsRoots.Count} sysfs directories given for {uris.Count} hosts: give one per host, in the same order.");
        }

        var remote = RemoteDefaults(args);
        var hosts = new HostSet();
        try
        {
            for (var i = 0; i < uris.Count; i++)
            {
                hosts._destinations.Add(hosts.FromUri($"host {i + 1}", uris[i], i < sysfsRoots.Count ? sysfsRoots[i] : null, remote));
            }

            return hosts;
        }
        catch
        {
            hosts.Dispose();
            throw;
        }
    }

    /// <summary>Builds hosts from simulated hosts already loaded (the demo's bundled scenarios).</summary>
    public static HostSet FromSimulated(SimulatedHost source, IEnumerable<SimulatedHost> destinations)
    {
        var hosts = new HostSet();
        try
        {
            hosts.Source = hosts.FromSimulator(source);
            hosts._destinations.AddRange(destinations.Select(hosts.FromSimulator));
            hosts.Ephemeral = true;
            return hosts;
        }
        catch
        {
            hosts.Dispose();
            throw;
        }
    }

    /// <summary>Closes the connections and deletes the generated host files.</summary>
    public void Dispose()
    {
        foreach (var owned in _owned)
        {
            owned.Dispose();
        }

        foreach (var file in _temporaryFiles)
        {
            File.Delete(file);
        }
    }

    private MigrationHost FromUri(string role, string uri, string? sysfsRoot, RemoteHostDefaults remote)
    {
        if (sysfsRoot is not null)
        {
            if (!Directory.Exists(sysfsRoot))
            {
                throw new HostDataException($"{role} sysfs root '{sysfsRoot}' is not a directory.");
            }

            var hypervisor = LibvirtHypervisor.Open(uri);
            _owned.Add(hypervisor);
            return new MigrationHost(hypervisor.HostName, hypervisor, new LocalHostFileSystem(Path.GetFullPath(sysfsRoot)));
        }

        // No directory given: the local /sys for a local URI, SSH to the same host for a remote one.
        HostDescription description;
        try
        {
            description = HostDescription.Parse(uri, remote);
        }
        catch (ArgumentException e)
        {
            throw new UsageException($"{role} '{uri}': {e.Message}");
        }

        var connected = description.Connect();
        _owned.Add(connected);
        return connected.Host;
    }

    private static RemoteHostDefaults RemoteDefaults(Arguments args) => new()
    {
        KeyFile = args.Value("--ssh-key"),
        KnownHostsFile = args.Value("--known-hosts"),
        HostKeyPolicy = args.Flag("--accept-new-host-key") ? HostKeyPolicy.AcceptUnknown : HostKeyPolicy.Strict,
    };

    private MigrationHost FromScenario(string scenarioPath) => FromSimulator(SimCommands.Load(scenarioPath));

    private MigrationHost FromSimulator(SimulatedHost simulated)
    {
        var hostFile = Path.Combine(Path.GetTempPath(), $"vfio-migrator-{simulated.Name}-{Guid.NewGuid():N}.xml");
        simulated.WriteLibvirtXml(hostFile);
        _temporaryFiles.Add(hostFile);
        var hypervisor = LibvirtHypervisor.Open($"test://{hostFile}");
        _owned.Add(hypervisor);
        return new MigrationHost(simulated.Name, hypervisor, simulated.CreateFileSystem());
    }
}
