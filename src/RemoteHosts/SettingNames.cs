namespace VfioMigration.RemoteHosts;

/// <summary>
/// How messages name the settings that fix what they report. By default they name this library's
/// members; a tool built on it names its own options instead (the console names its flags), so an
/// operator is told what to type.
/// </summary>
public sealed record SettingNames
{
    /// <summary>Where a private key is given; <c>RemoteHostDefaults.KeyFile (or ?keyfile= in the URI)</c> by default.</summary>
    public string KeyFile { get; init; } = "RemoteHostDefaults.KeyFile (or ?keyfile= in the URI)";

    /// <summary>How to accept a host key that known_hosts does not list; <c>HostKeyPolicy.AcceptUnknown</c> by default.</summary>
    public string AcceptUnknownHostKey { get; init; } = "HostKeyPolicy.AcceptUnknown";

    /// <summary>How to allow a slow link more time per command; <c>SshHostOptions.CommandTimeout</c> by default.</summary>
    public string CommandTimeout { get; init; } = "SshHostOptions.CommandTimeout";

    /// <summary>Where a host's SSH endpoint is given; <c>HostDescription.Parse's sshEndpoint</c> by default.</summary>
    public string SshEndpoint { get; init; } = "the sshEndpoint of HostDescription.Parse";
}
