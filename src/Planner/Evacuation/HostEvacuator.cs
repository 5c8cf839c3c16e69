using System.Diagnostics;
using VfioMigration.Planner.Devices;

namespace VfioMigration.Planner.Evacuation;

/// <summary>
/// Plans the evacuation of a host: every guest onto one of several destinations, with capacity
/// shared across guests. Each destination takes one guest at a time (so the next guest sees the
/// devices and claims of the previous ones) and the destinations work in parallel; a guest its
/// first destination cannot take is planned again against every destination at the end.
/// </summary>
/// <remarks>
/// Giving each guest one destination first, rather than planning every guest against every host,
/// is what keeps an evacuation fast: a plan against N hosts creates devices on all N and removes
/// them on N-1, and those creates and removes are the slowest operations there are.
/// </remarks>
/// <param name="planner">The planner every guest's plan goes through (its claim registry keeps parallel plans apart).</param>
public sealed class HostEvacuator(MigrationPlanner planner)
{
    /// <summary>
    /// Plans every guest. Guests are given to destinations largest first, each to the destination
    /// with the fewest devices given so far. The returned plans hold their devices until the
    /// caller commits or releases them all.
    /// </summary>
    /// <exception cref="ArgumentException">No destination.</exception>
    /// <exception cref="Hypervisor.HypervisorException">The source's guests cannot be listed or read; every plan made is released first.</exception>
    /// <exception cref="OperationCanceledException">Cancelled; every plan made is released first.</exception>
    public async Task<EvacuationResult> EvacuateAsync(EvacuationRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Destinations is null || request.Destinations.Count == 0)
        {
            throw new ArgumentException("EvacuationRequest needs at least one destination host.", nameof(request));
        }

        var stopwatch = Stopwatch.StartNew();
        var guests = await GuestsBySizeAsync(request, cancellationToken).ConfigureAwait(false);
        var lanes = AssignLanes(guests, request.Destinations.Count);
        var done = new List<GuestEvacuation>();
        try
        {
            var laneResults = await Task.WhenAll(lanes.Select((lane, i) =>
                PlanLaneAsync(request, lane, request.Destinations[i], cancellationToken))).ConfigureAwait(false);
            var retries = new List<DomainSelector>();
            foreach (var (guest, result) in laneResults.SelectMany(r => r))
            {
                if (result.Succeeded)
                {
                    done.Add(new GuestEvacuation(guest, result, Retried: false));
                }
                else
                {
                    await result.Best.ReleaseAsync().ConfigureAwait(false);
                    retries.Add(guest);
                }
            }

            foreach (var guest in retries)
            {
                var result = await planner.PlanAsync(new PlanRequest(request.Source, guest, request.Destinations, request.Options), cancellationToken).ConfigureAwait(false);
                done.Add(new GuestEvacuation(guest, result, Retried: true));
            }
        }
        catch (Exception)
        {
            await ReleaseAsync(done.Select(g => g.Plan)).ConfigureAwait(false);
            throw;
        }

        return new EvacuationResult(done, stopwatch.Elapsed);
    }

    /// <summary>Releases the plans (rollback is never cancelled); returns every removal that failed.</summary>
    internal static async Task<IReadOnlyList<RemovalFailure>> ReleaseAsync(IEnumerable<PlanResult> plans)
    {
        var failures = new List<RemovalFailure>();
        foreach (var plan in plans.Where(p => p.Best.State == PlanState.Ready))
        {
            failures.AddRange(await plan.Best.ReleaseAsync().ConfigureAwait(false));
        }

        return failures;
    }

    /// <summary>Largest guests first, each to the lane with the fewest devices so far: a greedy balance of the work per destination.</summary>
    internal static List<List<(DomainSelector Guest, int Devices)>> AssignLanes(IReadOnlyList<(DomainSelector Guest, int Devices)> guests, int laneCount)
    {
        var lanes = Enumerable.Range(0, laneCount).Select(_ => new List<(DomainSelector, int)>()).ToList();
        var load = new int[laneCount];
        foreach (var guest in guests.OrderByDescending(g => g.Devices))
        {
            var lightest = Array.IndexOf(load, load.Min());
            lanes[lightest].Add(guest);
            load[lightest] += guest.Devices;
        }

        return lanes;
    }

    private async Task<List<(DomainSelector Guest, PlanResult Result)>> PlanLaneAsync(EvacuationRequest request, List<(DomainSelector Guest, int Devices)> lane, MigrationHost destination, CancellationToken cancellationToken)
    {
        var results = new List<(DomainSelector, PlanResult)>();
        try
        {
            foreach (var (guest, _) in lane)
            {
                var result = await planner.PlanAsync(new PlanRequest(request.Source, guest, [destination], request.Options), cancellationToken).ConfigureAwait(false);
                results.Add((guest, result));
            }
        }
        catch (Exception)
        {
            // The other lanes' plans are released by the caller; this lane's are not returned, so release them here.
            await ReleaseAsync(results.Select(r => r.Item2)).ConfigureAwait(false);
            throw;
        }

        return results;
    }

    private static async Task<List<(DomainSelector Guest, int Devices)>> GuestsBySizeAsync(EvacuationRequest request, CancellationToken cancellationToken)
    {
        var domains = await request.Source.Hypervisor.ListDomainsAsync(cancellationToken).ConfigureAwait(false);
        if (request.Guests is null)
        {
            return [.. domains
                .Where(d => d.HostDevices.Count > 0)
                .Select(d => (DomainSelector.Parse(d.Name), d.HostDevices.Count))];
        }

        return [.. request.Guests.Select(g => (g, DevicesOf(domains, g)))];
    }

    private static int DevicesOf(IReadOnlyList<DomainHostDevices> domains, DomainSelector guest) =>
        domains.FirstOrDefault(d => guest.IsUuid
            ? string.Equals(d.Uuid, guest.Value, StringComparison.OrdinalIgnoreCase)
            : string.Equals(d.Name, guest.Value, StringComparison.Ordinal))?.HostDevices.Count ?? 0;
}
