using Microsoft.Extensions.Logging;
using VfioMigration.Planner.Diagnostics;
using VfioMigration.Planner.Hypervisor;
using VfioMigration.Planner.Planning;

namespace VfioMigration.Planner;

/// <summary>Where a plan is in its life.</summary>
public enum PlanState
{
    /// <summary>Complete; the devices it created exist and belong to it until it is committed or released.</summary>
    Ready,

    /// <summary>No complete assignment was found; everything it created has been removed (see <see cref="MigrationPlan.RemovalFailures"/>).</summary>
    Failed,

    /// <summary>The caller took over its devices (after a successful migration); disposing it removes nothing.</summary>
    Committed,

    /// <summary>Its devices were removed (abandoned, or not chosen among several destinations).</summary>
    Released,

    /// <summary>
    /// Its migration was interrupted and where the guest runs is unknown
    /// (<see cref="Hypervisor.MigrationOutcomeUnknownException"/>): the devices it created stay, and
    /// stay journaled as open, for recovery once this process has ended (<c>vfio-migrator recover</c>,
    /// <see cref="MigrationPlanner.RecoverAsync"/>), which gives each to the guest that uses it or
    /// removes it. Disposing it removes nothing.
    /// </summary>
    InDoubt,
}

/// <summary>
/// The plan for migrating one guest to one destination: the device mapping, every rejected
/// candidate with its reason, the destination XML, the devices created and what it cost.
/// Disposing a plan that was not committed removes every device it created; a removal that fails
/// is reported through <see cref="RollbackFailedException"/>.
/// </summary>
public sealed class MigrationPlan : IAsyncDisposable
{
    private readonly ProvisioningJournal _journal;
    private readonly MigrationHost _source;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();

    internal MigrationPlan(PlanContent content, PlanResources resources)
    {
        GuestName = content.GuestName;
        GuestUuid = content.GuestUuid;
        Destination = resources.Journal.Host;
        IsComplete = content.IsComplete;
        Devices = content.Devices;
        Rejections = content.Rejections;
        Reasons = content.Reasons;
        DestinationXml = content.DestinationXml;
        DestinationXmlNote = content.DestinationXmlNote;
        Statistics = content.Statistics;
        Preflight = content.Preflight;
        _journal = resources.Journal;
        _source = resources.Source;
        _logger = resources.Logger;
        State = content.IsComplete ? PlanState.Ready : PlanState.Failed;
    }

    /// <summary>The guest's name.</summary>
    public string GuestName { get; }

    /// <summary>The guest's UUID.</summary>
    public string GuestUuid { get; }

    /// <summary>The destination host.</summary>
    public MigrationHost Destination { get; }

    /// <summary>True when every source device has a target.</summary>
    public bool IsComplete { get; }

    /// <summary>Where the plan is in its life.</summary>
    public PlanState State { get; private set; }

    /// <summary>The device mapping; partial (or empty) when the plan is not complete.</summary>
    public IReadOnlyList<PlannedDevice> Devices { get; }

    /// <summary>Every rejected candidate, and every source device that could not be placed, with a reason.</summary>
    public IReadOnlyList<Rejection> Rejections { get; }

    /// <summary>Why the plan is not complete, in sentences; empty when it is.</summary>
    public IReadOnlyList<string> Reasons { get; }

    /// <summary>The guest XML for the destination (only hostdev sources changed); null when the plan is incomplete or the XML could not be produced (see <see cref="DestinationXmlNote"/>).</summary>
    public string? DestinationXml { get; }

    /// <summary>Why <see cref="DestinationXml"/> is null, when it is.</summary>
    public string? DestinationXmlNote { get; }

    /// <summary>Every mdev this plan created, and what became of it.</summary>
    public IReadOnlyList<CreatedDevice> Created => _journal.Devices;

    /// <summary>Devices the plan could not remove (they are still on the host); <see cref="RetryRemovalsAsync"/> tries again.</summary>
    public IReadOnlyList<RemovalFailure> RemovalFailures => _journal.Failures;

    /// <summary>What the plan cost.</summary>
    public PlanStatistics Statistics { get; }

    /// <summary>
    /// The preflight checks on the source and this destination (versions, device migration support,
    /// dirty tracking), each passed, a warning, failed or not applicable. A failed one makes the plan
    /// fail before anything is created (its message is among <see cref="Reasons"/>); empty when the
    /// plan stopped before the preflight (a device that cannot migrate anywhere).
    /// </summary>
    public IReadOnlyList<PreflightCheck> Preflight { get; }

    /// <summary>How many mapped devices are unverified.</summary>
    public int UnverifiedCount => Devices.Count(d => d.Verification == Verification.Unverified);

