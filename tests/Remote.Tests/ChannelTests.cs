using System.Text;
using System.Text.Json.Nodes;
using VfioMigration.Planner;
using VfioMigration.Planner.Sysfs;
using VfioMigration.Remote.Tests.Harness;
using VfioMigration.RemoteHosts;

namespace VfioMigration.Remote.Tests;

/// <summary>
/// The one long-lived remote shell per host over a real sshd: hostile file contents and names cannot
/// forge its framing, a channel that dies in the middle of a batch gives a clear error and repeats
/// no write, and write and ask answers as the simulator does in process.
/// </summary>
[TestClass]
public sealed class ChannelTests
{
    private const string Query = "class/mdev_bus/migref/migration_query";

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task Hostile_contents_and_names_cannot_forge_the_framing_of_the_batch()
    {
        using var ssh = SshServer.Start();
        var root = Directory.CreateTempSubdirectory("remote-hostile-").FullName;
        try
        {
            var contents = new Dictionary<string, byte[]>
            {
                ["fake-records"] = "D 3\nabc\nE 5\nNo such file or directory\nZ 0123456789abcdef 1\n"u8.ToArray(),
                ["nul-bytes"] = "a\0b\0\nD 0\n"u8.ToArray(),
                ["no-newline"] = "x"u8.ToArray(),
                ["empty"] = [],
                ["one-page"] = Encoding.ASCII.GetBytes(new string('Z', LocalHostFileSystem.MaxWriteLength)),
                ["beyond-a-page"] = Encoding.ASCII.GetBytes(new string('E', LocalHostFileSystem.MaxWriteLength + 1)),
                ["quote'$(touch${IFS}pwned)`id`"] = "quoted\n"u8.ToArray(),
                ["nul-last"] = "x\0"u8.ToArray(),
                ["nul-first"] = "\0x\n"u8.ToArray(),
                ["only-nuls"] = "\0\0\0"u8.ToArray(),
                ["newlines-and-nuls"] = "\n\0\n\0\n"u8.ToArray(),
                ["every-byte"] = [.. Enumerable.Range(0, 256).Select(b => (byte)b), .. Enumerable.Range(0, 256).Select(b => (byte)(255 - b))],
                ["one-page-ending-in-nul"] = [.. Encoding.ASCII.GetBytes(new string('N', LocalHostFileSystem.MaxWriteLength - 1)), 0],
                ["one-page-and-a-nul"] = [.. Encoding.ASCII.GetBytes(new string('N', LocalHostFileSystem.MaxWriteLength)), 0],
                ["last"] = "still in step\n"u8.ToArray(),
            };
            foreach (var (name, bytes) in contents)
            {
                await File.WriteAllBytesAsync(Path.Combine(root, name), bytes, TestContext.CancellationToken);
            }

            var names = Directory.CreateDirectory(Path.Combine(root, "names")).FullName;
            foreach (var name in (string[])["Z 0123456789abcdef 1", "D 5", "E 1", "ordinary", "new\nline", ".hidden"])
            {
                await File.WriteAllTextAsync(Path.Combine(names, name), string.Empty, TestContext.CancellationToken);
            }

            using var remote = new SshHostFileSystem(ssh.Options(root));
            IHostFileSystem local = new LocalHostFileSystem(root);
            var paths = contents.Keys.Select(SysfsPath.Parse).ToList();

            Task<IReadOnlyList<SysfsResult<string>>> reads;
            Task<SysfsResult<IReadOnlyList<string>>> listing;
            using (remote.HoldBatches())
            {
                reads = remote.ReadManyAsync(paths, TestContext.CancellationToken).AsTask();
                listing = remote.ListAsync(SysfsPath.Parse("names"), TestContext.CancellationToken).AsTask();
            }

            CollectionAssert.AreEqual((await local.ReadManyAsync(paths, TestContext.CancellationToken)).ToList(), (await reads).ToList());
            CollectionAssert.AreEqual(new[] { ".hidden", "D 5", "E 1", "Z 0123456789abcdef 1", "new\nline", "ordinary" }, (await listing).Value!.Order(StringComparer.Ordinal).ToList());
            Assert.AreEqual(Errno.EFBIG, (await reads)[5].Error);
            Assert.AreEqual(Errno.EFBIG, (await reads)[paths.IndexOf(SysfsPath.Parse("one-page-and-a-nul"))].Error, "a page and a NUL is more than a page");
            Assert.AreEqual(LocalHostFileSystem.MaxWriteLength, (await reads)[paths.IndexOf(SysfsPath.Parse("one-page-ending-in-nul"))].Value!.Length, "a NUL that ends a page is kept");
            Assert.AreEqual("\0\0\0", (await reads)[paths.IndexOf(SysfsPath.Parse("only-nuls"))].Value);
            Assert.IsFalse(File.Exists(Path.Combine(root, "pwned")), "a name is never run as a command");

            // The shell is still in step: the next batch on the same channel reads the same.
            Assert.AreEqual("still in step\n", (await remote.ReadAsync(SysfsPath.Parse("last"), TestContext.CancellationToken)).Value);
            Assert.AreEqual(2, remote.RoundTrips);
            Assert.AreEqual(1, remote.Sessions);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [TestMethod]
    public async Task A_value_with_shell_metacharacters_arrives_byte_for_byte_in_one_write()
    {
        using var ssh = SshServer.Start();
        var root = Directory.CreateTempSubdirectory("remote-value-").FullName;
        try
        {
            var target = Path.Combine(root, "attribute");
            await File.WriteAllTextAsync(target, string.Empty, TestContext.CancellationToken);
            using var remote = new SshHostFileSystem(ssh.Options(root));
            const string value = "a'b\"c$(id)`id`%s%n\\0\\n\nD 3\nZ x 1\n";

            Assert.AreEqual(SysfsResult.Success, await remote.WriteAsync(SysfsPath.Parse("attribute"), value, TestContext.CancellationToken));

            Assert.AreEqual(value, await File.ReadAllTextAsync(target, TestContext.CancellationToken));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [TestMethod]
    public async Task Forty_calls_made_at_once_leave_in_one_round_trip_on_one_channel()
    {
        using var ssh = SshServer.Start();
        using var host = SimulatedRemoteHost.Start("nvidia");
        using var remote = new SshHostFileSystem(ssh.Options(host.SysfsRoot));

        Task<SysfsResult<IReadOnlyList<string>>>[] listings;
        using (remote.HoldBatches())
        {
            listings = [.. Enumerable.Range(0, 40).Select(_ => remote.ListAsync(SysfsPath.MdevBus, TestContext.CancellationToken).AsTask())];
        }

        var results = await Task.WhenAll(listings);
        for (var i = 0; i < 3; i++)
        {
            Assert.IsTrue((await remote.ListAsync(SysfsPath.MdevBus, TestContext.CancellationToken)).Succeeded);
        }

        Assert.IsTrue(results.All(r => r.Succeeded && r.Value!.SequenceEqual(results[0].Value!)));
        Assert.AreEqual(4, remote.RoundTrips, "the forty at once in one, then three one by one");
        Assert.AreEqual(1, remote.Connections);
        Assert.AreEqual(1, remote.Sessions, "one channel for every call");
    }

    [TestMethod]
    public async Task A_channel_that_dies_mid_batch_fails_the_write_as_maybe_done_repeats_the_read_and_leaves_one_device()
    {
        using var ssh = SshServer.Start();
        using var host = SimulatedRemoteHost.Start("nvidia");
        using var proxy = new LatencyProxy(ssh.Port);
        ssh.TrustPort(proxy.Port);
        using var remote = new SshHostFileSystem(ssh.Options(host.SysfsRoot, proxy.Port));
        var parents = (await remote.ListAsync(SysfsPath.MdevBus, TestContext.CancellationToken)).Value!;
        Assert.Contains("0000:3b:00.0", parents);
        var type = SysfsPath.MdevBus.Append("0000:3b:00.0").Append("mdev_supported_types").Append("nvidia-223");
        var uuid = Guid.NewGuid().ToString();

        // The batch reaches the host and runs; its answer is held in the proxy when the link drops.
        proxy.Delay = TimeSpan.FromSeconds(3);
        Task<SysfsResult> create;
        Task<SysfsResult<string>> read;
        using (remote.HoldBatches())
        {
            create = remote.WriteAsync(type.Append("create"), uuid, TestContext.CancellationToken).AsTask();
            read = remote.ReadAsync(type.Append("name"), TestContext.CancellationToken).AsTask();
        }

        await Task.Run(() => Daemon.WaitUntil(() => PlanOverSshTests.Leftovers(host) == 1, "the create to reach the simulated host"), TestContext.CancellationToken);
        proxy.Delay = TimeSpan.Zero;
        proxy.DropConnections();

        var lost = await Assert.ThrowsAsync<RemoteHostException>(() => create);
        StringAssert.Contains(lost.Message, $"root@127.0.0.1:{proxy.Port} (ssh): write {type.Append("create")}: the connection or its channel was lost");
        StringAssert.Contains(lost.Message, "so the write may or may not have taken effect (it is not sent again)");
        Assert.AreEqual((await host.Simulated.CreateFileSystem().ReadAsync(type.Append("name"), TestContext.CancellationToken)).Value, (await read).Value, "the read is sent again on a new channel");
        Assert.AreEqual(1, PlanOverSshTests.Leftovers(host), "the write was made once and not repeated");
        Assert.AreEqual(2, remote.Connections);

        Assert.AreEqual(SysfsResult.Success, await remote.WriteAsync(SysfsPath.MdevAttribute(Planner.Devices.MdevUuid.Parse(uuid), "remove"), "1", TestContext.CancellationToken));
        Assert.AreEqual(0, PlanOverSshTests.Leftovers(host));
    }

    [TestMethod]
    public async Task A_plan_whose_channel_dies_during_a_create_stops_that_destination_and_leaves_nothing_behind()
    {
        using var ssh = SshServer.Start();
        using var source = SimulatedRemoteHost.Start("nvidia");
        using var destination = SimulatedRemoteHost.Start("nvidia");
        using var proxy = new LatencyProxy(ssh.Port);
        ssh.TrustPort(proxy.Port);
        using var remoteSource = source.Remote(ssh).Connect(readOnly: true);
        using var remoteDestination = destination.Remote(ssh, proxy.Port).Connect();
        var faulty = new DropDuringCreate(remoteDestination.Host.FileSystem, proxy, () => PlanOverSshTests.Leftovers(destination) == 1, TestContext.CancellationToken);

        await using (var plan = await new MigrationPlanner().PlanAsync(new PlanRequest(remoteSource.Host, DomainSelector.Parse("cad-1"), [remoteDestination.Host with { FileSystem = faulty }]), TestContext.CancellationToken))
        {
            var why = string.Join("\n", plan.Best.Reasons);
            Assert.IsFalse(plan.Succeeded, why);
            StringAssert.Contains(why, "the connection or its channel was lost");
            StringAssert.Contains(why, "so the write may or may not have taken effect");
            Assert.IsEmpty(plan.Best.RemovalFailures, "the device that may exist was removed over a new channel");
        }

        Assert.AreEqual(0, PlanOverSshTests.Leftovers(destination));
        Assert.AreEqual(2, remoteDestination.RemoteFileSystem!.Connections);
    }

    [TestMethod]
    [DataRow("migref-small:2.0", Errno.None, "type migref-small", null)]
    [DataRow("migref-small:3.0", Errno.None, null, "migref: driver 2.1 loads state of versions 2.0, 2.1, not 3.0")]
    [DataRow("not-a-version", Errno.EINVAL, null, "migref: not a migref version string (expected migref-<type>:<major>.<minor>)")]
    public async Task Write_and_ask_over_ssh_answers_as_the_simulator_does_in_process(string version, Errno errno, string? replyLine, string? reason)
    {
        using var ssh = SshServer.Start();
        using var host = SimulatedRemoteHost.Start("migref");
        using var remote = new SshHostFileSystem(ssh.Options(host.SysfsRoot));
        var local = host.Simulated.CreateFileSystem();

        var overSsh = await remote.ExchangeAsync(SysfsPath.Parse(Query), version, TestContext.CancellationToken);
        var inProcess = await local.ExchangeAsync(SysfsPath.Parse(Query), version, TestContext.CancellationToken);

        Assert.AreEqual(inProcess, overSsh);
        Assert.AreEqual(errno, overSsh.Error);
        Assert.AreEqual(reason, overSsh.Reason);
        Assert.AreEqual(replyLine, overSsh.Reply?.Split('\n', StringSplitOptions.RemoveEmptyEntries).Single());
        Assert.AreEqual(1, remote.RoundTrips, "the write, the answer and the reason in one round trip");
    }

    [TestMethod]
    [DataRow("2.0")]
    [DataRow("3.0")]
    public async Task Ask_over_ssh_lists_the_same_targets_and_rejections_with_errno_and_reason_as_locally(string sourceDriver)
    {
        var scenario = MigrefSource(sourceDriver);
        try
        {
            using var ssh = SshServer.Start();
            using var source = SimulatedRemoteHost.Start(scenario);
            using var destination = SimulatedRemoteHost.Start("migref");
            var planner = new MigrationPlanner();

            var local = await planner.AskAsync(source.Local(), DomainSelector.Parse("migrating"), destination.Local(), cancellationToken: TestContext.CancellationToken);
            using var remoteSource = source.Remote(ssh).Connect(readOnly: true);
            using var remoteDestination = destination.Remote(ssh).Connect();
            var remote = await planner.AskAsync(remoteSource.Host, DomainSelector.Parse("migrating"), remoteDestination.Host, cancellationToken: TestContext.CancellationToken);

            Assert.HasCount(1, remote);
            CollectionAssert.AreEqual(local[0].Targets.ToList(), remote[0].Targets.ToList());
            CollectionAssert.AreEqual(local[0].Rejections.ToList(), remote[0].Rejections.ToList());
            if (sourceDriver == "3.0")
            {
                Assert.IsEmpty(remote[0].Targets);
                StringAssert.Contains(string.Join('\n', remote[0].Rejections.Select(r => r.Message)), "(the driver says: \"migref: driver 2.1 loads state of versions 2.0, 2.1, not 3.0\")");
            }
            else
            {
                Assert.IsNotEmpty(remote[0].Targets);
            }

            Assert.AreEqual(1, remote[0].Statistics.SourceRoundTrips);
            Assert.AreEqual(remoteDestination.RemoteFileSystem!.RoundTrips, remote[0].Statistics.DestinationRoundTrips);
            TestContext.WriteLine($"ask with source driver {sourceDriver}: {remote[0].Targets.Count} target(s), {remote[0].Rejections.Count} rejection(s), round trips: source {remote[0].Statistics.SourceRoundTrips}, destination {remoteDestination.RemoteFileSystem!.RoundTrips}");
        }
        finally
        {
            File.Delete(scenario);
        }
    }

    /// <summary>The migref host running driver <paramref name="driver"/>, with a guest that owns one migref-small device.</summary>
    private static string MigrefSource(string driver)
    {
        var scenario = JsonNode.Parse(File.ReadAllText(Scenarios.PathOf("migref")))!.AsObject();
        scenario["name"] = "migref-source";
        foreach (var type in scenario["parents"]![0]!["types"]!.AsArray())
        {
            if (type!["migration"] is JsonObject migration)
            {
                migration["version"] = $"{type["id"]}:{driver}";
            }
        }

        const string uuid = "5b0f7a10-0000-4000-8000-00000000c001";
        scenario["mdevs"] = new JsonArray(new JsonObject { ["uuid"] = uuid, ["parent"] = "migref", ["type"] = "migref-small" });
        scenario["guests"] = new JsonArray(new JsonObject
        {
            ["name"] = "migrating",
            ["uuid"] = "5b0f7a10-0000-4000-8000-00000000d001",
            ["running"] = true,
            ["memoryMiB"] = 1024,
            ["hostdevs"] = new JsonArray(new JsonObject { ["mdev"] = uuid, ["alias"] = "ua-migref0", ["guestAddress"] = "0000:05:00.0" }),
        });
        var path = Path.Combine(Path.GetTempPath(), $"migref-source-{driver}-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, scenario.ToJsonString());
        return path;
    }

    /// <summary>
    /// Passes every call on; the first <c>create</c> is slowed by the proxy, and once
    /// <paramref name="made"/> says it reached the host, every connection is cut before its answer
    /// comes back: the channel dies in the middle of that batch.
    /// </summary>
    private sealed class DropDuringCreate(IHostFileSystem inner, LatencyProxy proxy, Func<bool> made, CancellationToken cancellationToken) : IHostFileSystem
    {
        private int _fired;

        public string Description => inner.Description;

        public long RoundTrips => inner.RoundTrips;

        public bool BatchesCalls => inner.BatchesCalls;

        public ValueTask<SysfsResult<string>> ReadAsync(SysfsPath path, CancellationToken cancellationToken = default) => inner.ReadAsync(path, cancellationToken);

        public ValueTask<IReadOnlyList<SysfsResult<string>>> ReadManyAsync(IReadOnlyList<SysfsPath> paths, CancellationToken cancellationToken = default) => inner.ReadManyAsync(paths, cancellationToken);

        public ValueTask<SysfsResult<IReadOnlyList<string>>> ListAsync(SysfsPath path, CancellationToken cancellationToken = default) => inner.ListAsync(path, cancellationToken);

        public ValueTask<SysfsResult<string>> ReadLinkAsync(SysfsPath path, CancellationToken cancellationToken = default) => inner.ReadLinkAsync(path, cancellationToken);

        public ValueTask<SysfsExchange> ExchangeAsync(SysfsPath path, string value, CancellationToken cancellationToken = default) => inner.ExchangeAsync(path, value, cancellationToken);

        public async ValueTask<SysfsResult> WriteAsync(SysfsPath path, string value, CancellationToken callToken = default)
        {
            if (path.Name != "create" || Interlocked.Exchange(ref _fired, 1) == 1)
            {
                return await inner.WriteAsync(path, value, callToken);
            }

            proxy.Delay = TimeSpan.FromSeconds(3);
            var write = inner.WriteAsync(path, value, callToken).AsTask();
            await Task.Run(() => Daemon.WaitUntil(made, "the create to reach the simulated host"), cancellationToken);
            proxy.Delay = TimeSpan.Zero;
            proxy.DropConnections();
            return await write;
        }
    }
}
