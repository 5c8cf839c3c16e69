using VfioMigration.HostSimulator.Fuse;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.HostSimulator.Tests.Fuse;

/// <summary>The FUSE front end over a small test tree, seen through the shell's tools, .NET's file APIs and <see cref="LocalHostFileSystem"/>.</summary>
[TestClass]
public sealed class FuseMountTests
{
    private static readonly string[] DirEntries = ["ro", "wo", "rw", "rejects", "broken", "sub"];
    private static readonly string[] RootEntries = ["dir", "link"];

    private DictionaryFileTree _tree = null!;
    private TemporaryMount _mount = null!;
    private LocalHostFileSystem _host = null!;

    [TestInitialize]
    public void MountSample()
    {
        _tree = DictionaryFileTree.Sample();
        _mount = TemporaryMount.Of(_tree);
        _host = new LocalHostFileSystem(_mount.Directory);
    }

    [TestCleanup]
    public void Unmount() => _mount?.Dispose();

    [TestMethod]
    public void Cat_prints_a_readable_attribute()
    {
        var result = Shell.Run("cat \"$1\"", _mount.PathOf("dir/ro"));

        Assert.AreEqual(0, result.ExitCode, result.Error);
        Assert.AreEqual("hello\n", result.Output);
    }

    [TestMethod]
    public void Cat_of_a_write_only_attribute_is_permission_denied()
    {
        var result = Shell.Run("cat \"$1\"", _mount.PathOf("dir/wo"));

        Assert.AreEqual(1, result.ExitCode);
        StringAssert.Contains(result.Error, "Permission denied");
    }

    [TestMethod]
    public void Cat_of_an_attribute_whose_read_fails_shows_the_errno()
    {
        var result = Shell.Run("cat \"$1\"", _mount.PathOf("dir/broken"));

        Assert.AreEqual(1, result.ExitCode);
        StringAssert.Contains(result.Error, "Input/output error");
    }

    [TestMethod]
    public void Echo_into_a_writable_attribute_makes_exactly_one_tree_write()
    {
        var result = Shell.Run("echo 0 > \"$1\"", _mount.PathOf("dir/rw"));

        Assert.AreEqual(0, result.ExitCode, result.Error);
        CollectionAssert.AreEqual(new[] { ("dir/rw", "0\n") }, _tree.Writes.ToArray());
        Assert.AreEqual("0\n", Shell.Run("cat \"$1\"", _mount.PathOf("dir/rw")).Output);
    }

    [TestMethod]
    public void Echo_into_a_read_only_attribute_is_permission_denied_at_open()
    {
        var result = Shell.Run("echo 1 > \"$1\"", _mount.PathOf("dir/ro"));

        Assert.AreNotEqual(0, result.ExitCode);
        StringAssert.Contains(result.Error, "Permission denied");
        Assert.IsEmpty(_tree.Writes);
    }

    [TestMethod]
    public void Echo_rejected_by_the_driver_shows_its_errno()
    {
        var result = Shell.Run("/bin/echo bad > \"$1\"", _mount.PathOf("dir/rejects"));

        Assert.AreEqual(1, result.ExitCode);
        StringAssert.Contains(result.Error, "write error: Invalid argument");
        CollectionAssert.AreEqual(new[] { ("dir/rejects", "bad\n") }, _tree.Writes.ToArray());
    }

    [TestMethod]
    public void Dash_echo_reports_any_rejected_write_as_an_IO_error()
    {
        // dash's builtin echo prints "I/O error" whatever the errno, on real sysfs too.
        var result = Shell.Run("echo bad > \"$1\"", _mount.PathOf("dir/rejects"));

        Assert.AreNotEqual(0, result.ExitCode);
        StringAssert.Contains(result.Error, "echo: I/O error");
        Assert.HasCount(1, _tree.Writes);
    }

