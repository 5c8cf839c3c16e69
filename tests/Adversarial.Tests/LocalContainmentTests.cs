using VfioMigration.Planner.Sysfs;

namespace VfioMigration.Adversarial.Tests;

/// <summary>
/// <see cref="LocalHostFileSystem"/> over a <see cref="HostileTree"/>. Every case runs twice:
/// through <c>openat2(RESOLVE_IN_ROOT)</c> and through the <c>O_NOFOLLOW</c> component walk used
/// on kernels without it. An inotify watch on the directory next to the root shows nothing outside
/// the root is opened, read or written.
/// </summary>
[TestClass]
public sealed class LocalContainmentTests
{
    private HostileTree _tree = null!;

    [TestInitialize]
    public void CreateTree() => _tree = new HostileTree();

    [TestCleanup]
    public void DeleteTree() => _tree.Delete();

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public async Task Links_inside_the_root_resolve_as_in_sysfs(bool componentWalk)
    {
        var host = new LocalHostFileSystem(_tree.Root, componentWalk);

        Assert.AreEqual("inside\n", (await host.ReadAsync(SysfsPath.Parse("class/mdev_bus/parent/name"))).Value);
        Assert.AreEqual("../../devices/parent", (await host.ReadLinkAsync(SysfsPath.Parse("class/mdev_bus/parent"))).Value);
        CollectionAssert.AreEquivalent(new[] { "name", "deep-relative" }, (await host.ListAsync(SysfsPath.Parse("class/mdev_bus/parent"))).Value!.ToArray());
    }

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public async Task Every_escape_resolves_inside_the_root_finds_nothing_and_touches_nothing_outside(bool componentWalk)
    {
        var host = new LocalHostFileSystem(_tree.Root, componentWalk);
        await using var witness = await InotifyWitness.StartAsync(_tree.Outside);

        foreach (var escape in HostileTree.Escapes)
        {
            var path = SysfsPath.Parse(escape);
            Assert.AreEqual(Errno.ENOENT, (await host.ReadAsync(path)).Error, escape);
            Assert.AreEqual(Errno.ENOENT, (await host.WriteAsync(path, "written")).Error, escape);
            Assert.AreEqual(Errno.ENOENT, (await ((IHostFileSystem)host).ReadManyAsync([path]))[0].Error, escape);
        }

        Assert.AreEqual(Errno.ENOENT, (await host.ListAsync(SysfsPath.Parse("absolute-dir"))).Error);
        Assert.AreEqual(Errno.ENOENT, (await host.ReadLinkAsync(SysfsPath.Parse("absolute-dir/secret"))).Error);
        var events = await witness.StopAsync();

        Assert.AreEqual(0, events.Count, string.Join('\n', events));
        Assert.AreEqual(HostileTree.Secret, await File.ReadAllTextAsync(_tree.Canary));
    }

    [TestMethod]
    public async Task The_witness_sees_a_read_that_follows_an_escape()
    {
        await using var witness = await InotifyWitness.StartAsync(_tree.Outside);

        _ = await File.ReadAllTextAsync(Path.Combine(_tree.Root, "absolute")); // the kernel follows the link, as the tool once did
        var events = await witness.StopAsync();

        CollectionAssert.Contains(events.ToArray(), $"OPEN {_tree.Canary}");
    }

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public async Task Dot_dot_above_the_root_stays_at_the_root(bool componentWalk)
    {
        var host = new LocalHostFileSystem(_tree.Root, componentWalk);

        var listing = (await host.ListAsync(SysfsPath.Parse("up"))).Value!.ToArray();

        CollectionAssert.Contains(listing, "loop-a");
        CollectionAssert.DoesNotContain(listing, "outside");
    }

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public async Task A_link_loop_is_ELOOP(bool componentWalk)
    {
        var host = new LocalHostFileSystem(_tree.Root, componentWalk);

        Assert.AreEqual(Errno.ELOOP, (await host.ReadAsync(SysfsPath.Parse("loop-a"))).Error);
        Assert.AreEqual(Errno.ELOOP, (await host.ListAsync(SysfsPath.Parse("loop-a"))).Error);
    }

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public async Task A_fifo_is_refused_without_blocking(bool componentWalk)
    {
        var host = new LocalHostFileSystem(_tree.Root, componentWalk);

        Assert.AreEqual(Errno.ENXIO, (await host.ReadAsync(SysfsPath.Parse("fifo"))).Error);
        Assert.AreEqual(Errno.ENXIO, (await host.WriteAsync(SysfsPath.Parse("fifo"), "1")).Error);
    }

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public async Task A_device_node_inside_the_root_is_refused_before_any_read(bool componentWalk)
    {
        _tree.DeviceNode("zero-node", 1, 5); // /dev/zero's numbers: read unbounded it would fill memory
        var host = new LocalHostFileSystem(_tree.Root, componentWalk);

        Assert.AreEqual(Errno.ENXIO, (await host.ReadAsync(SysfsPath.Parse("zero-node"))).Error);
        Assert.AreEqual(Errno.ENXIO, (await host.WriteAsync(SysfsPath.Parse("zero-node"), "1")).Error);
    }

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public async Task A_huge_file_is_EFBIG(bool componentWalk)
    {
        await using (var file = File.Create(Path.Combine(_tree.Root, "huge")))
        {
            file.SetLength(64L << 20);
        }

        var host = new LocalHostFileSystem(_tree.Root, componentWalk);

        Assert.AreEqual(Errno.EFBIG, (await host.ReadAsync(SysfsPath.Parse("huge"))).Error);
    }

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public async Task A_listing_of_ten_thousand_entries_is_returned_whole(bool componentWalk)
    {
        var directory = Directory.CreateDirectory(Path.Combine(_tree.Root, "many")).FullName;
        for (var i = 0; i < 10_000; i++)
        {
            File.Create(Path.Combine(directory, $"e{i}")).Dispose();
        }

        var host = new LocalHostFileSystem(_tree.Root, componentWalk);

        Assert.AreEqual(10_000, (await host.ListAsync(SysfsPath.Parse("many"))).Value!.Count);
    }
}
