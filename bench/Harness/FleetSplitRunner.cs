using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using VfioMigration.HostSimulator;
using VfioMigration.HostSimulator.Fuse;
using VfioMigration.HostSimulator.Generation;
using VfioMigration.HostSimulator.Scenarios;

namespace VfioMigration.Bench;

/// <summary>How to start one planner process: <c>vfio-migrator</c>, or <c>dotnet</c> with its assembly first.</summary>
/// <param name="FileName">The program.</param>
/// <param name="Leading">Arguments before the command's own (e.g. the path of <c>vfio-migrator.dll</c>).</param>
public sealed record PlannerCommand(string FileName, IReadOnlyList<string> Leading);

/// <summary>The shape of the split evacuation.</summary>
/// <param name="Destinations">Destination hosts, each served through its own FUSE mount.</param>
/// <param name="Guests">Guests of the source host, split over the processes.</param>
public sealed record FleetSplitShape(int Destinations, int Guests);

/// <summary>The figures of one split: the same evacuation planned by <paramref name="Processes"/> processes.</summary>
/// <param name="Processes">Planner processes.</param>
/// <param name="Guests">Guests in all.</param>
/// <param name="Devices">Their devices in all.</param>
/// <param name="Complete">Guests with a complete plan, over every process.</param>
/// <param name="Targets">Destination devices the complete plans hold (distinct).</param>
/// <param name="DoubleAssignments">Destination devices that two or more guests' plans hold (must be 0).</param>
/// <param name="OverCapacity">Destination (parent, type) pairs holding more mdevs than the type allows, or one-type-at-a-time parents holding two types, after every process ended (must be 0).</param>
/// <param name="Creates">mdevs created on the destinations.</param>
/// <param name="WallMs">From starting the first process to the end of the last (process start-up included).</param>
/// <param name="EvacuationMs">The slowest process's own evacuation time (<c>elapsedMs</c>: no start-up, no connecting).</param>
/// <param name="PlannerCpuMs">CPU time of all the planner processes.</param>
/// <param name="ServerCpuMs">CPU time of this process (the FUSE servers of the simulated destinations) during the split.</param>
/// <param name="EtcdRoundTrips">Round trips to etcd, over every process.</param>
/// <param name="LoadAverage">The machine's 1-minute load average when the processes started (<c>/proc/loadavg</c>): other work competing for the cores.</param>
public sealed record FleetSplitFigures(int Processes, int Guests, int Devices, int Complete, int Targets, int DoubleAssignments, int OverCapacity, int Creates, double WallMs, double EvacuationMs, double PlannerCpuMs, double ServerCpuMs, long EtcdRoundTrips, double LoadAverage);

/// <summary>The split evacuation: a row per process count, or why it was not measured.</summary>
/// <param name="Shape">Destinations and guests.</param>
/// <param name="Rows">One row per process count; empty when not measured.</param>
/// <param name="NotMeasured">Why there are no rows (no FUSE, not root, no etcd); null when measured.</param>
/// <param name="Cores">The cores of the machine it ran on.</param>
public sealed record FleetSplit(FleetSplitShape Shape, IReadOnlyList<FleetSplitFigures> Rows, string? NotMeasured, int Cores);

/// <summary>
/// The evacuation split across planner processes that share one etcd: the source host's guests
/// dealt round-robin into one share per process (each a source scenario of its own), every process
/// a real <c>vfio-migrator evacuate --keep --state-store etcd</c> against the same destinations. The
/// destinations are generated fleet hosts (<see cref="FleetRunner.Destinations"/>) with realistic
/// simulated latency, served by this process through FUSE (one mount each) with a libvirt
/// test-driver picture, so every planner sees and changes the same hosts. Each process prints its
/// plans as JSON; the targets two plans hold are counted, and every destination's capacity checked
/// once all have ended.
/// </summary>
public static class FleetSplitRunner
{
    /// <summary>The split measured by <c>bench</c>: the fleet table's 128 guests (16 sources x 8) onto its 10-host fleet.</summary>
    public static FleetSplitShape BenchShape { get; } = new(10, FleetRunner.Sources * FleetRunner.GuestsPerSource);

    /// <summary>The process counts measured.</summary>
    public static IReadOnlyList<int> ProcessCounts { get; } = [1, 2, 4];

