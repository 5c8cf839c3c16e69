using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace VfioMigration.Benchmarks;

/// <summary>The one job every hot-path benchmark runs with.</summary>
public static class HotPathsConfig
{
    /// <summary>What the job is, for the generated page.</summary>
    public const string Description =
        "A short BenchmarkDotNet job (1 launch, 3 warm-up and 10 measured iterations), in process, with the memory diagnoser";

    /// <summary>
    /// Short and in process: about three minutes for every benchmark on 2 cores, and no generated
    /// project to build per benchmark (which would also inherit this repository's build settings).
    /// 10 iterations rather than ShortRun's 3, whose 99.9% interval is wider than the mean.
    /// </summary>
    public static IConfig Create() =>
        DefaultConfig.Instance
            .AddJob(Job.Default.WithId("Short").WithLaunchCount(1).WithWarmupCount(3).WithIterationCount(10).WithToolchain(InProcessEmitToolchain.Instance))
            .AddDiagnoser(MemoryDiagnoser.Default)
            .WithArtifactsPath(Path.Combine(AppContext.BaseDirectory, "BenchmarkDotNet.Artifacts"));
}
