using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Diagnostics;
using VfioMigration.Planner.Planning;
using VfioMigration.Planner.State;
using VfioMigration.Planner.Xml;

namespace VfioMigration.Planner;

/// <summary>
/// Plans the live migration of a libvirt guest that owns VFIO devices: finds, validates and, where
/// needed, creates a target for each of its host devices on one or more destinations, and returns
/// the best plan. Safe for concurrent use; concurrent plans never hand out the same target.
/// </summary>
public sealed partial class MigrationPlanner
{
    private readonly PlanOptions _defaults;
    private readonly ILogger _logger;
    private readonly IVerdictCache _verdictCache;
    private readonly TimeProvider _time;
    private readonly IPlannerStateStore _claims;

    /// <summary>Creates a planner.</summary>
    /// <param name="options">Default options for requests that carry none; <see cref="PlanOptions"/>' defaults when null.</param>
    /// <param name="logger">Where the planner logs; nowhere when null.</param>
    /// <param name="verdictCache">The cross-plan verdict cache used when <see cref="PlanOptions.VerdictCacheLifetime"/> is set; a new in-memory one when null.</param>
    /// <param name="timeProvider">The clock for probe time-outs and cache expiry; the system clock when null.</param>
    /// <param name="claims">The state store: claims on targets and the provisioning journal (docs/state.md); the in-memory <see cref="TargetClaimRegistry.Shared"/> when null, <see cref="SqliteStateStore"/> for one that outlives the process.</param>
    public MigrationPlanner(IOptions<PlanOptions>? options = null, ILogger<MigrationPlanner>? logger = null, IVerdictCache? verdictCache = null, TimeProvider? timeProvider = null, IPlannerStateStore? claims = null)
    {
        _defaults = options?.Value ?? new PlanOptions();
        _defaults.Validate();
        _logger = logger ?? (ILogger)NullLogger.Instance;
        _time = timeProvider ?? TimeProvider.System;
        _verdictCache = verdictCache ?? new InMemoryVerdictCache(_time);
        _claims = claims ?? TargetClaimRegistry.Shared;
    }

    /// <summary>The destination XML rewrite: <see cref="DestinationXmlWriter.Rewrite"/>; tests may substitute it.</summary>
    internal DestinationXmlRewrite RewriteDestinationXml { get; init; } = DestinationXmlWriter.Rewrite;

    /// <summary>
    /// Plans the migration of <see cref="PlanRequest.Guest"/> to each destination concurrently, ranks
    /// the plans (complete before incomplete, verified before unverified, fewer creations, fewer
    /// parents touched) and returns the best. The other destinations' plans are released before
    /// returning, so only the best one holds devices. When no destination works, the best plan is
    /// incomplete and carries the reasons.
    /// </summary>
    /// <exception cref="ArgumentException">The request is malformed (no destination, a host without a name).</exception>
    /// <exception cref="Hypervisor.HypervisorException">The guest cannot be read on the source host.</exception>
    /// <exception cref="OperationCanceledException">Cancelled; everything created was removed.</exception>
    /// <exception cref="RollbackFailedException">Planning stopped and a created device could not be removed.</exception>
    public async Task<PlanResult> PlanAsync(PlanRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var options = OptionsFor(request.Options);
        request.Source?.Validate("PlanRequest.Source");
        if (request.Source is null || request.Destinations is null || request.Destinations.Count == 0)
        {
            throw new ArgumentException("PlanRequest needs a source host and at least one destination host.", nameof(request));
        }

        for (var i = 0; i < request.Destinations.Count; i++)
        {
            request.Destinations[i].Validate($"PlanRequest.Destinations[{i}]");
        }

        using var activity = PlannerTelemetry.ActivitySource.StartActivity("Plan");
        activity?.SetTag("vfio_migration.guest", request.Guest.Value);
        Log.PlanStarted(_logger, request.Guest.Value, request.Source.Name, request.Destinations.Count);
        var facts = await SourceReader.ReadAsync(request.Source, request.Guest, cancellationToken).ConfigureAwait(false);
        facts = facts with { Host = await PreflightChecks.ReadAsync(request.Source, facts.Cost, cancellationToken).ConfigureAwait(false) };
        foreach (var device in facts.Devices)
        {
            Log.SourceDevice(_logger, device.Info.Id, device.Info.Type, device.Version.State);
        }

        var services = new PlannerServices(_verdictCache, _time, _claims, _logger, RewriteDestinationXml);
        var tasks = request.Destinations
            .Select(destination => new DestinationPlanner(facts, request.Source, destination, options, services).PlanAsync(cancellationToken))
            .ToList();
        try
        {
            await Task.WhenAll(tasks).ConfigureAwait(false);
        }
        catch (Exception) when (tasks.Any(t => t.IsCompletedSuccessfully))
        {
            // One destination stopped (cancelled, failed): release the plans the others made before passing it on.
            foreach (var done in tasks.Where(t => t.IsCompletedSuccessfully))
            {
                await (await done.ConfigureAwait(false)).ReleaseAsync().ConfigureAwait(false);
            }

            throw;
        }

        var ranked = Rank(tasks.Select(t => t.Result));
        foreach (var other in ranked.Skip(1))
        {
            await other.ReleaseAsync().ConfigureAwait(false);
        }

        Log.BestDestination(_logger, facts.Guest.Devices.Name, ranked[0].Destination.Name);
        return new PlanResult(ranked[0], [.. ranked.Skip(1)]);
    }