    [TestMethod]
    public void Echo_into_a_new_file_is_refused_as_sysfs_refuses_it()
    {
        var result = Shell.Run("echo 1 > \"$1\"", _mount.PathOf("dir/new"));

        Assert.AreNotEqual(0, result.ExitCode);
        StringAssert.Contains(result.Error, "Permission denied");
    }

    [TestMethod]
    public void Ls_shows_modes_sizes_and_link_targets()
    {
        var result = Shell.Run("ls -l \"$1\" \"$2\"", _mount.PathOf("dir"), _mount.PathOf("link"));

        Assert.AreEqual(0, result.ExitCode, result.Error);
        var lines = result.Output.Split('\n');
        AssertLine(lines, "-r--r--r--", "4096", " ro");
        AssertLine(lines, "--w-------", "4096", " wo");
        AssertLine(lines, "-rw-r--r--", "4096", " rw");
        AssertLine(lines, "drwxr-xr-x", string.Empty, " sub");
        AssertLine(lines, "lrwxrwxrwx", " 3 ", "link -> dir");
    }

    [TestMethod]
    public void Readlink_prints_the_target_and_fails_on_a_file()
    {
        Assert.AreEqual("dir\n", Shell.Run("readlink \"$1\"", _mount.PathOf("link")).Output);
        Assert.AreEqual(1, Shell.Run("readlink \"$1\"", _mount.PathOf("dir/ro")).ExitCode);
    }

    [TestMethod]
    public void Paths_through_a_link_reach_the_target()
    {
        Assert.AreEqual("hello\n", Shell.Run("cat \"$1\"", _mount.PathOf("link/ro")).Output);
    }

    [TestMethod]
    public void Namespace_changes_are_refused_as_sysfs_refuses_them()
    {
        var result = Shell.Run("mkdir \"$1\"; rm -f \"$2\"; mv \"$2\" \"$3\"", _mount.PathOf("dir/newdir"), _mount.PathOf("dir/ro"), _mount.PathOf("dir/moved"));

        Assert.AreEqual(3, result.Error.Split("Operation not permitted").Length - 1, result.Error);
        Assert.AreEqual("hello\n", File.ReadAllText(_mount.PathOf("dir/ro")));
    }

    [TestMethod]
    public void Dotnet_file_apis_see_the_kernel_errno()
    {
        Assert.AreEqual("hello\n", File.ReadAllText(_mount.PathOf("dir/ro")));
        Assert.ThrowsExactly<UnauthorizedAccessException>(() => File.ReadAllText(_mount.PathOf("dir/wo")));
        Assert.ThrowsExactly<UnauthorizedAccessException>(() => File.WriteAllText(_mount.PathOf("dir/ro"), "1"));
        Assert.ThrowsExactly<FileNotFoundException>(() => File.ReadAllText(_mount.PathOf("dir/missing")));
        var rejected = Assert.ThrowsExactly<IOException>(() => File.WriteAllText(_mount.PathOf("dir/rejects"), "x"));
        Assert.AreEqual((int)Errno.EINVAL, rejected.HResult);
        File.WriteAllText(_mount.PathOf("dir/rw"), "7\n");
        Assert.AreEqual("7\n", _tree.ContentOf("dir/rw"));
        CollectionAssert.AreEquivalent(DirEntries, Directory.EnumerateFileSystemEntries(_mount.PathOf("dir")).Select(Path.GetFileName).ToArray());
    }