    /// <summary>How many mapped devices were created for this plan.</summary>
    public int CreationCount => Devices.Count(d => d.Action != DeviceAction.Reuse);

    /// <summary>How many distinct parents the plan's new mdevs are on (fewer means less fragmentation).</summary>
    public int ParentsTouched => Devices.Where(d => d.Action != DeviceAction.Reuse).Select(d => d.Target.Parent).Distinct(StringComparer.Ordinal).Count();

    /// <summary>
    /// Keeps the devices the plan created: after a successful migration they belong to the guest.
    /// The commit is journaled; the in-memory store releases the plan's claims, a durable one keeps
    /// them until the plan is released or its devices are used by a defined guest (docs/state.md).
    /// Disposing the plan afterwards removes nothing.
    /// </summary>
    /// <param name="cancellationToken">Checked before the commit is written (a kept plan's commit waits for the disk).</param>
    /// <exception cref="InvalidOperationException">The plan is not <see cref="PlanState.Ready"/>.</exception>
    /// <exception cref="State.StateStoreException">The store could not record the commit.</exception>
    public Task CommitAsync(CancellationToken cancellationToken = default) => CommitAsAsync(migrated: false, cancellationToken);

    /// <summary>
    /// Migrates the guest with this plan's destination XML from the source host to
    /// <see cref="Destination"/>, then commits the plan. Client-driven through the destination's
    /// connection unless <paramref name="settings"/> asks for peer-to-peer (see
    /// <see cref="MigrationSettings"/>). On failure the plan stays <see cref="PlanState.Ready"/> so
    /// that disposing it removes what it created.
    /// </summary>
    /// <param name="settings">Flags and addresses; <see cref="MigrationSettings"/>' defaults (live, client-driven, persisted on the destination) when null.</param>
    /// <param name="cancellationToken">Aborts the migration and waits for the abort's outcome (see <see cref="IHypervisor.MigrateAsync"/>): a <see cref="OperationCanceledException"/> then means the guest stayed on the source, and the plan stays ready; a migration that ended before the abort took effect is committed as usual.</param>
    /// <exception cref="InvalidOperationException">The plan is not ready, or has no destination XML.</exception>
    /// <exception cref="ArgumentException">The settings are not valid (see <see cref="MigrationSettings.Validate"/>); nothing was migrated.</exception>
    /// <exception cref="HypervisorException">The migration failed.</exception>
    /// <exception cref="MigrationOutcomeUnknownException">The migration was interrupted and where the guest runs is unknown: the plan is now <see cref="PlanState.InDoubt"/>, and the message names the devices it leaves for recovery.</exception>
    public async Task ExecuteAsync(MigrationSettings? settings = null, CancellationToken cancellationToken = default)
    {
        settings ??= new MigrationSettings();
        settings.Validate();
        string xml;
        lock (_gate)
        {
            EnsureReady("execute");
            xml = DestinationXml ?? throw new InvalidOperationException($"The plan for {GuestName} on {Destination.Name} has no destination XML ({DestinationXmlNote}); it cannot be executed.");
        }

        Log.Migrating(_logger, GuestName, Destination.Name);
        var guest = DomainSelector.Parse(GuestUuid);
        try
        {
            await _source.Hypervisor.MigrateAsync(new MigrationCall(guest, Destination.Hypervisor, xml, settings), cancellationToken).ConfigureAwait(false);
        }
        catch (MigrationOutcomeUnknownException unknown)
        {
            // Removing the devices now could pull them from under a guest whose migration went on.
            lock (_gate)
            {
                State = PlanState.InDoubt;
            }

            var left = Created.Count == 0 ? "it created no device" : $"the {Created.Count} device(s) it created on {Destination.Name} ({string.Join(", ", Created.Select(c => c.Method == CreationMethod.Vf ? $"the vGPU type of VF {c.Parent}" : $"mdev {c.Uuid.Value}"))}) are left for recovery (vfio-migrator recover) once this process has ended";
            throw new MigrationOutcomeUnknownException($"{unknown.Message}; {left}", unknown, unknown.CancellationToken);
        }

        // The guest runs on the destination now: the commit is written whatever the token says.
        await CommitAsAsync(migrated: true, CancellationToken.None).ConfigureAwait(false);
    }

    /// <summary>Commits the plan; after a migration the store may record it less durably (a guest using the devices says the same).</summary>
    private Task CommitAsAsync(bool migrated, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            EnsureReady("commit");
            State = PlanState.Committed;
        }

