using System.Globalization;
using System.Text.Json.Nodes;
using VfioMigration.ConsoleMigrator.Tests;
using VfioMigration.Remote.Tests.Harness;

namespace VfioMigration.Remote.Tests;

/// <summary>
/// The built <c>vfio-migrator</c> as a real process planning onto a destination it reaches only over
/// the network: libvirt through <c>test+tcp://127.0.0.1</c> (a libvirtd of the test's), sysfs over SSH
/// (the test's sshd) under <c>--remote-sysfs-root</c>, which is the simulator's FUSE mount. SIGKILL at
/// each fault point of docs/state.md (before the create, during it, after it, after journaling, during
/// the commit, at the migration call), then recovery over SSH, by <c>recover</c> (followed by a plan
/// that must not adopt an orphan as <c>reuse</c>) or by the next plan itself. The fault points are the
/// state process tests' (tests/ConsoleMigrator.Tests/StateBed.cs), with the bed's destination reached
/// over the network (<see cref="OverSsh"/>).
/// </summary>
[TestClass]
[DoNotParallelize]
public sealed class ConsoleOverSshTests
{
    private const int CreateMs = 1500;

    public TestContext TestContext { get; set; } = null!;

    /// <summary>A guest vm1 with three mdevs on one parent.</summary>
    private static string ThreeDeviceSource() => """
        {"version": 1, "name": "src", "parents": [@PARENT],
         "mdevs": [@MDEVS],
         "guests": [{"name": "vm1", "uuid": "00000000-0000-4000-8000-0000000000c1", "running": true, "memoryMiB": 1024, "hostdevs": [@HOSTDEVS]}]}
        """
        .Replace("@PARENT", StateScenarios.Parent(8), StringComparison.Ordinal)
        .Replace("@MDEVS", string.Join(", ", Enumerable.Range(1, 3).Select(i => $$"""{"uuid": "{{SourceMdev(i)}}", "parent": "0000:41:00.0", "type": "nvidia-63"}""")), StringComparison.Ordinal)
        .Replace("@HOSTDEVS", string.Join(", ", Enumerable.Range(1, 3).Select(i => $$"""{"mdev": "{{SourceMdev(i)}}"}""")), StringComparison.Ordinal);

    /// <summary>
    /// Room for 8 mdevs whose creates take <see cref="CreateMs"/>: after libvirt's picture lists the 3
    /// orphans (libvirt's test driver reads a picture of the host, which recovery does not redraw) it
    /// still shows room for 3 more.
    /// </summary>
    private static string SlowDestination() => """
        {"version": 1, "name": "dest", "parents": [@PARENT], "latency": {"createMs": @MS}}
        """
        .Replace("@PARENT", StateScenarios.Parent(8), StringComparison.Ordinal)
        .Replace("@MS", CreateMs.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);

    /// <summary>SIGKILL at a step of the creates over SSH, then <c>recover</c> over SSH and a following plan (<see cref="StateBed.SigkillMidPlanThenRecoverAsync"/>).</summary>
    /// <param name="step">Where the planner is killed (see <see cref="StateBed.SigkillMidPlanThenRecoverAsync"/>).</param>
    [TestMethod]
    [Timeout(StateScenarios.FlowLimitMs, CooperativeCancellation = true)]
    [DataRow("before")]
    [DataRow("during")]
    [DataRow("after")]
    [DataRow("journaled")]
    public async Task A_console_sigkilled_mid_plan_over_ssh_leaves_nothing_after_recover_and_no_orphan_is_reused(string step)
    {
        using var remote = RemoteBed.Start(StateScenarios.SlowDestination(createMs: 1500));
        await remote.Bed.SigkillMidPlanThenRecoverAsync(step, TestContext.CancellationToken);
    }

    /// <summary>SIGKILL of a kept plan over SSH while its commit waits for the local store, then <c>recover</c> over SSH and a following plan (<see cref="StateBed.SigkillDuringTheCommitThenRecoverAsync"/>).</summary>
    [TestMethod]
    [Timeout(StateScenarios.FlowLimitMs, CooperativeCancellation = true)]
    public async Task A_console_sigkilled_during_the_commit_over_ssh_leaves_nothing_after_recover_and_no_orphan_is_reused()
    {
        using var remote = RemoteBed.Start(StateScenarios.SlowDestination(createMs: 0));
        await remote.Bed.SigkillDuringTheCommitThenRecoverAsync(TestContext.CancellationToken);
    }

    /// <summary>SIGKILL of <c>migrate</c> at the migration call onto a destination over SSH, then <c>recover</c> over SSH (<see cref="StateBed.SigkillAtTheMigrationCallThenRecoverAsync"/>).</summary>
    /// <param name="finished">Whether the migration finished after the planner died.</param>
    [TestMethod]
    [Timeout(StateScenarios.FlowLimitMs, CooperativeCancellation = true)]
    [DataRow(false)]
    [DataRow(true)]
    public async Task A_migrate_sigkilled_at_the_migration_call_over_ssh_leaves_the_host_as_it_was_or_the_migrated_guests_devices(bool finished)
    {
        using var remote = RemoteBed.Start(StateScenarios.SlowDestination(createMs: 0));
        await remote.Bed.SigkillAtTheMigrationCallThenRecoverAsync(finished, () => Task.CompletedTask, TestContext.CancellationToken);
    }