    [TestMethod]
    public async Task Local_host_file_system_over_the_mount_reports_each_errno()
    {
        Assert.AreEqual("hello\n", (await _host.ReadAsync(SysfsPath.Parse("dir/ro"))).Value);
        Assert.AreEqual("hello\n", (await _host.ReadAsync(SysfsPath.Parse("link/ro"))).Value);
        Assert.AreEqual(Errno.EACCES, (await _host.ReadAsync(SysfsPath.Parse("dir/wo"))).Error);
        Assert.AreEqual(Errno.EIO, (await _host.ReadAsync(SysfsPath.Parse("dir/broken"))).Error);
        Assert.AreEqual(Errno.ENOENT, (await _host.ReadAsync(SysfsPath.Parse("dir/missing"))).Error);
        Assert.AreEqual(Errno.EISDIR, (await _host.ReadAsync(SysfsPath.Parse("dir/sub"))).Error);
        Assert.AreEqual(Errno.ENOTDIR, (await _host.ReadAsync(SysfsPath.Parse("dir/ro/x"))).Error);
        Assert.AreEqual(Errno.EACCES, (await _host.WriteAsync(SysfsPath.Parse("dir/ro"), "1")).Error);
        Assert.AreEqual(Errno.EINVAL, (await _host.WriteAsync(SysfsPath.Parse("dir/rejects"), "1")).Error);
        Assert.AreEqual(Errno.EISDIR, (await _host.WriteAsync(SysfsPath.Parse("dir/sub"), "1")).Error);
        Assert.AreEqual(Errno.None, (await _host.WriteAsync(SysfsPath.Parse("dir/rw"), "5")).Error);
        Assert.AreEqual("5", _tree.ContentOf("dir/rw"));
        Assert.AreEqual("dir", (await _host.ReadLinkAsync(SysfsPath.Parse("link"))).Value);
        Assert.AreEqual(Errno.EINVAL, (await _host.ReadLinkAsync(SysfsPath.Parse("dir/ro"))).Error);
        Assert.AreEqual(Errno.ENOTDIR, (await _host.ListAsync(SysfsPath.Parse("dir/ro"))).Error);
        CollectionAssert.AreEquivalent(RootEntries, (await _host.ListAsync(SysfsPath.Root)).Value!.ToArray());
    }

    [TestMethod]
    public void A_read_of_an_attribute_costs_one_tree_read()
    {
        var before = _tree.ReadCount;

        _ = File.ReadAllText(_mount.PathOf("dir/ro"));

        Assert.AreEqual(before + 1, _tree.ReadCount);
    }

    [TestMethod]
    public void File_ReadAllBytes_trusts_the_4096_size_and_fails_as_on_real_sysfs()
    {
        // Checked on this machine's /sys: ReadAllBytes reads st_size bytes and throws at the early end of file.
        Assert.ThrowsExactly<EndOfStreamException>(() => File.ReadAllBytes(_mount.PathOf("dir/ro")));
    }

    [TestMethod]
    public void Dispose_unmounts_and_ends_the_loop()
    {
        var mountPoint = _mount.Directory;
        Assert.IsTrue(MountTable.IsMountPoint(mountPoint, out var type));
        Assert.AreEqual("fuse.vfio-sim", type);

        _mount.Mount.Dispose();

        Assert.IsFalse(MountTable.IsMountPoint(mountPoint, out _));
        Assert.IsTrue(_mount.Mount.Completion.IsCompleted);
        Assert.IsEmpty(Directory.EnumerateFileSystemEntries(mountPoint));
    }

    [TestMethod]
    public void An_outside_unmount_completes_the_mount()
    {
        var result = Shell.Run("fusermount3 -u \"$1\"", _mount.Directory);

        Assert.AreEqual(0, result.ExitCode, result.Error);
        Assert.IsTrue(_mount.Mount.Completion.Wait(TimeSpan.FromSeconds(30)));
    }

    [TestMethod]
    public void Mounting_on_a_live_mount_point_is_refused()
    {
        var error = Assert.ThrowsExactly<InvalidOperationException>(() => FuseMount.Mount(_tree, _mount.Directory));

        StringAssert.Contains(error.Message, "already a mount point");
        Assert.AreEqual("hello\n", File.ReadAllText(_mount.PathOf("dir/ro")));
    }

    private static void AssertLine(string[] lines, string mode, string size, string name)
    {
        Assert.IsTrue(lines.Any(line => line.StartsWith(mode, StringComparison.Ordinal) && line.Contains(size, StringComparison.Ordinal) && line.EndsWith(name, StringComparison.Ordinal)), $"no '{mode} ... {size} ... {name}' in:\n{string.Join('\n', lines)}");
    }
}
