using VfioMigration.Planner.Sysfs;

namespace VfioMigration.Planner.Tests.Sysfs;

/// <summary>
/// The real system calls against an ordinary temporary directory. The errno cases a plain file
/// system can produce (ENOENT, EISDIR, ENOTDIR, EINVAL from readlink) are checked here; the
/// sysfs-specific ones (EACCES at open for root, a driver's write errno) are checked through the
/// FUSE-mounted simulator in HostSimulator.Tests.
/// </summary>
[TestClass]
public sealed class LocalHostFileSystemTests
{
    private static readonly string[] RootEntries = ["devices", "parent-link"];

    private string _root = null!;
    private LocalHostFileSystem _host = null!;

    [TestInitialize]
    public void CreateTree()
    {
        _root = Directory.CreateTempSubdirectory("local-host-fs-").FullName;
        Directory.CreateDirectory(Path.Combine(_root, "devices", "parent"));
        File.WriteAllText(Path.Combine(_root, "devices", "parent", "name"), "GVTg_V5_4\n");
        File.CreateSymbolicLink(Path.Combine(_root, "parent-link"), "devices/parent");
        _host = new LocalHostFileSystem(_root);
    }

    [TestCleanup]
    public void DeleteTree() => Directory.Delete(_root, recursive: true);

    [TestMethod]
    public async Task Read_returns_the_content_exactly()
    {
        var result = await _host.ReadAsync(SysfsPath.Parse("devices/parent/name"));

        Assert.AreEqual(Errno.None, result.Error);
        Assert.AreEqual("GVTg_V5_4\n", result.Value);
    }

    [TestMethod]
    public async Task Read_follows_links_inside_the_root()
    {
        var result = await _host.ReadAsync(SysfsPath.Parse("parent-link/name"));

        Assert.AreEqual("GVTg_V5_4\n", result.Value);
    }

    [TestMethod]
    public async Task Read_of_exactly_a_page_returns_all_of_it()
    {
        var content = new string('x', LocalHostFileSystem.MaxWriteLength);
        await File.WriteAllTextAsync(Path.Combine(_root, "page"), content);

        var result = await _host.ReadAsync(SysfsPath.Parse("page"));

        Assert.AreEqual(content, result.Value);
    }

    [TestMethod]
    public async Task Read_of_a_file_longer_than_a_page_is_EFBIG()
    {
        await File.WriteAllTextAsync(Path.Combine(_root, "large"), new string('x', LocalHostFileSystem.MaxWriteLength + 1));

        var result = await _host.ReadAsync(SysfsPath.Parse("large"));

        Assert.AreEqual(Errno.EFBIG, result.Error);
        Assert.IsNull(result.Value);
    }

    [TestMethod]
    public async Task Read_of_a_missing_attribute_is_ENOENT()
    {
        var result = await _host.ReadAsync(SysfsPath.Parse("devices/parent/migration_version"));

        Assert.AreEqual(Errno.ENOENT, result.Error);
        Assert.IsNull(result.Value);
    }

    [TestMethod]
    public async Task Read_of_a_directory_is_EISDIR()
    {
        Assert.AreEqual(Errno.EISDIR, (await _host.ReadAsync(SysfsPath.Parse("devices"))).Error);
        Assert.AreEqual(Errno.EISDIR, (await _host.ReadAsync(SysfsPath.Root)).Error);
    }

    [TestMethod]
    public async Task Read_below_a_file_is_ENOTDIR()
    {
        var result = await _host.ReadAsync(SysfsPath.Parse("devices/parent/name/x"));

        Assert.AreEqual(Errno.ENOTDIR, result.Error);
    }

    [TestMethod]
    public async Task Write_makes_one_write_at_offset_zero_without_truncating()
    {
        var result = await _host.WriteAsync(SysfsPath.Parse("devices/parent/name"), "ab");

        Assert.AreEqual(Errno.None, result.Error);
        Assert.AreEqual("abTg_V5_4\n", await File.ReadAllTextAsync(Path.Combine(_root, "devices", "parent", "name")));
    }

    [TestMethod]
    public async Task Write_to_a_missing_attribute_is_ENOENT_and_creates_nothing()
    {
        var result = await _host.WriteAsync(SysfsPath.Parse("devices/parent/create"), "1");

        Assert.AreEqual(Errno.ENOENT, result.Error);
        Assert.IsFalse(File.Exists(Path.Combine(_root, "devices", "parent", "create")));
    }

    [TestMethod]
    public async Task Write_to_a_directory_is_EISDIR()
    {
        Assert.AreEqual(Errno.EISDIR, (await _host.WriteAsync(SysfsPath.Parse("devices"), "1")).Error);
    }

