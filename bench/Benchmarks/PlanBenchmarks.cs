using BenchmarkDotNet.Attributes;
using VfioMigration.Bench;
using VfioMigration.HostSimulator.Generation;
using VfioMigration.HostSimulator.Scenarios;
using VfioMigration.Planner;

namespace VfioMigration.Benchmarks;

/// <summary>
/// In-process hot paths on the largest generated host with no simulated latency: a whole
/// single-guest plan (planner, libvirt test driver, in-process simulator) released after each
/// run, and the generation of the host itself. Run: <c>dotnet run -c Release --project bench/Benchmarks -- --filter '*'</c>.
/// </summary>
[MemoryDiagnoser]
public class PlanBenchmarks
{
    private static readonly LatencySpec NoLatency = new();
    private readonly DomainSelector _guest = DomainSelector.Parse("bench-guest");
    private BenchHost _source = null!;
    private BenchHost _destination = null!;
    private MigrationPlanner _planner = null!;

    /// <summary>Host devices of the planned guest.</summary>
    [Params(1, 4, 8)]
    public int Devices { get; set; }

    /// <summary>Builds the hosts once per parameter value.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _source = new BenchHost(ScenarioGenerator.SingleGuestSource("bdn-source", Devices, seed: 3) with { Latency = NoLatency });
        _destination = new BenchHost(ScenarioGenerator.Host(BenchRunner.LargestHost) with { Latency = NoLatency });
        _planner = new MigrationPlanner(claims: new TargetClaimRegistry());
    }

    /// <summary>Closes the hosts.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _source.Dispose();
        _destination.Dispose();
    }

    /// <summary>One plan onto the largest host, then its release.</summary>
    [Benchmark]
    public async Task<bool> PlanAndRelease()
    {
        var result = await _planner.PlanAsync(new PlanRequest(_source.Host, _guest, [_destination.Host]));
        await result.Best.ReleaseAsync();
        return result.Succeeded;
    }

    /// <summary>The exhaustive baseline on the same hosts, then its release.</summary>
    [Benchmark(Baseline = true)]
    public async Task<int> ExhaustiveAndRelease()
    {
        var outcome = await ExhaustiveStrategy.PlanAsync(_source.Host, _guest, _destination.Host);
        await ExhaustiveStrategy.ReleaseAsync(_destination.Host, outcome);
        return outcome.Mapped;
    }

    /// <summary>Generating the largest host's scenario.</summary>
    [Benchmark]
    public Scenario GenerateLargestHost() => ScenarioGenerator.Host(BenchRunner.LargestHost);
}
