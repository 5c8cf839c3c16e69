using VfioMigration.Planner.State;

namespace VfioMigration.Planner;

/// <summary>
/// The in-memory <see cref="IPlannerStateStore"/>: which destination devices plans in this process
/// have handed out, so two plans running at once never give the same target to two guests, and
/// their journal entries. Keyed by host and device (<c>mdev:&lt;uuid&gt;</c>, <c>pci:&lt;address&gt;</c>).
/// Nothing outlives the process: a claim lasts until its plan is committed, released or disposed.
/// </summary>
public sealed class TargetClaimRegistry : IPlannerStateStore
{
    private readonly Dictionary<(string Host, string Device), Guid> _claims = [];
    private readonly Dictionary<(Guid Plan, string Host, string Uuid), JournalEntry> _journal = [];
    private readonly Dictionary<Guid, string> _guests = [];
    private readonly Lock _gate = new();

    /// <summary>The registry every planner in the process shares unless given another.</summary>
    public static TargetClaimRegistry Shared { get; } = new();

    /// <summary>How many devices are claimed now.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _claims.Count;
            }
        }
    }

    /// <inheritdoc />
    public string Location => $"memory of process {Environment.ProcessId}";

    /// <inheritdoc />
    public void BeginPlan(Guid plan, string guest)
    {
        lock (_gate)
        {
            _guests[plan] = guest;
        }
    }

    /// <inheritdoc />
    public Task<ClaimHolder?> TryClaimAsync(string hostKey, string device, Guid plan, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            if (_claims.TryGetValue((hostKey, device), out var owner) && owner != plan)
            {
                return Task.FromResult<ClaimHolder?>(Holder(owner));
            }

            _claims[(hostKey, device)] = plan;
            return Task.FromResult<ClaimHolder?>(null);
        }
    }

    /// <inheritdoc />
    public Task<ClaimHolder?> HolderOfAsync(string hostKey, string device, Guid plan, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            return Task.FromResult(_claims.TryGetValue((hostKey, device), out var owner) && owner != plan ? Holder(owner) : null);
        }
    }

    /// <inheritdoc />
    public Task ReleaseAsync(string hostKey, string device, Guid plan, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            if (_claims.TryGetValue((hostKey, device), out var owner) && owner == plan)
            {
                _claims.Remove((hostKey, device));
            }
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<IReadOnlyDictionary<string, ClaimHolder>> ClaimsOnAsync(string hostKey, Guid plan, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            return Task.FromResult<IReadOnlyDictionary<string, ClaimHolder>>(_claims.Where(c => c.Key.Host == hostKey && c.Value != plan).ToDictionary(c => c.Key.Device, c => Holder(c.Value), StringComparer.Ordinal));
        }
    }

    /// <inheritdoc />
    public Task JournalAsync(JournalEntry entry, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(entry);
        lock (_gate)
        {
            _journal[(entry.Plan, entry.HostKey, entry.Uuid.Value)] = entry;
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task CommitPlanAsync(Guid plan, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            foreach (var (key, entry) in _journal.Where(e => e.Key.Plan == plan && e.Value.State == JournalState.Created).ToList())
            {
                _journal[key] = entry with { State = JournalState.Committed };
            }

            // Nothing outlives the process here: the caller holds the committed plan.
            EndPlanLocked(plan);
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task EndPlanAsync(Guid plan, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            EndPlanLocked(plan);
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task ForgetPlanAsync(Guid plan, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            RemoveWhere(_claims, c => c.Value == plan);
            RemoveWhere(_journal, e => e.Key.Plan == plan);
            _guests.Remove(plan);
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<StoredPlan>> ListPlansAsync(CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            var plans = _claims.Values.Concat(_journal.Keys.Select(k => k.Plan)).Distinct();
            return Task.FromResult<IReadOnlyList<StoredPlan>>([.. plans.Select(plan => new StoredPlan(
                plan,
                _guests.GetValueOrDefault(plan, ""),
                Where,
                PlanOwnerState.Alive,
                [.. _journal.Values.Where(e => e.Plan == plan).OrderBy(e => e.Order)],
                [.. _claims.Where(c => c.Value == plan).Select(c => KeyValuePair.Create(c.Key.Host, c.Key.Device))]))]);
        }
    }

    /// <summary>Every plan here runs in this process, so none is ever recovered.</summary>
    /// <param name="hostKey">The host.</param>
    /// <param name="includeCommitted">Ignored: committed plans are not kept here.</param>
    /// <param name="cancellationToken">Not used: nothing is read.</param>
    /// <returns>Empty.</returns>
    public Task<IReadOnlyList<StoredPlan>> PlansToRecoverAsync(string hostKey, bool includeCommitted, CancellationToken cancellationToken = default) => Task.FromResult<IReadOnlyList<StoredPlan>>([]);

    private static string Where => $"process {Environment.ProcessId} (this one)";

    private ClaimHolder Holder(Guid plan) => new(plan, _guests.GetValueOrDefault(plan, ""), Where);

    private void EndPlanLocked(Guid plan)
    {
        // A device whose removal failed still exists: its entry and claim stay so no other plan is handed it.
        var stuck = _journal.Values.Where(e => e.Plan == plan && e.State == JournalState.RemoveFailed).Select(e => (e.HostKey, Planning.TargetKeys.Mdev(e.Uuid))).ToHashSet();
        RemoveWhere(_claims, c => c.Value == plan && !stuck.Contains(c.Key));
        RemoveWhere(_journal, e => e.Key.Plan == plan && e.Value.State != JournalState.RemoveFailed);
        if (stuck.Count == 0)
        {
            _guests.Remove(plan);
        }
    }

    private static void RemoveWhere<TKey, TValue>(Dictionary<TKey, TValue> dictionary, Func<KeyValuePair<TKey, TValue>, bool> predicate)
        where TKey : notnull
    {
        foreach (var key in dictionary.Where(predicate).Select(p => p.Key).ToList())
        {
            dictionary.Remove(key);
        }
    }
}
