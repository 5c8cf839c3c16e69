using System.Diagnostics;
using System.Globalization;
using System.Xml.Linq;
using Microsoft.Data.Sqlite;
using VfioMigration.ConsoleMigrator.Cli;
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

    /// <summary>
    /// SIGKILL of a real planner at a step of its creates (two creates on one parent, 1.5 s each), then
    /// <c>recover</c>. Both intents are journaled in one write before the first create is issued, so
    /// recovery looks at both devices whatever the step (a device whose create never ran is gone already).
    /// </summary>
    /// <param name="step">before: as soon as the intents are journaled (the create may not be issued yet); during: the first create in flight; after: the first create journaled, the second in flight.</param>
    [TestMethod]
    [DataRow("before")]
    [DataRow("during")]
    [DataRow("after")]
    public async Task SigkillMidPlan_ThenRecover_LeavesTheHostAsItWas(string step)
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
        Assert.AreEqual(bed.CreatesStarted, bed.Destination.Snapshot().State.Mdevs.Count, "what the killed plan left");

        var plans = await bed.RunAsync("plans");
        Assert.AreEqual(0, plans.Code, plans.Error);
        StringAssert.Contains(plans.Out, "which is gone");

        await RecoverToTheSnapshotAsync(bed, before);
    }

    /// <summary>
    /// SIGKILL while a kept plan's commit waits for the store (another writer holds it, as a busy
    /// process would), then <c>recover</c>: the commit is one transaction, so it did not happen, and
    /// recovery removes both devices. The probe of the second created device is held until the test
    /// holds the lock: it is the plan's last write to the host before the commit.
    /// </summary>
    [TestMethod]
    public async Task SigkillDuringTheCommit_ThenRecover_LeavesTheHostAsItWas()
    {
        using var bed = new Bed(SlowDestination(createMs: 0), Source(devices: 2));
        var before = bed.Destination.Snapshot().State;
        var probes = 0;
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        bed.HoldWrites(path => IsDeviceProbe(path) && Interlocked.Increment(ref probes) == 2, arrived, release.Task);

        using (var planner = bed.Start("plan", "--domain", "vm1", "--keep"))
        {
            await WaitUntilAsync(() => arrived.Task.IsCompleted, "the probe of the second created device", planner);
            Assert.AreEqual(2, bed.JournalCount("created"));
            using (var connection = bed.OpenStore())
            using (connection.BeginTransaction(deferred: false))
            {
                release.SetResult();
                // The commit waits for the lock up to the store's 5 s busy timeout: kill it while it waits.
                await Task.Delay(TimeSpan.FromSeconds(1.5), TestContext.CancellationToken);
                Assert.IsFalse(planner.HasExited, "the planner waits for the store");
                planner.Kill();
                await planner.WaitForExitAsync(TestContext.CancellationToken);
            }
        }

        Assert.HasCount(2, bed.Destination.Snapshot().State.Mdevs, "what the killed plan left");
        Assert.AreEqual(0, bed.JournalCount("committed"), "the commit did not happen");
        await RecoverToTheSnapshotAsync(bed, before);
    }

    /// <summary>
    /// SIGKILL of <c>migrate</c> at the migration call (paused there, see MigrationPause), then
    /// <c>recover</c>. Either the migration did not finish (a client-driven one ends with its client):
    /// the host ends as it was; or it finished without the planner (peer-to-peer, the source's libvirtd
    /// carries on), and the guest defined on the destination uses the devices: recovery keeps exactly
    /// those and forgets the plan.
    /// </summary>
    /// <param name="finished">Whether the migration finished after the planner died.</param>
    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public async Task SigkillDuringTheMigration_ThenRecover_LeavesTheHostAsItWas_OrTheMigratedGuestsDevices(bool finished)
    {
        using var bed = new Bed(SlowDestination(createMs: 0), Source(devices: 2));
        var before = bed.Destination.Snapshot().State;
        using (var migrator = bed.Start((MigrationPause.Variable, bed.PauseFile), "migrate", "--domain", "vm1"))
        {
            await WaitUntilAsync(() => File.Exists(bed.PauseFile), "the migration call", migrator);
            migrator.Kill();
            await migrator.WaitForExitAsync(TestContext.CancellationToken);
        }

        var created = bed.Destination.Snapshot().State.Mdevs.Select(m => m.Uuid.Value).ToList();
        Assert.HasCount(2, created, "what the killed plan left");
        if (finished)
        {
            bed.DefineMigratedGuest(created);
        }

        var recovered = await bed.RunAsync("recover", "--host", bed.DestinationUri, "--host-sysfs", bed.MountPoint);

        Assert.AreEqual(0, recovered.Code, recovered.Error);
        Assert.AreEqual(finished ? 0 : 2, CountOf(recovered.Out, ": removed"), recovered.Out);
        Assert.AreEqual(finished ? 2 : 0, CountOf(recovered.Out, ": kept: guest vm1 uses it"), recovered.Out);
        if (finished)
        {
            CollectionAssert.AreEquivalent(created, bed.Destination.Snapshot().State.Mdevs.Select(m => m.Uuid.Value).ToList());
            Assert.AreEqual(before.Parents.Count, bed.Destination.Snapshot().State.Parents.Count);
        }
        else
        {
            Assert.AreEqual(before, bed.Destination.Snapshot().State);
        }

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
    /// (default 5; at most 100, which the one-hour limit of this test allows on the 2-core VM even
    /// when it is shared). The trials share one mount of the destination (a winner only claims the
    /// idle mdev, so the host does not change) and each starts from an empty state directory.
    /// </summary>
    [TestMethod]
    [Timeout(3_600_000, CooperativeCancellation = true)]
    public async Task EightProcesses_OneIdleTarget_ExactlyOneWins()
    {
        var trials = int.TryParse(Environment.GetEnvironmentVariable("VFIO_RACE_TRIALS"), CultureInfo.InvariantCulture, out var n) ? Math.Clamp(n, 1, 100) : 5;
        using var bed = new Bed(OneIdleDestination(), Source(devices: 1));
        var before = bed.Destination.Snapshot().State;
        var failures = new List<string>();
        for (var trial = 1; trial <= trials; trial++)
        {
            TestContext.CancellationToken.ThrowIfCancellationRequested();
            bed.ForgetState();
            var runs = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => bed.RunAsync("plan", "--domain", "vm1", "--keep")));

            var winners = runs.Count(r => r.Code == 0);
            var losersTold = runs.Where(r => r.Code != 0).All(r => r.Code == 3 && r.Out.Contains("claimed by another plan", StringComparison.Ordinal));
            if (winners != 1 || !losersTold)
            {
                failures.Add($"trial {trial}: exit codes {string.Join(",", runs.Select(r => r.Code))}\n{string.Join("\n---\n", runs.Where(r => r.Code != 0).Select(r => r.Out + r.Error))}");
            }

            TestContext.WriteLine($"trial {trial} of {trials}: {winners} winner(s), {trial - failures.Count} of {trial} trials with exactly one winner so far");
        }

        Assert.AreEqual(before, bed.Destination.Snapshot().State, "a race creates nothing");
        Assert.IsEmpty(failures, $"{trials - failures.Count} of {trials} trials had exactly one winner, every loser told the target is claimed:\n{string.Join("\n", failures)}");
    }

    /// <summary>Runs <c>recover</c> on the destination: both devices of the killed plan are removed, the host is as it was before the plan, and the store holds nothing.</summary>
    private static async Task RecoverToTheSnapshotAsync(Bed bed, HostState before)
    {
        var recovered = await bed.RunAsync("recover", "--host", bed.DestinationUri, "--host-sysfs", bed.MountPoint);

        Assert.AreEqual(0, recovered.Code, recovered.Error);
        Assert.AreEqual(2, CountOf(recovered.Out, ": removed"), recovered.Out);
        Assert.AreEqual(before, bed.Destination.Snapshot().State);
        Assert.AreEqual("no plans in the state store", (await bed.RunAsync("plans")).Out.Trim());
    }

    /// <summary>A version probe of a created device (its <c>migration_version</c>, the link under <c>bus/mdev/devices</c> resolved), not of a type.</summary>
    private static bool IsDeviceProbe(string path) =>
        path.EndsWith("/migration_version", StringComparison.Ordinal) && !path.Contains("/mdev_supported_types/", StringComparison.Ordinal);

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

        /// <summary>Deletes the state directory (every planner process has exited): the next run starts with an empty store.</summary>
        public void ForgetState()
        {
            SqliteConnection.ClearAllPools();
            if (Directory.Exists(StateDirectory))
            {
                Directory.Delete(StateDirectory, recursive: true);
            }
        }

        /// <summary>Holds every write for which <paramref name="hold"/> is true until the test releases it.</summary>
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

        /// <summary>A connection of the test's own to the store, e.g. to hold its write lock as a busy writer in another process would.</summary>
        public SqliteConnection OpenStore()
        {
            var connection = new SqliteConnection($"Data Source={Path.Combine(StateDirectory, "state.db")};Pooling=False");
            connection.Open();
            return connection;
        }

        /// <summary>The file through which a paused <c>migrate</c> says it reached the migration call.</summary>
        public string PauseFile => Path.Combine(_directory, "migration-pause");

        /// <summary>libvirt's test driver reads a picture of the host: redraw it after the host changed.</summary>
        public void RefreshLibvirtXml() => Destination.WriteLibvirtXml(Path.Combine(_directory, "dest.xml"));

        public Process Start(params string[] args) => Start(null, args);

        /// <summary>Starts <c>vfio-migrator</c> with <paramref name="args"/> (a planning command gets this bed's hosts) and, when given, one more environment variable.</summary>
        public Process Start((string Name, string Value)? environment, params string[] args)
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
}
