using System.Diagnostics;
using VfioMigration.HostSimulator;
using VfioMigration.HostSimulator.Generation;
using VfioMigration.HostSimulator.Scenarios;
using VfioMigration.Planner;
using VfioMigration.Planner.Evacuation;

namespace VfioMigration.Bench;

/// <summary>The figures of one fleet size.</summary>
/// <param name="Hosts">Destination hosts in the fleet.</param>
/// <param name="Guests">Guests of the source hosts.</param>
/// <param name="Devices">Their devices in all.</param>
/// <param name="Succeeded">Guests with a complete plan.</param>
/// <param name="BuildMs">Time to generate and build the simulated fleet (not part of <paramref name="WallMs"/>).</param>
/// <param name="WallMs">Wall time of the evacuations, one source after the other.</param>
/// <param name="FleetMiB">Managed heap the built fleet holds (after a full collection), over the baseline before it.</param>
/// <param name="PeakMiB">Peak managed heap during the evacuations (sampled every few milliseconds), over the same baseline.</param>
/// <param name="Probes">Version writes on all destinations.</param>
/// <param name="Creates">mdevs created on all destinations.</param>
/// <param name="HostsTouched">Destinations that got at least one probe or create.</param>
public sealed record FleetFigures(int Hosts, int Guests, int Devices, int Succeeded, double BuildMs, double WallMs, double FleetMiB, double PeakMiB, int Probes, int Creates, int HostsTouched);

/// <summary>
/// Fleet scale: generated fleets of destination hosts (the in-process simulator: the simulated
/// hypervisor and sysfs, no libvirt), and an evacuation of 16 source hosts' guests onto each, one
/// source after the other with one planner (its claims shared), no simulated latency: how the
/// planner's own cost grows with the number of hosts.
/// </summary>
public static class FleetRunner
{
    /// <summary>Source hosts evacuated.</summary>
    public const int Sources = 16;

    /// <summary>Guests on each source host, of 1 to 4 devices.</summary>
    public const int GuestsPerSource = 8;

    /// <summary>GPUs of every generated host.</summary>
    public const int GpusPerHost = 4;

    /// <summary>Types of every GPU (the source guests use the same ones).</summary>
    public const int TypesPerGpu = 8;

    /// <summary>mdevs on each destination before the evacuation (3/4 owned by guests there).</summary>
    public const int ExistingMdevsPerHost = 16;

    /// <summary>The fleet sizes measured.</summary>
    public static IReadOnlyList<int> Sizes { get; } = [10, 100, 1000];

    /// <summary>Every fleet size, smallest first.</summary>
    public static async Task<IReadOnlyList<FleetFigures>> RunAsync(Action<string> progress, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(progress);
        var figures = new List<FleetFigures>();
        foreach (var size in Sizes)
        {
            progress($"fleet: {Sources} source hosts onto {size} destinations");
            figures.Add(await MeasureAsync(size, cancellationToken).ConfigureAwait(false));
        }

        return figures;
    }

    /// <summary>The destination hosts of a fleet of <paramref name="size"/>: 1/8 of GPUs on another driver branch, 1/8 without a type-level attribute.</summary>
    public static IEnumerable<Scenario> Destinations(int size) =>
        Enumerable.Range(0, size).Select(i => ScenarioGenerator.Host(new GeneratedHostOptions
        {
            Name = $"fleet-{i}",
            Seed = 1000 + i,
            Gpus = GpusPerHost,
            TypesPerGpu = TypesPerGpu,
            ExistingMdevs = ExistingMdevsPerHost,
            IncompatibleFraction = 0.125,
            DeviceLevelOnlyFraction = 0.125,
            Latency = new LatencySpec(),
        }));

    private static async Task<FleetFigures> MeasureAsync(int size, CancellationToken cancellationToken)
    {
        var baseline = GC.GetTotalMemory(forceFullCollection: true);
        var build = Stopwatch.StartNew();
        var destinations = Destinations(size).Select(s => SimulatedHost.FromScenario(s)).ToList();
        var sources = Enumerable.Range(0, Sources)
            .Select(s => SimulatedHost.FromScenario(ScenarioGenerator.EvacuationSource($"fleet-source-{s}", GuestsPerSource, maxDevicesPerGuest: 4, seed: 500 + s, gpus: GpusPerHost, typesPerGpu: TypesPerGpu) with { Latency = new LatencySpec() }))
            .ToList();
        var hosts = destinations.Select(Connect).ToList();
        var buildMs = build.Elapsed.TotalMilliseconds;
        var fleetBytes = GC.GetTotalMemory(forceFullCollection: true) - baseline;

        var before = destinations.Select(d => d.Snapshot()).ToList();
        var planner = new MigrationPlanner(claims: new TargetClaimRegistry());
        var evacuator = new HostEvacuator(planner);
        var results = new List<EvacuationResult>();
        using var sampler = new PeakSampler();
        var wall = Stopwatch.StartNew();
        try
        {
            foreach (var source in sources)
            {
                results.Add(await evacuator.EvacuateAsync(new EvacuationRequest(Connect(source), hosts, PlansPerHost: BenchRunner.EvacuationPlansPerHost), cancellationToken).ConfigureAwait(false));
            }

            var wallMs = wall.Elapsed.TotalMilliseconds;
            var peak = sampler.Stop() - baseline;
            var operations = destinations.Select((d, i) => d.Snapshot().OperationsSince(before[i]).Where(o => o.IsWrite).ToList()).ToList();
            return new FleetFigures(
                size,
                results.Sum(r => r.Guests.Count),
                sources.Sum(s => s.Snapshot().State.Mdevs.Count),
                results.Sum(r => r.Guests.Count(g => g.Succeeded)),
                buildMs,
                wallMs,
                fleetBytes / 1048576.0,
                peak / 1048576.0,
                operations.Sum(o => o.Count(w => w.Path.EndsWith("migration_version", StringComparison.Ordinal))),
                operations.Sum(o => o.Count(w => w.Path.EndsWith("/create", StringComparison.Ordinal) && w.Result == Planner.Sysfs.Errno.None)),
                operations.Count(o => o.Count > 0));
        }
        finally
        {
            foreach (var result in results)
            {
                await result.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private static MigrationHost Connect(SimulatedHost host) => new(host.Name, new SimulatedHypervisor(host), host.CreateFileSystem());

    /// <summary>Samples the managed heap on a background thread until stopped; the largest sample wins.</summary>
    private sealed class PeakSampler : IDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _sampling;
        private long _peak;

        public PeakSampler() => _sampling = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                Sample();
                await Task.Delay(5, CancellationToken.None).ConfigureAwait(false);
            }
        });

        /// <summary>Stops sampling and returns the peak in bytes.</summary>
        public long Stop()
        {
            _stop.Cancel();
            _sampling.Wait(TimeSpan.FromSeconds(5));
            Sample();
            return Interlocked.Read(ref _peak);
        }

        public void Dispose()
        {
            _stop.Cancel();
            _stop.Dispose();
        }

        private void Sample()
        {
            var now = GC.GetTotalMemory(forceFullCollection: false);
            long peak;
            do
            {
                peak = Interlocked.Read(ref _peak);
            }
            while (now > peak && Interlocked.CompareExchange(ref _peak, now, peak) != peak);
        }
    }
}
