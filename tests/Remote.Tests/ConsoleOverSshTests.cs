using System.Globalization;
using System.Text.Json.Nodes;
using VfioMigration.ConsoleMigrator.Tests;
using VfioMigration.Remote.Tests.Harness;

namespace VfioMigration.Remote.Tests;

/// <summary>
/// The built <c>vfio-migrator</c> as a real process planning onto a destination it reaches only over
/// the network: libvirt through <c>test+tcp://127.0.0.1</c> (a libvirtd of the test's), sysfs over SSH
/// (the test's sshd) under <c>--remote-sysfs-root</c>, which is the simulator's FUSE mount. SIGKILL
/// after the second of three creates, then recovery over SSH, by <c>recover</c> or by the next plan
/// (which must not adopt an orphan as <c>reuse</c>). See docs/state.md.
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

    /// <param name="byTheNextPlan">false: <c>recover</c> removes the orphans; true: the next plan does before it reads the destination, with libvirt listing the orphans (what would make them look reusable).</param>
    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public async Task A_sigkilled_console_over_ssh_leaves_nothing_after_recovery_and_no_orphan_is_reused(bool byTheNextPlan)
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

            if (byTheNextPlan)
            {
                // libvirt now lists the orphans as the host's devices: only recovery stands between them and `reuse`.
                destination.Simulated.WriteLibvirtXml(destination.HostXml);
                var next = await ConsoleProcess.RunAsync([.. plan, "--json"]);
                Assert.AreEqual(0, next.Code, next.Error + next.Out);
                var devices = JsonNode.Parse(next.Out)!["devices"]!.AsArray();
                Assert.HasCount(3, devices);
                Assert.IsTrue(devices.All(d => (string?)d!["action"] == "create"), next.Out);
                Assert.IsFalse(devices.Any(d => orphans.Contains((string?)d!["target"]!["uuid"] ?? string.Empty)), "an orphan was handed out again");
            }
            else
            {
                var recovered = await ConsoleProcess.RunAsync(["recover", "--host", uri, "--host-ssh", $"root@127.0.0.1:{ssh.Port.ToString(CultureInfo.InvariantCulture)}", .. remote]);
                Assert.AreEqual(0, recovered.Code, recovered.Error);
                Assert.AreEqual(3, StateScenarios.CountOf(recovered.Out, ": removed"), recovered.Out);
            }

            Assert.AreEqual(before, destination.Simulated.Snapshot().State);
            Assert.AreEqual("no plans in the state store", (await ConsoleProcess.RunAsync(["plans", .. remote[^2..]])).Out.Trim());
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static string SourceMdev(int i) => $"00000000-0000-4000-8000-0000000000a{i.ToString(CultureInfo.InvariantCulture)}";

    private static int CreatesEnded(SimulatedRemoteHost host) =>
        host.Simulated.Snapshot().Operations.Count(o => o.IsWrite && o.Path.EndsWith("/create", StringComparison.Ordinal));
}
