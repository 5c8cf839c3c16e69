using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Planning;

namespace VfioMigration.Planner.State;

/// <summary>
/// Where the planner keeps what must outlive one plan, and possibly its process: claims on
/// destination devices and the provisioning journal (see docs/state.md). Implementations:
/// <see cref="TargetClaimRegistry"/> (in memory, one process) and <see cref="SqliteStateStore"/>
/// (a file every process on a management node can share). Implementations are safe for concurrent
/// use. A method that cannot reach the store throws <see cref="StateStoreException"/>.
/// Every method that reads or writes the store is asynchronous: a plan waiting for the disk or the
/// network holds no thread. A read stops waiting when its token is cancelled; a write checks its token
/// before it is sent and, once sent, is waited for (a write given up half way would leave the store
/// and the caller disagreeing about what the plan holds).
/// </summary>
public interface IPlannerStateStore
{
    /// <summary>Where the state lives, for messages (e.g. <c>SQLite /var/lib/vfio-migration/state.db</c>).</summary>
    string Location { get; }

    /// <summary>Names the guest a plan is for, for listings and for the reason another plan is refused a target. Writes nothing by itself.</summary>
    /// <param name="plan">The plan (one guest on one destination).</param>
    /// <param name="guest">The guest's name.</param>
    void BeginPlan(Guid plan, string guest);

    /// <summary>Claims a device for a plan, atomically with respect to every user of the store.</summary>
    /// <param name="hostKey">The host (its hypervisor URI).</param>
    /// <param name="device">The device: <c>mdev:&lt;uuid&gt;</c> or <c>pci:&lt;address&gt;</c>.</param>
    /// <param name="plan">The plan claiming it.</param>
    /// <param name="cancellationToken">Checked before the write is sent.</param>
    /// <returns>Null when the plan now holds the claim (it was free, the plan already held it, or its holder is gone); otherwise the plan that holds it.</returns>
    Task<ClaimHolder?> TryClaimAsync(string hostKey, string device, Guid plan, CancellationToken cancellationToken = default);

    /// <summary>The plan other than <paramref name="plan"/> that holds a claim on the device and is alive or committed; null when none does.</summary>
    /// <param name="hostKey">The host (its hypervisor URI).</param>
    /// <param name="device">The device key.</param>
    /// <param name="plan">The asking plan (<see cref="Guid.Empty"/> for none).</param>
    /// <param name="cancellationToken">Stops the read.</param>
    Task<ClaimHolder?> HolderOfAsync(string hostKey, string device, Guid plan, CancellationToken cancellationToken = default);

    /// <summary>
    /// Every claim on a host that keeps a device from <paramref name="plan"/>, by device key: for each
    /// device what <see cref="HolderOfAsync"/> would return, read at once (one read where the store can),
    /// so a search can try many candidates without asking the store about each. A snapshot: a claim
    /// made after it is not in it, which is why the devices chosen from it are claimed with
    /// <see cref="TryClaimManyAsync"/>. The default asks <see cref="HolderOfAsync"/> about every device
    /// <see cref="ListPlansAsync"/> shows another plan claiming on the host.
    /// </summary>
    /// <param name="hostKey">The host (its hypervisor URI).</param>
    /// <param name="plan">The asking plan (<see cref="Guid.Empty"/> for none): its own claims are not listed.</param>
    /// <param name="cancellationToken">Stops the read.</param>
    /// <returns>The holder of each device another plan keeps from this one; devices whose holder is gone (and free) are not listed.</returns>
    async Task<IReadOnlyDictionary<string, ClaimHolder>> ClaimsOnAsync(string hostKey, Guid plan, CancellationToken cancellationToken = default)
    {
        var plans = await ListPlansAsync(cancellationToken).ConfigureAwait(false);
        var devices = plans.Where(p => p.Id != plan).SelectMany(p => p.Claims).Where(c => c.Key == hostKey).Select(c => c.Value).Distinct(StringComparer.Ordinal);
        var holders = new Dictionary<string, ClaimHolder>(StringComparer.Ordinal);
        foreach (var device in devices)
        {
            if (await HolderOfAsync(hostKey, device, plan, cancellationToken).ConfigureAwait(false) is { } holder)
            {
                holders[device] = holder;
            }
        }

        return holders;
    }

    /// <summary>
    /// Claims several devices of one host for a plan, each exactly as <see cref="TryClaimAsync"/> would,
    /// in one atomic write where the store can. The results are per device: a device held by another
    /// live (or committed) plan is not claimed and its result names the holder; every other device is
    /// claimed, whatever happened to the rest. Two plans claiming the same device in their batches
    /// never both get it. The default makes one <see cref="TryClaimAsync"/> per device.
    /// </summary>
    /// <param name="hostKey">The host (its hypervisor URI).</param>
    /// <param name="devices">The device keys, each at most once.</param>
    /// <param name="plan">The plan claiming them.</param>
    /// <param name="cancellationToken">Checked before the write is sent.</param>
    /// <returns>Per device, in order: null when the plan now holds it, otherwise the plan that does.</returns>
    async Task<IReadOnlyList<ClaimHolder?>> TryClaimManyAsync(string hostKey, IReadOnlyList<string> devices, Guid plan, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(devices);
        var holders = new ClaimHolder?[devices.Count];
        for (var i = 0; i < devices.Count; i++)
        {
            holders[i] = await TryClaimAsync(hostKey, devices[i], plan, cancellationToken).ConfigureAwait(false);
        }

        return holders;
    }

