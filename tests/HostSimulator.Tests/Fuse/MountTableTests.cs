using VfioMigration.HostSimulator.Fuse;

namespace VfioMigration.HostSimulator.Tests.Fuse;

[TestClass]
public sealed class MountTableTests
{
    [TestMethod]
    public void A_mountinfo_line_gives_the_unescaped_mount_point_and_type()
    {
        const string Line = "36 35 0:52 / /tmp/with\\040space\\134x rw,nosuid,nodev shared:1 master:2 - fuse.vfio-sim vfio-sim rw,user_id=0";

        Assert.IsTrue(MountTable.TryParse(Line, out var mountPoint, out var type));

        Assert.AreEqual("/tmp/with space\\x", mountPoint);
        Assert.AreEqual("fuse.vfio-sim", type);
    }

    [TestMethod]
    [DataRow("")]
    [DataRow("36 35 0:52 / /mnt rw")]
    [DataRow("36 35 0:52 / /mnt rw shared:1 -")]
    public void A_malformed_line_is_skipped(string line)
    {
        Assert.IsFalse(MountTable.TryParse(line, out _, out _));
    }

    [TestMethod]
    public void The_root_is_a_mount_point_and_a_fresh_directory_is_not()
    {
        var directory = Directory.CreateTempSubdirectory("mount-table-").FullName;
        try
        {
            Assert.IsTrue(MountTable.IsMountPoint("/", out _));
            Assert.IsFalse(MountTable.IsMountPoint(directory, out _));
        }
        finally
        {
            Directory.Delete(directory);
        }
    }
}
