namespace VfioMigration.Planner;

/// <summary>What to do when neither side offers a version attribute, so nothing can verify a device.</summary>
public enum VerificationPolicy
{
    /// <summary>Reject the device, with the reason (default).</summary>
    RequireVerified,

    /// <summary>Accept a target of the same type; the plan marks the device <c>unverified</c>.</summary>
    AllowTypeMatch,
}

/// <summary>Which UUIDs created destination mdevs get.</summary>
public enum UuidStrategy
{
    /// <summary>New random UUIDs; the destination XML is rewritten to name them (default).</summary>
    Rewrite,

    /// <summary>The source device's UUID, so the XML keeps it: only an idle mdev with that UUID is reused, else one is created with it when it is free on the destination.</summary>
    Preserve,
}

/// <summary>Where new mdevs go when several parents could host them.</summary>
public enum PlacementPreference
{
    /// <summary>Onto as few parents as possible, fullest first (default): keeps whole cards free.</summary>
    Pack,

    /// <summary>Across as many parents as possible, emptiest first: spreads load.</summary>
    Spread,
}

/// <summary>Where a plan reads the destination's devices from.</summary>
public enum InventorySource
{
    /// <summary>libvirt's node devices, one call each (<c>virNodeDeviceGetXMLDesc</c>), plus the parents only sysfs shows (default; works without access to the host's sysfs contents beyond <c>class/mdev_bus</c>).</summary>
    Libvirt,

    /// <summary>
    /// sysfs, in one batch (mdev parents, types, capacity, existing mdevs, PCI functions), and from
    /// libvirt only what it alone knows: the defined guests and the mdevs it has defined but not
    /// started (one listing). The same inventory as <see cref="Libvirt"/> (see <c>docs/planner.md</c>), without a call per node device.
    /// </summary>
    Sysfs,
}

/// <summary>Options of the migration planner.</summary>
public sealed class PlanOptions
{
    /// <summary>What to do when nothing can verify a device. Default <see cref="VerificationPolicy.RequireVerified"/>.</summary>
    public VerificationPolicy VerificationPolicy { get; set; } = VerificationPolicy.RequireVerified;

    /// <summary>UUIDs of created mdevs. Default <see cref="UuidStrategy.Rewrite"/>.</summary>
    public UuidStrategy UuidStrategy { get; set; } = UuidStrategy.Rewrite;

    /// <summary>Placement of created mdevs. Default <see cref="PlacementPreference.Pack"/>.</summary>
    public PlacementPreference Placement { get; set; } = PlacementPreference.Pack;

    /// <summary>Also try mdev to physical and physical to mdev targets (accepted only when the target's device-level attribute accepts). Default false.</summary>
    public bool AllowHybrid { get; set; }

    /// <summary>Also try idle mdevs of another type with the same device API (accepted only when their device-level attribute accepts). Default false.</summary>
    public bool AllowCrossType { get; set; }

    /// <summary>How long one probe (a version write) may take before it is cut off and counted as unknown. Default 10 s.</summary>
    public TimeSpan ProbeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Create mdevs as persistent (defined) node devices rather than transient ones. Default false.</summary>
    public bool PersistentMdevs { get; set; }

    /// <summary>
    /// When set, probe verdicts are shared across plans through the planner's verdict cache and
    /// expire after this long; when null (default) every plan probes afresh.
    /// </summary>
    public TimeSpan? VerdictCacheLifetime { get; set; }

    /// <summary>Where the destination's devices are read from. Default <see cref="InventorySource.Libvirt"/>.</summary>
    public InventorySource Inventory { get; set; } = InventorySource.Libvirt;

    /// <summary>Upper bound on assignment search steps for guests with many devices. Default 10000.</summary>
    public int MaxSearchSteps { get; set; } = 10_000;

    /// <summary>A copy of these options.</summary>
    public PlanOptions Clone() => (PlanOptions)MemberwiseClone();

    /// <summary>Checks the values; throws with the offending option named.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of range.</exception>
    public void Validate()
    {
        if (ProbeTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(ProbeTimeout), ProbeTimeout, "PlanOptions.ProbeTimeout must be positive.");
        }

        if (VerdictCacheLifetime is { } lifetime && lifetime <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(VerdictCacheLifetime), lifetime, "PlanOptions.VerdictCacheLifetime must be positive, or null for no cross-plan cache.");
        }

        if (MaxSearchSteps < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxSearchSteps), MaxSearchSteps, "PlanOptions.MaxSearchSteps must be at least 1.");
        }

        if (!Enum.IsDefined(VerificationPolicy) || !Enum.IsDefined(UuidStrategy) || !Enum.IsDefined(Placement) || !Enum.IsDefined(Inventory))
        {
            throw new ArgumentOutOfRangeException(nameof(VerificationPolicy), "PlanOptions has an undefined VerificationPolicy, UuidStrategy, Placement or Inventory value.");
        }
    }
}
