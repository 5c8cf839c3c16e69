using System.Diagnostics;
using System.Globalization;
using Microsoft.Data.Sqlite;
using VfioMigration.HostSimulator;
using VfioMigration.HostSimulator.Fuse;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.ConsoleMigrator.Tests;

/// <summary>
/// The built <c>vfio-migrator</c> as real processes sharing one state directory, against a
/// destination this test serves through FUSE (libvirt's test driver for the libvirt side, so mdevs
/// are created through the mounted sysfs): SIGKILL mid-plan then <c>recover</c>; kept plans and
/// <c>plans release</c>; 8 processes racing for one idle mdev. See docs/state.md.
/// </summary>
[TestClass]
[DoNotParallelize]
public sealed class StateProcessTests
{
    private const string SourceMdev1 = "00000000-0000-4000-8000-0000000000a1";
    private const string SourceMdev2 = "00000000-0000-4000-8000-0000000000a2";
    private const string IdleMdev = "00000000-0000-4000-8000-0000000000b1";
    private static readonly TimeSpan ProcessLimit = TimeSpan.FromSeconds(120);

    public TestContext TestContext { get; set; } = null!;

    [TestInitialize]
    public void RequireFuse()
    {
        if (!File.Exists("/dev/fuse") || Environment.UserName != "root")
        {
            Assert.Inconclusive("FUSE mounts need /dev/fuse and root.");
        }
    }

    private static string Parent(int maxInstances) => """
        {"address": "0000:41:00.0", "vendorId": "0x10de", "productId": "0x1eb8", "driver": "nvidia",
         "types": [{"id": "nvidia-63", "name": "GRID T4-1Q", "deviceApi": "vfio-pci", "maxInstances": @MAX, "migration": {"version": "v1"}}]}
        """.Replace("@MAX", maxInstances.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);

    private static string Source(int devices) => """
        {"version": 1, "name": "src", "parents": [@PARENT],
         "mdevs": [{"uuid": "@MDEV1", "parent": "0000:41:00.0", "type": "nvidia-63"}, {"uuid": "@MDEV2", "parent": "0000:41:00.0", "type": "nvidia-63"}],
         "guests": [{"name": "vm1", "uuid": "00000000-0000-4000-8000-0000000000c1", "running": true, "memoryMiB": 1024, "hostdevs": [@HOSTDEVS]}]}
        """
        .Replace("@PARENT", Parent(8), StringComparison.Ordinal)
        .Replace("@HOSTDEVS", devices == 2 ? """{"mdev": "@MDEV1"}, {"mdev": "@MDEV2"}""" : """{"mdev": "@MDEV1"}""", StringComparison.Ordinal)
        .Replace("@MDEV1", SourceMdev1, StringComparison.Ordinal)
        .Replace("@MDEV2", SourceMdev2, StringComparison.Ordinal);

    /// <summary>A destination whose creates take <paramref name="createMs"/>.</summary>
    private static string SlowDestination(int createMs) => """
        {"version": 1, "name": "dest", "parents": [@PARENT], "latency": {"createMs": @MS}}
        """
        .Replace("@PARENT", Parent(4), StringComparison.Ordinal)
        .Replace("@MS", createMs.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);

    /// <summary>A destination with one idle mdev and no room for another.</summary>
    private static string OneIdleDestination() => """
        {"version": 1, "name": "dest", "parents": [@PARENT], "mdevs": [{"uuid": "@IDLE", "parent": "0000:41:00.0", "type": "nvidia-63"}]}
        """
        .Replace("@PARENT", Parent(1), StringComparison.Ordinal)
        .Replace("@IDLE", IdleMdev, StringComparison.Ordinal);

