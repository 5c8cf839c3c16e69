namespace VfioMigration.Planner.Hypervisor;

/// <summary>
/// How <see cref="MigrationPlan.ExecuteAsync"/> migrates the guest: libvirt's flags and the two
/// addresses a migration between hosts may need beside the management URI. Post-copy is never
/// used: VFIO devices cannot be migrated post-copy.
/// </summary>
/// <remarks>
/// Without <see cref="MigrationMode.PeerToPeer"/> the migration is managed by the client
/// (<c>virDomainMigrate3</c> with the planner's own connection to the destination): it works from
/// a management node that reaches both hosts, whatever the hosts can reach of each other's
/// management addresses. With it, the source host's libvirtd connects to the destination itself
/// (<c>virDomainMigrateToURI3</c>), at <see cref="DestinationUri"/>, which the source host must be
/// able to reach. In both, the migration data flows host to host: to <see cref="MigrateUri"/> when
/// set, else to an address libvirt derives from the destination's host name.
/// </remarks>
public sealed record MigrationSettings
{
    private const MigrationMode KnownFlags = MigrationMode.Live | MigrationMode.PeerToPeer | MigrationMode.PersistDestination | MigrationMode.UndefineSource;

    /// <summary>libvirt's flags; <see cref="MigrationMode.Live"/> | <see cref="MigrationMode.PersistDestination"/> by default.</summary>
    public MigrationMode Flags { get; init; } = MigrationMode.Live | MigrationMode.PersistDestination;

    /// <summary>
    /// With <see cref="MigrationMode.PeerToPeer"/>: the destination's libvirt URI as the source host
    /// reaches it (libvirt's <c>dconnuri</c>, <c>virsh migrate --desturi</c>), e.g.
    /// <c>qemu+tcp://10.0.0.2/system</c>; null for the destination's own URI
    /// (<see cref="IHypervisor.Uri"/>). Only meaningful peer-to-peer, so refused without it.
    /// </summary>
    public string? DestinationUri { get; init; }

    /// <summary>
    /// Where the migration data goes (libvirt's <c>migrate_uri</c>, <c>virsh migrate --migrateuri</c>),
    /// e.g. <c>tcp://10.0.0.2</c> for a dedicated migration network; null lets libvirt use the
    /// destination's host name.
    /// </summary>
    public string? MigrateUri { get; init; }

    /// <summary>Whether the source host's libvirtd drives the migration (<see cref="MigrationMode.PeerToPeer"/>).</summary>
    public bool IsPeerToPeer => Flags.HasFlag(MigrationMode.PeerToPeer);

    /// <summary>Checks the settings before anything is migrated; the message names the setting.</summary>
    /// <exception cref="ArgumentException">An unknown flag, a destination URI without peer-to-peer, or a URI that is empty or holds control characters.</exception>
    public void Validate()
    {
        if ((Flags & ~KnownFlags) != 0)
        {
            throw new ArgumentException($"Migration flags {(int)Flags:#} hold a flag the planner does not use (post-copy is never used for VFIO devices).", nameof(Flags));
        }

        if (DestinationUri is not null && !IsPeerToPeer)
        {
            throw new ArgumentException("A destination URI is where the source host's libvirtd connects in a peer-to-peer migration; set MigrationMode.PeerToPeer with it.", nameof(DestinationUri));
        }

        RequireUri(DestinationUri, nameof(DestinationUri));
        RequireUri(MigrateUri, nameof(MigrateUri));
    }

    private static void RequireUri(string? uri, string name)
    {
        if (uri is not null && (uri.Length == 0 || uri.Any(c => char.IsControl(c) || char.IsWhiteSpace(c)) || !uri.Contains(':', StringComparison.Ordinal)))
        {
            throw new ArgumentException($"{name} '{string.Concat(uri.Select(c => char.IsControl(c) ? '?' : c))}' is not a URI (a scheme, a colon, no spaces or control characters).", name);
        }
    }
}
