using System.Diagnostics;
using VfioMigration.HostSimulator.Generation;
using VfioMigration.HostSimulator.Scenarios;
using VfioMigration.Planner;
using VfioMigration.Planner.Evacuation;
using VfioMigration.Planner.State;

namespace VfioMigration.Bench;

/// <summary>How much to run.</summary>
/// <param name="Quick">A reduced run (fewer iterations), about half the time of the full one.</param>
public sealed record BenchSettings(bool Quick)
{
    /// <summary>Timed plans per strategy and guest size with simulated latency.</summary>
    public int TimedPlans => Quick ? 3 : 11;

    /// <summary>Timed exhaustive plans per guest size with simulated latency (they take seconds each).</summary>
    public int TimedExhaustivePlans => Quick ? 1 : 3;

    /// <summary>Plans per strategy and guest size with no simulated latency (planner time, allocations).</summary>
    public int CpuPlans => Quick ? 10 : 41;

    /// <summary>Guest sizes planned on the largest host.</summary>
    public IReadOnlyList<int> GuestSizes { get; } = [1, 4, 8];
}

/// <summary>The figures of one strategy planning one guest size on one generated host.</summary>
/// <param name="Host">The generated destination's name (<c>largest</c>, <c>largest-device-level</c>, <c>pool</c>).</param>
/// <param name="Devices">Host devices of the guest.</param>
/// <param name="Strategy"><c>planner</c>, <see cref="BenchRunner.PlannerSysfs"/> or <c>exhaustive</c>.</param>
/// <param name="Complete">Whether every device got a target.</param>
/// <param name="Candidates">What an exhaustive search has to ask about on this host for this guest (<see cref="ExhaustiveStrategy.CountCandidatesAsync"/>): the same for both strategies.</param>
/// <param name="Counts">Operations on the destination per plan.</param>
/// <param name="WallMs">Plan wall time with simulated latency, in plan order.</param>
/// <param name="CpuMs">Plan time with no simulated latency (planner, libvirt test driver, simulator), in plan order.</param>
/// <param name="LibvirtMs">Of <see cref="CpuMs"/>, the time inside <see cref="Planner.Hypervisor.IHypervisor"/> calls (the test driver listing and formatting node devices, and <see cref="Planner.Hypervisor.LibvirtHypervisor"/> parsing that XML), in plan order.</param>
/// <param name="AllocatedBytesPerPlan">Managed bytes the process allocated per plan (no simulated latency), mean: the planner's and the simulated hosts' together.</param>
/// <param name="SysfsReads">sysfs reads of one plan as its statistics count them (the planner's strategies; 0 for the exhaustive one).</param>
/// <param name="SimulatedHostBytesPerPlan">Of <see cref="AllocatedBytesPerPlan"/>, what the in-process simulator allocated answering sysfs calls (<see cref="AllocationCountingTree"/>): the kernel's work on a real host, not the planner's.</param>
public sealed record PlanFigures(string Host, int Devices, string Strategy, bool Complete, int Candidates, OperationCounts Counts, IReadOnlyList<double> WallMs, IReadOnlyList<double> CpuMs, IReadOnlyList<double> LibvirtMs, long AllocatedBytesPerPlan, int SysfsReads = 0, long SimulatedHostBytesPerPlan = 0)
{
    /// <summary>What the planner itself allocated per plan: <see cref="AllocatedBytesPerPlan"/> without <see cref="SimulatedHostBytesPerPlan"/>.</summary>
    public long PlannerBytesPerPlan => AllocatedBytesPerPlan - SimulatedHostBytesPerPlan;

    /// <summary>Median of <see cref="WallMs"/>.</summary>
    public double WallMsMedian => Statistics.Percentile(WallMs, 0.5);

    /// <summary>Median of <see cref="CpuMs"/>.</summary>
    public double CpuMsMedian => Statistics.Percentile(CpuMs, 0.5);

