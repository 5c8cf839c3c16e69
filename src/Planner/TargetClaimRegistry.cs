using System.Collections.Concurrent;

namespace VfioMigration.Planner;

/// <summary>
/// Which destination devices plans in this process have handed out, so two plans running at once
/// never give the same target to two guests. Keyed by host and device (<c>mdev:&lt;uuid&gt;</c>,
/// <c>pci:&lt;address&gt;</c>). A claim lasts until its plan is committed, released or disposed.
/// </summary>
public sealed class TargetClaimRegistry
{
    private readonly ConcurrentDictionary<(string Host, string Device), Guid> _claims = new();

    /// <summary>The registry every planner in the process shares unless given another.</summary>
    public static TargetClaimRegistry Shared { get; } = new();

    /// <summary>How many devices are claimed now.</summary>
    public int Count => _claims.Count;

    /// <summary>Claims a device for a plan; true when it was free or already this plan's.</summary>
    internal bool TryClaim(string host, string device, Guid plan) =>
        _claims.GetOrAdd((host, device), plan) == plan;

    /// <summary>True when another plan holds the device.</summary>
    internal bool IsClaimedByOther(string host, string device, Guid plan) =>
        _claims.TryGetValue((host, device), out var owner) && owner != plan;

    /// <summary>Releases one claim of <paramref name="plan"/>.</summary>
    internal void Release(string host, string device, Guid plan) =>
        _claims.TryRemove(KeyValuePair.Create((host, device), plan));
}