        return _journal.CommitAsync(migrated, cancellationToken);
    }

    /// <summary>
    /// Removes every device the plan created (unless committed) and releases its claims. Never
    /// throws for a failed removal: the failures are returned, and kept in <see cref="RemovalFailures"/>.
    /// </summary>
    /// <returns>The removals that failed; empty when everything is gone.</returns>
    public async Task<IReadOnlyList<RemovalFailure>> ReleaseAsync()
    {
        lock (_gate)
        {
            if (State != PlanState.Ready)
            {
                return [];
            }

            State = PlanState.Released;
        }

        var failures = await _journal.RollbackAsync().ConfigureAwait(false);
        await _journal.EndAsync().ConfigureAwait(false);
        return failures;
    }

    /// <summary>
    /// Tries again to remove the devices in <see cref="RemovalFailures"/> (the host was unreachable,
    /// say, and is back); each one removed leaves the list and frees its claim. Safe in any state:
    /// it touches only devices the plan already gave up, never those a committed guest uses.
    /// </summary>
    /// <returns>The removals that still failed; empty when every device is gone.</returns>
    public Task<IReadOnlyList<RemovalFailure>> RetryRemovalsAsync() => _journal.RetryFailedAsync();

    /// <summary>Releases the plan (see <see cref="ReleaseAsync"/>) unless it was committed.</summary>
    /// <exception cref="RollbackFailedException">A device could not be removed; it names each one and its host.</exception>
    public async ValueTask DisposeAsync()
    {
        var failures = await ReleaseAsync().ConfigureAwait(false);
        if (failures.Count > 0)
        {
            throw new RollbackFailedException(failures);
        }
    }

    private void EnsureReady(string what)
    {
        if (State != PlanState.Ready)
        {
            throw new InvalidOperationException($"Cannot {what} the plan for {GuestName} on {Destination.Name}: it is {State}, not Ready.");
        }
    }
}

/// <summary>What a plan says (built by the planner).</summary>
internal sealed record PlanContent(
    string GuestName,
    string GuestUuid,
    bool IsComplete,
    IReadOnlyList<PlannedDevice> Devices,
    IReadOnlyList<Rejection> Rejections,
    IReadOnlyList<string> Reasons,
    string? DestinationXml,
    string? DestinationXmlNote,
    PlanStatistics Statistics,
    IReadOnlyList<PreflightCheck> Preflight);

/// <summary>What a plan holds on the destination (built by the planner).</summary>
internal sealed record PlanResources(ProvisioningJournal Journal, MigrationHost Source, ILogger Logger);

/// <summary>Devices created by the planner could not be removed; each is still on its host.</summary>
public sealed class RollbackFailedException : Exception
{
    /// <summary>Creates the exception for the given failures.</summary>
    /// <param name="failures">The removals that failed.</param>
    public RollbackFailedException(IReadOnlyList<RemovalFailure> failures)
        : this(failures, null)
    {
    }

    /// <summary>Creates the exception for the given failures, met while rolling back after <paramref name="innerException"/>.</summary>
    /// <param name="failures">The removals that failed.</param>
    /// <param name="innerException">What made the planner roll back (a cancellation, an error), when any.</param>
    public RollbackFailedException(IReadOnlyList<RemovalFailure> failures, Exception? innerException)
        : base(Describe(failures), innerException) => Failures = failures;

    /// <summary>Creates the exception with no failures listed.</summary>
    public RollbackFailedException()
        : this([])
    {
    }

    /// <summary>Creates the exception with a message only.</summary>
    public RollbackFailedException(string message)
        : base(message) => Failures = [];

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public RollbackFailedException(string message, Exception innerException)
        : base(message, innerException) => Failures = [];

    /// <summary>The devices left behind, with their hosts and what failed.</summary>
    public IReadOnlyList<RemovalFailure> Failures { get; }

    private static string Describe(IReadOnlyList<RemovalFailure> failures) =>
        failures.Count == 0
            ? "Rolling back the planner's devices failed."
            : $"Could not remove {failures.Count} device(s) the planner created; remove them by hand: " +
              string.Join("; ", failures.Select(f => $"mdev {f.Uuid} on {f.Host}: {f.Message}"));
}

/// <summary>The planner's answer: the best plan, and what each other destination gave.</summary>
/// <param name="Best">The best-ranked plan (possibly incomplete, when no destination works: it then carries the reasons).</param>
/// <param name="Alternatives">The plans for the other destinations, ranked; already released, so they hold no device.</param>
public sealed record PlanResult(MigrationPlan Best, IReadOnlyList<MigrationPlan> Alternatives) : IAsyncDisposable
{
    /// <summary>True when the best plan is complete.</summary>
    public bool Succeeded => Best.IsComplete;

    /// <summary>Disposes the best plan (the alternatives hold nothing).</summary>
    public ValueTask DisposeAsync() => Best.DisposeAsync();
}