    /// <summary>SIGKILL of a real planner at a step of its creates (two creates on one parent, 1.5 s each), then <c>recover</c>.</summary>
    /// <param name="step">before: as soon as the first intent is journaled (the create may not be issued yet); during: the first create in flight; after: the first create journaled, the second in flight.</param>
    /// <param name="journaled">Entries removed by recovery.</param>
    [TestMethod]
    [DataRow("before", 1)]
    [DataRow("during", 1)]
    [DataRow("after", 2)]
    public async Task SigkillMidPlan_ThenRecover_LeavesTheHostAsItWas(string step, int journaled)
    {
        using var bed = new Bed(SlowDestination(createMs: 1500), Source(devices: 2));
        var before = bed.Destination.Snapshot().State;

        using (var planner = bed.Start("plan", "--domain", "vm1", "--keep"))
        {
            Func<bool> reached = step switch
            {
                "before" => () => bed.JournalCount("intent") >= 1,
                "during" => () => bed.CreatesStarted == 1,
                _ => () => bed.JournalCount("created") == 1 && bed.CreatesStarted == 2,
            };
            await WaitUntilAsync(reached, $"step '{step}'", planner);
            planner.Kill();
            await planner.WaitForExitAsync(TestContext.CancellationToken);
        }

        // A create in flight ends in the simulator whatever became of the process that asked for it.
        await WaitUntilAsync(() => bed.CreatesEnded() == bed.CreatesStarted, "the creates in flight to end", null);
        Assert.AreEqual(Math.Min(bed.CreatesStarted, journaled), bed.Destination.Snapshot().State.Mdevs.Count, "what the killed plan left");

        var plans = await bed.RunAsync("plans");
        Assert.AreEqual(0, plans.Code, plans.Error);
        StringAssert.Contains(plans.Out, "which is gone");

        var recovered = await bed.RunAsync("recover", "--host", bed.DestinationUri, "--host-sysfs", bed.MountPoint);

        Assert.AreEqual(0, recovered.Code, recovered.Error);
        Assert.AreEqual(journaled, CountOf(recovered.Out, ": removed"), recovered.Out);
        Assert.AreEqual(before, bed.Destination.Snapshot().State);
        Assert.AreEqual("no plans in the state store", (await bed.RunAsync("plans")).Out.Trim());
    }

    [TestMethod]
    public async Task AnOrphan_IsRecoveredByTheNextPlan_NeverAdoptedAsReuse()
    {
        using var bed = new Bed(SlowDestination(createMs: 1000), Source(devices: 1));
        var before = bed.Destination.Snapshot().State;
        using (var planner = bed.Start("plan", "--domain", "vm1", "--keep"))
        {
            await WaitUntilAsync(() => bed.CreatesStarted == 1, "the create to be issued", planner);
            planner.Kill();
            await planner.WaitForExitAsync(TestContext.CancellationToken);
        }

        await WaitUntilAsync(() => bed.CreatesEnded() == 1, "the create in flight to end", null);
        var orphan = bed.Destination.Snapshot().State.Mdevs.Single().Uuid.Value;
        bed.RefreshLibvirtXml();

        var next = await bed.RunAsync("plan", "--domain", "vm1", "--json");

        Assert.AreEqual(0, next.Code, next.Error);
        // Recovery removed the orphan from sysfs before the plan read the destination, so it is not reused
        // (the test driver's picture of the host still names it; its probe finds nothing).
        var device = System.Text.Json.Nodes.JsonNode.Parse(next.Out)!["devices"]!.AsArray().Single()!;
        Assert.AreEqual("create", (string?)device["action"]);
        Assert.AreNotEqual(orphan, (string?)device["target"]!["uuid"]);
        Assert.AreEqual(before, bed.Destination.Snapshot().State);
    }

    [TestMethod]
    public async Task AKeptPlan_IsListed_AndReleasedByPlansRelease()
    {
        using var bed = new Bed(SlowDestination(createMs: 0), Source(devices: 2));
        var before = bed.Destination.Snapshot().State;
        var kept = await bed.RunAsync("plan", "--domain", "vm1", "--keep");
        Assert.AreEqual(0, kept.Code, kept.Error);
        Assert.HasCount(2, bed.Destination.Snapshot().State.Mdevs);

        var recovered = await bed.RunAsync("recover", "--host", bed.DestinationUri, "--host-sysfs", bed.MountPoint);
        Assert.AreEqual(0, recovered.Code, recovered.Error);
        Assert.HasCount(2, bed.Destination.Snapshot().State.Mdevs, "recovery leaves a kept plan alone");
        var listed = await bed.RunAsync("plans");
        StringAssert.Contains(listed.Out, "committed");
        var id = listed.Out.Split(' ', '\n')[1];

        var released = await bed.RunAsync("plans", "release", id, "--host", bed.DestinationUri, "--host-sysfs", bed.MountPoint);

        Assert.AreEqual(0, released.Code, released.Error);
        Assert.AreEqual(2, CountOf(released.Out, ": removed"), released.Out);
        Assert.AreEqual(before, bed.Destination.Snapshot().State);
        Assert.AreEqual("no plans in the state store", (await bed.RunAsync("plans")).Out.Trim());
    }

