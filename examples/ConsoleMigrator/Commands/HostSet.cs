using System.CommandLine;
using System.Diagnostics;
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
    /// <summary>The options that describe hosts, shared by the planning commands: new ones at each call, one set per command.</summary>
    public static IReadOnlyList<Option> Options =>
    [
        CliOption.Value("--source", "URI", "libvirt URI of the source host (not needed with --source-scenario)."),
        CliOption.Repeatable("--dest", "URI", "libvirt URI of a destination host."),
        CliOption.Value("--source-sysfs", "DIR", "The source host's sysfs as a local directory (default: /sys for a local URI, SSH to the URI's host for a remote one)."),
        CliOption.Repeatable("--dest-sysfs", "DIR", "A destination's sysfs as a local directory, in the order of --dest (default as for --source-sysfs)."),
        CliOption.Value("--source-ssh", "[USER@]HOST[:PORT]", "Where the source host's sysfs is reached over SSH (default: the user, host and port of a +ssh URI; USER@HOST:22 for +tcp/+tls, refused when that URI goes through a loopback address or another port than libvirt's, as a port-forward does)."),
        CliOption.Repeatable("--dest-ssh", "[USER@]HOST[:PORT]", "As --source-ssh, for a destination; one per --dest, in the same order."),
        CliOption.Value("--source-name", "NAME", "The source host's name in the output (default: the host name its libvirt reports)."),
        CliOption.Repeatable("--dest-name", "NAME", "As --source-name, for a destination; one per --dest, in the same order."),
        CliOption.Value("--ssh-key", "FILE", "Private key for the SSH sysfs of remote hosts (default ~/.ssh/id_ed25519, then id_rsa)."),
        CliOption.Value("--source-ssh-key", "FILE", "Private key for the source host only (default --ssh-key)."),
        CliOption.Repeatable("--dest-ssh-key", "FILE", "Private key for one destination only (default --ssh-key); one per --dest, in the same order."),
        CliOption.Value("--known-hosts", "FILE", "known_hosts file that remote host keys are checked against (default ~/.ssh/known_hosts)."),
        CliOption.Flag("--accept-new-host-key", "Accept (and do not record) a remote host key that known_hosts does not list; a changed key is still refused."),
        CliOption.Value("--source-scenario", "FILE", "Simulate the source host from a scenario instead (libvirt test driver + in-process sysfs)."),
        CliOption.Repeatable("--dest-scenario", "FILE", "Simulate a destination host from a scenario (after the --dest hosts)."),
    ];

    /// <summary>The SSH settings every remote host of a command shares, for commands that name their hosts otherwise.</summary>
    public static IEnumerable<Option> SharedSshOptions => Options.Where(o => o.Name is "--ssh-key" or "--known-hosts" or "--accept-new-host-key");

    /// <summary>
    /// The options of a command about one host (<c>inspect</c>, <c>host</c>): a libvirt URI with its
    /// sysfs (as <c>--source</c> and <c>--source-sysfs</c> are for <c>plan</c>), or a scenario; read by <see cref="FromOneHost"/>.
    /// </summary>
    /// <param name="uriHelp">What the URI names, for the help text.</param>
    public static IReadOnlyList<Option> OneHostOptions(string uriHelp) =>
    [
        CliOption.Value("--connect", "URI", $"{uriHelp} (not needed with --scenario)."),
        CliOption.Value("--sysfs", "DIR", "The host's sysfs as a local directory, read for NVIDIA vGPUs on SR-IOV VFs (default: /sys for a local URI, SSH to the URI's host for a remote one)."),
        CliOption.Value("--scenario", "FILE", "Simulate the host from a scenario instead (libvirt test driver + in-process sysfs)."),
        .. SharedSshOptions,
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
    public static HostSet FromArguments(ParseResult args)
    {
        var sourceUri = args.Value("--source");
        var sourceScenario = args.Value("--source-scenario");
        if ((sourceUri is null) == (sourceScenario is null))
        {
            throw new UsageException("give the source host as exactly one of --source URI and --source-scenario FILE.");
        }

        var destUris = args.Values("--dest");
        var destScenarios = args.Values("--dest-scenario");
        if (destUris.Count + destScenarios.Count == 0)
        {
            throw new UsageException("give at least one destination host (--dest URI or --dest-scenario FILE).");
        }

        var destSysfs = PerHost(args, "--dest-sysfs", destUris.Count, "--dest");
        var destSsh = PerHost(args, "--dest-ssh", destUris.Count, "--dest");
        var destKeys = PerHost(args, "--dest-ssh-key", destUris.Count, "--dest");
        var destNames = PerHost(args, "--dest-name", destUris.Count, "--dest");
        var callTimeout = PlanOptionsParser.LibvirtTimeout(args);
        var remote = RemoteDefaults(args);
        var names = remote.SettingNames;
        var hosts = new HostSet();
        try
        {
            hosts.Source = sourceScenario is null
                ? hosts.FromUri(
                    new HostOptions("source", sourceUri!, args.Value("--source-sysfs"), args.Value("--source-ssh"), args.Value("--source-ssh-key"), args.Value("--source-name")),
                    remote with { SettingNames = names with { SshEndpoint = "--source-ssh [USER@]HOST[:PORT]" } })
                : hosts.FromScenario(sourceScenario);
            var destinationRemote = remote with { SettingNames = names with { SshEndpoint = "--dest-ssh [USER@]HOST[:PORT] (one per --dest, in order)" } };
            for (var i = 0; i < destUris.Count; i++)
            {
                var options = new HostOptions($"destination {i + 1}", destUris[i], At(destSysfs, i), At(destSsh, i), At(destKeys, i), At(destNames, i));
                hosts._destinations.Add(hosts.FromUri(options, destinationRemote));
            }

            foreach (var scenario in destScenarios)
            {
                hosts._destinations.Add(hosts.FromScenario(scenario));
                hosts.Ephemeral = true;
            }

            foreach (var host in hosts._destinations.Prepend(hosts.Source))
            {
                if (host.Hypervisor is LibvirtHypervisor libvirt)
                {
                    libvirt.CallTimeout = callTimeout;
                }
            }

            hosts.RequireDistinctNames();
            return hosts;
        }
        catch
        {
            hosts.Dispose();
            throw;
        }
    }

    /// <summary>Builds the one host of <see cref="OneHostOptions"/>, as <see cref="Source"/>; libvirt is opened read-only.</summary>
    /// <exception cref="UsageException">Neither or both of <c>--connect</c> and <c>--scenario</c>, or <c>--sysfs</c> with a scenario.</exception>
    public static HostSet FromOneHost(ParseResult args)
    {
        var uri = args.Value("--connect");
        var scenario = args.Value("--scenario");
        if ((uri is null) == (scenario is null))
        {
            throw new UsageException("give the host as exactly one of --connect URI and --scenario FILE.");
        }

        if (scenario is not null && args.Value("--sysfs") is not null)
        {
            throw new UsageException("--sysfs is the sysfs of a --connect host; a --scenario host brings its own.");
        }

        var hosts = new HostSet();
        try
        {
            hosts.Source = scenario is null
                ? hosts.FromUri(new HostOptions("host", uri!, args.Value("--sysfs"), null, null, null) { ReadOnly = true }, RemoteDefaults(args))
                : hosts.FromScenario(scenario);
            return hosts;
        }
        catch
        {
            hosts.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The values of an option given once per host of a kind (<paramref name="hostOption"/>), in their
    /// order; fewer is fine (the rest take the default).
    /// </summary>
    /// <exception cref="UsageException">More values than hosts.</exception>
    public static IReadOnlyList<string> PerHost(ParseResult args, string option, int hostCount, string hostOption)
    {
        var values = args.Values(option);
        return values.Count <= hostCount
            ? values
            : throw new UsageException($"{values.Count} {option} given for {hostCount} {hostOption}: give at most one per {hostOption}, in the same order.");
    }

    /// <summary>
    /// Builds the hosts a state command names: each URI with the sysfs root at the same position in
    /// <paramref name="sysfsRoots"/> (or the default: /sys locally, SSH remotely), as <see cref="Destinations"/>;
    /// the SSH options are read from <paramref name="args"/>. No source.
    /// </summary>
    /// <exception cref="UsageException">More sysfs roots than URIs, or a URI that cannot be parsed.</exception>
    public static HostSet FromUris(IReadOnlyList<string> uris, IReadOnlyList<string> sysfsRoots, ParseResult args)
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
                hosts._destinations.Add(hosts.FromUri(new HostOptions($"host {i + 1}", uris[i], At(sysfsRoots, i), null, null, null), remote));
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

    private static string? At(IReadOnlyList<string> values, int index) => index < values.Count ? values[index] : null;

    /// <summary>A host name an operator gave: what the output shows, so printable and short.</summary>
    private static string CheckName(string option, string name) =>
        name.Length is > 0 and <= 64 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_')
            ? name
            : throw new UsageException($"{option}: a host name is 1 to 64 letters, digits, '.', '-' or '_'.");

    /// <summary>An <see cref="ArgumentException"/>'s sentence without the "(Parameter 'x')" the runtime appends: the operator typed no parameter.</summary>
    private static string Sentence(ArgumentException error) =>
        error.ParamName is { } name ? error.Message.Replace($" (Parameter '{name}')", string.Empty, StringComparison.Ordinal) : error.Message;

    private MigrationHost FromUri(HostOptions options, RemoteHostDefaults remote)
    {
        var (role, uri, sysfsRoot, sshText, keyFile, name) = options;
        var prefix = role == "source" ? "--source" : "--dest";
        if (name is not null)
        {
            CheckName($"{prefix}-name", name);
        }

        if (sysfsRoot is not null)
        {
            if (sshText is not null || keyFile is not null)
            {
                throw new UsageException($"{role}: {prefix}-sysfs reads a local directory, {prefix}-ssh{(sshText is null ? "-key" : string.Empty)} the host over SSH; give one.");
            }

            if (!Directory.Exists(sysfsRoot))
            {
                throw new HostDataException($"{role} sysfs root '{sysfsRoot}' is not a directory.");
            }

            var (hypervisor, took) = OpenOwned(uri, options.ReadOnly);
            return new MigrationHost(name ?? hypervisor.HostName, hypervisor, new LocalHostFileSystem(Path.GetFullPath(sysfsRoot))) { ConnectTime = took };
        }

        // No directory given: the local /sys for a local URI, SSH to the host for a remote one.
        HostDescription description;
        try
        {
            var endpoint = sshText is null ? (keyFile is null ? null : throw new UsageException($"{role}: {prefix}-ssh-key names the key for {prefix}-ssh; give both.")) : SshEndpoint.Parse(sshText, keyFile);
            description = HostDescription.Parse(uri, remote, endpoint) with { Name = name };
        }
        catch (FormatException e)
        {
            throw new UsageException($"{prefix}-ssh: {e.Message}");
        }
        catch (ArgumentException e)
        {
            throw new UsageException($"{role} '{uri}': {Sentence(e)}");
        }

        var connected = description.Connect(options.ReadOnly);
        _owned.Add(connected);
        return connected.Host;
    }

    /// <summary>Opens a libvirt connection this set closes, and says how long opening took.</summary>
    private (LibvirtHypervisor Hypervisor, TimeSpan Took) OpenOwned(string uri, bool readOnly = false)
    {
        var started = Stopwatch.GetTimestamp();
        var hypervisor = LibvirtHypervisor.Open(uri, readOnly);
        _owned.Add(hypervisor);
        return (hypervisor, Stopwatch.GetElapsedTime(started));
    }

    /// <summary>The SSH settings every remote host shares, with the option names that set them.</summary>
    private static RemoteHostDefaults RemoteDefaults(ParseResult args) => new()
    {
        KeyFile = args.Value("--ssh-key"),
        KnownHostsFile = args.Value("--known-hosts"),
        HostKeyPolicy = args.Flag("--accept-new-host-key") ? HostKeyPolicy.AcceptUnknown : HostKeyPolicy.Strict,
        SettingNames = new SettingNames
        {
            KeyFile = "--ssh-key FILE (or --source-ssh-key / --dest-ssh-key FILE for one host)",
            AcceptUnknownHostKey = "--accept-new-host-key",
            CommandTimeout = "the time-out (vfio-migrator keeps the library's 60 s per command)",
        },
    };

    /// <summary>Refuses hosts that would look the same in every line of output.</summary>
    private void RequireDistinctNames()
    {
        var clash = _destinations.Prepend(Source).GroupBy(h => h.Name, StringComparer.OrdinalIgnoreCase).FirstOrDefault(g => g.Count() > 1);
        if (clash is not null)
        {
            throw new UsageException($"{clash.Count()} hosts are named '{clash.Key}' ({string.Join(", ", clash.Select(h => h.Hypervisor.Uri))}), so the output could not tell them apart: name them with --source-name / --dest-name.");
        }
    }

    private MigrationHost FromScenario(string scenarioPath) => FromSimulator(SimCommands.Load(scenarioPath));

    private MigrationHost FromSimulator(SimulatedHost simulated)
    {
        var hostFile = Path.Combine(Path.GetTempPath(), $"vfio-migrator-{simulated.Name}-{Guid.NewGuid():N}.xml");
        simulated.WriteLibvirtXml(hostFile);
        _temporaryFiles.Add(hostFile);
        var (hypervisor, took) = OpenOwned($"test://{hostFile}");
        return new MigrationHost(simulated.Name, hypervisor, simulated.CreateFileSystem()) { ConnectTime = took };
    }
}

/// <summary>What the options say about one host given by URI.</summary>
/// <param name="Role">"source" or "destination N", for messages.</param>
/// <param name="Uri">The libvirt URI.</param>
/// <param name="SysfsRoot">A local directory standing for its sysfs.</param>
/// <param name="Ssh">Its SSH endpoint, <c>[user@]host[:port]</c>.</param>
/// <param name="KeyFile">Its own private key.</param>
/// <param name="Name">Its name in the output.</param>
internal sealed record HostOptions(string Role, string Uri, string? SysfsRoot, string? Ssh, string? KeyFile, string? Name)
{
    /// <summary>Open libvirt read-only (a command that only looks).</summary>
    public bool ReadOnly { get; init; }
}
