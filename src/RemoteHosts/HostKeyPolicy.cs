namespace VfioMigration.RemoteHosts;

/// <summary>How an SSH host key is checked against the known_hosts file.</summary>
public enum HostKeyPolicy
{
    /// <summary>Only keys listed for the host are accepted; an unknown host or a changed key is refused. The default.</summary>
    Strict,

    /// <summary>A host not listed at all is accepted (trust on first use, nothing is written); a changed key is still refused.</summary>
    AcceptUnknown,

    /// <summary>Any key is accepted, even a changed one. Only for throw-away test hosts: it removes the protection against a man in the middle.</summary>
    AcceptAny,
}