    [TestMethod]
    public async Task Write_of_non_ASCII_text_is_refused_before_any_system_call()
    {
        var missing = SysfsPath.Parse("no/such/file");

        var error = await Assert.ThrowsExactlyAsync<ArgumentException>(() => _host.WriteAsync(missing, "vers\u00efon").AsTask());

        StringAssert.Contains(error.Message, "ASCII");
    }

    [TestMethod]
    public async Task Write_longer_than_a_page_is_refused_before_any_system_call()
    {
        var path = SysfsPath.Parse("devices/parent/name");

        var error = await Assert.ThrowsExactlyAsync<ArgumentException>(() => _host.WriteAsync(path, new string('1', LocalHostFileSystem.MaxWriteLength + 1)).AsTask());

        StringAssert.Contains(error.Message, "4096");
        Assert.AreEqual("GVTg_V5_4\n", await File.ReadAllTextAsync(Path.Combine(_root, "devices", "parent", "name")));
    }

    [TestMethod]
    public async Task Write_of_exactly_a_page_is_accepted()
    {
        var result = await _host.WriteAsync(SysfsPath.Parse("devices/parent/name"), new string('1', LocalHostFileSystem.MaxWriteLength));

        Assert.AreEqual(Errno.None, result.Error);
    }

    [TestMethod]
    public async Task List_returns_the_entries_without_dot_entries()
    {
        var result = await _host.ListAsync(SysfsPath.Root);

        Assert.AreEqual(Errno.None, result.Error);
        CollectionAssert.AreEquivalent(RootEntries, result.Value!.ToArray());
    }

    [TestMethod]
    public async Task List_of_a_file_is_ENOTDIR_and_of_a_missing_directory_ENOENT()
    {
        Assert.AreEqual(Errno.ENOTDIR, (await _host.ListAsync(SysfsPath.Parse("devices/parent/name"))).Error);
        Assert.AreEqual(Errno.ENOENT, (await _host.ListAsync(SysfsPath.Parse("bus"))).Error);
    }

    [TestMethod]
    public async Task ReadLink_returns_the_target_as_written()
    {
        var result = await _host.ReadLinkAsync(SysfsPath.Parse("parent-link"));

        Assert.AreEqual("devices/parent", result.Value);
    }

    [TestMethod]
    public async Task ReadLink_returns_a_target_of_the_longest_length_a_link_can_have()
    {
        var target = string.Join('/', Enumerable.Repeat(new string('d', 255), 16))[..4095];
        File.CreateSymbolicLink(Path.Combine(_root, "long-link"), target);

        var result = await _host.ReadLinkAsync(SysfsPath.Parse("long-link"));

        Assert.AreEqual(target, result.Value);
    }

    [TestMethod]
    public async Task ReadLink_of_a_file_is_EINVAL_and_of_a_missing_path_ENOENT()
    {
        Assert.AreEqual(Errno.EINVAL, (await _host.ReadLinkAsync(SysfsPath.Parse("devices/parent/name"))).Error);
        Assert.AreEqual(Errno.ENOENT, (await _host.ReadLinkAsync(SysfsPath.Parse("gone"))).Error);
    }

    [TestMethod]
    public async Task Cancelled_operations_throw_before_touching_the_file_system()
    {
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        var path = SysfsPath.Parse("devices/parent/name");

        await Assert.ThrowsAsync<OperationCanceledException>(() => _host.ReadAsync(path, cancelled.Token).AsTask());
        await Assert.ThrowsAsync<OperationCanceledException>(() => _host.WriteAsync(path, "x", cancelled.Token).AsTask());
        await Assert.ThrowsAsync<OperationCanceledException>(() => _host.ListAsync(SysfsPath.Root, cancelled.Token).AsTask());
        await Assert.ThrowsAsync<OperationCanceledException>(() => _host.ReadLinkAsync(path, cancelled.Token).AsTask());
        Assert.AreEqual("GVTg_V5_4\n", await File.ReadAllTextAsync(Path.Combine(_root, "devices", "parent", "name")));
    }

    [TestMethod]
    [DataRow("sys")]
    [DataRow("")]
    [DataRow("/sys\0/x")]
    public void A_root_that_is_not_an_absolute_path_is_refused(string root)
    {
        var error = Assert.ThrowsExactly<ArgumentException>(() => new LocalHostFileSystem(root));

        StringAssert.Contains(error.Message, "absolute path");
    }

    [TestMethod]
    [DataRow("/sys/", "local /sys")]
    [DataRow("/", "local /")]
    public void The_root_is_normalised_for_messages(string root, string description)
    {
        Assert.AreEqual(description, new LocalHostFileSystem(root).Description);
    }

    [TestMethod]
    public async Task The_file_system_root_itself_works_as_a_root()
    {
        var result = await new LocalHostFileSystem("/").ListAsync(SysfsPath.Parse("proc"));

        Assert.AreEqual(Errno.None, result.Error);
        Assert.IsTrue(result.Value!.Contains("self"));
    }
}
