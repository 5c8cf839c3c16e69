using VfioMigration.HostSimulator.Tests.Conformance;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.HostSimulator.Tests;

/// <summary>The <see cref="ISimulatedFileTree"/> contract the FUSE front end relies on: lstat, open checks, modes.</summary>
[TestClass]
public sealed class FileTreeTests
{
    private const string TypeDirectory = "class/mdev_bus/0000:00:02.0/mdev_supported_types/i915-GVTg_V5_4";

    public TestContext TestContext { get; set; } = null!;

    private readonly ISimulatedFileTree _tree = SimulatedHost.FromScenario(HostFileSystemConformanceTests.LoadScenario("vendor-host.json")).FileTree;

    [TestMethod]
    [DataRow("", SimulatedNodeKind.Directory, 0b111_101_101)]
    [DataRow("class/mdev_bus/0000:00:02.0", SimulatedNodeKind.Symlink, 0b111_111_111)]
    [DataRow("class/mdev_bus/0000:00:02.0/mdev_supported_types", SimulatedNodeKind.Directory, 0b111_101_101)]
    [DataRow(TypeDirectory + "/name", SimulatedNodeKind.File, 0b100_100_100)]
    [DataRow(TypeDirectory + "/available_instances", SimulatedNodeKind.File, 0b100_100_100)]
    [DataRow(TypeDirectory + "/create", SimulatedNodeKind.File, 0b010_000_000)]
    [DataRow(TypeDirectory + "/migration_version", SimulatedNodeKind.File, 0b110_100_100)]
    [DataRow("bus/mdev/devices/11111111-2222-3333-4444-555555555555/remove", SimulatedNodeKind.File, 0b010_000_000)]
    [DataRow("bus/mdev/devices/11111111-2222-3333-4444-555555555555/mdev_type", SimulatedNodeKind.Symlink, 0b111_111_111)]
    [DataRow("bus/pci/devices/0000:5e:00.1/vfio_migration_version", SimulatedNodeKind.File, 0b110_100_100)]
    public void GetAttributes_IsLstat_WithSysfsModes(string path, SimulatedNodeKind kind, int mode)
    {
        Assert.AreEqual(Errno.None, _tree.GetAttributes(path, out var stat));
        Assert.AreEqual(kind, stat.Kind);
        Assert.AreEqual(mode, stat.Mode);
    }

    [TestMethod]
    public void GetAttributes_OfALink_HasTheTargetLengthAsSize()
    {
        Assert.AreEqual(Errno.None, _tree.ReadLink("class/mdev_bus/0000:00:02.0", out var target));
        Assert.AreEqual(Errno.None, _tree.GetAttributes("class/mdev_bus/0000:00:02.0", out var stat));
        Assert.AreEqual(target.Length, stat.Size);
    }

    [TestMethod]
    [DataRow("class/mdev_bus/nothing", Errno.ENOENT)]
    [DataRow(TypeDirectory + "/name/below", Errno.ENOTDIR)]
    public void GetAttributes_Failures(string path, Errno expected) =>
        Assert.AreEqual(expected, _tree.GetAttributes(path, out _));

    [TestMethod]
    [DataRow(TypeDirectory, true, Errno.EISDIR)]
    [DataRow(TypeDirectory, false, Errno.None)]
    [DataRow(TypeDirectory + "/create", false, Errno.EACCES)]
    [DataRow(TypeDirectory + "/create", true, Errno.None)]
    [DataRow(TypeDirectory + "/name", true, Errno.EACCES)]
    [DataRow(TypeDirectory + "/migration_version", true, Errno.None)]
    [DataRow(TypeDirectory + "/migration_version", false, Errno.None)]
    [DataRow(TypeDirectory + "/absent", false, Errno.ENOENT)]
    public void CheckOpen_AppliesSysfsPermissions(string path, bool forWrite, Errno expected) =>
        Assert.AreEqual(expected, _tree.CheckOpen(path, forWrite));

    [TestMethod]
    public void ReadLink_OfAFileIsEinval() =>
        Assert.AreEqual(Errno.EINVAL, _tree.ReadLink(TypeDirectory + "/name", out _));

    [TestMethod]
    public async Task RawWrites_OverAPageAreE2big_AndNonAsciiVersionsAreRejectedByTheDriver()
    {
        var attribute = TypeDirectory + "/migration_version";
        Assert.AreEqual((Errno)7, (await _tree.WriteAsync(attribute, new byte[4097], TestContext.CancellationToken)).Error, "E2BIG, as kernfs");
        Assert.AreEqual(Errno.EINVAL, (await _tree.WriteAsync(attribute, "8086-3e92-GVTg_V5_4-2.1\u00e9"u8.ToArray(), TestContext.CancellationToken)).Error);
        Assert.AreEqual(Errno.None, (await _tree.WriteAsync(attribute, "8086-3e92-GVTg_V5_4-2.1\n"u8.ToArray(), TestContext.CancellationToken)).Error);
    }

    [TestMethod]
    public void PathsThroughLinksAndDotDot_ResolveAsTheKernelWalksThem()
    {
        Assert.AreEqual(Errno.None, _tree.ListDirectory("bus/mdev/devices/11111111-2222-3333-4444-555555555555/mdev_type/../../mdev_supported_types", out var types));
        CollectionAssert.AreEquivalent(new[] { "i915-GVTg_V5_4", "i915-GVTg_V5_8", "i915-GVTg_V5_2" }, types.ToArray());
        Assert.AreEqual(Errno.None, _tree.ListDirectory("bus/pci/drivers/vfio-pci", out var bound));
        CollectionAssert.AreEquivalent(new[] { "0000:5e:00.1", "0000:5e:00.2" }, bound.ToArray());
    }

    [TestMethod]
    public async Task ConcurrentCreatesAndRemoves_KeepTheCapacityConsistent()
    {
        var host = SimulatedHost.FromScenario(HostFileSystemConformanceTests.LoadScenario("mtty.json"));
        var tree = host.FileTree;
        await Parallel.ForAsync(0, 200, async (i, cancellationToken) =>
        {
            var uuid = $"{i % 40:x8}-0000-4000-8000-000000000000";
            var type = i % 3 == 0 ? "mtty-2" : "mtty-1";
            await tree.WriteAsync($"class/mdev_bus/mtty/mdev_supported_types/{type}/create", System.Text.Encoding.ASCII.GetBytes(uuid), cancellationToken);
            await tree.WriteAsync($"bus/mdev/devices/{uuid}/remove", "1"u8.ToArray(), cancellationToken);
        });
        var state = host.Snapshot().State;
        Assert.IsEmpty(state.Mdevs);
        var types = state.Parents.Single().Types;
        Assert.AreEqual(24, types.Single(t => t.Type.Value == "mtty-1").AvailableInstances);
        Assert.AreEqual(12, types.Single(t => t.Type.Value == "mtty-2").AvailableInstances);
    }
}
