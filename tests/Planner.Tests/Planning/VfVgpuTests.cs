using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Planning;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.Planner.Tests.Planning;

/// <summary>The pure parts of the VF vGPU kind (docs/nvidia-vf.md): what the host's text becomes, rule 0, the journal key.</summary>
[TestClass]
public sealed class VfVgpuTests
{
    [TestMethod]
    public void CreatableList_KeepsValidLinesInOrder_AndSkipsHeadersZeroDuplicatesAndUnprintableNames()
    {
        var types = NvidiaSysfsVfControl.ParseCreatable("ID    : vGPU Name\n1414 : NVIDIA H200X-1-18C\n0 : NVIDIA none\nx12 : NVIDIA bad\n1415 :  NVIDIA H200X-2-35C \n1414 : NVIDIA again\n1416 : NVIDIA \u001b[31mred\n1417 :\n");

        CollectionAssert.AreEqual(new[] { new VgpuType(1414, "NVIDIA H200X-1-18C"), new VgpuType(1415, "NVIDIA H200X-2-35C") }, types.ToArray());
    }

    [TestMethod]
    public void CurrentType_IsADecimalNumber_OrNothing()
    {
        Assert.AreEqual(1414u, NvidiaSysfsVfControl.ParseCurrent(SysfsResult.Of("1414\n")));
        Assert.AreEqual(0u, NvidiaSysfsVfControl.ParseCurrent(SysfsResult.Of("0\n")));
        Assert.IsNull(NvidiaSysfsVfControl.ParseCurrent(SysfsResult.Of("-1\n")));
        Assert.IsNull(NvidiaSysfsVfControl.ParseCurrent(SysfsResult.Of("0x10\n")));
        Assert.IsNull(NvidiaSysfsVfControl.ParseCurrent(SysfsResult.Failed<string>(Errno.ENOENT)));
    }

    [TestMethod]
    public void RuleZero_NeedsTheSameId_AndTheSameNameWhereBothSidesSayOne()
    {
        var source = new VgpuType(1044, "NVIDIA H100-10C");

        Assert.IsTrue(source.Matches(new VgpuType(1044, "NVIDIA H100-10C")));
        Assert.IsTrue(source.Matches(new VgpuType(1044, null)));
        Assert.IsFalse(source.Matches(new VgpuType(1044, "NVIDIA H100-10Q")), "another driver branch numbering another profile 1044");
        Assert.IsFalse(source.Matches(new VgpuType(1045, "NVIDIA H100-10C")));
        Assert.AreEqual("vgpu 1044 (NVIDIA H100-10C)", source.Display);
        Assert.AreEqual("vgpu 1044", new VgpuType(1044, null).Display);
    }

    [TestMethod]
    public void JournalKey_IsAStableVersion8UuidOfTheVfAddress()
    {
        var key = NvidiaSysfsVfControl.JournalKey(PciAddress.Parse("0000:c1:00.5"));

        Assert.AreEqual(MdevUuid.Parse("228e0344-71d9-8d52-8e8f-203de55c49d4"), key);
        Assert.AreNotEqual(key, NvidiaSysfsVfControl.JournalKey(PciAddress.Parse("0000:c1:00.6")));
    }

    [TestMethod]
    public void VfState_NamesItsCurrentTypeFromItsOwnList_AndSharesThePfsCapacity()
    {
        var pf = PciAddress.Parse("0000:c1:00.0");
        var configured = new VfState(PciAddress.Parse("0000:c1:00.4"), pf, 1044, [new VgpuType(1044, "NVIDIA H100-10C")]);
        var orphan = new VfState(PciAddress.Parse("0000:c1:00.5"), null, 0, []);

        Assert.AreEqual(new VgpuType(1044, "NVIDIA H100-10C"), configured.CurrentType);
        Assert.AreEqual(pf, configured.CapacityDomain);
        Assert.IsNull(orphan.CurrentType);
        Assert.AreEqual(new VgpuType(1044, null), new VfState(configured.Vf, pf, 1044, [new VgpuType(1045, "NVIDIA H100-20C")]).CurrentType, "a current type its own list does not name has no name");
        Assert.AreEqual(orphan.Vf, orphan.CapacityDomain);
    }
}
