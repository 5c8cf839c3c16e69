using System.Diagnostics;
using VfioMigration.HostSimulator.Scenarios;
using VfioMigration.Planner;
using VfioMigration.Planner.Evacuation;

namespace VfioMigration.Bench;

/// <summary>One strategy placing an evacuation's guests on a fleet with mixed driver branches.</summary>
/// <param name="Fleet">The fleet, in words.</param>
/// <param name="Strategy"><c>planner</c> (<see cref="HostEvacuator"/>) or <c>type only</c> (<see cref="TypeOnlyStrategy"/>).</param>
/// <param name="Devices">The guests' devices in all.</param>
/// <param name="Placed">Devices given a target.</param>
/// <param name="Counts">Operations on the destinations while placing (the version check after it not included).</param>
/// <param name="WallMs">Wall time of the placement, with simulated latency.</param>
/// <param name="LateFailures">Placements the destination's version check refuses (<see cref="VersionCheck"/>): migrations that would fail late.</param>
/// <param name="Undecided">Placements the version check cannot decide (no device-level attribute).</param>
public sealed record PeerFigures(string Fleet, string Strategy, int Devices, int Placed, OperationCounts Counts, double WallMs, int LateFailures, int Undecided)
{
    /// <summary>Late failures over placements.</summary>
    public double LateFraction => Placed == 0 ? 0 : (double)LateFailures / Placed;
}

/// <summary>The peers beside us: the type-only placement of Nova and KubeVirt against the planner, on the same hosts.</summary>
public static class PeerRunner
{
    /// <summary>The fleets: the evacuation hosts with 1/8 of the GPUs on another driver branch, and with half of them (a fleet half way through a driver upgrade).</summary>
    public static IReadOnlyList<(string Name, double IncompatibleFraction)> Fleets { get; } =
    [
        ("8 hosts, 1/8 of GPUs on another branch", 0.125),
        ("8 hosts, 1/2 of GPUs on another branch", 0.5),
    ];

    /// <summary>Both strategies on every fleet; each starts from freshly built hosts.</summary>
    public static async Task<IReadOnlyList<PeerFigures>> RunAsync(CancellationToken cancellationToken = default)
    {
        var figures = new List<PeerFigures>();
        foreach (var (name, incompatible) in Fleets)
        {
            var (source, destinations) = BenchRunner.EvacuationHosts(incompatibleFraction: incompatible);
            figures.Add(await PlannerAsync(name, source, destinations, cancellationToken).ConfigureAwait(false));
            figures.Add(await TypeOnlyAsync(name, source, destinations, cancellationToken).ConfigureAwait(false));
        }

        return figures;
    }

    private static async Task<PeerFigures> PlannerAsync(string fleet, Scenario sourceScenario, IReadOnlyList<Scenario> destinationScenarios, CancellationToken cancellationToken)
    {
        using var hosts = new BenchFleet(sourceScenario, destinationScenarios);
        var sources = await hosts.SourceDevicesAsync(cancellationToken).ConfigureAwait(false);
        var before = hosts.Snapshot();
        var evacuator = new HostEvacuator(new MigrationPlanner(claims: new TargetClaimRegistry()));
        var result = await evacuator.EvacuateAsync(new EvacuationRequest(hosts.Source.Host, [.. hosts.Destinations.Select(d => d.Host)], PlansPerHost: BenchRunner.EvacuationPlansPerHost), cancellationToken).ConfigureAwait(false);
        await using var releasesEverything = result.ConfigureAwait(false);
        var counts = hosts.CountsSince(before);
        var placements = result.Guests
            .Where(g => g.Succeeded)
            .SelectMany(g => VersionCheck.Of(g.Plan.Best, sources[g.Guest.Value]))
            .ToList();
        var (refused, undecided) = await VersionCheck.CountAsync(placements, cancellationToken).ConfigureAwait(false);
        return new PeerFigures(fleet, "planner", sources.Values.Sum(s => s.Count), placements.Count, counts, result.Elapsed.TotalMilliseconds, refused, undecided);
    }

