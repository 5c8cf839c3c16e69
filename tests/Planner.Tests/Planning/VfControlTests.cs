using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Planning;
using VfioMigration.Planner.Sysfs;
using VfioMigration.Planner.Tests.Fakes;

namespace VfioMigration.Planner.Tests.Planning;

/// <summary>
/// NVIDIA's sysfs files of a VF (docs/nvidia-vf.md) as <see cref="NvidiaSysfsVfControl"/> reads and
/// writes them, over the fake host's VFs: the batch read of many functions, the per-VF reads and the
/// write, what each costs, and what a failed or garbled read becomes.
/// </summary>
[TestClass]
public sealed class VfControlTests
{
    private static readonly FakeVgpuType L40s24 = new(1157, "NVIDIA L40S-24C", 2);
    private static readonly FakeVgpuType L40s12 = new(1155, "NVIDIA L40S-12C", 4);

    private static string Describe(VfState state) =>
        $"{state.Vf} pf {state.Pf?.ToString() ?? "none"} current {state.Current} creatable [{string.Join(", ", state.Creatable.Select(t => t.Display))}]";

    [TestMethod]
    public async Task BatchRead_GivesEachFunctionWithTheInterface_WithItsPfAndList_AndCountsThreeReadsAFunction()
    {
        var host = new FakeHost("dest");
        var gpu = new FakeGpu(PciAddress.Parse("0000:c1:00.0"), L40s24, L40s12);
        var configured = host.AddVf(gpu, "0000:c1:00.4", type: 1157);
        var idle = host.AddVf(gpu, "0000:c1:00.5");
        var plain = host.AddPci("0000:3b:00.0", "0x10de", "0x1eb8");
        var orphan = host.AddVf(null, "0000:c2:00.4", creatable: "1157 : NVIDIA L40S-24C\n");
        var unreadable = host.AddVf(gpu, "0000:c1:00.6");
        host.FileSystem.Reads[NvidiaSysfsVfControl.CreatablePath(unreadable.Address).Value] = SysfsResult.Failed<string>(Errno.EIO);
        var counters = new PlanCounters();

        var states = await new NvidiaSysfsVfControl(host.FileSystem, counters).ReadAsync([configured.Address, idle.Address, plain.Address, orphan.Address, unreadable.Address], CancellationToken.None);

        CollectionAssert.AreEqual(
            new[]
            {
                "0000:c1:00.4 pf 0000:c1:00.0 current 1157 creatable [vgpu 1157 (NVIDIA L40S-24C)]",
                "0000:c1:00.5 pf 0000:c1:00.0 current 0 creatable [vgpu 1157 (NVIDIA L40S-24C)]",
                "0000:c2:00.4 pf none current 0 creatable [vgpu 1157 (NVIDIA L40S-24C)]",
                "0000:c1:00.6 pf 0000:c1:00.0 current 0 creatable []",
            },
            states.Select(Describe).ToArray(),
            "a function without the files is left out; an unreadable list is empty");
        Assert.AreEqual(15, counters.Snapshot().SysfsReads, "two reads and a physfn link for each of five functions");
        Assert.AreEqual(15, host.Operations.Count, string.Join("\n", host.Operations));
    }

    [TestMethod]
    public async Task BatchRead_OfNoFunction_ReadsNothing()
    {
        var host = new FakeHost("dest");
        var counters = new PlanCounters();

        var states = await new NvidiaSysfsVfControl(host.FileSystem, counters).ReadAsync([], CancellationToken.None);

        Assert.IsEmpty(states);
        Assert.IsEmpty(host.Operations);
        Assert.AreEqual(0, counters.Snapshot().SysfsReads);
    }

    [TestMethod]
    public async Task CreatableList_IsOneRead_AndAFailedReadIsItsErrno()
    {
        var host = new FakeHost("dest");
        var gpu = new FakeGpu(PciAddress.Parse("0000:c1:00.0"), L40s24, L40s12);
        var vf = host.AddVf(gpu, "0000:c1:00.5");
        var counters = new PlanCounters();
        var control = new NvidiaSysfsVfControl(host.FileSystem, counters);

        var listed = await control.CreatableAsync(vf.Address, CancellationToken.None);
        host.FileSystem.Reads[NvidiaSysfsVfControl.CreatablePath(vf.Address).Value] = SysfsResult.Failed<string>(Errno.EIO);
        var failed = await control.CreatableAsync(vf.Address, CancellationToken.None);

        Assert.IsTrue(listed.Succeeded);
        CollectionAssert.AreEqual(new[] { new VgpuType(1157, "NVIDIA L40S-24C"), new VgpuType(1155, "NVIDIA L40S-12C") }, listed.Value!.ToArray());
        Assert.IsFalse(failed.Succeeded);
        Assert.AreEqual(Errno.EIO, failed.Error);
        Assert.AreEqual(2, counters.Snapshot().SysfsReads);
        CollectionAssert.AreEqual(new[] { "read bus/pci/devices/0000:c1:00.5/nvidia/creatable_vgpu_types", "read bus/pci/devices/0000:c1:00.5/nvidia/creatable_vgpu_types" }, host.Operations);
    }

