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
}