    /// <summary>
    /// Write and ask: every configuration on <paramref name="destination"/> that accepts
    /// <paramref name="device"/> (a host device of a guest on <paramref name="source"/>): idle mdevs
    /// and PCI functions whose probe accepts, and (parent, type) pairs whose type-level probe accepts,
    /// in the planner's order of preference. Creates nothing and claims nothing.
    /// </summary>
    /// <param name="source">The host the device is on.</param>
    /// <param name="device">The device, as the guest's parsed XML names it.</param>
    /// <param name="destination">The host to ask.</param>
    /// <param name="options">Options; the planner's defaults when null. Unverified targets are listed only under <see cref="VerificationPolicy.AllowTypeMatch"/>.</param>
    /// <param name="cancellationToken">Cancels the work.</param>
    public async Task<CompatibleTargets> FindCompatibleTargetsAsync(MigrationHost source, HostDevice device, MigrationHost destination, PlanOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(destination);
        source.Validate(nameof(source));
        destination.Validate(nameof(destination));
        var effective = OptionsFor(options);
        var counters = new PlanCounters();
        var roundTrips = destination.FileSystem.RoundTrips;
        var described = (await SourceReader.DescribeAsync(source, [device], counters, cancellationToken).ConfigureAwait(false))[0];
        var rejections = new RejectionLog(destination.Name, _logger);
        var targets = new List<CompatibleTarget>();
        if (CandidateEvaluator.IsPlannable(described, effective, rejections))
        {
            var inventory = await DestinationInventory.LoadAsync(destination, DestinationInventory.ScopeFor([described], effective), effective.Inventory, null, described.Vgpu is not null, counters, _logger, cancellationToken).ConfigureAwait(false);
            var probes = new ProbeRunner(destination, effective, _verdictCache, _time, counters, _logger);
            var evaluator = new CandidateEvaluator(destination, effective, inventory, probes, rejections, counters);
            var candidates = evaluator.ListCandidates(described);
            var ordered = candidates.OfType<CreateOption>().Any()
                ? OrderForAsking(candidates, effective.Placement)
                : candidates;
            foreach (var candidate in ordered)
            {
                if (candidate.ClaimKey is { } key && await _claims.HolderOfAsync(destination.Key, key, Guid.Empty, cancellationToken).ConfigureAwait(false) is { } holder)
                {
                    rejections.Add(new Rejection(described.Info.Id, candidate.Candidate, RejectionCode.InUse, $"{candidate.Candidate} is claimed by a plan ({holder})."));
                    continue;
                }

                var verdict = await evaluator.EvaluateAsync(described, candidate, cancellationToken).ConfigureAwait(false);
                if (CompatibleTarget.From(candidate, verdict, effective.VerificationPolicy) is { } target)
                {
                    targets.Add(target);
                }
            }
        }

        return new CompatibleTargets(described.Info, targets, rejections.Items, counters.Snapshot() with { DestinationRoundTrips = destination.FileSystem.RoundTrips - roundTrips });
    }