    /// <summary>Median of the plan time outside libvirt (<see cref="CpuMs"/> minus <see cref="LibvirtMs"/>, plan by plan): the planner and the in-process simulator.</summary>
    public double OwnMsMedian => Statistics.Percentile([.. CpuMs.Zip(LibvirtMs, (all, libvirt) => all - libvirt)], 0.5);
}

/// <summary>The figures of one evacuation.</summary>
/// <param name="Guests">Guests with host devices on the source.</param>
/// <param name="Devices">Their host devices in all.</param>
/// <param name="Destinations">Destination hosts.</param>
/// <param name="Succeeded">Guests with a complete plan.</param>
/// <param name="Retried">Guests whose first destination could not take them.</param>
/// <param name="WallMs">Wall time of <see cref="HostEvacuator.EvacuateAsync"/>, with simulated latency.</param>
/// <param name="Counts">Operations on all destinations together.</param>
public sealed record EvacuationFigures(int Guests, int Devices, int Destinations, int Succeeded, int Retried, double WallMs, OperationCounts Counts);

/// <summary>Everything one run measured.</summary>
/// <param name="Plans">Whole-plan figures per host, guest size and strategy.</param>
/// <param name="Evacuation">The evacuation figures.</param>
/// <param name="Peers">The type-only placement beside the planner on fleets with mixed driver branches.</param>
/// <param name="Fleet">The evacuation of 16 source hosts onto fleets of growing size.</param>
public sealed record BenchResults(IReadOnlyList<PlanFigures> Plans, EvacuationFigures Evacuation, IReadOnlyList<PeerFigures> Peers, IReadOnlyList<FleetFigures> Fleet);

/// <summary>
/// Runs the whole-plan figures (planner and exhaustive baseline, side by side on the same hosts)
/// and the evacuation figures on generated hosts.
/// </summary>
public static class BenchRunner
{
    /// <summary>The largest host: 16 GPUs, 32 types each, 512 mdevs (three quarters owned by guests), mixed versions and card kinds.</summary>
    public static GeneratedHostOptions LargestHost { get; } = new() { Name = "largest", Seed = 7 };

    /// <summary>The guests defined on <see cref="LargestHost"/>.</summary>
    public static int LargestHostGuests => ScenarioGenerator.Host(LargestHost).Guests!.Count;

    /// <summary>Guests each destination plans at once in the evacuation figures: 2 measured 2.0 s against 3.0 s for 1 and 2.1 s for 4 (quick runs, 2 cores).</summary>
    public const int EvacuationPlansPerHost = 2;

    /// <summary>The largest host with no type-level attribute anywhere: the case where only a device can answer, which an exhaustive search pays for with create-probe-remove.</summary>
    public static GeneratedHostOptions DeviceLevelOnlyHost { get; } = LargestHost with { Name = "largest-device-level", DeviceLevelOnlyFraction = 1 };

    /// <summary>
    /// A pre-provisioned pool, the shape KubeVirt's <c>mediatedDevicesConfiguration</c> and Nova's
    /// pre-created mdevs leave: 16 one-type-at-a-time GPUs, each configured for one of the 4 types
    /// the bench guests use and filled to its 16 instances (256 mdevs), a quarter owned by guests,
    /// one driver branch, a type-level attribute on every GPU.
    /// </summary>
    public static GeneratedHostOptions PoolHost { get; } = new()
    {
        Name = "pool",
        Seed = 7,
        Gpus = 16,
        MaxInstancesPerType = 16,
        ExistingMdevs = 16 * 16,
        OwnedFraction = 0.25,
        Layout = MdevLayout.PreProvisionedPool,
        PoolTypes = 4,
        OneTypeAtATimeFraction = 1,
        IncompatibleFraction = 0,
        DeviceLevelOnlyFraction = 0,
    };

