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
}

/// <summary>
/// A host as the planner reaches it from a management node: its libvirt URI (domains, node devices)
/// paired with access to its sysfs (the version attributes libvirt does not expose) — over SSH for a
/// remote URI, the local file system for a local one.
/// </summary>
/// <param name="Name">The host's name in plans and messages.</param>
/// <param name="LibvirtUri">The libvirt URI, e.g. <c>qemu+ssh://root@host2/system</c>.</param>
/// <param name="Ssh">How to reach the host's sysfs over SSH; null for the local sysfs.</param>
/// <param name="LocalSysfsRoot">The sysfs root when <paramref name="Ssh"/> is null.</param>
public sealed record HostDescription(string Name, string LibvirtUri, SshHostOptions? Ssh, string LocalSysfsRoot = "/sys")
{
    /// <summary>
    /// Describes the host behind <paramref name="libvirtUri"/>. For <c>driver+ssh://user@host:port/...</c>
    /// the same user, host and port over SSH; for other remote transports (<c>+tls</c>, <c>+tcp</c>,
    /// <c>+libssh2</c>...) the same host with <see cref="RemoteHostDefaults.User"/> on
    /// <see cref="RemoteHostDefaults.SshPort"/>; for a URI without a host (<c>qemu:///system</c>) the local sysfs.
    /// </summary>
    /// <param name="libvirtUri">The libvirt URI.</param>
    /// <param name="defaults">Key, known_hosts and policy; <see cref="RemoteHostDefaults"/>' defaults when null.</param>
    /// <exception cref="ArgumentException">The URI is not a libvirt URI, or no private key is configured or found.</exception>
    public static HostDescription Parse(string libvirtUri, RemoteHostDefaults? defaults = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(libvirtUri);
        defaults ??= new RemoteHostDefaults();
        if (!Uri.TryCreate(libvirtUri, UriKind.Absolute, out var uri) || uri.Scheme.Length == 0)
        {
            throw new ArgumentException($"'{libvirtUri}' is not a libvirt URI such as qemu+ssh://root@host2/system or qemu:///system.", nameof(libvirtUri));
        }

        if (uri.Host.Length == 0)
        {
            return new HostDescription("localhost", libvirtUri, null, defaults.SysfsRoot);
        }

        var plus = uri.Scheme.IndexOf('+', StringComparison.Ordinal);
        var transport = plus < 0 ? "tls" : uri.Scheme[(plus + 1)..];
        var overSsh = transport is "ssh" or "libssh" or "libssh2";
        var user = uri.UserInfo.Length > 0 ? Uri.UnescapeDataString(uri.UserInfo) : defaults.User;
        var port = overSsh && !uri.IsDefaultPort && uri.Port > 0 ? uri.Port : defaults.SshPort;
        var home = defaults.HomeDirectory ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        var keyFromUri = overSsh ? HttpUtility.ParseQueryString(uri.Query)["keyfile"] : null;
        var ssh = new SshHostOptions
        {
            Host = uri.Host,
            Port = port,
            User = user,
            KeyFile = defaults.KeyFile ?? keyFromUri ?? DefaultKey(home, uri.Host),
            KeyPassphrase = defaults.KeyPassphrase,
            KnownHostsFile = defaults.KnownHostsFile ?? Path.Combine(home, ".ssh", "known_hosts"),
            HostKeyPolicy = defaults.HostKeyPolicy,
            SysfsRoot = defaults.SysfsRoot,
        };
        ssh.Validate();
        return new HostDescription(uri.Host, libvirtUri, ssh);
    }

    /// <summary>
    /// Opens the libvirt connection (the SSH connection opens on first use) and returns the host for a
    /// <see cref="PlanRequest"/>. Dispose the result when the plan is done.
    /// </summary>
    /// <param name="readOnly">Open libvirt read-only (enough for a source host).</param>
    /// <exception cref="HypervisorException">libvirt could not be reached; the message names the URI.</exception>
    public ConnectedHost Connect(bool readOnly = false)
    {
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

        return new ConnectedHost(new MigrationHost(Name, hypervisor, fileSystem), hypervisor);
    }

    private static string DefaultKey(string home, string host)
    {
        foreach (var name in (string[])["id_ed25519", "id_rsa"])
        {
            var candidate = Path.Combine(home, ".ssh", name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new ArgumentException($"No SSH key for '{host}': neither {home}/.ssh/id_ed25519 nor {home}/.ssh/id_rsa exists. Give one with RemoteHostDefaults.KeyFile (or ?keyfile= in the URI).", nameof(host));
    }
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
