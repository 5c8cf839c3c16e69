using System.Diagnostics;
using VfioMigration.Planner.Devices;

namespace VfioMigration.Planner.Evacuation;

/// <summary>
/// Plans the evacuation of a host: every guest onto one of several destinations, with capacity
/// shared across guests. The work goes in rounds: each round gives every waiting guest one
/// destination it has not tried (largest guests first, to the destination holding the fewest
/// devices); each destination plans its guests one at a time, so the next guest sees the devices
/// and claims of the previous ones, and the destinations work in parallel. A guest its destination
/// cannot take waits for the next round, until it has tried every destination.
/// </summary>
/// <remarks>
/// Each plan asks one destination, never all of them at once: a plan against N hosts creates
/// devices on all N and removes them on N-1, and creation and removal are the slowest operations
/// there are. Node devices and defined guests are read once per host for the whole evacuation
/// (see <see cref="InventorySnapshotHypervisor"/>).
/// </remarks>
/// <param name="planner">The planner every guest's plan goes through (its claim registry keeps parallel plans apart).</param>
public sealed class HostEvacuator(MigrationPlanner planner)
{
    /// <summary>
    /// Plans every guest. The returned plans hold their devices until the caller commits or
    /// releases them all; a guest no destination could take has the last incomplete plan, with its reasons.
    /// </summary>
    /// <exception cref="ArgumentException">No destination.</exception>
    /// <exception cref="Hypervisor.HypervisorException">The source's guests cannot be listed or read; every plan made is released first.</exception>
    /// <exception cref="OperationCanceledException">Cancelled; every plan made is released first.</exception>
    public async Task<EvacuationResult> EvacuateAsync(EvacuationRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Source is null || request.Destinations is null || request.Destinations.Count == 0)
        {
            throw new ArgumentException("EvacuationRequest needs a source host and at least one destination host.", nameof(request));
        }

        if (request.PlansPerHost is < 1 or > 16)
        {
            throw new ArgumentException($"EvacuationRequest.PlansPerHost is {request.PlansPerHost}; give 1 to 16 guests planned at once per destination.", nameof(request));
        }

        var stopwatch = Stopwatch.StartNew();
        var source = WithSnapshot(request.Source);
        var destinations = request.Destinations.Select(WithSnapshot).ToList();
        var guests = await GuestsBySizeAsync(source, request.Guests, cancellationToken).ConfigureAwait(false);
        var tried = guests.ToDictionary(g => g.Guest, _ => new HashSet<int>());
        var load = new int[destinations.Count];
        var done = new List<GuestEvacuation>();
        try
        {
            var waiting = guests;
            while (waiting.Count > 0)
            {
                var lanes = AssignLanes(waiting, load, tried);
                var rounds = await Task.WhenAll(lanes.Select((lane, i) =>
                    PlanOnHostAsync(source, lane, destinations[i], request, cancellationToken))).ConfigureAwait(false);
                waiting = [];
                foreach (var (entry, result, destination) in rounds.SelectMany((lane, i) => lane.Select(r => (r.Guest, r.Result, i))))
                {
                    var attempted = tried[entry.Guest];
                    attempted.Add(destination);
                    if (result.Succeeded || attempted.Count == destinations.Count)
                    {
                        done.Add(new GuestEvacuation(entry.Guest, result, attempted.Count));
                        load[destination] += result.Succeeded ? entry.Devices : 0;
                    }
                    else
                    {
                        await result.Best.ReleaseAsync().ConfigureAwait(false);
                        waiting.Add(entry);
                    }
                }
            }
        }
        catch (Exception)
        {
            await ReleaseAsync(done.Select(g => g.Plan)).ConfigureAwait(false);
            throw;
        }

        var order = guests.Select((g, i) => (g.Guest, i)).ToDictionary(p => p.Guest, p => p.i);
        return new EvacuationResult([.. done.OrderBy(g => order[g.Guest])], stopwatch.Elapsed);
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

