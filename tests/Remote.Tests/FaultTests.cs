using VfioMigration.Planner;
using VfioMigration.Planner.Sysfs;
using VfioMigration.Remote.Tests.Harness;
using VfioMigration.RemoteHosts;

namespace VfioMigration.Remote.Tests;

/// <summary>Each fault gives an error naming the host and what failed; nothing created before it is silently left behind.</summary>
[TestClass]
public sealed class FaultTests
{
    private SimulatedRemoteHost _host = null!;

    [TestInitialize]
    public void Start() => _host = SimulatedRemoteHost.Start("demo-dest-a");

    [TestCleanup]
    public void Stop() => _host.Dispose();

    [TestMethod]
    public async Task An_unknown_host_key_is_refused_unless_the_caller_opts_in()
    {
        using var ssh = SshServer.Start();
        File.WriteAllText(ssh.KnownHosts, string.Empty);
        using var strict = new SshHostFileSystem(ssh.Options(_host.SysfsRoot));

        var refused = await Assert.ThrowsAsync<RemoteHostException>(() => strict.ListAsync(SysfsPath.MdevBus).AsTask());

        StringAssert.Contains(refused.Message, $"root@127.0.0.1:{ssh.Port}");
        StringAssert.Contains(refused.Message, "is unknown");
        StringAssert.Contains(refused.Message, "opt in with HostKeyPolicy.AcceptUnknown.");
        using var named = new SshHostFileSystem(ssh.Options(_host.SysfsRoot) with { SettingNames = new SettingNames { AcceptUnknownHostKey = "--accept-new-host-key" } });
        var refusedByATool = await Assert.ThrowsAsync<RemoteHostException>(() => named.ListAsync(SysfsPath.MdevBus).AsTask());
        StringAssert.Contains(refusedByATool.Message, "opt in with --accept-new-host-key.");
        Assert.IsFalse(refusedByATool.Message.Contains("HostKeyPolicy", StringComparison.Ordinal), refusedByATool.Message);
        using var trusting = new SshHostFileSystem(ssh.Options(_host.SysfsRoot) with { HostKeyPolicy = HostKeyPolicy.AcceptUnknown });
        Assert.IsTrue((await trusting.ListAsync(SysfsPath.MdevBus)).Succeeded);
    }

    [TestMethod]
    public async Task A_changed_host_key_is_refused_even_when_unknown_keys_are_accepted()
    {
        using var ssh = SshServer.Start();
        var other = Path.Combine(ssh.Directory, "other_host_key");
        Daemon.Run("ssh-keygen", "-q", "-t", "ed25519", "-N", string.Empty, "-f", other);
        var otherKey = File.ReadAllText(other + ".pub").Split(' ');
        File.WriteAllText(ssh.KnownHosts, $"[127.0.0.1]:{ssh.Port} {otherKey[0]} {otherKey[1]}\n");
        using var fileSystem = new SshHostFileSystem(ssh.Options(_host.SysfsRoot) with { HostKeyPolicy = HostKeyPolicy.AcceptUnknown });

        var refused = await Assert.ThrowsAsync<RemoteHostException>(() => fileSystem.ListAsync(SysfsPath.MdevBus).AsTask());

        StringAssert.Contains(refused.Message, "host key CHANGED");
        StringAssert.Contains(refused.Message, $"root@127.0.0.1:{ssh.Port}");
    }

    [TestMethod]
    public async Task A_key_the_server_does_not_know_names_the_key_and_the_user()
    {
        using var ssh = SshServer.Start();
        var stranger = Path.Combine(ssh.Directory, "stranger_key");
        Daemon.Run("ssh-keygen", "-q", "-t", "ed25519", "-N", string.Empty, "-f", stranger);
        using var fileSystem = new SshHostFileSystem(ssh.Options(_host.SysfsRoot) with { KeyFile = stranger });

        var refused = await Assert.ThrowsAsync<RemoteHostException>(() => fileSystem.ListAsync(SysfsPath.MdevBus).AsTask());

        StringAssert.Contains(refused.Message, $"refused the key {stranger} for user root");
        StringAssert.Contains(refused.Message, $"root@127.0.0.1:{ssh.Port}");
    }