    /// <summary>The planner reading the destination's devices from sysfs (<see cref="InventorySource.Sysfs"/>).</summary>
    public const string PlannerSysfs = "planner, sysfs inventory";

    /// <summary>Runs every figure; <paramref name="progress"/> hears what is running.</summary>
    public static async Task<BenchResults> RunAsync(BenchSettings settings, Action<string> progress, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(progress);
        progress("warm-up");
        await WarmUpAsync(cancellationToken).ConfigureAwait(false);
        var plans = new List<PlanFigures>();
        foreach (var devices in settings.GuestSizes)
        {
            progress($"single guest, {devices} device(s), largest host");
            plans.Add(await MeasurePlansAsync(LargestHost, devices, "planner", settings.TimedPlans, settings.CpuPlans, cancellationToken).ConfigureAwait(false));
            plans.Add(await MeasurePlansAsync(LargestHost, devices, PlannerSysfs, settings.TimedPlans, settings.CpuPlans, cancellationToken).ConfigureAwait(false));
            plans.Add(await MeasurePlansAsync(LargestHost, devices, "exhaustive", settings.TimedExhaustivePlans, settings.CpuPlans, cancellationToken).ConfigureAwait(false));
        }

        progress("single guest, 4 devices, largest host without type-level attributes");
        plans.Add(await MeasurePlansAsync(DeviceLevelOnlyHost, 4, "planner", settings.TimedPlans, settings.CpuPlans, cancellationToken).ConfigureAwait(false));
        plans.Add(await MeasurePlansAsync(DeviceLevelOnlyHost, 4, "exhaustive", settings.TimedExhaustivePlans, settings.TimedExhaustivePlans, cancellationToken).ConfigureAwait(false));

        foreach (var devices in settings.GuestSizes)
        {
            progress($"single guest, {devices} device(s), pre-provisioned pool");
            plans.Add(await MeasurePlansAsync(PoolHost, devices, "planner", settings.TimedPlans, settings.CpuPlans, cancellationToken).ConfigureAwait(false));
            plans.Add(await MeasurePlansAsync(PoolHost, devices, "exhaustive", settings.TimedExhaustivePlans, settings.CpuPlans, cancellationToken).ConfigureAwait(false));
        }

        progress("evacuation: 64 guests onto 8 hosts");
        var evacuation = await MeasureEvacuationAsync(new TargetClaimRegistry(), cancellationToken).ConfigureAwait(false);
        progress("peers: type-only placement and the planner on fleets with mixed driver branches");
        var peers = await PeerRunner.RunAsync(cancellationToken).ConfigureAwait(false);
        var fleet = await FleetRunner.RunAsync(progress, cancellationToken).ConfigureAwait(false);
        return new BenchResults(plans, evacuation, peers, fleet);
    }

    /// <summary>The evacuation hosts: a source with 64 guests of 1-4 devices, and 8 destinations of 8 GPUs with some mdevs in use and some idle, <paramref name="incompatibleFraction"/> of their GPUs on another driver branch.</summary>
    public static (Scenario Source, IReadOnlyList<Scenario> Destinations) EvacuationHosts(LatencySpec? latency = null, double incompatibleFraction = 0.125)
    {
        var source = ScenarioGenerator.EvacuationSource("evac-source", guests: 64, maxDevicesPerGuest: 4, seed: 11);
        var destinations = Enumerable.Range(0, 8)
            .Select(i => ScenarioGenerator.Host(new GeneratedHostOptions
            {
                Name = $"evac-dest-{i}",
                Seed = 100 + i,
                Gpus = 8,
                ExistingMdevs = 64,
                IncompatibleFraction = incompatibleFraction,
                DeviceLevelOnlyFraction = 0.125,
                Latency = latency,
            }))
            .ToList();
        return (source with { Latency = latency ?? source.Latency }, destinations);
    }

