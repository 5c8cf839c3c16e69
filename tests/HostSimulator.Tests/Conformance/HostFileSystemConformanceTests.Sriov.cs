using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.HostSimulator.Tests.Conformance;

/// <content>NVIDIA vGPUs on SR-IOV VFs (docs/nvidia-vf.md) on mixed-dest.json: H100 41:00.0 full with two 40C, H100 c1:00.0 with one 10C on VF 0, an empty L40S at 81:00.0.</content>
public abstract partial class HostFileSystemConformanceTests
{
    private const string Vfs = "bus/pci/devices/";

    [TestMethod]
    public async Task Sriov_PfAndVfs_HaveTheCountsAndLinks()
    {
        Open("mixed-dest.json");

        Assert.AreEqual("32\n", await ReadOk(Vfs + "0000:c1:00.0/sriov_totalvfs"));
        Assert.AreEqual("8\n", await ReadOk(Vfs + "0000:c1:00.0/sriov_numvfs"));
        Assert.AreEqual("../0000:c1:00.4", await ReadLinkOk(Vfs + "0000:c1:00.0/virtfn0"));
        Assert.AreEqual("../0000:c1:01.3", await ReadLinkOk(Vfs + "0000:c1:00.0/virtfn7"));
        Assert.AreEqual("../0000:c1:00.0", await ReadLinkOk(Vfs + "0000:c1:00.5/physfn"));
        Assert.AreEqual("1044\n", await ReadOk(Vfs + "0000:c1:00.4/nvidia/current_vgpu_type"));
        Assert.AreEqual("0\n", await ReadOk(Vfs + "0000:c1:00.5/nvidia/current_vgpu_type"));
        CollectionAssert.AreEqual(new[] { "creatable_vgpu_types", "current_vgpu_type" }, (await List(Vfs + "0000:c1:00.5/nvidia")).ToArray());
    }

    [TestMethod]
    public async Task Sriov_CreatableList_ShrinksToOneSizeAndEmptiesWhenTheGpuIsFull()
    {
        Open("mixed-dest.json");

        Assert.AreEqual("1044 : NVIDIA H100-10C\n", await ReadOk(Vfs + "0000:c1:00.5/nvidia/creatable_vgpu_types"));
        Assert.AreEqual(string.Empty, await ReadOk(Vfs + "0000:41:00.6/nvidia/creatable_vgpu_types"));
        Assert.HasCount(7, (await ReadOk(Vfs + "0000:81:00.4/nvidia/creatable_vgpu_types")).Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [TestMethod]
    public async Task Sriov_CurrentVgpuType_RefusesLikeTheDriver()
    {
        Open("mixed-dest.json");

        Assert.AreEqual(Errno.EINVAL, (await Write(Vfs + "0000:c1:00.5/nvidia/current_vgpu_type", "1047")).Error, "a second framebuffer size on the GPU");
        Assert.AreEqual(Errno.EBUSY, (await Write(Vfs + "0000:c1:00.4/nvidia/current_vgpu_type", "1044")).Error, "the VF has a vGPU");
        Assert.AreEqual(Errno.EINVAL, (await Write(Vfs + "0000:c1:00.5/nvidia/current_vgpu_type", "10x4")).Error);
        Assert.AreEqual(Errno.EINVAL, (await Write(Vfs + "0000:c1:00.5/nvidia/current_vgpu_type", "4242")).Error, "a type the GPU does not have");
        Assert.AreEqual(Errno.EBUSY, (await Write(Vfs + "0000:41:00.4/nvidia/current_vgpu_type", "0")).Error, "a running guest holds the VF");
        Assert.AreEqual(Errno.None, (await Write(Vfs + "0000:c1:00.6/nvidia/current_vgpu_type", "0")).Error, "0 on a VF without a vGPU changes nothing");
        Assert.AreEqual(Errno.ENODEV, (await Read(Vfs + "0000:c1:00.6/vfio_migration_version")).Error, "a VF without a vGPU has no state to migrate");
        Assert.AreEqual("nvidia-vgpu-550.127.05\n", await ReadOk(Vfs + "0000:c1:00.4/vfio_migration_version"));
    }

    [TestMethod]
    public async Task Sriov_CapacityIsSharedByTheVfsOfOneGpu()
    {
        Open("mixed-dest.json");
        const string Current = "/nvidia/current_vgpu_type";

        Assert.AreEqual(Errno.None, (await Write(Vfs + "0000:81:00.4" + Current, "1157\n")).Error);
        Assert.AreEqual(Errno.None, (await Write(Vfs + "0000:81:00.5" + Current, "1157")).Error);
        Assert.AreEqual(string.Empty, await ReadOk(Vfs + "0000:81:00.6/nvidia/creatable_vgpu_types"), "L40S-24C: two per GPU");
        Assert.AreEqual(Errno.EINVAL, (await Write(Vfs + "0000:81:00.6" + Current, "1157")).Error);

        Assert.AreEqual(Errno.None, (await Write(Vfs + "0000:81:00.4" + Current, "0")).Error);
        Assert.AreEqual("1157 : NVIDIA L40S-24C\n", await ReadOk(Vfs + "0000:81:00.6/nvidia/creatable_vgpu_types"));
        Assert.AreEqual(Errno.None, (await Write(Vfs + "0000:81:00.5" + Current, "0")).Error);
        Assert.AreEqual(0u, Host.Snapshot().State.Vfs.Where(v => v.Pf == PciAddress.Parse("0000:81:00.0")).Max(v => v.VgpuType));
    }
}
