using VfioMigration.Planner.State;

namespace VfioMigration.Planner.Tests.State;

/// <summary>
/// The in-memory store, recording every claim, release, journal entry, commit and end in the order
/// they were made (<see cref="Writes"/>, <see cref="Entries"/>); journal writes can be made to fail.
/// </summary>
internal sealed class RecordingStore : OneDeviceStore, IPlannerStateStore
{
    private readonly Lock _gate = new();
    private readonly List<string> _writes = [];
    private readonly List<JournalEntry> _entries = [];
    private int _claimBatches;

    /// <summary>When it returns true for an entry, the write throws <see cref="StateStoreException"/> ("disk full") and records nothing.</summary>
    public Func<JournalEntry, bool>? FailJournal { get; set; }

    /// <summary>Runs right after each read of a host's claims (a racing plan claiming something the reader no longer sees).</summary>
    public Action? AfterClaimsRead { get; set; }

    /// <summary>Makes a racing plan (guest vm9) claim <paramref name="devices"/> on <paramref name="hostKey"/> right after each read of a host's claims; returns the racer's plan id.</summary>
    public Guid RaceAfterTheClaimsRead(string hostKey, params IReadOnlyList<string> devices)
    {
        var racer = Guid.NewGuid();
        AfterClaimsRead = () =>
        {
            Claims.BeginPlan(racer, "vm9");
            foreach (var device in devices)
            {
                Assert.IsNull(Claims.TryClaimAsync(hostKey, device, racer).GetAwaiter().GetResult(), "the in-memory registry answers at once");
            }
        };
        return racer;
    }

    /// <summary>What was written, one line each: <c>claim KEY</c>, <c>release KEY</c>, <c>journal UUID STATE</c>, <c>commit</c>, <c>commit migrated</c>, <c>end</c>.</summary>
    public IReadOnlyList<string> Writes
    {
        get
        {
            lock (_gate)
            {
                return [.. _writes];
            }
        }
    }

    /// <summary>How many times a plan asked to claim existing devices (<see cref="IPlannerStateStore.TryClaimManyAsync"/>), each a store round trip.</summary>
    public int ClaimBatches => Volatile.Read(ref _claimBatches);

    /// <summary>Every journal entry written, in order.</summary>
    public IReadOnlyList<JournalEntry> Entries
    {
        get
        {
            lock (_gate)
            {
                return [.. _entries];
            }
        }
    }

    public override Task JournalAsync(JournalEntry entry, CancellationToken cancellationToken = default)
    {
        if (FailJournal?.Invoke(entry) == true)
        {
            throw new StateStoreException("disk full");
        }

        lock (_gate)
        {
            _writes.Add($"journal {entry.Uuid} {entry.State}");
            _entries.Add(entry);
        }

        return base.JournalAsync(entry, cancellationToken);
    }

    async Task<IReadOnlyDictionary<string, ClaimHolder>> IPlannerStateStore.ClaimsOnAsync(string hostKey, Guid plan, CancellationToken cancellationToken)
    {
        var claims = await Claims.ClaimsOnAsync(hostKey, plan, cancellationToken).ConfigureAwait(false);
        AfterClaimsRead?.Invoke();
        return claims;
    }

    Task<ClaimHolder?> IPlannerStateStore.TryClaimAsync(string hostKey, string device, Guid plan, CancellationToken cancellationToken)
    {
        Add($"claim {device}");
        return TryClaimAsync(hostKey, device, plan, cancellationToken);
    }

    async Task<IReadOnlyList<ClaimHolder?>> IPlannerStateStore.TryClaimManyAsync(string hostKey, IReadOnlyList<string> devices, Guid plan, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _claimBatches);
        var holders = new ClaimHolder?[devices.Count];
        for (var i = 0; i < devices.Count; i++)
        {
            holders[i] = await ((IPlannerStateStore)this).TryClaimAsync(hostKey, devices[i], plan, cancellationToken).ConfigureAwait(false);
        }

        return holders;
    }

    Task IPlannerStateStore.ReleaseAsync(string hostKey, string device, Guid plan, CancellationToken cancellationToken)
    {
        Add($"release {device}");
        return ReleaseAsync(hostKey, device, plan, cancellationToken);
    }

    Task IPlannerStateStore.CommitPlanAsync(Guid plan, CancellationToken cancellationToken)
    {
        Add("commit");
        return CommitPlanAsync(plan, cancellationToken);
    }

    Task IPlannerStateStore.CommitMigratedPlanAsync(Guid plan, CancellationToken cancellationToken)
    {
        Add("commit migrated");
        return CommitPlanAsync(plan, cancellationToken);
    }

    Task IPlannerStateStore.EndPlanAsync(Guid plan, CancellationToken cancellationToken)
    {
        Add("end");
        return EndPlanAsync(plan, cancellationToken);
    }

    private void Add(string write)
    {
        lock (_gate)
        {
            _writes.Add(write);
        }
    }
}
