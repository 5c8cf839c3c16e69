using VfioMigration.Planner.State;

namespace VfioMigration.Planner.Tests.State;

/// <summary>A store with only the methods every store must have (the batch methods are the interface's defaults), forwarding to an in-memory registry.</summary>
internal class OneDeviceStore : IPlannerStateStore
{
    /// <summary>The registry behind it.</summary>
    public TargetClaimRegistry Claims { get; } = new();

    public virtual string Location => Claims.Location;

    public void BeginPlan(Guid plan, string guest) => Claims.BeginPlan(plan, guest);

    public Task<ClaimHolder?> TryClaimAsync(string hostKey, string device, Guid plan, CancellationToken cancellationToken = default) => Claims.TryClaimAsync(hostKey, device, plan, cancellationToken);

    public Task<ClaimHolder?> HolderOfAsync(string hostKey, string device, Guid plan, CancellationToken cancellationToken = default) => Claims.HolderOfAsync(hostKey, device, plan, cancellationToken);

    public Task ReleaseAsync(string hostKey, string device, Guid plan, CancellationToken cancellationToken = default) => Claims.ReleaseAsync(hostKey, device, plan, cancellationToken);

    public virtual Task JournalAsync(JournalEntry entry, CancellationToken cancellationToken = default) => Claims.JournalAsync(entry, cancellationToken);

    public Task CommitPlanAsync(Guid plan, CancellationToken cancellationToken = default) => Claims.CommitPlanAsync(plan, cancellationToken);

    public Task EndPlanAsync(Guid plan, CancellationToken cancellationToken = default) => Claims.EndPlanAsync(plan, cancellationToken);

    public Task ForgetPlanAsync(Guid plan, CancellationToken cancellationToken = default) => Claims.ForgetPlanAsync(plan, cancellationToken);

    public Task<IReadOnlyList<StoredPlan>> ListPlansAsync(CancellationToken cancellationToken = default) => Claims.ListPlansAsync(cancellationToken);

    public Task<IReadOnlyList<StoredPlan>> PlansToRecoverAsync(string hostKey, bool includeCommitted, CancellationToken cancellationToken = default) => Claims.PlansToRecoverAsync(hostKey, includeCommitted, cancellationToken);
}
