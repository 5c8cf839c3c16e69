using VfioMigration.Planner.State;

namespace VfioMigration.Planner.Tests.State;

/// <summary>A store with only the methods every store must have (the batch methods are the interface's defaults), forwarding to an in-memory registry.</summary>
internal class OneDeviceStore : IPlannerStateStore
{
    /// <summary>The registry behind it.</summary>
    public TargetClaimRegistry Claims { get; } = new();

    public virtual string Location => Claims.Location;

    public void BeginPlan(Guid plan, string guest) => Claims.BeginPlan(plan, guest);

    public ClaimHolder? TryClaim(string hostKey, string device, Guid plan) => Claims.TryClaim(hostKey, device, plan);

    public ClaimHolder? HolderOf(string hostKey, string device, Guid plan) => Claims.HolderOf(hostKey, device, plan);

    public void Release(string hostKey, string device, Guid plan) => Claims.Release(hostKey, device, plan);

    public virtual void Journal(JournalEntry entry) => Claims.Journal(entry);

    public void CommitPlan(Guid plan) => Claims.CommitPlan(plan);

    public void EndPlan(Guid plan) => Claims.EndPlan(plan);

    public void ForgetPlan(Guid plan) => Claims.ForgetPlan(plan);

    public IReadOnlyList<StoredPlan> ListPlans() => Claims.ListPlans();

    public IReadOnlyList<StoredPlan> PlansToRecover(string hostKey, bool includeCommitted) => Claims.PlansToRecover(hostKey, includeCommitted);
}