    [TestMethod]
    public async Task Sshd_stopped_mid_plan_reports_the_devices_left_behind_which_a_retry_removes_once_sshd_is_back()
    {
        using var ssh = SshServer.Start();
        using var source = SimulatedRemoteHost.Start("demo-source");
        using var remoteSource = source.Remote(ssh).Connect(readOnly: true);
        using var remoteDestination = _host.Remote(ssh).Connect();
        var destination = remoteDestination.Host with { FileSystem = new TriggeredFileSystem(remoteDestination.Host.FileSystem, afterFirstCreate: ssh.Stop) };

        // Probes that cannot reach the host are data to the planner: the plan comes back incomplete,
        // and the device created before sshd stopped, which it could not remove, is reported.
        await using var plan = await new MigrationPlanner().PlanAsync(new PlanRequest(remoteSource.Host, DomainSelector.Parse("render-1"), [destination]));
        var why = string.Join("\n", plan.Best.Reasons.Concat(plan.Best.Rejections.Select(r => r.Message)));
        Assert.IsFalse(plan.Succeeded, why);
        StringAssert.Contains(why, $"root@127.0.0.1:{ssh.Port}");

        // Creates on different parents run at once: every one that finished before sshd stopped is reported, and only those.
        var leftBehind = plan.Best.RemovalFailures;
        Assert.IsNotEmpty(leftBehind, why);
        foreach (var failure in leftBehind)
        {
            Assert.AreEqual(_host.Simulated.Name, failure.Host);
            StringAssert.Contains(failure.Message, $"root@127.0.0.1:{ssh.Port}");
            Assert.IsTrue((await _host.Simulated.CreateFileSystem().ReadLinkAsync(SysfsPath.MdevAttribute(failure.Uuid, "mdev_type"))).Succeeded, $"the reported device {failure.Uuid} is on the host");
        }

        Assert.AreEqual(leftBehind.Count, PlanOverSshTests.Leftovers(_host));

        ssh.Restart();
        Assert.IsEmpty(await plan.Best.RetryRemovalsAsync(), "with sshd back, the retry removes them (the file system reconnects)");
        Assert.IsEmpty(plan.Best.RemovalFailures);
        Assert.AreEqual(0, PlanOverSshTests.Leftovers(_host));
    }

    [TestMethod]
    public async Task Sshd_restarted_mid_plan_costs_one_reconnection_and_the_plan_completes()
    {
        using var ssh = SshServer.Start();
        using var source = SimulatedRemoteHost.Start("demo-source");
        using var remoteSource = source.Remote(ssh).Connect(readOnly: true);
        using var remoteDestination = _host.Remote(ssh).Connect();
        var destination = remoteDestination.Host with { FileSystem = new TriggeredFileSystem(remoteDestination.Host.FileSystem, afterFirstCreate: ssh.Restart) };

        await using (var plan = await new MigrationPlanner().PlanAsync(new PlanRequest(remoteSource.Host, DomainSelector.Parse("render-1"), [destination])))
        {
            Assert.IsTrue(plan.Succeeded, string.Join("\n", plan.Best.Reasons.Concat(plan.Best.Rejections.Select(r => r.Message))));
        }

        Assert.AreEqual(2, remoteDestination.RemoteFileSystem!.Connections);
        Assert.AreEqual(0, PlanOverSshTests.Leftovers(_host));
    }

    [TestMethod]
    public async Task Libvirtd_stopped_mid_plan_names_the_destination_and_leaves_nothing()
    {
        using var ssh = SshServer.Start();
        using var source = SimulatedRemoteHost.Start("demo-source");
        using var remoteSource = source.Remote(ssh).Connect(readOnly: true);
        using var remoteDestination = _host.Remote(ssh).Connect();
        var sourceHost = remoteSource.Host with { FileSystem = new TriggeredFileSystem(remoteSource.Host.FileSystem, beforeFirstBatchRead: _host.Libvirt.Stop) };
        try
        {
            // An unreachable destination is a failed plan for that destination, with the reason.
            await using var plan = await new MigrationPlanner().PlanAsync(new PlanRequest(sourceHost, DomainSelector.Parse("render-1"), [remoteDestination.Host]));

            Assert.IsFalse(plan.Succeeded);
            var why = string.Join('\n', plan.Best.Reasons);
            StringAssert.Contains(why, _host.Simulated.Name);
            StringAssert.Contains(why, _host.Libvirt.Uri(_host.HostXml));
            Assert.IsEmpty(plan.Best.RemovalFailures);
            Assert.AreEqual(0, PlanOverSshTests.Leftovers(_host));
        }
        finally
        {
            _host.Libvirt.Restart();
        }
    }

    [TestMethod]
    public async Task A_slow_link_gives_the_same_plan_and_a_stalled_one_a_timeout_naming_the_host()
    {
        using var ssh = SshServer.Start();
        using var source = SimulatedRemoteHost.Start("demo-source");
        using var proxy = new LatencyProxy(ssh.Port) { Delay = TimeSpan.FromMilliseconds(20) };
        ssh.TrustPort(proxy.Port);
        var planner = new MigrationPlanner();
        string localMapping;
        await using (var local = await planner.PlanAsync(new PlanRequest(source.Local(), DomainSelector.Parse("render-1"), [_host.Local()])))
        {
            localMapping = PlanOverSshTests.Mapping(local.Best);
        }

        using var remoteSource = source.Remote(ssh, proxy.Port).Connect(readOnly: true);
        using var remoteDestination = (_host.Remote(ssh, proxy.Port) with { Ssh = ssh.Options(_host.SysfsRoot, proxy.Port) with { CommandTimeout = TimeSpan.FromSeconds(2) } }).Connect();
        await using (var slow = await planner.PlanAsync(new PlanRequest(remoteSource.Host, DomainSelector.Parse("render-1"), [remoteDestination.Host])))
        {
            Assert.AreEqual(localMapping, PlanOverSshTests.Mapping(slow.Best));
        }

        proxy.Delay = TimeSpan.FromSeconds(5);
        var stalled = await Assert.ThrowsAsync<RemoteHostException>(() => remoteDestination.Host.FileSystem.ListAsync(SysfsPath.MdevBus).AsTask());
        StringAssert.Contains(stalled.Message, $"root@127.0.0.1:{proxy.Port}");
        StringAssert.Contains(stalled.Message, "stopped answering");
    }
}
