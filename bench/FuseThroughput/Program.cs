using System.Diagnostics;
using VfioMigration.HostSimulator;
using VfioMigration.HostSimulator.Fuse;
using VfioMigration.HostSimulator.Scenarios;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Sysfs;

// Prints the cost of the FUSE front end on the largest example scenario: mount time, and reads and
// writes per second through the kernel (LocalHostFileSystem over the mount) next to the in-process
// front end. Figures only (docs/fuse.md keeps them).
//
//   dotnet run -c Release --project bench/FuseThroughput [-- SCENARIO_DIR]   (default examples/scenarios)
const int Mounts = 5;
const int Operations = 2000;
const int Threads = 4;
const string Uuid = "a1b2c3d4-0000-4000-8000-000000000001";

if (!File.Exists("/dev/fuse"))
{
    await Console.Error.WriteLineAsync("/dev/fuse is absent on this machine, so nothing can be mounted through FUSE.");
    return 1;
}

var scenarioDirectory = args.Length > 0 ? args[0] : Path.Combine("examples", "scenarios");
var scenarioFile = Directory.EnumerateFiles(scenarioDirectory, "*.json")
    .Where(file => !file.EndsWith("vendor-host.json", StringComparison.Ordinal))
    .OrderByDescending(file => new FileInfo(file).Length)
    .First();
var scenario = ScenarioLoader.LoadFile(scenarioFile);
Console.WriteLine($"scenario {Path.GetFileName(scenarioFile)}");

var mountTimes = new List<double>();
for (var i = 0; i < Mounts; i++)
{
    var started = Stopwatch.StartNew();
    using var mount = Mounted.Of(SimulatedHost.FromScenario(scenario).FileTree);
    mountTimes.Add(started.Elapsed.TotalMilliseconds);
}

Console.WriteLine($"mount (to INIT done): median {mountTimes.Order().ElementAt(Mounts / 2):0.0} ms, first {mountTimes[0]:0.0} ms");

using (var fuse = Mounted.Of(SimulatedHost.FromScenario(scenario).FileTree))
{
    await MeasureAsync("FUSE", new LocalHostFileSystem(fuse.Directory));
}

await MeasureAsync("in-process", SimulatedHost.FromScenario(scenario).CreateFileSystem());
return 0;

static async Task MeasureAsync(string frontEnd, IHostFileSystem sysfs)
{
    var typeDirectory = await FirstTypeWithRoomAsync(sysfs);
    var available = typeDirectory.Append("available_instances");
    Check((await sysfs.WriteAsync(typeDirectory.Append("create"), Uuid)).Error, "create");
    var remove = SysfsPath.Mdev(MdevUuid.Parse(Uuid)).Append("remove");

    async Task Read() => Check((await sysfs.ReadAsync(available)).Error, "read available_instances");
    var reads = await RateAsync(Read, threads: 1);
    var parallelReads = await RateAsync(Read, Threads);
    var writes = await RateAsync(async () => Check((await sysfs.WriteAsync(remove, "0")).Error, "write remove"), threads: 1);
    Console.WriteLine($"{frontEnd}: {reads:N0} reads/s (1 thread), {parallelReads:N0} reads/s ({Threads} threads), {writes:N0} writes/s (1 thread; 'remove' <- 0)");
}

static async Task<SysfsPath> FirstTypeWithRoomAsync(IHostFileSystem sysfs)
{
    foreach (var parent in (await sysfs.ListAsync(SysfsPath.MdevBus)).Value!.Order(StringComparer.Ordinal))
    {
        var types = SysfsPath.SupportedTypes(DeviceName.Parse(parent));
        foreach (var type in (await sysfs.ListAsync(types)).Value!.Order(StringComparer.Ordinal))
        {
            if ((await sysfs.ReadAsync(types.Append(type).Append("available_instances"))).Value is { } count && count.Trim() != "0")
            {
                return types.Append(type);
            }
        }
    }

    throw new InvalidOperationException("The scenario has no mdev type with an instance free.");
}

// Operations per second with `threads` thread-pool loops sharing Operations calls.
static async Task<double> RateAsync(Func<Task> operation, int threads)
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

static void Check(Errno error, string what)
{
    if (error != Errno.None)
    {
        throw new InvalidOperationException($"{what} failed: {error}");
    }
}

/// <summary>A simulated tree mounted on a fresh temporary directory.</summary>
internal sealed class Mounted : IDisposable
{
    private readonly FuseMount _mount;

    private Mounted(string directory, FuseMount mount)
    {
        Directory = directory;
        _mount = mount;
    }

    public string Directory { get; }

    public static Mounted Of(ISimulatedFileTree tree)
    {
        var directory = System.IO.Directory.CreateTempSubdirectory("fuse-bench-").FullName;
        try
        {
            return new Mounted(directory, FuseMount.Mount(tree, directory));
        }
        catch
        {
            System.IO.Directory.Delete(directory);
            throw;
        }
    }

    public void Dispose()
    {
        _mount.Dispose();
        System.IO.Directory.Delete(Directory);
    }
}
