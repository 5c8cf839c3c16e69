using VfioMigration.Planner.Sysfs;
using VfioMigration.Remote.Tests.Harness;
using VfioMigration.RemoteHosts;

namespace VfioMigration.Remote.Tests;

/// <summary>The SSH file system against a real sshd whose sysfs root is a FUSE-mounted simulated host, compared with the simulator in-process.</summary>
[TestClass]
public sealed class SshFileSystemTests
{
    private static SshServer s_ssh = null!;
    private static SimulatedRemoteHost s_host = null!;

    [ClassInitialize]
    public static void Start(TestContext context)
    {
        s_ssh = SshServer.Start();
        s_host = SimulatedRemoteHost.Start("nvidia");
    }

    [ClassCleanup]
    public static void Stop()
    {
        s_host.Dispose();
        s_ssh.Dispose();
    }

    [TestMethod]
    public async Task Every_attribute_of_the_host_reads_the_same_as_in_process_in_one_round_trip()
    {
        var local = s_host.Simulated.CreateFileSystem();
        var files = await Walk(local, SysfsPath.Root);
        Assert.IsGreaterThan(20, files.Count, "the nvidia scenario has many attributes");
        using var remote = new SshHostFileSystem(s_ssh.Options(s_host.SysfsRoot));

        var remoteReads = await remote.ReadManyAsync(files);

        Assert.AreEqual(1, remote.RoundTrips);
        var localReads = await local.ReadManyAsync(files);
        for (var i = 0; i < files.Count; i++)
        {
            Assert.AreEqual(localReads[i], remoteReads[i], files[i].Value);
        }
    }

    [TestMethod]
    public async Task Listings_links_and_errors_match_in_process()
    {
        var local = s_host.Simulated.CreateFileSystem();
        using var remote = new SshHostFileSystem(s_ssh.Options(s_host.SysfsRoot));
        var parents = await remote.ListAsync(SysfsPath.MdevBus);
        CollectionAssert.AreEquivalent((await local.ListAsync(SysfsPath.MdevBus)).Value!.ToList(), parents.Value!.ToList());

        var link = SysfsPath.MdevBus.Append(parents.Value![0]);
        Assert.AreEqual(await local.ReadLinkAsync(link), await remote.ReadLinkAsync(link));

        var missing = SysfsPath.Parse("class/mdev_bus/no-such-parent");
        Assert.AreEqual(Errno.ENOENT, (await remote.ReadAsync(missing)).Error);
        Assert.AreEqual(Errno.ENOENT, (await remote.ListAsync(missing)).Error);
        Assert.AreEqual(Errno.EINVAL, (await remote.ReadLinkAsync(SysfsPath.MdevBus)).Error, "readlink on a directory");
        Assert.AreEqual(Errno.EISDIR, (await remote.ReadAsync(SysfsPath.MdevBus)).Error);
    }

    [TestMethod]
    public async Task A_write_brings_back_the_drivers_errno_and_the_value_arrives_intact()
    {
        var local = s_host.Simulated.CreateFileSystem();
        using var remote = new SshHostFileSystem(s_ssh.Options(s_host.SysfsRoot));
        var create = await CreatableType(local);

        // Shell metacharacters travel as data on stdin: the driver sees them and rejects them as a bad UUID.
        var hostile = "'; touch /tmp/pwned; echo '$(id)`x`";
        Assert.AreEqual(await local.WriteAsync(create, hostile), await remote.WriteAsync(create, hostile));
        Assert.AreEqual(Errno.EINVAL, (await remote.WriteAsync(create, hostile)).Error);
        Assert.IsFalse(File.Exists("/tmp/pwned"));

        Assert.AreEqual(Errno.ENOENT, (await remote.WriteAsync(SysfsPath.Parse("class/mdev_bus/nothing-here"), "1")).Error);

        var uuid = Guid.NewGuid().ToString();
        Assert.AreEqual(SysfsResult.Success, await remote.WriteAsync(create, uuid));
        Assert.IsTrue((await local.ReadLinkAsync(SysfsPath.MdevDevices.Append(uuid).Append("mdev_type"))).Succeeded, "the mdev exists on the simulated host");
        Assert.AreEqual(Errno.EEXIST, (await remote.WriteAsync(create, uuid)).Error);
        Assert.AreEqual(SysfsResult.Success, await remote.WriteAsync(SysfsPath.MdevDevices.Append(uuid).Append("remove"), "1"));
        Assert.AreEqual(Errno.ENOENT, (await local.ReadLinkAsync(SysfsPath.MdevDevices.Append(uuid).Append("mdev_type"))).Error);
    }

    [TestMethod]
    public async Task A_dropped_connection_is_reestablished_once()
    {
        using var proxy = new LatencyProxy(s_ssh.Port);
        s_ssh.TrustPort(proxy.Port);
        using var remote = new SshHostFileSystem(s_ssh.Options(s_host.SysfsRoot, proxy.Port));
        Assert.IsTrue((await remote.ListAsync(SysfsPath.MdevBus)).Succeeded);

        proxy.DropConnections();

        Assert.IsTrue((await remote.ListAsync(SysfsPath.MdevBus)).Succeeded);
        Assert.AreEqual(2, remote.Connections);
    }

    /// <summary>The <c>create</c> attribute of a type with an instance left.</summary>
    private static async Task<SysfsPath> CreatableType(IHostFileSystem fileSystem)
    {
        foreach (var parent in (await fileSystem.ListAsync(SysfsPath.MdevBus)).Value!)
        {
            var types = SysfsPath.MdevBus.Append(parent).Append("mdev_supported_types");
            foreach (var type in (await fileSystem.ListAsync(types)).Value!)
            {
                var available = await fileSystem.ReadAsync(types.Append(type).Append("available_instances"));
                if (available.Succeeded && int.Parse(available.Value!, System.Globalization.CultureInfo.InvariantCulture) > 0)
                {
                    return types.Append(type).Append("create");
                }
            }
        }

        throw new AssertFailedException("The scenario has no type with an instance left.");
    }

    private static async Task<List<SysfsPath>> Walk(IHostFileSystem fileSystem, SysfsPath directory)
    {
        var files = new List<SysfsPath>();
        var listing = await fileSystem.ListAsync(directory);
        foreach (var name in listing.Value ?? [])
        {
            var path = directory.Append(name);
            if ((await fileSystem.ReadLinkAsync(path)).Succeeded)
            {
                continue;
            }

            if ((await fileSystem.ListAsync(path)).Succeeded)
            {
                files.AddRange(await Walk(fileSystem, path));
            }
            else
            {
                files.Add(path);
            }
        }

        return files;
    }
}