    private const int SourceSeed = 500;
    private static readonly TimeSpan ProcessLimit = TimeSpan.FromMinutes(5);

    /// <summary>Why the split cannot run here (FUSE mounts need /dev/fuse and root; etcd), or null.</summary>
    public static string? Unavailable =>
        !File.Exists("/dev/fuse") || Environment.UserName != "root" ? "the simulated destinations are FUSE mounts, which need /dev/fuse and root"
        : EtcdCluster.Unavailable;

    /// <summary>Every process count of <see cref="ProcessCounts"/> on <paramref name="shape"/>, or why not measured.</summary>
    public static async Task<FleetSplit> RunAsync(PlannerCommand planner, FleetSplitShape shape, Action<string> progress, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(progress);
        if (Unavailable is { } reason)
        {
            progress($"fleet split: not measured: {reason}");
            return new FleetSplit(shape, [], reason, Environment.ProcessorCount);
        }

        var rows = new List<FleetSplitFigures>();
        foreach (var processes in ProcessCounts)
        {
            progress($"fleet split: {shape.Guests} guests onto {shape.Destinations} destinations, {processes} planner process(es) sharing one etcd");
            rows.Add(await MeasureAsync(planner, shape, processes, cancellationToken).ConfigureAwait(false));
        }

        return new FleetSplit(shape, rows, null, Environment.ProcessorCount);
    }

    /// <summary>The source host of the evacuation: <see cref="FleetSplitShape.Guests"/> guests of 1 to 4 devices of the fleet's types.</summary>
    public static Scenario Source(FleetSplitShape shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        return ScenarioGenerator.EvacuationSource("fleet-source", shape.Guests, maxDevicesPerGuest: 4, seed: SourceSeed, gpus: 16, typesPerGpu: FleetRunner.TypesPerGpu);
    }