    /// <summary>
    /// Untimed plans of both strategies before any row is measured: without them the first row pays
    /// for the process's JIT (tiered compilation runs on the same 2 cores) and reads several times slower.
    /// </summary>
    private static async Task WarmUpAsync(CancellationToken cancellationToken)
    {
        var noLatency = new LatencySpec();
        var source = ScenarioGenerator.SingleGuestSource("bench-warm-up", 4, seed: 3) with { Latency = noLatency };
        var destination = ScenarioGenerator.Host(LargestHost with { Latency = noLatency });
        foreach (var strategy in new[] { "planner", PlannerSysfs, "exhaustive" })
        {
            await RunPlansAsync(source, destination, strategy, warmUps: 10, plans: 0, cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task<PlanFigures> MeasurePlansAsync(GeneratedHostOptions host, int devices, string strategy, int timedPlans, int cpuPlans, CancellationToken cancellationToken)
    {
        var source = ScenarioGenerator.SingleGuestSource($"bench-source-{devices}", devices, seed: 3);
        var destination = ScenarioGenerator.Host(host);
        var (counts, complete, candidates, wall, _, _, sysfsReads) = await RunPlansAsync(source, destination, strategy, warmUps: 1, timedPlans, cancellationToken).ConfigureAwait(false);
        var noLatency = new LatencySpec();
        var (_, _, _, cpu, libvirt, allocated, _) = await RunPlansAsync(source with { Latency = noLatency }, destination with { Latency = noLatency }, strategy, warmUps: 3, cpuPlans, cancellationToken).ConfigureAwait(false);
        return new PlanFigures(host.Name, devices, strategy, complete, candidates, counts, wall, cpu, libvirt, allocated.Total, sysfsReads, allocated.SimulatedHost);
    }

    /// <summary>Warm-up plans (JIT, libvirt caches), then <paramref name="plans"/> timed ones; each plan's devices are released (untimed) before the next, so every plan sees the same host.</summary>
    private static async Task<(OperationCounts Counts, bool Complete, int Candidates, List<double> Ms, List<double> LibvirtMs, (long Total, long SimulatedHost) AllocatedPerPlan, int SysfsReads)> RunPlansAsync(Scenario sourceScenario, Scenario destinationScenario, string strategy, int warmUps, int plans, CancellationToken cancellationToken)
    {
        using var source = new BenchHost(sourceScenario);
        using var destination = new BenchHost(destinationScenario);
        var planner = new MigrationPlanner(claims: new TargetClaimRegistry());
        var guest = DomainSelector.Parse("bench-guest");
        var typeLevel = TypeLevelParents(destinationScenario);
        var devices = sourceScenario.Guests![0].Hostdevs!.Count;
        var candidates = await ExhaustiveStrategy.CountCandidatesAsync(source.Host, guest, destination.Host, cancellationToken).ConfigureAwait(false);
        var timings = new List<double>();
        var libvirtTimings = new List<double>();
        long allocated = 0;
        long simulatedHost = 0;
        OperationCounts? counts = null;
        var complete = false;
        var sysfsReads = 0;
        for (var i = 0; i < warmUps + plans; i++)
        {
            var libvirtBefore = source.Libvirt.Elapsed + destination.Libvirt.Elapsed;
            var before = destination.Simulated.Snapshot();
            var calls = destination.Host.Hypervisor.LibvirtCalls;
            var hostBytes = source.Tree.AllocatedBytes + destination.Tree.AllocatedBytes;
            var bytes = GC.GetTotalAllocatedBytes(precise: true);
            var stopwatch = Stopwatch.StartNew();
            Func<Task> release;
            if (strategy != "exhaustive")
            {
                var options = new PlanOptions { Inventory = strategy == PlannerSysfs ? InventorySource.Sysfs : InventorySource.Libvirt };
                var result = await planner.PlanAsync(new PlanRequest(source.Host, guest, [destination.Host], options), cancellationToken).ConfigureAwait(false);
                complete = result.Succeeded;
                sysfsReads = result.Best.Statistics.SysfsReads;
                release = () => result.Best.ReleaseAsync();
            }
            else
            {
                var outcome = await ExhaustiveStrategy.PlanAsync(source.Host, guest, destination.Host, cancellationToken).ConfigureAwait(false);
                complete = outcome.Mapped == outcome.Devices;
                release = () => ExhaustiveStrategy.ReleaseAsync(destination.Host, outcome);
            }

            var elapsed = stopwatch.Elapsed.TotalMilliseconds;
            var libvirtMs = (source.Libvirt.Elapsed + destination.Libvirt.Elapsed - libvirtBefore).TotalMilliseconds;
            var allocatedNow = GC.GetTotalAllocatedBytes(precise: true) - bytes;
            var hostBytesNow = source.Tree.AllocatedBytes + destination.Tree.AllocatedBytes - hostBytes;
            var after = destination.Simulated.Snapshot();
            counts ??= OperationCounts.Between(before, after, destination.Host.Hypervisor.LibvirtCalls - calls, devices, typeLevel);
            await release().ConfigureAwait(false);
            if (i >= warmUps)
            {
                timings.Add(elapsed);
                libvirtTimings.Add(libvirtMs);
                allocated += allocatedNow;
                simulatedHost += hostBytesNow;
            }
        }

        // The simulated host's share is exact only when its calls complete before returning (no simulated latency).
        var hostShare = source.Tree.AsynchronousCalls + destination.Tree.AsynchronousCalls == 0 ? simulatedHost : 0;
        return (counts!, complete, candidates, timings, libvirtTimings, plans == 0 ? (0, 0) : (allocated / plans, hostShare / plans), sysfsReads);
    }

    /// <summary>Evacuates 64 guests onto 8 generated hosts with <paramref name="store"/> holding claims and the journal, then releases everything.</summary>
    /// <param name="store">The state store (bench/StateStoreCost compares the in-memory one with SQLite).</param>
    /// <param name="cancellationToken">Cancels the evacuation.</param>
    public static async Task<EvacuationFigures> MeasureEvacuationAsync(IPlannerStateStore store, CancellationToken cancellationToken = default)
    {
        var (sourceScenario, destinationScenarios) = EvacuationHosts();
        using var hosts = new BenchFleet(sourceScenario, destinationScenarios);
        var before = hosts.Snapshot();
        var evacuator = new HostEvacuator(new MigrationPlanner(claims: store));
        var result = await evacuator.EvacuateAsync(new EvacuationRequest(hosts.Source.Host, [.. hosts.Destinations.Select(d => d.Host)], PlansPerHost: EvacuationPlansPerHost), cancellationToken).ConfigureAwait(false);
        await using var releasesEverything = result.ConfigureAwait(false);
        return new EvacuationFigures(
            result.Guests.Count,
            sourceScenario.Guests!.Sum(g => g.Hostdevs!.Count),
            hosts.Destinations.Count,
            result.Guests.Count(g => g.Succeeded),
            result.Guests.Count(g => g.Retried),
            result.Elapsed.TotalMilliseconds,
            hosts.CountsSince(before));
    }

    internal static HashSet<string> TypeLevelParents(Scenario scenario) =>
        [.. scenario.Parents!.Where(p => p.Migration is not null).Select(p => p.Address ?? p.Name!)];
}

/// <summary>Order statistics over timings.</summary>
public static class Statistics
{
    /// <summary>The <paramref name="fraction"/> percentile (nearest rank) of <paramref name="values"/>; 0 when empty.</summary>
    public static double Percentile(IReadOnlyList<double> values, double fraction)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count == 0)
        {
            return 0;
        }

        var sorted = values.Order().ToList();
        return sorted[(int)Math.Clamp(Math.Ceiling(fraction * sorted.Count) - 1, 0, sorted.Count - 1)];
    }
}
