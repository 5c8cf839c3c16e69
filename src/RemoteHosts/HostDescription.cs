using System.Diagnostics;
using System.Web;
using VfioMigration.Planner;
using VfioMigration.Planner.Hypervisor;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.RemoteHosts;

/// <summary>Defaults for the SSH side of hosts described by a libvirt URI (see <see cref="HostDescription.Parse"/>).</summary>
public sealed record RemoteHostDefaults
{
    /// <summary>The SSH user when the URI names none; <c>root</c> by default.</summary>
    public string User { get; init; } = "root";

    /// <summary>The SSH port for URIs whose port is libvirt's (tls, tcp); 22 by default.</summary>
    public int SshPort { get; init; } = 22;

    /// <summary>The private key; when null, the URI's <c>keyfile</c> parameter, else <c>~/.ssh/id_ed25519</c>, else <c>~/.ssh/id_rsa</c>.</summary>
    public string? KeyFile { get; init; }

    /// <summary>The key's passphrase; null for an unencrypted key.</summary>
    public string? KeyPassphrase { get; init; }

    /// <summary>The known_hosts file; <c>~/.ssh/known_hosts</c> when null.</summary>
    public string? KnownHostsFile { get; init; }

    /// <summary>The host key policy; <see cref="HostKeyPolicy.Strict"/> by default.</summary>
    public HostKeyPolicy HostKeyPolicy { get; init; } = HostKeyPolicy.Strict;

    /// <summary>The sysfs root on every host; <c>/sys</c> by default.</summary>
    public string SysfsRoot { get; init; } = "/sys";

    /// <summary>The home directory <c>~</c> stands for; the current user's when null.</summary>
    public string? HomeDirectory { get; init; }

    /// <summary>How messages name the settings that fix what they report (a tool names its own options).</summary>
    public SettingNames SettingNames { get; init; } = new();
}

/// <summary>
/// A host as the planner reaches it from a management node: its libvirt URI (domains, node devices)
/// paired with access to its sysfs (the version attributes libvirt does not expose) — over SSH for a
/// remote URI, the local file system for a local one.
/// </summary>
/// <param name="Name">The host's name in plans and messages; null for the name libvirt reports (<c>virConnectGetHostname</c>) once connected.</param>
/// <param name="LibvirtUri">The libvirt URI, e.g. <c>qemu+ssh://root@host2/system</c>.</param>
/// <param name="Ssh">How to reach the host's sysfs over SSH; null for the local sysfs.</param>
/// <param name="LocalSysfsRoot">The sysfs root when <paramref name="Ssh"/> is null.</param>
public sealed record HostDescription(string? Name, string LibvirtUri, SshHostOptions? Ssh, string LocalSysfsRoot = "/sys")
{
    /// <summary>
    /// Describes the host behind <paramref name="libvirtUri"/>. Its sysfs is reached at
    /// <paramref name="sshEndpoint"/> when given; else, for <c>driver+ssh://user@host:port/...</c> (also
    /// <c>+libssh</c>, <c>+libssh2</c>), as the same user on the same host and port; for other remote
    /// transports (<c>+tls</c>, <c>+tcp</c>) as <see cref="RemoteHostDefaults.User"/> on the same host's
    /// <see cref="RemoteHostDefaults.SshPort"/>; for a URI without a host (<c>qemu:///system</c>) the
    /// local sysfs. The name is left to libvirt (see <see cref="Name"/>).
    /// </summary>
    /// <param name="libvirtUri">The libvirt URI.</param>
    /// <param name="defaults">Key, known_hosts and policy; <see cref="RemoteHostDefaults"/>' defaults when null.</param>
    /// <param name="sshEndpoint">Where the host's sysfs is reached over SSH, when not as the URI says (a port-forward, another user, its own key).</param>
    /// <exception cref="ArgumentException">
    /// The URI is not a libvirt URI; no private key is configured or found; an endpoint was given for a
    /// local URI; or the URI is a non-SSH transport through a loopback address or a port other than
    /// libvirt's (16509 tcp, 16514 tls), as a port-forward is, and no endpoint was given: SSH to the
    /// URI's host would then reach another machine than libvirt does (this one's own sysfs).
    /// </exception>
    public static HostDescription Parse(string libvirtUri, RemoteHostDefaults? defaults = null, SshEndpoint? sshEndpoint = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(libvirtUri);
        defaults ??= new RemoteHostDefaults();
        if (!Uri.TryCreate(libvirtUri, UriKind.Absolute, out var uri) || uri.Scheme.Length == 0)
        {
            throw new ArgumentException($"'{SshEndpoint.Printable(libvirtUri)}' is not a libvirt URI such as qemu+ssh://root@host2/system or qemu:///system.", nameof(libvirtUri));
        }

        if (uri.Host.Length == 0)
        {
            return sshEndpoint is null
                ? new HostDescription(null, libvirtUri, null, defaults.SysfsRoot)
                : throw new ArgumentException($"'{libvirtUri}' is this machine's libvirt, whose sysfs is the local one; an SSH endpoint ({sshEndpoint.Host}) would read another host's.", nameof(sshEndpoint));
        }

        var plus = uri.Scheme.IndexOf('+', StringComparison.Ordinal);
        var transport = plus < 0 ? "tls" : uri.Scheme[(plus + 1)..];
        var overSsh = transport is "ssh" or "libssh" or "libssh2";
        if (sshEndpoint is null && !overSsh && ForwardedElsewhere(uri, transport) is { } why)
        {
            throw new ArgumentException($"'{libvirtUri}' reaches libvirt {why}, so SSH to {uri.Host} port {defaults.SshPort} would read another machine's sysfs than that libvirt's (this one's, through a forward). Give the host's SSH endpoint with {defaults.SettingNames.SshEndpoint}.", nameof(sshEndpoint));
        }

        var user = sshEndpoint?.User ?? (uri.UserInfo.Length > 0 ? Uri.UnescapeDataString(uri.UserInfo) : defaults.User);
        var port = sshEndpoint is not null ? sshEndpoint.Port ?? defaults.SshPort
            : overSsh && !uri.IsDefaultPort && uri.Port > 0 ? uri.Port : defaults.SshPort;
        var host = sshEndpoint?.Host ?? uri.Host;
        var home = defaults.HomeDirectory ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        var keyFromUri = overSsh ? HttpUtility.ParseQueryString(uri.Query)["keyfile"] : null;
        var ssh = new SshHostOptions
        {
            Host = host,
            Port = port,
            User = user,
            KeyFile = sshEndpoint?.KeyFile ?? defaults.KeyFile ?? keyFromUri ?? DefaultKey(home)
                ?? throw new ArgumentException($"No SSH key for '{host}': neither {home}/.ssh/id_ed25519 nor {home}/.ssh/id_rsa exists. Give one with {defaults.SettingNames.KeyFile}.", nameof(defaults)),
            KeyPassphrase = defaults.KeyPassphrase,
            KnownHostsFile = defaults.KnownHostsFile ?? Path.Combine(home, ".ssh", "known_hosts"),
            HostKeyPolicy = defaults.HostKeyPolicy,
            SysfsRoot = defaults.SysfsRoot,
            SettingNames = defaults.SettingNames,
        };
        ssh.Validate();
        return new HostDescription(null, libvirtUri, ssh);
    }

