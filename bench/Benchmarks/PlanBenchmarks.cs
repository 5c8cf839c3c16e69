using BenchmarkDotNet.Attributes;
using VfioMigration.Bench;
using VfioMigration.HostSimulator.Generation;
using VfioMigration.HostSimulator.Scenarios;
using VfioMigration.Planner;

namespace VfioMigration.Benchmarks;

/// <summary>
/// A whole single-guest plan and its release, planner against the exhaustive baseline, on the
/// largest generated host and on the pre-provisioned pool, with no simulated latency: the hosts'
/// libvirt side is a <see cref="RecordedHypervisor"/> and their sysfs the in-process simulator, so
/// what is measured is the planner's (or the baseline's) own work plus the simulated sysfs calls.
/// Every plan uses a new planner, so no verdict is cached from the previous one.
/// </summary>
[MemoryDiagnoser]
public class PlanBenchmarks
{
    private static readonly LatencySpec NoLatency = new();
    private static readonly DomainSelector Guest = DomainSelector.Parse("bench-guest");
    private static readonly Dictionary<string, GeneratedHostOptions> Destinations = new[] { BenchRunner.LargestHost, BenchRunner.PoolHost }.ToDictionary(h => h.Name);
    private BenchHost _sourceHost = null!;
    private BenchHost _destinationHost = null!;
    private MigrationHost _source = null!;
    private MigrationHost _destination = null!;

    /// <summary>The destinations by name: <see cref="BenchRunner.LargestHost"/> and <see cref="BenchRunner.PoolHost"/>.</summary>
    public static IEnumerable<string> Hosts => Destinations.Keys;

    /// <summary>The destination's name, one of <see cref="Hosts"/>.</summary>
    [ParamsSource(nameof(Hosts))]
    public string Host { get; set; } = BenchRunner.LargestHost.Name;

    /// <summary>Host devices of the planned guest.</summary>
    [Params(1, 4, 8)]
    public int Devices { get; set; }

    /// <summary>Builds the hosts and records their libvirt side once per parameter combination.</summary>
    [GlobalSetup]
    public async Task SetupAsync()
    {
        var destination = Destinations.TryGetValue(Host, out var options)
            ? options
            : throw new InvalidOperationException($"Host '{Host}' is not a benchmark destination; use one of: {string.Join(", ", Hosts)}.");
        _sourceHost = new BenchHost(ScenarioGenerator.SingleGuestSource("bdn-source", Devices, seed: 3) with { Latency = NoLatency });
        _destinationHost = new BenchHost(ScenarioGenerator.Host(destination with { Latency = NoLatency }));
        _source = await RecordAsync(_sourceHost);
        _destination = await RecordAsync(_destinationHost);
    }

    /// <summary>Closes the hosts.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _sourceHost.Dispose();
        _destinationHost.Dispose();
    }

    /// <summary>The planner: one plan onto the destination, then its release.</summary>
    [Benchmark]
    public async Task<bool> Planner()
    {
        var planner = new MigrationPlanner(claims: new TargetClaimRegistry());
        var result = await planner.PlanAsync(new PlanRequest(_source, Guest, [_destination]));
        await result.Best.ReleaseAsync();
        return result.Succeeded;
    }

    /// <summary>The exhaustive baseline on the same hosts, then its release.</summary>
    [Benchmark(Baseline = true)]
    public async Task<int> Exhaustive()
    {
        var outcome = await ExhaustiveStrategy.PlanAsync(_source, Guest, _destination);
        await ExhaustiveStrategy.ReleaseAsync(_destination, outcome);
        return outcome.Mapped;
    }

    private static async Task<MigrationHost> RecordAsync(BenchHost host) =>
        host.Host with { Hypervisor = await RecordedHypervisor.RecordAsync(host.Host.Hypervisor, Guest) };
}