    /// <summary>
    /// One split: a fresh etcd and fresh destinations, <paramref name="processes"/> planner processes
    /// started at once, each with its share of the guests; the figures once every one has ended.
    /// </summary>
    public static async Task<FleetSplitFigures> MeasureAsync(PlannerCommand planner, FleetSplitShape shape, int processes, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(planner);
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(processes);
        var directory = Directory.CreateTempSubdirectory("vfio-fleet-split-").FullName;
        var scenarios = FleetRunner.Destinations(shape.Destinations).Select(s => s with { Latency = ScenarioGenerator.RealisticLatency }).ToList();
        var hosts = scenarios.Select(s => SimulatedHost.FromScenario(s)).ToList();
        var mounts = new List<FuseMount>();
        try
        {
            var destinationArguments = new List<string>();
            foreach (var host in hosts)
            {
                var root = Path.Combine(directory, host.Name);
                Directory.CreateDirectory(root);
                host.WriteLibvirtXml(root + ".xml");
                mounts.Add(FuseMount.Mount(host.FileTree, root));
                destinationArguments.AddRange(["--dest", $"test://{root}.xml", "--dest-sysfs", root, "--dest-name", host.Name]);
            }

            var source = Source(shape);
            var shares = Enumerable.Range(0, processes).Select(k => Path.Combine(directory, $"share-{k.ToString(CultureInfo.InvariantCulture)}.json")).ToList();
            for (var k = 0; k < processes; k++)
            {
                var share = source.Guests!.Where((_, i) => i % processes == k).ToList();
                await File.WriteAllTextAsync(shares[k], ScenarioLoader.Serialize(source with { Guests = share }), cancellationToken).ConfigureAwait(false);
            }

            using var etcd = EtcdCluster.Start(1);
            using var self = Process.GetCurrentProcess();
            var load = double.Parse((await File.ReadAllTextAsync("/proc/loadavg", cancellationToken).ConfigureAwait(false)).Split(' ')[0], CultureInfo.InvariantCulture);
            var (serverCpu, plannerCpu) = (self.TotalProcessorTime, ChildrenCpuMs());
            var wall = Stopwatch.StartNew();
            var runs = await Task.WhenAll(shares.Select(share => RunPlannerAsync(
                planner,
                ["evacuate", "--source-scenario", share, .. destinationArguments, "--state-store", "etcd", "--etcd-endpoints", etcd.Endpoints, "--keep", "--json"],
                cancellationToken))).ConfigureAwait(false);
            var wallMs = wall.Elapsed.TotalMilliseconds;
            self.Refresh();
            var serverCpuMs = (self.TotalProcessorTime - serverCpu).TotalMilliseconds;
            var plannerCpuMs = ChildrenCpuMs() - plannerCpu;

            var reports = runs.Select(r => Parse(r, planner)).ToList();
            var targets = reports.SelectMany(r => r.Targets).ToList();
            return new FleetSplitFigures(
                processes,
                shape.Guests,
                source.Guests!.Sum(g => g.Hostdevs?.Count ?? 0),
                reports.Sum(r => r.Complete),
                targets.Distinct().Count(),
                targets.CountBy(t => t).Count(t => t.Value > 1),
                hosts.Zip(scenarios).Sum(h => OverCapacity(h.First.Snapshot().State, h.Second)),
                reports.Sum(r => r.Creates),
                wallMs,
                reports.Max(r => r.ElapsedMs),
                plannerCpuMs,
                serverCpuMs,
                reports.Sum(r => r.EtcdRoundTrips),
                load);
        }
        finally
        {
            mounts.ForEach(m => m.Dispose());
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>(parent, type) pairs of <paramref name="state"/> over the type's maximum, plus one-type-at-a-time parents holding two types or more.</summary>
    private static int OverCapacity(HostState state, Scenario scenario)
    {
        var over = 0;
        foreach (var parent in state.Parents)
        {
            var spec = scenario.Parents!.Single(p => p.Address == parent.Name);
            over += parent.Types.Count(t => t.Instances > (spec.Types!.Single(s => s.Id == t.Type.Value).MaxInstances ?? int.MaxValue));
            over += spec.Capacity == CapacityMode.OneTypeAtATime && parent.Types.Count(t => t.Instances > 0) > 1 ? 1 : 0;
        }

        return over;
    }

    private static async Task<(int Code, string Out, string Error)> RunPlannerAsync(PlannerCommand planner, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(planner.FileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in planner.Leading.Concat(arguments))
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {planner.FileName}");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(ProcessLimit);
        try
        {
            await process.WaitForExitAsync(limit.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            throw new TimeoutException($"a planner process (evacuate) did not finish within {ProcessLimit}.");
        }

        return (process.ExitCode, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false));
    }

    /// <summary>
    /// CPU time of this process's children that have ended and been waited for (cutime + cstime,
    /// fields 16 and 17 of <c>/proc/self/stat</c>, in USER_HZ = 100 ticks a second): an ended
    /// process's own figures are gone from <c>/proc</c>.
    /// </summary>
    private static double ChildrenCpuMs()
    {
        var stat = File.ReadAllText("/proc/self/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[13], CultureInfo.InvariantCulture) + long.Parse(fields[14], CultureInfo.InvariantCulture)) * 10.0;
    }

    /// <summary>What one process's <c>evacuate --json</c> reports: complete guests, the targets their plans hold (destination and device), creates, time, etcd round trips.</summary>
    private static (int Complete, IReadOnlyList<string> Targets, int Creates, double ElapsedMs, long EtcdRoundTrips) Parse((int Code, string Out, string Error) run, PlannerCommand planner)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(run.Out);
        }
        catch (JsonException)
        {
            throw new InvalidOperationException($"{planner.FileName} evacuate exited {run.Code} without its JSON report: {run.Error}");
        }

        using (document)
        {
            var root = document.RootElement;
            var complete = root.GetProperty("guests").EnumerateArray().Where(g => g.GetProperty("succeeded").GetBoolean()).ToList();
            var targets = complete
                .SelectMany(g => g.GetProperty("plan").GetProperty("devices").EnumerateArray().Select(d =>
                {
                    var target = d.GetProperty("target");
                    var id = target.TryGetProperty("uuid", out var uuid) && uuid.ValueKind == JsonValueKind.String ? uuid.GetString() : target.GetProperty("address").GetString();
                    return $"{g.GetProperty("destination").GetString()}/{id}";
                }))
                .ToList();
            var creates = complete.Sum(g => g.GetProperty("plan").GetProperty("created").GetArrayLength());
            var roundTrips = root.TryGetProperty("etcdRoundTrips", out var trips) ? trips.GetInt64() : 0;
            return (complete.Count, targets, creates, root.GetProperty("elapsedMs").GetDouble(), roundTrips);
        }
    }
}
