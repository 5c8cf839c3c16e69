namespace VfioMigration.RemoteHosts;

/// <summary>How to reach one host's sysfs over SSH.</summary>
public sealed record SshHostOptions
{
    /// <summary>The host name or address.</summary>
    public required string Host { get; init; }

    /// <summary>The SSH port; 22 by default.</summary>
    public int Port { get; init; } = 22;

    /// <summary>The user; <c>root</c> by default (sysfs writes need it).</summary>
    public string User { get; init; } = "root";

    /// <summary>The private key file (OpenSSH, PEM or PuTTY format).</summary>
    public required string KeyFile { get; init; }

    /// <summary>The key's passphrase; null for an unencrypted key.</summary>
    public string? KeyPassphrase { get; init; }

    /// <summary>The known_hosts file the host key is checked against.</summary>
    public required string KnownHostsFile { get; init; }

    /// <summary>What to do with an unknown or changed host key; <see cref="HostKeyPolicy.Strict"/> by default.</summary>
    public HostKeyPolicy HostKeyPolicy { get; init; } = HostKeyPolicy.Strict;

    /// <summary>The sysfs root directory on the host; <c>/sys</c> by default (a mounted simulator's directory in tests).</summary>
    public string SysfsRoot { get; init; } = "/sys";

    /// <summary>How long connecting and authenticating may take; 15 s by default.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>How long one remote command may take before the host counts as unreachable; 60 s by default.</summary>
    public TimeSpan CommandTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>No longer used: every operation goes through one remote shell on one channel, in batches (docs/remote-hosts.md).</summary>
    [Obsolete("Operations share one remote shell on one channel; nothing runs as separate commands any more.")]
    public int MaxConcurrentCommands { get; init; } = 8;

    /// <summary>How messages name the settings that fix what they report (a tool names its own options).</summary>
    public SettingNames SettingNames { get; init; } = new();

    /// <summary><c>user@host:port</c>, for messages.</summary>
    public string Target => Port == 22 ? $"{User}@{Host}" : $"{User}@{Host}:{Port}";

    /// <summary>Checks every option; the message names the option and what to do.</summary>
    /// <exception cref="ArgumentException">An option is missing or out of range.</exception>
    public void Validate()
    {
        Require(!string.IsNullOrWhiteSpace(Host) && !Host.Any(char.IsWhiteSpace), nameof(Host), "must be a host name or address without spaces");
        Require(Port is > 0 and < 65536, nameof(Port), "must be between 1 and 65535");
        Require(!string.IsNullOrWhiteSpace(User) && !User.Any(char.IsWhiteSpace), nameof(User), "must be a user name without spaces");
        Require(!string.IsNullOrWhiteSpace(KeyFile), nameof(KeyFile), "must name a private key file (e.g. ~/.ssh/id_ed25519)");
        Require(!string.IsNullOrWhiteSpace(KnownHostsFile), nameof(KnownHostsFile), "must name a known_hosts file (e.g. ~/.ssh/known_hosts)");
        Require(SysfsRoot.StartsWith('/') && !SysfsRoot.Any(char.IsControl), nameof(SysfsRoot), $"'{SysfsRoot}' must be an absolute path without control characters, such as /sys");
        Require(ConnectTimeout > TimeSpan.Zero, nameof(ConnectTimeout), "must be positive");
        Require(CommandTimeout > TimeSpan.Zero, nameof(CommandTimeout), "must be positive");
    }

    private void Require(bool condition, string option, string what)
    {
        if (!condition)
        {
            throw new ArgumentException($"SSH options for '{Host}': {option} {what}.", option);
        }
    }
}