    private static async Task<PeerFigures> TypeOnlyAsync(string fleet, Scenario sourceScenario, IReadOnlyList<Scenario> destinationScenarios, CancellationToken cancellationToken)
    {
        using var hosts = new BenchFleet(sourceScenario, destinationScenarios);
        var sources = await hosts.SourceDevicesAsync(cancellationToken).ConfigureAwait(false);
        var capacity = await TypeOnlyStrategy.ReadCapacityAsync([.. hosts.Destinations.Select(d => d.Host)], cancellationToken).ConfigureAwait(false);

        // Largest guests first, as the evacuator orders them.
        var guests = sources.Values.OrderByDescending(g => g.Count).ToList();
        var before = hosts.Snapshot();
        var stopwatch = Stopwatch.StartNew();
        var outcome = await TypeOnlyStrategy.PlaceAsync(guests, capacity, cancellationToken).ConfigureAwait(false);
        var wall = stopwatch.Elapsed.TotalMilliseconds;
        var counts = hosts.CountsSince(before);
        var (refused, undecided) = await VersionCheck.CountAsync(outcome.Placed, cancellationToken).ConfigureAwait(false);
        await TypeOnlyStrategy.ReleaseAsync(outcome).ConfigureAwait(false);
        return new PeerFigures(fleet, "type only", outcome.Devices, outcome.Placed.Count, counts, wall, refused, undecided);
    }
}

/// <summary>A source and its destinations as <see cref="BenchHost"/>s (libvirt's test driver and the in-process simulator); disposes them all.</summary>
internal sealed class BenchFleet : IDisposable
{
    private readonly IReadOnlyList<Scenario> _destinationScenarios;

    public BenchFleet(Scenario source, IReadOnlyList<Scenario> destinations)
    {
        Source = new BenchHost(source);
        _destinationScenarios = destinations;
        Destinations = [.. destinations.Select(s => new BenchHost(s))];
    }

    public BenchHost Source { get; }

    public IReadOnlyList<BenchHost> Destinations { get; }

    /// <summary>Every guest of the source with its mdevs, by name.</summary>
    public async Task<Dictionary<string, IReadOnlyList<SourceMdev>>> SourceDevicesAsync(CancellationToken cancellationToken)
    {
        var guests = new Dictionary<string, IReadOnlyList<SourceMdev>>(StringComparer.Ordinal);
        foreach (var domain in await Source.Host.Hypervisor.ListDomainsAsync(cancellationToken).ConfigureAwait(false))
        {
            if (domain.HostDevices.Count > 0)
            {
                guests[domain.Name] = await SourceMdev.ReadAsync(Source.Host, DomainSelector.Parse(domain.Name), cancellationToken).ConfigureAwait(false);
            }
        }

        return guests;
    }

    public IReadOnlyList<(HostSimulator.HostSnapshot State, long LibvirtCalls)> Snapshot() =>
        [.. Destinations.Select(d => (d.Simulated.Snapshot(), d.Host.Hypervisor.LibvirtCalls))];

    public OperationCounts CountsSince(IReadOnlyList<(HostSimulator.HostSnapshot State, long LibvirtCalls)> before)
    {
        var counts = OperationCounts.Zero;
        for (var i = 0; i < Destinations.Count; i++)
        {
            var calls = Destinations[i].Host.Hypervisor.LibvirtCalls - before[i].LibvirtCalls;
            counts = counts.Add(OperationCounts.Between(before[i].State, Destinations[i].Simulated.Snapshot(), calls, 0, BenchRunner.TypeLevelParents(_destinationScenarios[i])));
        }

        return counts;
    }

    public void Dispose()
    {
        foreach (var destination in Destinations)
        {
            destination.Dispose();
        }

        Source.Dispose();
    }
}
