using System.Diagnostics;
using System.Globalization;
using Microsoft.Data.Sqlite;
using VfioMigration.HostSimulator;
using VfioMigration.HostSimulator.Fuse;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.ConsoleMigrator.Tests;

/// <summary>The scenarios of the state process tests (here and in tests/Etcd.Tests): a source guest with mdevs, destinations slow to create or with one idle mdev.</summary>
internal static class StateScenarios
{
    public const string SourceMdev1 = "00000000-0000-4000-8000-0000000000a1";
    public const string SourceMdev2 = "00000000-0000-4000-8000-0000000000a2";
    public const string IdleMdev = "00000000-0000-4000-8000-0000000000b1";

    /// <summary>How long one planner process, or one wait for it, may take.</summary>
    public static readonly TimeSpan ProcessLimit = TimeSpan.FromSeconds(120);

    public static string Parent(int maxInstances) => """
        {"address": "0000:41:00.0", "vendorId": "0x10de", "productId": "0x1eb8", "driver": "nvidia",
         "types": [{"id": "nvidia-63", "name": "GRID T4-1Q", "deviceApi": "vfio-pci", "maxInstances": @MAX, "migration": {"version": "v1"}}]}
        """.Replace("@MAX", maxInstances.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);

    public static string Source(int devices) => """
        {"version": 1, "name": "src", "parents": [@PARENT],
         "mdevs": [{"uuid": "@MDEV1", "parent": "0000:41:00.0", "type": "nvidia-63"}, {"uuid": "@MDEV2", "parent": "0000:41:00.0", "type": "nvidia-63"}],
         "guests": [{"name": "vm1", "uuid": "00000000-0000-4000-8000-0000000000c1", "running": true, "memoryMiB": 1024, "hostdevs": [@HOSTDEVS]}]}
        """
        .Replace("@PARENT", Parent(8), StringComparison.Ordinal)
        .Replace("@HOSTDEVS", devices == 2 ? """{"mdev": "@MDEV1"}, {"mdev": "@MDEV2"}""" : """{"mdev": "@MDEV1"}""", StringComparison.Ordinal)
        .Replace("@MDEV1", SourceMdev1, StringComparison.Ordinal)
        .Replace("@MDEV2", SourceMdev2, StringComparison.Ordinal);

    /// <summary>A destination whose creates take <paramref name="createMs"/>.</summary>
    public static string SlowDestination(int createMs) => """
        {"version": 1, "name": "dest", "parents": [@PARENT], "latency": {"createMs": @MS}}
        """
        .Replace("@PARENT", Parent(4), StringComparison.Ordinal)
        .Replace("@MS", createMs.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);

    /// <summary>A destination with one idle mdev and no room for another.</summary>
    public static string OneIdleDestination() => """
        {"version": 1, "name": "dest", "parents": [@PARENT], "mdevs": [{"uuid": "@IDLE", "parent": "0000:41:00.0", "type": "nvidia-63"}]}
        """
        .Replace("@PARENT", Parent(1), StringComparison.Ordinal)
        .Replace("@IDLE", IdleMdev, StringComparison.Ordinal);

    /// <summary>Waits for <paramref name="condition"/>, at most <see cref="ProcessLimit"/>; fails when <paramref name="process"/> exits first.</summary>
    public static async Task WaitUntilAsync(Func<bool> condition, string what, Process? process, CancellationToken cancellationToken)
    {
        var limit = Stopwatch.StartNew();
        while (!condition())
        {
            if (process is { HasExited: true })
            {
                Assert.Fail($"the planner exited ({process.ExitCode}) before {what}");
            }

            if (limit.Elapsed > ProcessLimit)
            {
                process?.Kill();
                Assert.Fail($"timed out waiting for {what}");
            }

            await Task.Delay(20, cancellationToken);
        }
    }

    /// <summary>Exactly one run won (exit 0); every other was told the target is claimed (exit 3).</summary>
    public static void AssertOneWinner((int Code, string Out, string Error)[] runs, string what)
    {
        Assert.AreEqual(1, runs.Count(r => r.Code == 0), $"{what}: exit codes {string.Join(",", runs.Select(r => r.Code))}\n{string.Join("\n", runs.Select(r => r.Error))}");
        Assert.IsTrue(runs.Where(r => r.Code != 0).All(r => r.Code == 3 && r.Out.Contains("claimed by another plan", StringComparison.Ordinal)), $"{what}: every loser is told the target is claimed\n{string.Join("\n---\n", runs.Where(r => r.Code != 0).Select(r => $"exit {r.Code}: {r.Error}\n{r.Out}"))}");
    }

    /// <summary>The number of race trials: VFIO_RACE_TRIALS (1 to 100), else <paramref name="fallback"/>.</summary>
    public static int RaceTrials(int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable("VFIO_RACE_TRIALS"), CultureInfo.InvariantCulture, out var n) ? Math.Clamp(n, 1, 100) : fallback;

    public static int CountOf(string text, string fragment) =>
        text.Split('\n').Count(line => line.Contains(fragment, StringComparison.Ordinal));
}

