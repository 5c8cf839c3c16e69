using VfioMigration.HostSimulator.Scenarios;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.HostSimulator.Model;

/// <summary>Simulated latency per operation, in milliseconds.</summary>
internal sealed record OperationLatency(int Read, int VersionWrite, int Create, int Remove)
{
    public int For(SimulatedOperation operation) => operation switch
    {
        SimulatedOperation.Read => Read,
        SimulatedOperation.VersionWrite => VersionWrite,
        SimulatedOperation.Create => Create,
        _ => Remove,
    };
}

/// <summary>One injected fault with its own count of matching operations. <see cref="Fires"/> is called under the host's lock.</summary>
internal sealed class FaultRule(SimulatedOperation operation, string? parent, string? type, string? device, int? nth, Errno errno, int hangMs, ParentModel? disappearingParent)
{
    private int _matched;

    public Errno Errno { get; } = errno;

    public int HangMs { get; } = hangMs;

    /// <summary>The parent that vanishes while the operation is in flight, when this fault does that.</summary>
    public ParentModel? DisappearingParent { get; } = disappearingParent;

    /// <summary>Counts the operation if it matches, and says whether the fault applies to it.</summary>
    public bool Fires(SimulatedOperation candidate, AttributeOwner owner)
    {
        if (candidate != operation
            || (parent is not null && parent != owner.Parent)
            || (type is not null && type != owner.Type)
            || (device is not null && device != owner.Device))
        {
            return false;
        }

        _matched++;
        return nth is null || nth == _matched;
    }
}
