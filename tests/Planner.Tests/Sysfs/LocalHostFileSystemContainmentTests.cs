using System.Diagnostics;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.Planner.Tests.Sysfs;

/// <summary>
/// A hostile tree: links that point out of the root (absolute, relative <c>..</c>, into
/// <c>/proc</c> and <c>/dev</c>), loops, FIFOs, device nodes, an over-long file. Every case runs
/// twice: through <c>openat2(RESOLVE_IN_ROOT)</c> and through the <c>O_NOFOLLOW</c> component walk
/// used on kernels without it. A canary directory next to the root must never be read or written.
/// </summary>
[TestClass]
public sealed class LocalHostFileSystemContainmentTests
{
    private const string Secret = "outside-secret\n";

    private string _parent = null!;
    private string _root = null!;
    private string _outside = null!;

    [TestInitialize]
    public void CreateTree()
    {
        _parent = Directory.CreateTempSubdirectory("containment-").FullName;
        _root = Directory.CreateDirectory(Path.Combine(_parent, "root")).FullName;
        _outside = Directory.CreateDirectory(Path.Combine(_parent, "outside")).FullName;
        File.WriteAllText(Path.Combine(_outside, "secret"), Secret);
        Directory.CreateDirectory(Path.Combine(_root, "devices", "parent"));
        Directory.CreateDirectory(Path.Combine(_root, "class", "mdev_bus"));
        File.WriteAllText(Path.Combine(_root, "devices", "parent", "name"), "inside\n");
        File.CreateSymbolicLink(Path.Combine(_root, "class", "mdev_bus", "parent"), "../../devices/parent");
        File.CreateSymbolicLink(Path.Combine(_root, "absolute"), Path.Combine(_outside, "secret"));
        File.CreateSymbolicLink(Path.Combine(_root, "absolute-dir"), _outside);
        File.CreateSymbolicLink(Path.Combine(_root, "relative"), "../outside/secret");
        File.CreateSymbolicLink(Path.Combine(_root, "devices", "parent", "deep-relative"), "../../../../../../../.." + _outside + "/secret");
        File.CreateSymbolicLink(Path.Combine(_root, "up"), "../../../../..");
        File.CreateSymbolicLink(Path.Combine(_root, "loop-a"), "loop-b");
        File.CreateSymbolicLink(Path.Combine(_root, "loop-b"), "loop-a");
        File.CreateSymbolicLink(Path.Combine(_root, "procfs"), "/proc/self/environ");
        File.CreateSymbolicLink(Path.Combine(_root, "zero"), "/dev/zero");
        File.CreateSymbolicLink(Path.Combine(_root, "null"), "/dev/null");
        Run("mkfifo", Path.Combine(_root, "fifo"));
    }

    [TestCleanup]
    public void DeleteTree() => Directory.Delete(_parent, recursive: true);

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public async Task Links_inside_the_root_resolve_as_before(bool componentWalk)
    {
        var host = new LocalHostFileSystem(_root, componentWalk);

        Assert.AreEqual("inside\n", (await host.ReadAsync(SysfsPath.Parse("class/mdev_bus/parent/name"))).Value);
        Assert.AreEqual("../../devices/parent", (await host.ReadLinkAsync(SysfsPath.Parse("class/mdev_bus/parent"))).Value);
        CollectionAssert.AreEquivalent(new[] { "name", "deep-relative" }, (await host.ListAsync(SysfsPath.Parse("class/mdev_bus/parent"))).Value!.ToArray());
    }

