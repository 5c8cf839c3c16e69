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

    /// <summary>
    /// The limit of a test that runs a SIGKILL flow of <see cref="StateBed"/> (ms): it runs the console
    /// up to 6 times (the killed plan, <c>plans</c>, <c>recover</c>, <c>plans</c>, a following plan),
    /// each up to <see cref="ProcessLimit"/>. On the 2-core VM at a load average of 100 to 130 one plan
    /// took 113 s over SSH and these tests overran the suite's 2-minute default, locally too.
    /// </summary>
    public const int FlowLimitMs = 600_000;

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

    /// <summary>Inconclusive unless FUSE mounts can be made: <c>/dev/fuse</c> and root.</summary>
    public static void RequireFuse()
    {
        if (!File.Exists("/dev/fuse") || Environment.UserName != "root")
        {
            Assert.Inconclusive("FUSE mounts need /dev/fuse and root.");
        }
    }

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
    public static Task WaitUntilAsync(Func<bool> condition, string what, Process? process, CancellationToken cancellationToken) =>
        WaitUntilAsync(() => Task.FromResult(condition()), what, process, cancellationToken);

    /// <summary>Waits for <paramref name="condition"/> (a question to a store), at most <see cref="ProcessLimit"/>; fails when <paramref name="process"/> exits first.</summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, string what, Process? process, CancellationToken cancellationToken)
    {
        var limit = Stopwatch.StartNew();
        while (!await condition())
        {
            if (process is { HasExited: true })
            {
                Assert.Fail($"the planner exited ({process.ExitCode}) before {what}: {process.StandardError.ReadToEnd()}{process.StandardOutput.ReadToEnd()}");
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

    /// <summary>
    /// Runs <paramref name="trials"/> trials of <paramref name="race"/> (each returns its racers' runs),
    /// printing after each the tally, its wall time and the load average; then fails naming every
    /// trial that did not have exactly one winner with every loser told the target is claimed.
    /// </summary>
    public static async Task RaceAsync(int trials, Func<Task<(int Code, string Out, string Error)[]>> race, TestContext context)
    {
        var failures = new List<string>();
        for (var trial = 1; trial <= trials; trial++)
        {
            context.CancellationToken.ThrowIfCancellationRequested();
            var clock = Stopwatch.StartNew();
            var runs = await race();
            if (OneWinnerFailure(runs, $"trial {trial}") is { } failure)
            {
                failures.Add(failure);
            }

            context.WriteLine($"trial {trial} of {trials}: {runs.Count(r => r.Code == 0)} winner(s), {trial - failures.Count} of {trial} trials with exactly one winner so far; {clock.Elapsed.TotalSeconds:0.0} s, load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
        }

        Assert.IsEmpty(failures, $"{trials - failures.Count} of {trials} trials had exactly one winner, every loser told the target is claimed:\n{string.Join("\n", failures)}");
    }

    /// <summary>The number of race trials: VFIO_RACE_TRIALS (1 to 100), else <paramref name="fallback"/>.</summary>
    public static int RaceTrials(int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable("VFIO_RACE_TRIALS"), CultureInfo.InvariantCulture, out var n) ? Math.Clamp(n, 1, 100) : fallback;

    /// <summary>A version probe of a created device (its <c>migration_version</c>, the link under <c>bus/mdev/devices</c> resolved), not of a type.</summary>
    public static bool IsDeviceProbe(string path) =>
        path.EndsWith("/migration_version", StringComparison.Ordinal) && !path.Contains("/mdev_supported_types/", StringComparison.Ordinal);

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
        Reach = new DestinationReach(DestinationUri, ["--dest-sysfs", MountPoint], ["--host-sysfs", MountPoint]);
    }

    public SimulatedHost Destination { get; }

    public string MountPoint => Path.Combine(_directory, "sys");

    /// <summary>libvirt's test-driver file of the destination (redrawn by <see cref="RefreshLibvirtXml"/>).</summary>
    public string LibvirtXml => Path.Combine(_directory, "dest.xml");

    /// <summary>The destination's URI for libvirt's test driver in the console's own process.</summary>
    public string DestinationUri => $"test://{LibvirtXml}";

    /// <summary>How the console reaches the destination (default: <see cref="DestinationUri"/> and the mount, in its own process).</summary>
    public DestinationReach Reach { get; set; }

    /// <summary>A state command's options for the destination (<c>recover</c>, <c>plans release</c>).</summary>
    public string[] HostArguments => ["--host", Reach.Uri, .. Reach.HostSysfs];

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
    public void RefreshLibvirtXml() => Destination.WriteLibvirtXml(LibvirtXml);

    /// <summary>The console's test-only pause at the migration call (MigrationPause.Variable, internal to the console).</summary>
    public const string MigrationPauseVariable = "VFIO_MIGRATOR_TEST_PAUSE_MIGRATION";

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

    /// <summary>
    /// Holds the version probe of the plan's second created device, its last write to the host before
    /// a kept plan's commit: <c>Arrived</c> completes when it is held, completing <c>Release</c> lets it go.
    /// </summary>
    public (TaskCompletionSource Arrived, TaskCompletionSource Release) HoldTheSecondDeviceProbe()
    {
        var probes = 0;
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        HoldWrites(path => StateScenarios.IsDeviceProbe(path) && Interlocked.Increment(ref probes) == 2, arrived, release.Task);
        return (arrived, release);
    }

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
        var file = LibvirtXml;
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
    private Process Launch(IReadOnlyList<string> state, (string Name, string Value)? environment, string[] args) =>
        ConsoleProcess.Start(
            [.. args, .. args[0] is "plan" or "migrate" ? ["--source-scenario", SourceScenario, "--dest", Reach.Uri, .. Reach.PlanOptions] : (string[])[], .. state],
            environment);

    public Task<(int Code, string Out, string Error)> RunAsync(params string[] args) => RunWithAsync(StateArguments, args);

    /// <summary>Runs the console to its end with <paramref name="state"/> as its state store options.</summary>
    public async Task<(int Code, string Out, string Error)> RunWithAsync(IReadOnlyList<string> state, params string[] args)
    {
        using var process = StartWith(state, args);
        return await ConsoleProcess.WaitAsync(process, args);
    }

    /// <summary>
    /// Runs a state command that removes what plans left (<c>recover</c>, <c>plans release ID</c>) on the
    /// destination, and checks that it removed <paramref name="removed"/> devices, that the destination
    /// is as it was <paramref name="before"/>, and that the store holds no plan any more.
    /// </summary>
    public async Task RemoveEverythingAsync(HostState before, int removed, params string[] command)
    {
        var run = await RunAsync([.. command, .. HostArguments]);
        Assert.AreEqual(0, run.Code, run.Error);
        Assert.AreEqual(removed, StateScenarios.CountOf(run.Out, ": removed"), run.Out);
        Assert.AreEqual(before, Destination.Snapshot().State);
        Assert.AreEqual("no plans in the state store", (await RunAsync("plans")).Out.Trim());
    }

    /// <summary>
    /// SIGKILL of a real planner at a step of its creates (two creates on one parent, sent as one batch;
    /// the destination's creates should be slow, 1.5 s, so that a step can be caught), then <c>recover</c>
    /// and a following plan (<see cref="RecoverThenPlanAgainAsync"/>). Both intents are journaled in one
    /// write before the first create is issued, so recovery looks at both devices whatever the step (a
    /// device whose create never ran is gone already).
    /// </summary>
    /// <param name="step">before: as soon as the intents are journaled (the create may not be issued yet); during: the first create in flight; after: the first create done, the second in flight (neither outcome journaled yet: they are journaled with the batch); journaled: both outcomes journaled, the probe of the second created device held.</param>
    /// <param name="cancellationToken">The test's.</param>
    public async Task SigkillMidPlanThenRecoverAsync(string step, CancellationToken cancellationToken)
    {
        var before = Destination.Snapshot().State;
        var (probeArrived, probeRelease) = step == "journaled" ? HoldTheSecondDeviceProbe() : (null, null);

        using (var planner = Start("plan", "--domain", "vm1", "--keep"))
        {
            Func<bool> reached = step switch
            {
                "before" => () => JournalCount("intent") >= 1,
                "during" => () => CreatesStarted == 1,
                "after" => () => CreatesEnded() == 1 && CreatesStarted == 2,
                _ => () => probeArrived!.Task.IsCompleted,
            };
            await StateScenarios.WaitUntilAsync(reached, $"step '{step}'", planner, cancellationToken);
            if (step == "journaled")
            {
                Assert.AreEqual(2, JournalCount("created"), "both outcomes journaled before the probes");
            }

            planner.Kill();

            // The killed process leaves only once its write through the mount returns: let a held write go on.
            probeRelease?.SetResult();
            await planner.WaitForExitAsync(cancellationToken);
        }

        // A create in flight ends in the simulator whatever became of the process that asked for it.
        await StateScenarios.WaitUntilAsync(() => CreatesEnded() == CreatesStarted, "the creates in flight to end", null, cancellationToken);
        Assert.AreEqual(CreatesStarted, Destination.Snapshot().State.Mdevs.Count, "what the killed plan left");

        var plans = await RunAsync("plans");
        Assert.AreEqual(0, plans.Code, plans.Error);
        StringAssert.Contains(plans.Out, "which is gone");

        await RecoverThenPlanAgainAsync(before, 2, cancellationToken);
    }

    /// <summary>
    /// SIGKILL while a kept plan's commit waits for the SQLite store (the test holds its write lock, as
    /// a busy process would), then <c>recover</c> and a following plan (<see cref="RecoverThenPlanAgainAsync"/>):
    /// the commit is one transaction, so it did not happen, and recovery removes both devices. The probe
    /// of the second created device is held until the test holds the lock: it is the plan's last write
    /// to the host before the commit.
    /// </summary>
    public async Task SigkillDuringTheCommitThenRecoverAsync(CancellationToken cancellationToken)
    {
        var before = Destination.Snapshot().State;
        var (arrived, release) = HoldTheSecondDeviceProbe();

        using (var planner = Start("plan", "--domain", "vm1", "--keep"))
        {
            await StateScenarios.WaitUntilAsync(() => arrived.Task.IsCompleted, "the probe of the second created device", planner, cancellationToken);
            Assert.AreEqual(2, JournalCount("created"));
            using (var connection = OpenStore())
            using (connection.BeginTransaction(deferred: false))
            {
                release.SetResult();
                // The commit waits for the lock up to the store's 5 s busy timeout: kill it while it waits.
                await Task.Delay(TimeSpan.FromSeconds(1.5), cancellationToken);
                Assert.IsFalse(planner.HasExited, "the planner waits for the store");
                planner.Kill();
                await planner.WaitForExitAsync(cancellationToken);
            }
        }

        Assert.HasCount(2, Destination.Snapshot().State.Mdevs, "what the killed plan left");
        Assert.AreEqual(0, JournalCount("committed"), "the commit did not happen");
        await RecoverThenPlanAgainAsync(before, 2, cancellationToken);
    }

    /// <summary>
    /// What a killed plan left (<paramref name="removed"/> devices, all the mdevs the destination has
    /// beyond <paramref name="before"/>'s): libvirt's picture of the host redrawn to list them, as a
    /// real libvirt would, then <c>recover</c> (<see cref="RemoveEverythingAsync"/>: the host as it was,
    /// no plan left); the picture is left stale, still listing them, so a following plan of vm1 sees
    /// them as idle mdevs of its type: it must create every device and take none of them as
    /// <c>reuse</c>, and (not kept) it leaves the host as it was.
    /// </summary>
    public async Task RecoverThenPlanAgainAsync(HostState before, int removed, CancellationToken cancellationToken)
    {
        var orphans = Destination.Snapshot().State.Mdevs.Select(m => m.Uuid.Value).Except(before.Mdevs.Select(m => m.Uuid.Value)).ToHashSet(StringComparer.Ordinal);
        RefreshLibvirtXml();
        await RemoveEverythingAsync(before, removed, "recover");

        cancellationToken.ThrowIfCancellationRequested();
        var next = await RunAsync("plan", "--domain", "vm1", "--json");
        Assert.AreEqual(0, next.Code, next.Error + next.Out);
        var devices = System.Text.Json.Nodes.JsonNode.Parse(next.Out)!["devices"]!.AsArray();
        Assert.IsNotEmpty(devices);
        Assert.IsTrue(devices.All(d => (string?)d!["action"] == "create"), next.Out);
        Assert.IsFalse(devices.Any(d => orphans.Contains((string?)d!["target"]!["uuid"] ?? string.Empty)), $"an orphan was handed out again: {next.Out}");
        Assert.AreEqual(before, Destination.Snapshot().State, "the following plan, not kept, leaves the host as it was");
    }

    /// <summary>
    /// SIGKILL of <c>migrate</c> at the migration call (paused there, see MigrationPause), then, once
    /// <paramref name="ownerGone"/> completes (the store sees the process gone), <c>recover</c>. Either
    /// the migration did not finish (a client-driven one ends with its client): the host ends as it was;
    /// or it <paramref name="finished"/> without the planner (peer-to-peer, the source's libvirtd carries
    /// on), and the guest defined on the destination uses the devices: recovery keeps exactly those and
    /// forgets the plan. The source guest has two mdevs, the destination creates them at once.
    /// </summary>
    public async Task SigkillAtTheMigrationCallThenRecoverAsync(bool finished, Func<Task> ownerGone, CancellationToken cancellationToken)
    {
        var before = Destination.Snapshot().State;
        using (var migrator = Start((MigrationPauseVariable, PauseFile), "migrate", "--domain", "vm1"))
        {
            await StateScenarios.WaitUntilAsync(() => File.Exists(PauseFile), "the migration call", migrator, cancellationToken);
            migrator.Kill();
            await migrator.WaitForExitAsync(cancellationToken);
        }

        var created = Destination.Snapshot().State.Mdevs.Select(m => m.Uuid.Value).ToList();
        Assert.HasCount(2, created, "what the killed plan left");
        await ownerGone();
        if (!finished)
        {
            await RecoverThenPlanAgainAsync(before, 2, cancellationToken);
            return;
        }

        DefineMigratedGuest(created);
        var recovered = await RunAsync(["recover", .. HostArguments]);

        Assert.AreEqual(0, recovered.Code, recovered.Error);
        Assert.AreEqual(0, StateScenarios.CountOf(recovered.Out, ": removed"), recovered.Out);
        Assert.AreEqual(2, StateScenarios.CountOf(recovered.Out, ": kept: guest vm1 uses it"), recovered.Out);
        CollectionAssert.AreEquivalent(created, Destination.Snapshot().State.Mdevs.Select(m => m.Uuid.Value).ToList());
        Assert.AreEqual(before.Parents.Count, Destination.Snapshot().State.Parents.Count);
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

/// <summary>How the console reaches a bed's destination.</summary>
/// <param name="Uri">Its libvirt URI, also its key in the state store.</param>
/// <param name="PlanOptions">The options a planning command gets for it: those that give its sysfs (<c>--dest-sysfs</c>, or <c>--dest-ssh</c> and what SSH needs), and any it needs besides.</param>
/// <param name="HostSysfs">The same for a state command (<c>--host-sysfs</c> or <c>--host-ssh</c> ...).</param>
internal sealed record DestinationReach(string Uri, IReadOnlyList<string> PlanOptions, IReadOnlyList<string> HostSysfs);

/// <summary>The built <c>vfio-migrator</c> (next to the test assembly) as a child process.</summary>
internal static class ConsoleProcess
{
    /// <summary>Starts it with <paramref name="args"/> and, when given, one more environment variable.</summary>
    public static Process Start(IEnumerable<string> args, (string Name, string Value)? environment = null)
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

        return Process.Start(start)!;
    }

    /// <summary>Starts it with <paramref name="args"/> and waits for its end.</summary>
    public static async Task<(int Code, string Out, string Error)> RunAsync(params string[] args)
    {
        using var process = Start(args);
        return await WaitAsync(process, args);
    }

    /// <summary>Waits for <paramref name="process"/> to end, at most <see cref="StateScenarios.ProcessLimit"/> (then kills it), with what it printed.</summary>
    public static async Task<(int Code, string Out, string Error)> WaitAsync(Process process, IReadOnlyList<string> args)
    {
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