/// <summary>A temp directory with the state directory, the source scenario, and the destination mounted through FUSE with its libvirt test-driver file.</summary>
internal sealed class StateBed : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("vfio-state-proc-").FullName;
    private readonly FuseMount _mount;
    private readonly WatchedTree _watched;

    public StateBed(string destination, string source)
    {
        File.WriteAllText(Path.Combine(_directory, "dest.json"), destination);
        File.WriteAllText(SourceScenario, source);
        Destination = SimulatedHost.Load(Path.Combine(_directory, "dest.json"));
        Directory.CreateDirectory(MountPoint);
        RefreshLibvirtXml();
        _watched = new WatchedTree(Destination.FileTree);
        _mount = FuseMount.Mount(_watched, MountPoint);
        StateArguments = ["--state-dir", StateDirectory];
    }

    public SimulatedHost Destination { get; }

    public string MountPoint => Path.Combine(_directory, "sys");

    public string DestinationUri => $"test://{Path.Combine(_directory, "dest.xml")}";

    private string SourceScenario => Path.Combine(_directory, "src.json");

    /// <summary>The state directory every process the bed starts shares.</summary>
    public string StateDirectory => Path.Combine(_directory, "state");

    /// <summary>The state store options each process gets unless given its own (default: the shared state directory).</summary>
    public IReadOnlyList<string> StateArguments { get; set; }

    /// <summary>How many creates have reached the simulated destination (in flight or finished).</summary>
    public int CreatesStarted => _watched.CreatesStarted;

    /// <summary>How many creates the simulated destination has finished (made or failed).</summary>
    public int CreatesEnded() => Destination.Snapshot().Operations.Count(o => o.IsWrite && o.Path.EndsWith("/create", StringComparison.Ordinal));

    /// <summary>libvirt's test driver reads a picture of the host: redraw it after the host changed.</summary>
    public void RefreshLibvirtXml() => Destination.WriteLibvirtXml(Path.Combine(_directory, "dest.xml"));

    public Process Start(params string[] args) => StartWith(StateArguments, args);

    /// <summary>Starts the console with <paramref name="state"/> as its state store options.</summary>
    public Process StartWith(IReadOnlyList<string> state, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "vfio-migrator.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        if (args[0] == "plan")
        {
            foreach (var arg in (string[])["--source-scenario", SourceScenario, "--dest", DestinationUri, "--dest-sysfs", MountPoint])
            {
                start.ArgumentList.Add(arg);
            }
        }

        foreach (var arg in state)
        {
            start.ArgumentList.Add(arg);
        }

        return Process.Start(start)!;
    }

    public Task<(int Code, string Out, string Error)> RunAsync(params string[] args) => RunWithAsync(StateArguments, args);

    /// <summary>Runs the console to its end with <paramref name="state"/> as its state store options.</summary>
    public async Task<(int Code, string Out, string Error)> RunWithAsync(IReadOnlyList<string> state, params string[] args)
    {
        using var process = StartWith(state, args);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var limit = new CancellationTokenSource(StateScenarios.ProcessLimit);
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"vfio-migrator {string.Join(' ', args)} did not finish within {StateScenarios.ProcessLimit}.");
        }

        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>
    /// Runs a state command that removes what plans left (<c>recover</c>, <c>plans release ID</c>) on the
    /// destination, and checks that it removed <paramref name="removed"/> devices, that the destination
    /// is as it was <paramref name="before"/>, and that the store holds no plan any more.
    /// </summary>
    public async Task RemoveEverythingAsync(HostState before, int removed, params string[] command)
    {
        var run = await RunAsync([.. command, "--host", DestinationUri, "--host-sysfs", MountPoint]);
        Assert.AreEqual(0, run.Code, run.Error);
        Assert.AreEqual(removed, StateScenarios.CountOf(run.Out, ": removed"), run.Out);
        Assert.AreEqual(before, Destination.Snapshot().State);
        Assert.AreEqual("no plans in the state store", (await RunAsync("plans")).Out.Trim());
    }

    /// <summary>How many journal entries are in <paramref name="state"/>, read as another process would (0 before the store exists).</summary>
    public int JournalCount(string state)
    {
        var file = Path.Combine(StateDirectory, "state.db");
        if (!File.Exists(file))
        {
            return 0;
        }

        try
        {
            using var connection = new SqliteConnection($"Data Source={file};Mode=ReadOnly;Pooling=False");
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT count(*) FROM journal WHERE state = $state";
            command.Parameters.AddWithValue("$state", state);
            return Convert.ToInt32(command.ExecuteScalar(), CultureInfo.InvariantCulture);
        }
        catch (SqliteException)
        {
            // Not created yet (the schema is written in the planner's first transaction).
            return 0;
        }
    }

    public void Dispose()
    {
        _mount.Dispose();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}

/// <summary>The destination's file tree, counting the creates that reach it before they are carried out.</summary>
internal sealed class WatchedTree(ISimulatedFileTree inner) : ISimulatedFileTree
{
    private int _createsStarted;

    public int CreatesStarted => Volatile.Read(ref _createsStarted);

    public Errno GetAttributes(string path, out SimulatedNodeStat stat) => inner.GetAttributes(path, out stat);

    public Errno ListDirectory(string path, out IReadOnlyList<string> entries) => inner.ListDirectory(path, out entries);

    public Errno ReadLink(string path, out string target) => inner.ReadLink(path, out target);

    public Errno CheckOpen(string path, bool forWrite) => inner.CheckOpen(path, forWrite);

    public ValueTask<SysfsResult<byte[]>> ReadAsync(string path, CancellationToken cancellationToken = default) => inner.ReadAsync(path, cancellationToken);

    public ValueTask<SysfsResult> WriteAsync(string path, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        if (path.EndsWith("/create", StringComparison.Ordinal))
        {
            Interlocked.Increment(ref _createsStarted);
        }

        return inner.WriteAsync(path, data, cancellationToken);
    }
}