    /// <summary>
    /// Opens the libvirt connection (the SSH connection opens on first use) and returns the host for a
    /// <see cref="PlanRequest"/>, with the time that took as its <see cref="MigrationHost.ConnectTime"/>.
    /// Dispose the result when the plan is done.
    /// </summary>
    /// <param name="readOnly">Open libvirt read-only (enough for a source host).</param>
    /// <exception cref="HypervisorException">libvirt could not be reached; the message names the URI.</exception>
    public ConnectedHost Connect(bool readOnly = false)
    {
        var started = Stopwatch.GetTimestamp();
        IHostFileSystem fileSystem = Ssh is null ? new LocalHostFileSystem(LocalSysfsRoot) : new SshHostFileSystem(Ssh);
        LibvirtHypervisor hypervisor;
        try
        {
            hypervisor = LibvirtHypervisor.Open(LibvirtUri, readOnly);
        }
        catch
        {
            (fileSystem as IDisposable)?.Dispose();
            throw;
        }

        var host = new MigrationHost(Name ?? ReportedName(hypervisor.HostName), hypervisor, fileSystem) { ConnectTime = Stopwatch.GetElapsedTime(started) };
        return new ConnectedHost(host, hypervisor);
    }

    /// <summary>Why a non-SSH URI's host is probably not the machine its libvirt runs on; null when it is.</summary>
    private static string? ForwardedElsewhere(Uri uri, string transport)
    {
        if (uri.IsLoopback)
        {
            return $"through this machine's loopback address {uri.Host}";
        }

        var libvirtPort = transport == "tcp" ? 16509 : 16514;
        return !uri.IsDefaultPort && uri.Port > 0 && uri.Port != libvirtPort
            ? $"on port {uri.Port}, not libvirt's {libvirtPort} (a port-forward?)"
            : null;
    }

    /// <summary>The host name libvirt reported, when it is one a message can show; else the URI's host.</summary>
    private string ReportedName(string reported) =>
        reported.Length is > 0 and <= 255 && !reported.Any(c => char.IsControl(c) || char.IsWhiteSpace(c))
            ? reported
            : Uri.TryCreate(LibvirtUri, UriKind.Absolute, out var uri) && uri.Host.Length > 0 ? uri.Host : "localhost";

    /// <summary><c>~/.ssh/id_ed25519</c>, else <c>~/.ssh/id_rsa</c>; null when neither exists.</summary>
    private static string? DefaultKey(string home) =>
        ((string[])["id_ed25519", "id_rsa"]).Select(name => Path.Combine(home, ".ssh", name)).FirstOrDefault(File.Exists);
}

/// <summary>A connected host: the <see cref="MigrationHost"/> for the planner, and the connections to close.</summary>
public sealed class ConnectedHost : IDisposable
{
    private readonly LibvirtHypervisor _hypervisor;

    internal ConnectedHost(MigrationHost host, LibvirtHypervisor hypervisor)
    {
        Host = host;
        _hypervisor = hypervisor;
    }

    /// <summary>The host, for <see cref="PlanRequest"/>.</summary>
    public MigrationHost Host { get; }

    /// <summary>The SSH file system, for its round-trip count; null for a local host.</summary>
    public SshHostFileSystem? RemoteFileSystem => Host.FileSystem as SshHostFileSystem;

    /// <summary>Closes the libvirt and SSH connections.</summary>
    public void Dispose()
    {
        _hypervisor.Dispose();
        RemoteFileSystem?.Dispose();
    }
}
