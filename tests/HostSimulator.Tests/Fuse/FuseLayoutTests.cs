using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using VfioMigration.HostSimulator.Fuse;

namespace VfioMigration.HostSimulator.Tests.Fuse;

/// <summary>
/// The structures shared with libfuse 3.14 on x86-64, against the sizes and offsets a C program
/// compiled with the libfuse3-dev headers printed (<c>sizeof</c>, <c>offsetof</c>). A field added,
/// dropped or reordered here breaks every mount silently, so it is pinned.
/// </summary>
[TestClass]
public sealed class FuseLayoutTests
{
    [TestMethod]
    public void Operations_table_has_the_42_entries_of_libfuse_3_14()
    {
        Assert.AreEqual(336, Unsafe.SizeOf<FuseNative.FuseOperations>());
        Assert.AreEqual(8, Offset<FuseNative.FuseOperations>(nameof(FuseNative.FuseOperations.ReadLink)));
        Assert.AreEqual(88, Offset<FuseNative.FuseOperations>(nameof(FuseNative.FuseOperations.Truncate)));
        Assert.AreEqual(96, Offset<FuseNative.FuseOperations>(nameof(FuseNative.FuseOperations.Open)));
        Assert.AreEqual(104, Offset<FuseNative.FuseOperations>(nameof(FuseNative.FuseOperations.Read)));
        Assert.AreEqual(112, Offset<FuseNative.FuseOperations>(nameof(FuseNative.FuseOperations.Write)));
        Assert.AreEqual(136, Offset<FuseNative.FuseOperations>(nameof(FuseNative.FuseOperations.Release)));
        Assert.AreEqual(192, Offset<FuseNative.FuseOperations>(nameof(FuseNative.FuseOperations.ReadDir)));
        Assert.AreEqual(216, Offset<FuseNative.FuseOperations>(nameof(FuseNative.FuseOperations.Init)));
        Assert.AreEqual(240, Offset<FuseNative.FuseOperations>(nameof(FuseNative.FuseOperations.Create)));
        Assert.AreEqual(328, Offset<FuseNative.FuseOperations>(nameof(FuseNative.FuseOperations.LSeek)));
    }

    [TestMethod]
    public void Stat_matches_glibc_x86_64()
    {
        Assert.AreEqual(144, Unsafe.SizeOf<FuseNative.Stat>());
        Assert.AreEqual(24, Offset<FuseNative.Stat>(nameof(FuseNative.Stat.Mode)));
        Assert.AreEqual(48, Offset<FuseNative.Stat>(nameof(FuseNative.Stat.Size)));
        Assert.AreEqual(56, Offset<FuseNative.Stat>(nameof(FuseNative.Stat.BlockSize)));
        Assert.AreEqual(72, Offset<FuseNative.Stat>(nameof(FuseNative.Stat.AccessSeconds)));
        Assert.AreEqual(88, Offset<FuseNative.Stat>(nameof(FuseNative.Stat.ModifySeconds)));
        Assert.AreEqual(104, Offset<FuseNative.Stat>(nameof(FuseNative.Stat.ChangeSeconds)));
    }

    [TestMethod]
    public void File_info_context_and_args_match_libfuse()
    {
        Assert.AreEqual(40, Unsafe.SizeOf<FuseNative.FuseFileInfo>());
        Assert.AreEqual(4, Offset<FuseNative.FuseFileInfo>(nameof(FuseNative.FuseFileInfo.BitFields)));
        Assert.AreEqual(16, Offset<FuseNative.FuseFileInfo>(nameof(FuseNative.FuseFileInfo.FileHandle)));
        Assert.AreEqual(0x2u, FuseNative.FuseFileInfo.DirectIoBit);
        Assert.AreEqual(0x4u, FuseNative.FuseFileInfo.KeepCacheBit);
        Assert.AreEqual(40, Unsafe.SizeOf<FuseNative.FuseContext>());
        Assert.AreEqual(24, Offset<FuseNative.FuseContext>(nameof(FuseNative.FuseContext.PrivateData)));
        Assert.AreEqual(24, Unsafe.SizeOf<FuseNative.FuseArgs>());
        Assert.AreEqual(16, Offset<FuseNative.FuseArgs>(nameof(FuseNative.FuseArgs.Allocated)));
    }

    private static int Offset<T>(string field) => (int)Marshal.OffsetOf<T>(field);
}
