namespace VfioMigration.Etcd;

/// <summary>Where and how <see cref="EtcdStateStore"/> reaches etcd.</summary>
public sealed class EtcdStateStoreOptions
{
    /// <summary>The default key prefix.</summary>
    public const string DefaultPrefix = "/vfio-migration/";

    /// <summary>The etcd client endpoints, comma-separated (e.g. <c>http://10.0.0.1:2379,http://10.0.0.2:2379</c>).</summary>
    public required string Endpoints { get; init; }

    /// <summary>The lease of this process: its claims and its plans' liveness vanish this long after the process stops renewing it (default 10 s).</summary>
    public TimeSpan LeaseTtl { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long one request to etcd may take, its retry included, before the call fails with a state store error (default 10 s: a cold process's first request, or one sent while the cluster elects a leader, may take seconds).</summary>
    public TimeSpan CallTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The prefix of every key the store writes; planners that share it coordinate (default <see cref="DefaultPrefix"/>).</summary>
    public string Prefix { get; init; } = DefaultPrefix;

    /// <summary>
    /// A PEM file of the certificate authorities that sign the etcd members' certificates (etcd's
    /// <c>--trusted-ca-file</c> for clients); null to trust the system's roots. Only with <c>https://</c> endpoints.
    /// </summary>
    public string? CaCertificateFile { get; init; }

    /// <summary>This client's certificate (PEM) for mutual TLS (etcd's <c>--client-cert-auth</c>); with <see cref="ClientKeyFile"/>. Only with <c>https://</c> endpoints.</summary>
    public string? ClientCertificateFile { get; init; }

    /// <summary>The private key (PEM, unencrypted) of <see cref="ClientCertificateFile"/>.</summary>
    public string? ClientKeyFile { get; init; }

    /// <summary>The etcd user when etcd's authentication is enabled; with <see cref="Password"/>. Null when it is not.</summary>
    public string? User { get; init; }

    /// <summary>The etcd user's password (read by the caller from a file or the environment, never a command line).</summary>
    public string? Password { get; init; }
}