    [TestMethod]
    public async Task CurrentType_IsOneRead_TextThatIsNoNumberIsEinval_AndAFailedReadIsItsErrno()
    {
        var host = new FakeHost("dest");
        var vf = host.AddVf(new FakeGpu(PciAddress.Parse("0000:c1:00.0"), L40s24), "0000:c1:00.4", type: 1157);
        var counters = new PlanCounters();
        var control = new NvidiaSysfsVfControl(host.FileSystem, counters);

        var current = await control.CurrentAsync(vf.Address, CancellationToken.None);
        host.FileSystem.Reads[NvidiaSysfsVfControl.CurrentPath(vf.Address).Value] = SysfsResult.Of("busy\n");
        var garbled = await control.CurrentAsync(vf.Address, CancellationToken.None);
        host.FileSystem.Reads[NvidiaSysfsVfControl.CurrentPath(vf.Address).Value] = SysfsResult.Failed<string>(Errno.ENODEV);
        var failed = await control.CurrentAsync(vf.Address, CancellationToken.None);

        Assert.AreEqual(SysfsResult.Of(1157u), current);
        Assert.AreEqual(SysfsResult.Failed<uint>(Errno.EINVAL), garbled);
        Assert.AreEqual(SysfsResult.Failed<uint>(Errno.ENODEV), failed);
        Assert.AreEqual(3, counters.Snapshot().SysfsReads);
    }

    [TestMethod]
    public async Task SetType_WritesTheDecimalId_AndReturnsTheDriversErrno()
    {
        var host = new FakeHost("dest");
        var vf = host.AddVf(new FakeGpu(PciAddress.Parse("0000:c1:00.0"), L40s24), "0000:c1:00.4");
        var control = new NvidiaSysfsVfControl(host.FileSystem, new PlanCounters());

        var made = await control.SetTypeAsync(vf.Address, 1157, CancellationToken.None);
        var again = await control.SetTypeAsync(vf.Address, 1157, CancellationToken.None);

        Assert.AreEqual(Errno.None, made.Error);
        Assert.AreEqual(Errno.EBUSY, again.Error, "the driver's answer comes back as it is");
        Assert.AreEqual(1157u, vf.Vf!.Type);
        CollectionAssert.AreEqual(new[] { "write bus/pci/devices/0000:c1:00.4/nvidia/current_vgpu_type 1157", "write bus/pci/devices/0000:c1:00.4/nvidia/current_vgpu_type 1157" }, host.Operations);
    }

    [TestMethod]
    [DataRow("../0000:c1:00.0", "0000:c1:00.0")]
    [DataRow("../../../devices/pci0000:c0/0000:c0:01.1/0000:c1:00.0", "0000:c1:00.0")]
    [DataRow("0000:c1:00.0", "0000:c1:00.0")]
    [DataRow("../0000:c1:00", null)]
    public async Task PhysicalFunction_IsTheLastPartOfThePhysfnLink(string link, string? pf)
    {
        var links = new LinkOnly(link);

        var found = await NvidiaSysfsVfControl.PhysicalFunctionAsync(links, PciAddress.Parse("0000:c1:00.4"), CancellationToken.None);

        Assert.AreEqual(pf is null ? null : PciAddress.Parse(pf), found);
        Assert.AreEqual("bus/pci/devices/0000:c1:00.4/physfn", links.Asked);
    }

    [TestMethod]
    public async Task PhysicalFunction_OfAFunctionWithoutTheLink_IsNone()
    {
        var host = new FakeHost("dest");
        var plain = host.AddPci("0000:3b:00.0", "0x10de", "0x1eb8");

        Assert.IsNull(await NvidiaSysfsVfControl.PhysicalFunctionAsync(host.FileSystem, plain.Address, CancellationToken.None));
    }

    [TestMethod]
    [DataRow(100, true)]
    [DataRow(101, false)]
    public void CreatableName_OfUpToAHundredCharacters_IsKept(int length, bool kept)
    {
        var name = "NVIDIA " + new string('x', length - 7);

        var types = NvidiaSysfsVfControl.ParseCreatable($"1157 : {name}\n");

        CollectionAssert.AreEqual(kept ? new[] { new VgpuType(1157, name) } : Array.Empty<VgpuType>(), types.ToArray());
    }

    [TestMethod]
    public void CreatableName_OfPrintableAscii_FromSpaceToTilde_IsKept()
    {
        var types = NvidiaSysfsVfControl.ParseCreatable("1 : ~ a\n2 : a\u007f\n3 : b\tc\n");

        CollectionAssert.AreEqual(new[] { new VgpuType(1, "~ a") }, types.ToArray());
    }

    /// <summary>A file system that answers one <c>physfn</c> link and records the path asked.</summary>
    private sealed class LinkOnly(string target) : IHostFileSystem
    {
        public string? Asked { get; private set; }

        public string Description => "one link";

        public ValueTask<SysfsResult<string>> ReadLinkAsync(SysfsPath path, CancellationToken cancellationToken = default)
        {
            Asked = path.Value;
            return ValueTask.FromResult(SysfsResult.Of(target));
        }

        public ValueTask<SysfsResult<string>> ReadAsync(SysfsPath path, CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public ValueTask<SysfsResult> WriteAsync(SysfsPath path, string value, CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public ValueTask<SysfsResult<IReadOnlyList<string>>> ListAsync(SysfsPath path, CancellationToken cancellationToken = default) => throw new NotSupportedException();
    }
}
