using System.Diagnostics;
using VfioMigration.HostSimulator.Tests.Conformance;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.HostSimulator.Tests.Fuse;

/// <summary>
/// Prints the cost of the FUSE front end on the largest example scenario: mount time, and reads
/// and writes per second through the kernel (LocalHostFileSystem over the mount) next to the
/// in-process front end. Figures only, no timed assertions; run with <c>--output detailed</c>
/// (or read the test's output) to see them.
/// </summary>
[TestClass]
public sealed class FuseThroughputReport
{
    private const int Mounts = 5;
    private const int Operations = 2000;
    private const int Threads = 4;
    private const string Uuid = "a1b2c3d4-0000-4000-8000-000000000001";

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task Report_mount_time_and_operations_per_second()
    {
        TemporaryMount.RequireFuse();
        var scenarioFile = Directory.EnumerateFiles(Path.Combine(AppContext.BaseDirectory, "scenarios"), "*.json")
            .Where(file => !file.EndsWith("vendor-host.json", StringComparison.Ordinal))
            .OrderByDescending(file => new FileInfo(file).Length)
            .First();
        var scenario = HostFileSystemConformanceTests.LoadScenario(Path.GetFileName(scenarioFile));
        Report($"scenario {Path.GetFileName(scenarioFile)}");

        var mountTimes = new List<double>();
        for (var i = 0; i < Mounts; i++)
        {
            var started = Stopwatch.StartNew();
            using var mount = TemporaryMount.Of(SimulatedHost.FromScenario(scenario).FileTree);
            mountTimes.Add(started.Elapsed.TotalMilliseconds);
        }

        Report($"mount (to INIT done): median {mountTimes.Order().ElementAt(Mounts / 2):0.0} ms, first {mountTimes[0]:0.0} ms");

        var host = SimulatedHost.FromScenario(scenario);
        using (var fuse = TemporaryMount.Of(host.FileTree))
        {
            await Measure("FUSE", new LocalHostFileSystem(fuse.Directory));
        }

        await Measure("in-process", SimulatedHost.FromScenario(scenario).CreateFileSystem());
    }

    private async Task Measure(string frontEnd, IHostFileSystem sysfs)
    {
        var typeDirectory = await FirstTypeWithRoom(sysfs);
        var available = typeDirectory.Append("available_instances");
        Assert.AreEqual(Errno.None, (await sysfs.WriteAsync(typeDirectory.Append("create"), Uuid)).Error);
        var remove = SysfsPath.Mdev(Planner.Devices.MdevUuid.Parse(Uuid)).Append("remove");

        var read = async () => Assert.AreEqual(Errno.None, (await sysfs.ReadAsync(available)).Error);
        var reads = await Rate(read, threads: 1);
        var parallelReads = await Rate(read, Threads);
        var writes = await Rate(async () => Assert.AreEqual(Errno.None, (await sysfs.WriteAsync(remove, "0")).Error), threads: 1);
        Report($"{frontEnd}: {reads:N0} reads/s (1 thread), {parallelReads:N0} reads/s ({Threads} threads), {writes:N0} writes/s (1 thread; 'remove' <- 0)");
    }

    private static async Task<SysfsPath> FirstTypeWithRoom(IHostFileSystem sysfs)
    {
        foreach (var parent in (await sysfs.ListAsync(SysfsPath.MdevBus)).Value!.Order(StringComparer.Ordinal))
        {
            var types = SysfsPath.SupportedTypes(Planner.Devices.DeviceName.Parse(parent));
            foreach (var type in (await sysfs.ListAsync(types)).Value!.Order(StringComparer.Ordinal))
            {
                if ((await sysfs.ReadAsync(types.Append(type).Append("available_instances"))).Value is { } count && count.Trim() != "0")
                {
                    return types.Append(type);
                }
            }
        }

        Assert.Fail("The scenario has no mdev type with an instance free.");
        return default;
    }

    /// <summary>Operations per second with <paramref name="threads"/> thread-pool loops sharing <see cref="Operations"/> calls.</summary>
    private static async Task<double> Rate(Func<Task> operation, int threads)
    {
        var started = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, threads).Select(_ => Task.Run(async () =>
        {
            for (var i = 0; i < Operations / threads; i++)
            {
                await operation();
            }
        })));
        return Operations / started.Elapsed.TotalSeconds;
    }

    private void Report(string line)
    {
        TestContext.WriteLine(line);
        Console.WriteLine(line);
    }
}
