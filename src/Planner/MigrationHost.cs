using VfioMigration.Planner.Hypervisor;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.Planner;

/// <summary>One host taking part in a migration: its hypervisor connection and access to its sysfs.</summary>
/// <param name="Name">A name for messages and the plan (usually the host name).</param>
/// <param name="Hypervisor">The libvirt connection to the host.</param>
/// <param name="FileSystem">The host's sysfs (local <c>/sys</c>, a remote host, or the simulator).</param>
public sealed record MigrationHost(string Name, IHypervisor Hypervisor, IHostFileSystem FileSystem)
{
    /// <summary>
    /// How long opening this host's connections took, as whoever opened them measured it (zero when
    /// not measured). Plans report it apart from their own time (<see cref="PlanStatistics.ConnectMs"/>).
    /// </summary>
    public TimeSpan ConnectTime { get; init; }

    /// <summary>The key the process-wide claim registry and the verdict cache use for this host: its hypervisor URI.</summary>
    internal string Key => Hypervisor.Uri;

    internal void Validate(string where)
    {
        if (string.IsNullOrWhiteSpace(Name))
        {
            throw new ArgumentException($"{where}: the host needs a name.", where);
        }

        if (Hypervisor is null || FileSystem is null)
        {
            throw new ArgumentException($"{where} '{Name}': both a hypervisor connection and a sysfs are required.", where);
        }
    }
}

/// <summary>What to plan: which guest, from where, to where, how.</summary>
/// <param name="Source">The host the guest runs on.</param>
/// <param name="Guest">The guest, by name or UUID.</param>
/// <param name="Destinations">One or more candidate destination hosts; planned concurrently and ranked.</param>
/// <param name="Options">Options for this request; the planner's configured options when null.</param>
public sealed record PlanRequest(MigrationHost Source, DomainSelector Guest, IReadOnlyList<MigrationHost> Destinations, PlanOptions? Options = null);
