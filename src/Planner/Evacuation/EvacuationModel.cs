namespace VfioMigration.Planner.Evacuation;

/// <summary>What to evacuate: every guest with host devices on <paramref name="Source"/> (or the listed ones), onto the destinations.</summary>
/// <param name="Source">The host to empty.</param>
/// <param name="Destinations">The hosts that take the guests; planned in parallel, one guest at a time per host.</param>
/// <param name="Guests">The guests to move; every guest of the source that owns a host device when null.</param>
/// <param name="Options">Plan options for every guest; the planner's configured options when null.</param>
/// <param name="PlansPerHost">How many guests a destination plans at once (1 to 16). Above 1, concurrent plans on one host are kept apart by the planner's claims and its re-read of capacity before each creation; a lost race costs a re-search, never a shared target.</param>
public sealed record EvacuationRequest(MigrationHost Source, IReadOnlyList<MigrationHost> Destinations, IReadOnlyList<DomainSelector>? Guests = null, PlanOptions? Options = null, int PlansPerHost = 1);

/// <summary>One guest of an evacuation and the plan that moves it.</summary>
/// <param name="Guest">The guest as requested (name or UUID).</param>
/// <param name="Plan">The planner's result: the best plan (holding its devices while the evacuation is undecided) and the alternatives.</param>
/// <param name="Attempts">How many destinations were asked, one after the other, until one took the guest (or none was left).</param>
public sealed record GuestEvacuation(DomainSelector Guest, PlanResult Plan, int Attempts)
{
    /// <summary>True when the first destination given to the guest could not take it.</summary>
    public bool Retried => Attempts > 1;

    /// <summary>True when every host device of the guest has a target.</summary>
    public bool Succeeded => Plan.Succeeded;
}

/// <summary>
/// The plans of a whole evacuation. While it is undecided every complete plan keeps its devices and
/// claims, so capacity is shared across guests; <see cref="CommitAllAsync"/> hands every device to the
/// caller, <see cref="ReleaseAllAsync"/> (or disposing) removes every device the evacuation created.
/// </summary>
public sealed class EvacuationResult : IAsyncDisposable
{
    internal EvacuationResult(IReadOnlyList<GuestEvacuation> guests, TimeSpan elapsed)
    {
        Guests = guests;
        Elapsed = elapsed;
    }

    /// <summary>Every guest, in the order planned.</summary>
    public IReadOnlyList<GuestEvacuation> Guests { get; }

    /// <summary>True when every guest has a complete plan.</summary>
    public bool Succeeded => Guests.All(g => g.Succeeded);

    /// <summary>Wall-clock time of the evacuation planning.</summary>
    public TimeSpan Elapsed { get; }

    /// <summary>Hands every complete plan's devices to the caller (see <see cref="MigrationPlan.CommitAsync"/>).</summary>
    /// <param name="cancellationToken">Checked before each commit is written.</param>
    public async Task CommitAllAsync(CancellationToken cancellationToken = default)
    {
        foreach (var guest in Guests.Where(g => g.Plan.Best.State == PlanState.Ready))
        {
            await guest.Plan.Best.CommitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Removes every device the uncommitted plans created; returns the removals that failed.</summary>
    public async Task<IReadOnlyList<RemovalFailure>> ReleaseAllAsync() =>
        await HostEvacuator.ReleaseAsync(Guests.Select(g => g.Plan)).ConfigureAwait(false);

    /// <summary>Releases what was not committed.</summary>
    /// <exception cref="RollbackFailedException">A created device could not be removed.</exception>
    public async ValueTask DisposeAsync()
    {
        var failures = await ReleaseAllAsync().ConfigureAwait(false);
        if (failures.Count > 0)
        {
            throw new RollbackFailedException(failures);
        }
    }
}
