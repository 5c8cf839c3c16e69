using VfioMigration.HostSimulator.Fuse;

namespace VfioMigration.HostSimulator.Tests.Fuse;

/// <summary>Mounting and unmounting: readiness, bad mount points, dead mounts, serving until told to stop, concurrent use.</summary>
[TestClass]
public sealed class FuseLifecycleTests
{
    private string _directory = null!;

    [TestInitialize]
    public void CreateDirectory()
    {
        TemporaryMount.RequireFuse();
        _directory = Directory.CreateTempSubdirectory("fuse-life-").FullName;
    }

    [TestCleanup]
    public void DeleteDirectory()
    {
        if (MountTable.IsMountPoint(_directory, out _))
        {
            Shell.Run("umount -l \"$1\"", _directory);
        }

        Directory.Delete(_directory);
    }

    [TestMethod]
    public void A_missing_mount_point_is_named_in_the_error()
    {
        var missing = Path.Combine(_directory, "absent");

        var error = Assert.ThrowsExactly<DirectoryNotFoundException>(() => FuseMount.Mount(DictionaryFileTree.Sample(), missing));

        StringAssert.Contains(error.Message, missing);
        StringAssert.Contains(error.Message, "mkdir -p");
    }

    [TestMethod]
    public void A_missing_device_or_library_names_the_packages_to_install()
    {
        var noDevice = Assert.ThrowsExactly<FuseUnavailableException>(() => FuseMount.EnsureFuseAvailable(devicePath: Path.Combine(_directory, "fuse")));
        var noLibrary = Assert.ThrowsExactly<FuseUnavailableException>(() => FuseMount.EnsureFuseAvailable(libraryName: "libfuse3-absent.so.3"));

        StringAssert.Contains(noDevice.Message, "fuse3 and libfuse3-3");
        StringAssert.Contains(noLibrary.Message, "libfuse3-absent.so.3 could not be loaded");
        StringAssert.Contains(noLibrary.Message, "apt-get install fuse3 libfuse3-3");
        FuseMount.EnsureFuseAvailable();
    }

    [TestMethod]
    public void A_dead_mount_left_by_a_crashed_server_is_cleared_before_mounting()
    {
        MakeDeadFuseMount(_directory);
        Assert.AreEqual(107, Assert.Throws<IOException>(() => File.GetAttributes(_directory)).HResult, "the mount should be dead (ENOTCONN)");

        using (var mount = FuseMount.Mount(DictionaryFileTree.Sample(), _directory))
        {
            Assert.AreEqual("hello\n", File.ReadAllText(Path.Combine(_directory, "dir", "ro")));
        }

        Assert.IsFalse(MountTable.IsMountPoint(_directory, out _));
    }

    [TestMethod]
    public async Task Serving_calls_onReady_once_mounted_and_unmounts_when_cancelled()
    {
        using var stop = new CancellationTokenSource();
        var readyCalls = 0;
        var contentWhenReady = string.Empty;

        var serving = FuseMount.ServeUntilSignalledAsync(DictionaryFileTree.Sample(), _directory, () =>
        {
            readyCalls++;
            contentWhenReady = File.ReadAllText(Path.Combine(_directory, "dir", "ro"));
            stop.Cancel();
        }, cancellationToken: stop.Token);
        await serving.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.AreEqual(1, readyCalls);
        Assert.AreEqual("hello\n", contentWhenReady);
        Assert.IsFalse(MountTable.IsMountPoint(_directory, out _));
    }

    [TestMethod]
    public async Task Serving_ends_when_the_mount_is_removed_from_outside()
    {
        var serving = FuseMount.ServeUntilSignalledAsync(DictionaryFileTree.Sample(), _directory, () => Shell.Run("fusermount3 -u \"$1\"", _directory));

        await serving.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.IsFalse(MountTable.IsMountPoint(_directory, out _));
    }

    [TestMethod]
    public void Parallel_reads_from_the_serving_process_itself_all_complete()
    {
        var tree = DictionaryFileTree.WithAttributes(64);
        using var mount = FuseMount.Mount(tree, _directory);

        var contents = new string[512];
        Parallel.For(0, contents.Length, new ParallelOptions { MaxDegreeOfParallelism = 16 }, i =>
            contents[i] = File.ReadAllText(Path.Combine(_directory, "dir", $"attr{i % 64}")));

        for (var i = 0; i < contents.Length; i++)
        {
            Assert.AreEqual($"{i % 64}\n", contents[i]);
        }

        Assert.AreEqual(contents.Length, tree.ReadCount);
    }

    [TestMethod]
    public void Dispose_with_a_file_still_open_detaches_and_the_loop_ends_when_it_is_closed()
    {
        var mount = FuseMount.Mount(DictionaryFileTree.Sample(), _directory);
        var stillOpen = new FileStream(Path.Combine(_directory, "dir", "ro"), FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0);

        mount.Dispose();

        Assert.IsFalse(MountTable.IsMountPoint(_directory, out _));
        Assert.IsFalse(mount.Completion.IsCompleted, "the open file is still served");
        var buffer = new byte[16];
        Assert.AreEqual(6, stillOpen.Read(buffer));
        stillOpen.Dispose();
        Assert.IsTrue(mount.Completion.Wait(TimeSpan.FromSeconds(30)));
    }

    [TestMethod]
    public void Dispose_twice_is_harmless()
    {
        var mount = FuseMount.Mount(DictionaryFileTree.Sample(), _directory);

        mount.Dispose();
        mount.Dispose();

        Assert.IsTrue(mount.Completion.IsCompletedSuccessfully);
    }

    /// <summary>
    /// What a server killed with SIGKILL leaves behind: a FUSE mount whose /dev/fuse descriptor is
    /// closed, so every access fails with ENOTCONN. The shell opens the device, mount(8) mounts it
    /// with that descriptor (as root), and the shell's exit closes it.
    /// </summary>
    private static void MakeDeadFuseMount(string directory)
    {
        var result = Shell.Run("exec 3<>/dev/fuse; mount -i -t fuse.dead-test -o fd=3,rootmode=40000,user_id=0,group_id=0 dead-test \"$1\"", directory);
        Assert.AreEqual(0, result.ExitCode, result.Error);
    }
}