    [TestMethod]
    [DataRow(false, "absolute")]
    [DataRow(true, "absolute")]
    [DataRow(false, "relative")]
    [DataRow(true, "relative")]
    [DataRow(false, "devices/parent/deep-relative")]
    [DataRow(true, "devices/parent/deep-relative")]
    [DataRow(false, "absolute-dir/secret")]
    [DataRow(true, "absolute-dir/secret")]
    [DataRow(false, "up/outside/secret")]
    [DataRow(true, "up/outside/secret")]
    [DataRow(false, "procfs")]
    [DataRow(true, "procfs")]
    [DataRow(false, "zero")]
    [DataRow(true, "zero")]
    [DataRow(false, "null")]
    [DataRow(true, "null")]
    public async Task A_link_out_of_the_root_resolves_inside_it_and_finds_nothing(bool componentWalk, string path)
    {
        var host = new LocalHostFileSystem(_root, componentWalk);
        var before = File.GetLastWriteTimeUtc(Path.Combine(_outside, "secret"));

        var read = await host.ReadAsync(SysfsPath.Parse(path));
        var write = await host.WriteAsync(SysfsPath.Parse(path), "written");

        Assert.AreEqual(Errno.ENOENT, read.Error);
        Assert.AreEqual(Errno.ENOENT, write.Error);
        Assert.AreEqual(Secret, await File.ReadAllTextAsync(Path.Combine(_outside, "secret")));
        Assert.AreEqual(before, File.GetLastWriteTimeUtc(Path.Combine(_outside, "secret")));
    }

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public async Task A_link_to_an_outside_directory_lists_nothing(bool componentWalk)
    {
        var host = new LocalHostFileSystem(_root, componentWalk);

        Assert.AreEqual(Errno.ENOENT, (await host.ListAsync(SysfsPath.Parse("absolute-dir"))).Error);
        Assert.AreEqual(Errno.ENOENT, (await host.ReadLinkAsync(SysfsPath.Parse("absolute-dir/secret"))).Error);
    }

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public async Task Dot_dot_above_the_root_stays_at_the_root(bool componentWalk)
    {
        var host = new LocalHostFileSystem(_root, componentWalk);

        var listing = await host.ListAsync(SysfsPath.Parse("up"));

        CollectionAssert.Contains(listing.Value!.ToArray(), "loop-a");
        CollectionAssert.DoesNotContain(listing.Value!.ToArray(), "outside");
    }

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public async Task A_link_loop_is_ELOOP(bool componentWalk)
    {
        var host = new LocalHostFileSystem(_root, componentWalk);

        Assert.AreEqual(Errno.ELOOP, (await host.ReadAsync(SysfsPath.Parse("loop-a"))).Error);
        Assert.AreEqual(Errno.ELOOP, (await host.ListAsync(SysfsPath.Parse("loop-a"))).Error);
    }

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public async Task A_fifo_is_refused_without_blocking(bool componentWalk)
    {
        var host = new LocalHostFileSystem(_root, componentWalk);

        Assert.AreEqual(Errno.ENXIO, (await host.ReadAsync(SysfsPath.Parse("fifo"))).Error);
        Assert.AreEqual(Errno.ENXIO, (await host.WriteAsync(SysfsPath.Parse("fifo"), "1")).Error);
    }

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public async Task A_device_node_inside_the_root_is_refused_before_any_read(bool componentWalk)
    {
        // /dev/zero's numbers (1, 5): read unbounded it would fill memory.
        Run("mknod", Path.Combine(_root, "zero-node"), "c", "1", "5");
        var host = new LocalHostFileSystem(_root, componentWalk);

        Assert.AreEqual(Errno.ENXIO, (await host.ReadAsync(SysfsPath.Parse("zero-node"))).Error);
        Assert.AreEqual(Errno.ENXIO, (await host.WriteAsync(SysfsPath.Parse("zero-node"), "1")).Error);
    }

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public async Task A_huge_file_is_EFBIG(bool componentWalk)
    {
        await using (var file = File.Create(Path.Combine(_root, "huge")))
        {
            file.SetLength(64L << 20);
        }

        var host = new LocalHostFileSystem(_root, componentWalk);

        Assert.AreEqual(Errno.EFBIG, (await host.ReadAsync(SysfsPath.Parse("huge"))).Error);
    }

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public async Task A_listing_of_ten_thousand_entries_is_returned_whole(bool componentWalk)
    {
        var directory = Directory.CreateDirectory(Path.Combine(_root, "many")).FullName;
        for (var i = 0; i < 10_000; i++)
        {
            File.Create(Path.Combine(directory, $"e{i}")).Dispose();
        }

        var host = new LocalHostFileSystem(_root, componentWalk);

        Assert.AreEqual(10_000, (await host.ListAsync(SysfsPath.Parse("many"))).Value!.Count);
    }

    private static void Run(string program, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(program, arguments) { RedirectStandardError = true })!;
        Assert.IsTrue(process.WaitForExit(10_000), $"{program} did not finish");
        Assert.AreEqual(0, process.ExitCode, $"{program} failed: {process.StandardError.ReadToEnd()}");
    }
}