    /// <summary>
    /// Releases several claims of a plan on one host, each as <see cref="ReleaseAsync"/> would (a claim
    /// the plan does not hold is left alone), in one write where the store can. The default makes
    /// one <see cref="ReleaseAsync"/> per device.
    /// </summary>
    /// <param name="hostKey">The host (its hypervisor URI).</param>
    /// <param name="devices">The device keys.</param>
    /// <param name="plan">The plan.</param>
    /// <param name="cancellationToken">Checked before the write is sent.</param>
    async Task ReleaseManyAsync(string hostKey, IReadOnlyList<string> devices, Guid plan, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(devices);
        foreach (var device in devices)
        {
            await ReleaseAsync(hostKey, device, plan, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Releases one claim of a plan; nothing when the plan does not hold it.</summary>
    /// <param name="hostKey">The host (its hypervisor URI).</param>
    /// <param name="device">The device key.</param>
    /// <param name="plan">The plan.</param>
    /// <param name="cancellationToken">Checked before the write is sent.</param>
    Task ReleaseAsync(string hostKey, string device, Guid plan, CancellationToken cancellationToken = default);

    /// <summary>
    /// Records one journal entry, replacing the plan's entry for the same host and UUID. An intent is
    /// durable when this completes; any other entry survives the crash of the process at least, and is
    /// durable once a later durable write of the store is (see docs/state.md, "Cost").
    /// </summary>
    /// <param name="entry">The entry.</param>
    /// <param name="cancellationToken">Checked before the write is sent.</param>
    Task JournalAsync(JournalEntry entry, CancellationToken cancellationToken = default);

    /// <summary>
    /// Claims the UUID of each mdev a plan is about to create and records its intent, in one durable
    /// write where the store can: when this completes, every device whose result is null is claimed and
    /// its intent is durable, so its create may be issued. A device already claimed by another plan is
    /// neither claimed nor journaled (its result names the holder), and the others still are. The
    /// default makes one <see cref="TryClaimAsync"/> and one <see cref="JournalAsync"/> per device.
    /// </summary>
    /// <param name="intents">The entries, each in state <see cref="JournalState.Intent"/>.</param>
    /// <param name="cancellationToken">Checked before the write is sent.</param>
    /// <returns>Per entry, in order: null when claimed and journaled, otherwise the plan that holds the UUID.</returns>
    async Task<IReadOnlyList<ClaimHolder?>> ClaimAndIntendAsync(IReadOnlyList<JournalEntry> intents, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(intents);
        var holders = new ClaimHolder?[intents.Count];
        for (var i = 0; i < intents.Count; i++)
        {
            var intent = intents[i];
            holders[i] = await TryClaimAsync(intent.HostKey, TargetKeys.Mdev(intent.Uuid), intent.Plan, cancellationToken).ConfigureAwait(false);
            if (holders[i] is null)
            {
                await JournalAsync(intent, cancellationToken).ConfigureAwait(false);
            }
        }

        return holders;
    }

    /// <summary>
    /// Records that a plan is committed (migrated, or kept): its created devices are no longer the
    /// plan's to remove. A durable store keeps its claims until the plan is released or recovery sees
    /// a defined guest using its devices; the in-memory store releases them. Durable when this
    /// completes: a kept device has nothing else that says it is kept.
    /// </summary>
    /// <param name="plan">The plan.</param>
    /// <param name="cancellationToken">Checked before the write is sent.</param>
    Task CommitPlanAsync(Guid plan, CancellationToken cancellationToken = default);

    /// <summary>
    /// Records that a plan is committed because its guest migrated with its devices. The store may
    /// make this write survive only the crash of the process (not a power loss of the management node):
    /// should it be lost, recovery finds the migrated guest using the devices and marks them committed
    /// all the same. The default is <see cref="CommitPlanAsync"/>.
    /// </summary>
    /// <param name="plan">The plan.</param>
    /// <param name="cancellationToken">Checked before the write is sent.</param>
    Task CommitMigratedPlanAsync(Guid plan, CancellationToken cancellationToken = default) => CommitPlanAsync(plan, cancellationToken);

    /// <summary>
    /// Ends a plan that was released or failed: forgets its claims and its closed entries, except a
    /// device whose removal failed, which keeps its entry and claim until it is removed.
    /// </summary>
    /// <param name="plan">The plan.</param>
    /// <param name="cancellationToken">Checked before the write is sent.</param>
    Task EndPlanAsync(Guid plan, CancellationToken cancellationToken = default);

    /// <summary>Forgets a plan entirely: its claims and journal entries.</summary>
    /// <param name="plan">The plan.</param>
    /// <param name="cancellationToken">Checked before the write is sent.</param>
    Task ForgetPlanAsync(Guid plan, CancellationToken cancellationToken = default);

    /// <summary>Every plan the store holds something for (claims or journal entries), with its owner's state.</summary>
    /// <param name="cancellationToken">Stops the read.</param>
    Task<IReadOnlyList<StoredPlan>> ListPlansAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// The plans with journal entries on a host that recovery must look at: those whose owner is
    /// gone and which are not committed, and (when <paramref name="includeCommitted"/>) the committed
    /// ones. Cheap when there are none.
    /// </summary>
    /// <param name="hostKey">The host (its hypervisor URI).</param>
    /// <param name="includeCommitted">Also list committed plans.</param>
    /// <param name="cancellationToken">Stops the read.</param>
    Task<IReadOnlyList<StoredPlan>> PlansToRecoverAsync(string hostKey, bool includeCommitted, CancellationToken cancellationToken = default);
}

/// <summary>Where a journaled device is in its life.</summary>
public enum JournalState
{
    /// <summary>Its create is about to be issued (or was, and the outcome is not recorded): it may exist.</summary>
    Intent,

    /// <summary>It exists and belongs to its plan.</summary>
    Created,

    /// <summary>It is gone (removed, or never made).</summary>
    Removed,

    /// <summary>Removing it failed: it is still on the host.</summary>
    RemoveFailed,

    /// <summary>Its plan was committed: it belongs to a guest (or the caller), not to the plan.</summary>
    Committed,
}

/// <summary>Whose plan this is, as far as the store can tell.</summary>
public enum PlanOwnerState
{
    /// <summary>The process that runs it is alive (or on another node, where the store cannot tell).</summary>
    Alive,

    /// <summary>The process that ran it is gone: recovery acts on its entries, and its claims are free.</summary>
    Gone,

    /// <summary>The plan was committed: it has no owner, and its claims hold until it is released.</summary>
    Committed,
}

/// <summary>One journaled mdev.</summary>
/// <param name="Plan">The plan that creates it.</param>
/// <param name="HostKey">The host (its hypervisor URI).</param>
/// <param name="HostName">The host's name, for messages.</param>
/// <param name="Uuid">The device's UUID.</param>
/// <param name="Parent">Its parent (libvirt node device name).</param>
/// <param name="Type">Its type.</param>
/// <param name="Method">How it is created (and so how it is removed).</param>
/// <param name="Persistent">Whether it is defined (persistent) in libvirt.</param>
/// <param name="Order">Where the planner scheduled its create among the plan's creates.</param>
/// <param name="State">Where it is in its life.</param>
/// <param name="Error">Why its removal failed, when it did.</param>
public sealed record JournalEntry(Guid Plan, string HostKey, string HostName, MdevUuid Uuid, string Parent, MdevTypeId Type, CreationMethod Method, bool Persistent, int Order, JournalState State, string? Error = null)
{
    /// <summary>True while the device may exist and belongs to the plan (intent, created, or a removal that failed).</summary>
    public bool IsOpen => State is JournalState.Intent or JournalState.Created or JournalState.RemoveFailed;
}

/// <summary>The plan that holds a claim.</summary>
/// <param name="Plan">The plan.</param>
/// <param name="Guest">The guest it is for (empty when unknown).</param>
/// <param name="Where">Where it runs, e.g. <c>process 4242 on node mgmt1</c>, or <c>committed</c>.</param>
public sealed record ClaimHolder(Guid Plan, string Guest, string Where)
{
    /// <summary>The holder in words: <c>plan … for guest vm1, process 4242 on node mgmt1</c>.</summary>
    public override string ToString() => $"plan {Plan} for guest {(Guest.Length == 0 ? "?" : Guest)}, {Where}";
}

/// <summary>A plan the store holds something for.</summary>
/// <param name="Id">The plan.</param>
/// <param name="Guest">The guest it is for.</param>
/// <param name="Where">Where it runs or ran.</param>
/// <param name="Owner">Whether its owner is alive, gone, or the plan is committed.</param>
/// <param name="Entries">Its journal entries, in schedule order.</param>
/// <param name="Claims">Its claims, as <c>host device</c> pairs.</param>
public sealed record StoredPlan(Guid Id, string Guest, string Where, PlanOwnerState Owner, IReadOnlyList<JournalEntry> Entries, IReadOnlyList<KeyValuePair<string, string>> Claims);

/// <summary>The state store could not be read or written; a plan that needed it stopped before creating anything more.</summary>
public sealed class StateStoreException : Exception
{
    /// <summary>Creates the exception.</summary>
    public StateStoreException()
        : this("The planner's state store failed.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What failed.</param>
    public StateStoreException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    /// <param name="message">What failed.</param>
    /// <param name="innerException">The store's own error.</param>
    public StateStoreException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