    /// <summary>
    /// SIGKILL after the second of three creates over SSH; then, with libvirt's picture redrawn to list
    /// the orphans (what would make them look reusable), the next plan recovers them before it reads
    /// the destination and places every device as <c>create</c>, none of the orphans.
    /// </summary>
    [TestMethod]
    [Timeout(StateScenarios.FlowLimitMs, CooperativeCancellation = true)]
    public async Task A_sigkilled_console_over_ssh_is_recovered_by_the_next_plan_and_no_orphan_is_reused()
    {
        StateScenarios.RequireFuse();
        var work = Directory.CreateTempSubdirectory("remote-console-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(work, "src.json"), ThreeDeviceSource());
            File.WriteAllText(Path.Combine(work, "dest.json"), SlowDestination());
            WatchedTree? watched = null;
            using var ssh = SshServer.Start();
            using var destination = SimulatedRemoteHost.Start(Path.Combine(work, "dest.json"), tcp: true, watch: tree => watched = new WatchedTree(tree));
            var before = destination.Simulated.Snapshot().State;
            var uri = destination.Libvirt.TcpUri(destination.HostXml);
            string[] remote = ["--ssh-key", ssh.UserKey, "--known-hosts", ssh.KnownHosts, "--remote-sysfs-root", destination.SysfsRoot, "--state-dir", Path.Combine(work, "state")];
            string[] plan = ["plan", "--domain", "vm1", "--source-scenario", Path.Combine(work, "src.json"), "--dest", uri, "--dest-ssh", $"root@127.0.0.1:{ssh.Port.ToString(CultureInfo.InvariantCulture)}", .. remote];

            using (var planner = ConsoleProcess.Start([.. plan, "--keep"]))
            {
                await StateScenarios.WaitUntilAsync(() => watched!.CreatesStarted == 3, "the third create to be issued (the second done)", planner, TestContext.CancellationToken);
                planner.Kill();
                await planner.WaitForExitAsync(TestContext.CancellationToken);
            }

            // The third create ends in the simulator whatever became of the process and the SSH session that asked for it.
            await StateScenarios.WaitUntilAsync(() => CreatesEnded(destination) == 3, "the create in flight to end", null, TestContext.CancellationToken);
            var orphans = destination.Simulated.Snapshot().State.Mdevs.Select(m => m.Uuid.Value).ToList();
            Assert.HasCount(3, orphans, "what the killed plan left");

            // libvirt now lists the orphans as the host's devices: only recovery stands between them and `reuse`.
            destination.Simulated.WriteLibvirtXml(destination.HostXml);
            var next = await ConsoleProcess.RunAsync([.. plan, "--json"]);
            Assert.AreEqual(0, next.Code, next.Error + next.Out);
            var devices = JsonNode.Parse(next.Out)!["devices"]!.AsArray();
            Assert.HasCount(3, devices);
            Assert.IsTrue(devices.All(d => (string?)d!["action"] == "create"), next.Out);
            Assert.IsFalse(devices.Any(d => orphans.Contains((string?)d!["target"]!["uuid"] ?? string.Empty)), "an orphan was handed out again");

            Assert.AreEqual(before, destination.Simulated.Snapshot().State);
            Assert.AreEqual("no plans in the state store", (await ConsoleProcess.RunAsync(["plans", .. remote[^2..]])).Out.Trim());
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>
    /// How the console reaches <paramref name="bed"/>'s destination over the network: libvirt through
    /// <paramref name="libvirt"/> on loopback TCP (serving the bed's test-driver file), sysfs through
    /// <paramref name="ssh"/> under the bed's mount. A plan gets a 60 s probe timeout (default 10 s): a
    /// probe over SSH is a session on the far side, which a loaded 2-core VM may take longer to run.
    /// </summary>
    private static DestinationReach OverSsh(StateBed bed, SshServer ssh, LibvirtDaemon libvirt)
    {
        var at = $"root@127.0.0.1:{ssh.Port.ToString(CultureInfo.InvariantCulture)}";
        string[] access = ["--ssh-key", ssh.UserKey, "--known-hosts", ssh.KnownHosts, "--remote-sysfs-root", bed.MountPoint];
        return new DestinationReach(libvirt.TcpUri(bed.LibvirtXml), ["--dest-ssh", at, "--probe-timeout", "60", .. access], ["--host-ssh", at, .. access]);
    }

    private static string SourceMdev(int i) => $"00000000-0000-4000-8000-0000000000a{i.ToString(CultureInfo.InvariantCulture)}";

    private static int CreatesEnded(SimulatedRemoteHost host) =>
        host.Simulated.Snapshot().Operations.Count(o => o.IsWrite && o.Path.EndsWith("/create", StringComparison.Ordinal));

    /// <summary>A state bed (FUSE-mounted simulated destination, shared state directory) reached over SSH and libvirtd, with the sshd and libvirtd it needs.</summary>
    private sealed class RemoteBed : IDisposable
    {
        private readonly SshServer _ssh;
        private readonly LibvirtDaemon _libvirt;

        private RemoteBed(SshServer ssh, LibvirtDaemon libvirt, StateBed bed)
        {
            _ssh = ssh;
            _libvirt = libvirt;
            Bed = bed;
        }

        public StateBed Bed { get; }

        /// <summary>Inconclusive without FUSE; starts an sshd, a libvirtd on TCP and a bed for <paramref name="destination"/> with a two-mdev source, reached through them.</summary>
        public static RemoteBed Start(string destination)
        {
            StateScenarios.RequireFuse();
            var ssh = SshServer.Start();
            LibvirtDaemon? libvirt = null;
            try
            {
                libvirt = LibvirtDaemon.Start(tcp: true);
                var bed = new StateBed(destination, StateScenarios.Source(devices: 2));
                bed.Reach = OverSsh(bed, ssh, libvirt);
                return new RemoteBed(ssh, libvirt, bed);
            }
            catch
            {
                libvirt?.Dispose();
                ssh.Dispose();
                throw;
            }
        }

        public void Dispose()
        {
            Bed.Dispose();
            _libvirt.Dispose();
            _ssh.Dispose();
        }
    }
}