    /// <summary>
    /// Largest guests first, each to the destination with the fewest devices (held and given this
    /// round) among those it has not tried: a greedy balance of the work per destination.
    /// </summary>
    internal static List<List<(DomainSelector Guest, int Devices)>> AssignLanes(IReadOnlyList<(DomainSelector Guest, int Devices)> guests, IReadOnlyList<int> held, IReadOnlyDictionary<DomainSelector, HashSet<int>> tried)
    {
        var lanes = held.Select(_ => new List<(DomainSelector, int)>()).ToList();
        var load = held.ToArray();
        foreach (var guest in guests.OrderByDescending(g => g.Devices))
        {
            var lightest = Enumerable.Range(0, load.Length)
                .Where(i => !tried[guest.Guest].Contains(i))
                .MinBy(i => load[i]);
            lanes[lightest].Add(guest);
            load[lightest] += guest.Devices;
        }

        return lanes;
    }

    private static MigrationHost WithSnapshot(MigrationHost host) =>
        host with { Hypervisor = new InventorySnapshotHypervisor(host.Hypervisor) };

    /// <summary>The guests given to one destination, in <see cref="EvacuationRequest.PlansPerHost"/> interleaved queues planned at once.</summary>
    private async Task<List<((DomainSelector Guest, int Devices) Guest, PlanResult Result)>> PlanOnHostAsync(MigrationHost source, List<(DomainSelector Guest, int Devices)> guests, MigrationHost destination, EvacuationRequest request, CancellationToken cancellationToken)
    {
        var queues = Enumerable.Range(0, request.PlansPerHost)
            .Select(q => guests.Where((_, i) => i % request.PlansPerHost == q).ToList())
            .Where(q => q.Count > 0)
            .Select(q => PlanLaneAsync(source, q, destination, request.Options, cancellationToken))
            .ToList();
        try
        {
            return [.. (await Task.WhenAll(queues).ConfigureAwait(false)).SelectMany(r => r)];
        }
        catch (Exception)
        {
            await ReleaseAsync(queues.Where(q => q.IsCompletedSuccessfully).SelectMany(q => q.Result.Select(r => r.Result))).ConfigureAwait(false);
            throw;
        }
    }

    private async Task<List<((DomainSelector Guest, int Devices) Guest, PlanResult Result)>> PlanLaneAsync(MigrationHost source, List<(DomainSelector Guest, int Devices)> lane, MigrationHost destination, PlanOptions? options, CancellationToken cancellationToken)
    {
        var results = new List<((DomainSelector, int), PlanResult)>();
        try
        {
            foreach (var guest in lane)
            {
                var result = await planner.PlanAsync(new PlanRequest(source, guest.Guest, [destination], options), cancellationToken).ConfigureAwait(false);
                results.Add((guest, result));
            }
        }
        catch (Exception)
        {
            // This lane's plans never reach the caller, so they are released here.
            await ReleaseAsync(results.Select(r => r.Item2)).ConfigureAwait(false);
            throw;
        }

        return results;
    }

    private static async Task<List<(DomainSelector Guest, int Devices)>> GuestsBySizeAsync(MigrationHost source, IReadOnlyList<DomainSelector>? requested, CancellationToken cancellationToken)
    {
        var domains = await source.Hypervisor.ListDomainsAsync(cancellationToken).ConfigureAwait(false);
        if (requested is null)
        {
            return [.. domains
                .Where(d => d.HostDevices.Count > 0)
                .Select(d => (DomainSelector.Parse(d.Name), d.HostDevices.Count))];
        }

        return [.. requested.Distinct().Select(g => (g, DevicesOf(domains, g)))];
    }

    private static int DevicesOf(IReadOnlyList<DomainHostDevices> domains, DomainSelector guest) =>
        domains.FirstOrDefault(d => guest.IsUuid
            ? string.Equals(d.Uuid, guest.Value, StringComparison.OrdinalIgnoreCase)
            : string.Equals(d.Name, guest.Value, StringComparison.Ordinal))?.HostDevices.Count ?? 0;
}
