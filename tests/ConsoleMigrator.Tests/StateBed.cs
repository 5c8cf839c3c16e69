using System.Diagnostics;
using System.Globalization;
using System.Xml.Linq;
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

    /// <summary>One NVIDIA H100 with 2 VFs (VF 0 at 0000:41:00.4) and the H100-10C vGPU type (id 1044, illustrative), VFs configured as <paramref name="configured"/> says.</summary>
    public static string SriovGpu(bool configured) => """
        {"address": "0000:41:00.0", "productId": "0x2331", "totalVfs": 8, "numVfs": 2,
         "types": [{"id": 1044, "name": "NVIDIA H100-10C", "framebufferMiB": 10240, "maxInstances": 8}],
         "migration": {"version": "v1"}, "vfs": [@VFS]}
        """.Replace("@VFS", configured ? """{"index": 0, "type": 1044}""" : string.Empty, StringComparison.Ordinal);

    /// <summary>A source whose guest vm1 has one vGPU on a VF (0000:41:00.4, type 1044).</summary>
    public static string VfSource() => """
        {"version": 1, "name": "src", "sriovGpus": [@GPU],
         "guests": [{"name": "vm1", "uuid": "00000000-0000-4000-8000-0000000000c1", "running": true, "memoryMiB": 1024, "hostdevs": [{"pci": "0000:41:00.4"}]}]}
        """.Replace("@GPU", SriovGpu(configured: true), StringComparison.Ordinal);

    /// <summary>A destination with the same GPU and none of its VFs configured.</summary>
    public static string VfDestination() => """
        {"version": 1, "name": "dest", "sriovGpus": [@GPU]}
        """.Replace("@GPU", SriovGpu(configured: false), StringComparison.Ordinal);

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
        var failure = OneWinnerFailure(runs, what);
        Assert.IsNull(failure, failure);
    }

    /// <summary>Why <paramref name="runs"/> are not exactly one winner (exit 0) and losers told the target is claimed (exit 3); null when they are.</summary>
    public static string? OneWinnerFailure((int Code, string Out, string Error)[] runs, string what) =>
        runs.Count(r => r.Code == 0) == 1 && runs.Where(r => r.Code != 0).All(r => r.Code == 3 && r.Out.Contains("claimed by another plan", StringComparison.Ordinal))
            ? null
            : $"{what}: exit codes {string.Join(",", runs.Select(r => r.Code))}\n{string.Join("\n---\n", runs.Where(r => r.Code != 0).Select(r => $"exit {r.Code}: {r.Error}\n{r.Out}"))}";

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

    /// <summary>An attribute of the destination read through its mount, as another process would (trimmed).</summary>
    public async Task<string> ReadDestinationAsync(string relativePath) =>
        (await File.ReadAllTextAsync(Path.Combine(MountPoint, relativePath))).Trim();

    /// <summary>libvirt's test driver reads a picture of the host: redraw it after the host changed.</summary>
    public void RefreshLibvirtXml() => Destination.WriteLibvirtXml(Path.Combine(_directory, "dest.xml"));

    /// <summary>The file through which a paused <c>migrate</c> says it reached the migration call (see docs/state.md).</summary>
    public string PauseFile => Path.Combine(_directory, "migration-pause");

    /// <summary>Holds every write for which <paramref name="hold"/> is true until <paramref name="release"/> completes; <paramref name="arrived"/> completes with the first one held.</summary>
    public void HoldWrites(Func<string, bool> hold, TaskCompletionSource arrived, Task release) =>
        _watched.BeforeWrite = async path =>
        {
            if (hold(path))
            {
                arrived.TrySetResult();
                await release;
            }
        };

    /// <summary>A connection of the test's own to the SQLite store, e.g. to hold its write lock as a busy writer in another process would.</summary>
    public SqliteConnection OpenStore()
    {
        var connection = new SqliteConnection($"Data Source={Path.Combine(StateDirectory, "state.db")};Pooling=False");
        connection.Open();
        return connection;
    }

    /// <summary>Deletes the state directory (every planner process has exited): the next run starts with an empty store.</summary>
    public void ForgetState()
    {
        SqliteConnection.ClearAllPools();
        if (Directory.Exists(StateDirectory))
        {
            Directory.Delete(StateDirectory, recursive: true);
        }
    }

    /// <summary>
    /// The destination as libvirt shows it once a guest migrated there with <paramref name="mdevs"/>:
    /// the host redrawn, plus the guest vm1 defined with those mdevs.
    /// </summary>
    public void DefineMigratedGuest(IEnumerable<string> mdevs)
    {
        RefreshLibvirtXml();
        var file = Path.Combine(_directory, "dest.xml");
        var host = XDocument.Load(file);
        host.Root!.Add(new XElement(
            "domain",
            new XAttribute("type", "test"),
            new XElement("name", "vm1"),
            new XElement("uuid", "00000000-0000-4000-8000-0000000000c1"),
            new XElement("memory", new XAttribute("unit", "MiB"), "1024"),
            new XElement("os", new XElement("type", "hvm")),
            new XElement("devices", mdevs.Select(uuid => new XElement(
                "hostdev",
                new XAttribute("mode", "subsystem"),
                new XAttribute("type", "mdev"),
                new XAttribute("model", "vfio-pci"),
                new XElement("source", new XElement("address", new XAttribute("uuid", uuid))))))));
        host.Save(file);
    }

    public Process Start(params string[] args) => Launch(StateArguments, null, args);

    /// <summary>Starts the console with one more environment variable, <paramref name="environment"/>.</summary>
    public Process Start((string Name, string Value) environment, params string[] args) => Launch(StateArguments, environment, args);

    /// <summary>Starts the console with <paramref name="state"/> as its state store options.</summary>
    public Process StartWith(IReadOnlyList<string> state, params string[] args) => Launch(state, null, args);

    /// <summary>Starts <c>vfio-migrator</c> with <paramref name="args"/> (a planning command gets this bed's hosts), <paramref name="state"/> and, when given, one more environment variable.</summary>
    private Process Launch(IReadOnlyList<string> state, (string Name, string Value)? environment, string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (environment is var (name, value))
        {
            start.Environment[name] = value;
        }

        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "vfio-migrator.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        if (args[0] is "plan" or "migrate")
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
    public int JournalCount(string state) => JournalEntries().Count(e => e.EndsWith($" {state}", StringComparison.Ordinal));

    /// <summary>The journal entries as <c>method parent type state</c>, read as another process would (none before the store exists).</summary>
    public IReadOnlyList<string> JournalEntries()
    {
        var file = Path.Combine(StateDirectory, "state.db");
        if (!File.Exists(file))
        {
            return [];
        }

        try
        {
            using var connection = new SqliteConnection($"Data Source={file};Mode=ReadOnly;Pooling=False");
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT method, parent, type, state FROM journal ORDER BY ord";
            using var reader = command.ExecuteReader();
            var entries = new List<string>();
            while (reader.Read())
            {
                entries.Add($"{reader.GetString(0)} {reader.GetString(1)} {reader.GetString(2)} {reader.GetString(3)}");
            }

            return entries;
        }
        catch (SqliteException)
        {
            // Not created yet (the schema is written in the planner's first transaction).
            return [];
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

    /// <summary>Awaited before each write reaches the simulated host: a test holds a write there (a slow operation of its choosing).</summary>
    public Func<string, Task>? BeforeWrite { get; set; }

    public Errno GetAttributes(string path, out SimulatedNodeStat stat) => inner.GetAttributes(path, out stat);

    public Errno ListDirectory(string path, out IReadOnlyList<string> entries) => inner.ListDirectory(path, out entries);

    public Errno ReadLink(string path, out string target) => inner.ReadLink(path, out target);

    public Errno CheckOpen(string path, bool forWrite) => inner.CheckOpen(path, forWrite);

    public ValueTask<SysfsResult<byte[]>> ReadAsync(string path, CancellationToken cancellationToken = default) => inner.ReadAsync(path, cancellationToken);

    public async ValueTask<SysfsResult> WriteAsync(string path, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        if (path.EndsWith("/create", StringComparison.Ordinal))
        {
            Interlocked.Increment(ref _createsStarted);
        }

        if (BeforeWrite is { } gate)
        {
            await gate(path);
        }

        return await inner.WriteAsync(path, data, cancellationToken);
    }
}