    /// <summary>
    /// 8 processes race for 1 idle mdev: exactly one wins. VFIO_RACE_TRIALS sets the number of trials
    /// (default 5, about 12 s each on the 2-core VM; at most 100, which the 30-minute limit of this test allows).
    /// </summary>
    [TestMethod]
    [Timeout(1_800_000, CooperativeCancellation = true)]
    public async Task EightProcesses_OneIdleTarget_ExactlyOneWins()
    {
        var trials = int.TryParse(Environment.GetEnvironmentVariable("VFIO_RACE_TRIALS"), CultureInfo.InvariantCulture, out var n) ? Math.Clamp(n, 1, 100) : 5;
        for (var trial = 0; trial < trials; trial++)
        {
            TestContext.CancellationToken.ThrowIfCancellationRequested();
            using var bed = new Bed(OneIdleDestination(), Source(devices: 1));
            var runs = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => bed.RunAsync("plan", "--domain", "vm1", "--keep")));

            var winners = runs.Count(r => r.Code == 0);
            Assert.AreEqual(1, winners, $"trial {trial + 1}: exit codes {string.Join(",", runs.Select(r => r.Code))}\n{string.Join("\n", runs.Select(r => r.Error))}");
            Assert.IsTrue(runs.Where(r => r.Code != 0).All(r => r.Code == 3 && r.Out.Contains("claimed by another plan", StringComparison.Ordinal)), $"trial {trial + 1}: every loser is told the target is claimed\n{string.Join("\n---\n", runs.Where(r => r.Code != 0).Select(r => r.Out))}");
        }
    }

    private static int CountOf(string text, string fragment) =>
        text.Split('\n').Count(line => line.Contains(fragment, StringComparison.Ordinal));

    private async Task WaitUntilAsync(Func<bool> condition, string what, Process? process)
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

            await Task.Delay(20, TestContext.CancellationToken);
        }
    }

    /// <summary>A temp directory with the state directory, the source scenario, and the destination mounted through FUSE with its libvirt test-driver file.</summary>
    private sealed class Bed : IDisposable
    {
        private readonly string _directory = Directory.CreateTempSubdirectory("vfio-state-proc-").FullName;
        private readonly FuseMount _mount;
        private readonly WatchedTree _watched;

        public Bed(string destination, string source)
        {
            File.WriteAllText(Path.Combine(_directory, "dest.json"), destination);
            File.WriteAllText(SourceScenario, source);
            Destination = SimulatedHost.Load(Path.Combine(_directory, "dest.json"));
            Directory.CreateDirectory(MountPoint);
            RefreshLibvirtXml();
            _watched = new WatchedTree(Destination.FileTree);
            _mount = FuseMount.Mount(_watched, MountPoint);
        }

        public SimulatedHost Destination { get; }

        public string MountPoint => Path.Combine(_directory, "sys");

        public string DestinationUri => $"test://{Path.Combine(_directory, "dest.xml")}";

        private string SourceScenario => Path.Combine(_directory, "src.json");

        private string StateDirectory => Path.Combine(_directory, "state");

        /// <summary>How many creates have reached the simulated destination (in flight or finished).</summary>
        public int CreatesStarted => _watched.CreatesStarted;

        /// <summary>How many creates the simulated destination has finished (made or failed).</summary>
        public int CreatesEnded() => Destination.Snapshot().Operations.Count(o => o.IsWrite && o.Path.EndsWith("/create", StringComparison.Ordinal));

        /// <summary>libvirt's test driver reads a picture of the host: redraw it after the host changed.</summary>
        public void RefreshLibvirtXml() => Destination.WriteLibvirtXml(Path.Combine(_directory, "dest.xml"));

        public Process Start(params string[] args)
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

            start.ArgumentList.Add("--state-dir");
            start.ArgumentList.Add(StateDirectory);
            return Process.Start(start)!;
        }

        public async Task<(int Code, string Out, string Error)> RunAsync(params string[] args)
        {
            using var process = Start(args);
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var limit = new CancellationTokenSource(ProcessLimit);
            try
            {
                await process.WaitForExitAsync(limit.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"vfio-migrator {string.Join(' ', args)} did not finish within {ProcessLimit}.");
            }

            return (process.ExitCode, await stdout, await stderr);
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
    private sealed class WatchedTree(ISimulatedFileTree inner) : ISimulatedFileTree
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
}