    /// <summary>
    /// Recovers what dead plans left on a host: every mdev journaled by a plan whose owner is gone
    /// (and which was not committed) is removed unless a defined guest uses it, in which case its
    /// entry is marked committed; with <paramref name="includeCommitted"/>, committed plans whose
    /// devices are all used by defined guests are forgotten too. Every plan does the former for each
    /// destination before reading its inventory. See docs/state.md.
    /// </summary>
    /// <param name="host">The host to recover.</param>
    /// <param name="includeCommitted">Also forget committed plans whose devices guests now use (one more libvirt call when there are any).</param>
    /// <param name="cancellationToken">Cancels before the work starts; removals, once started, are not cut off.</param>
    /// <returns>What was done to each device.</returns>
    /// <exception cref="StateStoreException">The store cannot be read or written.</exception>
    /// <exception cref="Hypervisor.HypervisorException">The host's guests cannot be listed.</exception>
    public Task<RecoveryReport> RecoverAsync(MigrationHost host, bool includeCommitted = true, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(host);
        host.Validate(nameof(host));
        cancellationToken.ThrowIfCancellationRequested();
        return Recovery.RunAsync(host, _claims, includeCommitted, _logger);
    }

    /// <summary>
    /// Releases a kept plan (one committed without a migration, e.g. the console's <c>--keep</c>):
    /// removes each mdev it created on <paramref name="host"/> unless a defined guest uses it, and
    /// forgets the plan, with its claims, once none of its devices is left.
    /// </summary>
    /// <param name="plan">The plan's id, as <see cref="IPlannerStateStore.ListPlansAsync"/> lists it.</param>
    /// <param name="host">A host the plan created devices on.</param>
    /// <param name="cancellationToken">Cancels before the work starts; removals, once started, are not cut off.</param>
    /// <returns>What was done to each device.</returns>
    /// <exception cref="InvalidOperationException">The store holds no such plan, or its process still runs.</exception>
    /// <exception cref="StateStoreException">The store cannot be read or written.</exception>
    /// <exception cref="Hypervisor.HypervisorException">The host's guests cannot be listed.</exception>
    public Task<RecoveryReport> ReleaseKeptPlanAsync(Guid plan, MigrationHost host, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(host);
        host.Validate(nameof(host));
        cancellationToken.ThrowIfCancellationRequested();
        return Recovery.ReleaseAsync(host, _claims, plan, _logger);
    }

    private PlanOptions OptionsFor(PlanOptions? requested)
    {
        var options = (requested ?? _defaults).Clone();
        options.Validate();
        return options;
    }

    /// <summary>Reuse before create; new mdevs by placement (pack: fullest parent first; spread: emptiest first).</summary>
    private static List<TargetOption> OrderForAsking(IReadOnlyList<TargetOption> candidates, PlacementPreference placement)
    {
        var creates = candidates.OfType<CreateOption>();
        var ordered = placement == PlacementPreference.Pack
            ? creates.OrderBy(c => c.Type.AvailableInstances)
            : creates.OrderByDescending(c => c.Type.AvailableInstances);
        var firstCreate = candidates.TakeWhile(o => o is not CreateOption).Count();
        return [.. candidates.Take(firstCreate), .. ordered, .. candidates.Skip(firstCreate).Where(o => o is not CreateOption)];
    }

    /// <summary>Complete first; then fewer unverified devices, fewer creations, fewer parents touched; then the caller's order.</summary>
    internal static List<MigrationPlan> Rank(IEnumerable<MigrationPlan> plans) =>
        [.. plans
            .Select((plan, order) => (plan, order))
            .OrderByDescending(p => p.plan.IsComplete)
            .ThenBy(p => p.plan.UnverifiedCount)
            .ThenBy(p => p.plan.CreationCount)
            .ThenBy(p => p.plan.ParentsTouched)
            .ThenBy(p => p.order)
            .Select(p => p.plan)];
}
