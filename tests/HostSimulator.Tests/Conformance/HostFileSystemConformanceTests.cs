using VfioMigration.HostSimulator.Scenarios;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.HostSimulator.Tests.Conformance;

/// <summary>
/// The behaviour every front end of the simulator must show, per domain.md section 3 (the mdev
/// sysfs ABI), section 2 (the version attributes) and real-kernel.md. A front end subclasses this
/// and implements <see cref="OpenHost"/>; the checks use only <see cref="IHostFileSystem"/> and the
/// model's snapshot, so they hold for the in-process front end and for a FUSE mount alike.
/// </summary>
public abstract partial class HostFileSystemConformanceTests
{
    protected const string FreeUuid = "a1b2c3d4-0000-4000-8000-000000000001";
    protected const string OtherFreeUuid = "a1b2c3d4-0000-4000-8000-000000000002";
    protected const string ExistingUuid = "11111111-2222-3333-4444-555555555555";

    private readonly List<IHostFileSystem> _opened = [];

    /// <summary>The model behind the current test's front end.</summary>
    protected SimulatedHost Host { get; private set; } = null!;

    /// <summary>The front end under test.</summary>
    protected IHostFileSystem Sysfs { get; private set; } = null!;

    /// <summary>Opens the front end under test over <paramref name="host"/> (in-process adapter, FUSE mount, ...).</summary>
    protected abstract IHostFileSystem OpenHost(SimulatedHost host);

    /// <summary>Releases a front end made by <see cref="OpenHost"/> (unmount); nothing by default.</summary>
    protected virtual void CloseHost(IHostFileSystem fileSystem)
    {
    }

    /// <summary>A scenario shipped with the tests (the example scenarios and the conformance fixtures).</summary>
    public static Scenario LoadScenario(string fileName) =>
        ScenarioLoader.LoadFile(Path.Combine(AppContext.BaseDirectory, "scenarios", fileName));

    [TestCleanup]
    public void CloseOpenedHosts()
    {
        foreach (var fileSystem in _opened)
        {
            CloseHost(fileSystem);
        }

        _opened.Clear();
    }

    protected void Open(string scenarioFile) => Open(LoadScenario(scenarioFile));

    protected void Open(Scenario scenario)
    {
        Host = SimulatedHost.FromScenario(scenario);
        Sysfs = OpenHost(Host);
        _opened.Add(Sysfs);
    }

    protected Task<SysfsResult<string>> Read(string path) => Sysfs.ReadAsync(SysfsPath.Parse(path)).AsTask();

    protected Task<SysfsResult> Write(string path, string value) => Sysfs.WriteAsync(SysfsPath.Parse(path), value).AsTask();

    protected async Task<string> ReadOk(string path)
    {
        var result = await Read(path);
        Assert.AreEqual(Errno.None, result.Error, $"read {path}");
        return result.Value!;
    }

    protected async Task<IReadOnlyList<string>> List(string path)
    {
        var result = await Sysfs.ListAsync(SysfsPath.Parse(path));
        Assert.AreEqual(Errno.None, result.Error, $"list {path}");
        return [.. result.Value!.Order(StringComparer.Ordinal)];
    }

    protected async Task<Errno> ListError(string path) => (await Sysfs.ListAsync(SysfsPath.Parse(path))).Error;

    protected async Task<string> ReadLinkOk(string path)
    {
        var result = await Sysfs.ReadLinkAsync(SysfsPath.Parse(path));
        Assert.AreEqual(Errno.None, result.Error, $"readlink {path}");
        return result.Value!;
    }

    protected static string TypePath(string parent, string type, string attribute) =>
        $"class/mdev_bus/{parent}/mdev_supported_types/{type}/{attribute}";

    protected async Task<int> Available(string parent, string type) =>
        int.Parse((await ReadOk(TypePath(parent, type, "available_instances"))).TrimEnd('\n'), System.Globalization.CultureInfo.InvariantCulture);

    // --- class/mdev_bus/<parent> ---

    [TestMethod]
    public async Task MdevBus_ListsEveryParentAsALinkIntoTheDeviceTree()
    {
        Open("vendor-host.json");
        CollectionAssert.AreEqual(new[] { "0000:00:02.0", "0000:3b:00.0" }, (await List("class/mdev_bus")).ToArray());
        Assert.AreEqual("../../devices/pci0000:00/0000:00:02.0", await ReadLinkOk("class/mdev_bus/0000:00:02.0"));
        Assert.AreEqual("0x8086\n", await ReadOk("class/mdev_bus/0000:00:02.0/vendor"));
        Assert.AreEqual("../../../bus/pci/drivers/i915", await ReadLinkOk("class/mdev_bus/0000:00:02.0/driver"));
    }

    [TestMethod]
    public async Task VirtualParent_LivesUnderDevicesVirtual()
    {
        Open("mtty.json");
        Assert.AreEqual("../../devices/virtual/mtty/mtty", await ReadLinkOk("class/mdev_bus/mtty"));
        CollectionAssert.AreEqual(new[] { "mtty-1", "mtty-2" }, (await List("class/mdev_bus/mtty/mdev_supported_types")).ToArray());
    }

    // --- <type>/{name, description, device_api, available_instances, create, devices} ---

    [TestMethod]
    public async Task MttyType_HasTheKernelsAttributesAndNoDescription()
    {
        Open("mtty.json");
        CollectionAssert.AreEqual(
            new[] { "available_instances", "create", "device_api", "devices", "name" },
            (await List("class/mdev_bus/mtty/mdev_supported_types/mtty-2")).ToArray());
        Assert.AreEqual("Dual port serial\n", await ReadOk(TypePath("mtty", "mtty-2", "name")));
        Assert.AreEqual("vfio-pci\n", await ReadOk(TypePath("mtty", "mtty-2", "device_api")));
        Assert.AreEqual(Errno.ENOENT, (await Read(TypePath("mtty", "mtty-2", "description"))).Error);
        Assert.AreEqual(24, await Available("mtty", "mtty-1"));
        Assert.AreEqual(12, await Available("mtty", "mtty-2"));
    }

    [TestMethod]
    public async Task MdpyType_HasADescription()
    {
        Open("mdpy.json");
        Assert.AreEqual("virtual display, 1024x768 framebuffer\n", await ReadOk(TypePath("mdpy", "mdpy-xga", "description")));
        Assert.AreEqual("mdpy-xga\n", await ReadOk(TypePath("mdpy", "mdpy-xga", "name")));
        Assert.AreEqual(4, await Available("mdpy", "mdpy-hd"));
    }

    [TestMethod]
    public async Task ReadOnlyAttributes_RefuseWritesAtOpen()
    {
        Open("mtty.json");
        foreach (var attribute in new[] { "name", "device_api", "available_instances" })
        {
            Assert.AreEqual(Errno.EACCES, (await Write(TypePath("mtty", "mtty-1", attribute), "1")).Error, attribute);
        }

        Assert.AreEqual(24, await Available("mtty", "mtty-1"));
    }

    [TestMethod]
    public async Task Create_CannotBeRead()
    {
        Open("mtty.json");
        Assert.AreEqual(Errno.EACCES, (await Read(TypePath("mtty", "mtty-1", "create"))).Error);
    }

    [TestMethod]
    [DataRow("a1b2c3d4-0000-4000-8000-000000000001")]
    [DataRow("a1b2c3d4-0000-4000-8000-000000000001\n")]
    [DataRow("A1B2C3D4-0000-4000-8000-000000000001")]
    [DataRow("a1b2c3d4-0000-4000-8000-000000000001x")]
    public async Task Create_AcceptsA36ByteUuidPlusOneByte_AndNamesTheDeviceInLowerCase(string written)
    {
        Open("mtty.json");
        Assert.AreEqual(Errno.None, (await Write(TypePath("mtty", "mtty-1", "create"), written)).Error);
        CollectionAssert.AreEqual(new[] { FreeUuid }, (await List("bus/mdev/devices")).ToArray());
        CollectionAssert.AreEqual(new[] { FreeUuid }, (await List("class/mdev_bus/mtty/mdev_supported_types/mtty-1/devices")).ToArray());
    }

    [TestMethod]
    [DataRow("not-a-uuid")]
    [DataRow("a1b2c3d4-0000-4000-8000-00000000000")]
    [DataRow("a1b2c3d4-0000-4000-8000-000000000001\n\n")]
    [DataRow("{a1b2c3d4-0000-4000-8000-00000000001}")]
    [DataRow("a1b2c3d4x0000-4000-8000-000000000001")]
    public async Task Create_RefusesAnythingElseWithEinval(string written)
    {
        Open("mtty.json");
        Assert.AreEqual(Errno.EINVAL, (await Write(TypePath("mtty", "mtty-1", "create"), written)).Error);
        Assert.AreEqual(0, (await List("bus/mdev/devices")).Count);
    }

    [TestMethod]
    public async Task Create_RefusesAUuidInUseOnAnyParentWithEexist()
    {
        Open("vendor-host.json");
        var result = await Write(TypePath("0000:3b:00.0", "nvidia-222", "create"), ExistingUuid.ToUpperInvariant());
        Assert.AreEqual(Errno.EEXIST, result.Error);
        Assert.AreEqual(4, await Available("0000:3b:00.0", "nvidia-222"));
    }

    [TestMethod]
    public async Task CreatedMdev_HasTheKernelsLinksAndAttributes()
    {
        Open("mtty.json");
        await Write(TypePath("mtty", "mtty-2", "create"), FreeUuid + "\n");
        Assert.AreEqual($"../../../devices/virtual/mtty/mtty/{FreeUuid}", await ReadLinkOk($"bus/mdev/devices/{FreeUuid}"));
        Assert.AreEqual("../mdev_supported_types/mtty-2", await ReadLinkOk($"bus/mdev/devices/{FreeUuid}/mdev_type"));
        Assert.AreEqual($"../../../{FreeUuid}", await ReadLinkOk($"class/mdev_bus/mtty/mdev_supported_types/mtty-2/devices/{FreeUuid}"));
        Assert.AreEqual("Dual port serial\n", await ReadOk($"bus/mdev/devices/{FreeUuid}/mdev_type/name"));
        CollectionAssert.AreEqual(new[] { "mdev_type", "remove" }, (await List($"bus/mdev/devices/{FreeUuid}")).ToArray());
        Assert.AreEqual(Errno.EACCES, (await Read($"bus/mdev/devices/{FreeUuid}/remove")).Error);
    }

    // --- capacity ---

    [TestMethod]
    public async Task SharedPool_OneMttyTypeLowersTheOther()
    {
        Open("mtty.json");
        await Write(TypePath("mtty", "mtty-1", "create"), FreeUuid);
        Assert.AreEqual(23, await Available("mtty", "mtty-1"));
        Assert.AreEqual(11, await Available("mtty", "mtty-2"));
        await Write(TypePath("mtty", "mtty-2", "create"), OtherFreeUuid);
        Assert.AreEqual(21, await Available("mtty", "mtty-1"));
        Assert.AreEqual(10, await Available("mtty", "mtty-2"));
    }

    [TestMethod]
    public async Task Mtty_ExhaustionIsEnospc()
    {
        Open("mtty.json");
        for (var i = 0; i < 12; i++)
        {
            Assert.AreEqual(Errno.None, (await Write(TypePath("mtty", "mtty-2", "create"), Uuid(i))).Error);
        }

        Assert.AreEqual(0, await Available("mtty", "mtty-1"));
        Assert.AreEqual(Errno.ENOSPC, (await Write(TypePath("mtty", "mtty-1", "create"), Uuid(99))).Error);
        Assert.AreEqual(12, (await List("bus/mdev/devices")).Count, "nothing half-made");
    }

    [TestMethod]
    public async Task Mdpy_ExhaustionIsEusersAcrossTypes()
    {
        Open("mdpy.json");
        var types = new[] { "mdpy-vga", "mdpy-xga", "mdpy-hd", "mdpy-vga" };
        for (var i = 0; i < types.Length; i++)
        {
            Assert.AreEqual(Errno.None, (await Write(TypePath("mdpy", types[i], "create"), Uuid(i))).Error);
        }

        Assert.AreEqual(0, await Available("mdpy", "mdpy-xga"));
        Assert.AreEqual(Errno.EUSERS, (await Write(TypePath("mdpy", "mdpy-xga", "create"), Uuid(7))).Error);
    }

    [TestMethod]
    public async Task OneTypeAtATime_CreatingATypeZeroesTheOthersUntilItsLastInstanceGoes()
    {
        Open("vendor-host.json");
        const string Gpu = "0000:3b:00.0";
        Assert.AreEqual(Errno.None, (await Write(TypePath(Gpu, "nvidia-223", "create"), FreeUuid)).Error);
        Assert.AreEqual(0, await Available(Gpu, "nvidia-222"));
        Assert.AreEqual(1, await Available(Gpu, "nvidia-223"));
        Assert.AreEqual(Errno.ENOSPC, (await Write(TypePath(Gpu, "nvidia-222", "create"), OtherFreeUuid)).Error);
        Assert.AreEqual(Errno.None, (await Write($"bus/mdev/devices/{FreeUuid}/remove", "1")).Error);
        Assert.AreEqual(4, await Available(Gpu, "nvidia-222"));
        Assert.AreEqual(2, await Available(Gpu, "nvidia-223"));
    }

    [TestMethod]
    public async Task PerType_CountsEachTypeSeparately()
    {
        Open("vendor-host.json");
        Assert.AreEqual(1, await Available("0000:00:02.0", "i915-GVTg_V5_4"), "one of two is taken by the scenario's mdev");
        Assert.AreEqual(Errno.None, (await Write(TypePath("0000:00:02.0", "i915-GVTg_V5_4", "create"), FreeUuid)).Error);
        Assert.AreEqual(Errno.EUSERS, (await Write(TypePath("0000:00:02.0", "i915-GVTg_V5_4", "create"), OtherFreeUuid)).Error);
        Assert.AreEqual(1, await Available("0000:00:02.0", "i915-GVTg_V5_2"));
    }

    // --- remove ---

    [TestMethod]
    public async Task Remove_OneRemovesAndEveryPathUnderTheDeviceGoes()
    {
        Open("mtty.json");
        var before = Host.Snapshot();
        await Write(TypePath("mtty", "mtty-1", "create"), FreeUuid);
        Assert.AreEqual(Errno.None, (await Write($"bus/mdev/devices/{FreeUuid}/remove", "1\n")).Error);
        Assert.AreEqual(Errno.ENOENT, (await Read($"bus/mdev/devices/{FreeUuid}/mdev_type/name")).Error);
        Assert.AreEqual(Errno.ENOENT, (await Write($"bus/mdev/devices/{FreeUuid}/remove", "1")).Error);
        Assert.AreEqual(Errno.ENOENT, await ListError($"class/mdev_bus/mtty/mdev_supported_types/mtty-1/devices/{FreeUuid}"));
        Assert.AreEqual(before.State, Host.Snapshot().State);
    }

    [TestMethod]
    public async Task Remove_ZeroIsAcceptedAndDoesNothing()
    {
        Open("vendor-host.json");
        var before = Host.Snapshot();
        Assert.AreEqual(Errno.None, (await Write($"bus/mdev/devices/{ExistingUuid}/remove", "0")).Error);
        Assert.AreEqual(before.State, Host.Snapshot().State);
    }

    [TestMethod]
    [DataRow("yes")]
    [DataRow("1x")]
    [DataRow("-1")]
    [DataRow("")]
    public async Task Remove_GarbageIsEinval(string written)
    {
        Open("vendor-host.json");
        var before = Host.Snapshot();
        var result = await Write($"bus/mdev/devices/{ExistingUuid}/remove", written);
        Assert.AreEqual(written.Length == 0 ? Errno.None : Errno.EINVAL, result.Error, "an empty write never reaches the store");
        Assert.AreEqual(before.State, Host.Snapshot().State);
    }

    [TestMethod]
    public async Task Create_OnAParentGoingAway_IsEnodev_AndTheParentIsGoneAfterwards()
    {
        Open(LoadScenario("mdpy.json") with { Faults = [new FaultSpec { Operation = SimulatedOperation.Create, Parent = "mdpy", ParentDisappears = true }] });
        Assert.AreEqual(Errno.ENODEV, (await Write(TypePath("mdpy", "mdpy-vga", "create"), FreeUuid)).Error);
        Assert.AreEqual(0, (await List("class/mdev_bus")).Count);
        Assert.AreEqual(0, Host.Snapshot().State.Mdevs.Count);
    }

    [TestMethod]
    public async Task Remove_OnAParentGoingAway_IsEnodev()
    {
        Open(LoadScenario("vendor-host.json") with { Faults = [new FaultSpec { Operation = SimulatedOperation.Remove, Parent = "0000:00:02.0", ParentDisappears = true }] });
        Assert.AreEqual(Errno.ENODEV, (await Write($"bus/mdev/devices/{ExistingUuid}/remove", "1")).Error);
        Assert.AreEqual(Errno.ENOENT, await ListError($"bus/mdev/devices/{ExistingUuid}"));
    }

    [TestMethod]
    public async Task CreateAndRemove_CanFailWithEagain_AndChangeNothing()
    {
        Open(LoadScenario("vendor-host.json") with
        {
            Faults =
            [
                new FaultSpec { Operation = SimulatedOperation.Create, Nth = 1, Errno = "EAGAIN" },
                new FaultSpec { Operation = SimulatedOperation.Remove, Device = ExistingUuid, Errno = "EAGAIN" },
            ],
        });
        var before = Host.Snapshot();
        Assert.AreEqual(Errno.EAGAIN, (await Write(TypePath("0000:3b:00.0", "nvidia-222", "create"), FreeUuid)).Error);
        Assert.AreEqual(Errno.EAGAIN, (await Write($"bus/mdev/devices/{ExistingUuid}/remove", "1")).Error);
        Assert.AreEqual(before.State, Host.Snapshot().State);
        Assert.AreEqual(Errno.None, (await Write(TypePath("0000:3b:00.0", "nvidia-222", "create"), FreeUuid)).Error, "only the first create fails");
    }

    // --- version attributes (domain.md section 2) ---

    [TestMethod]
    public async Task VersionAttribute_AbsentMeansEnoent()
    {
        Open("vendor-host.json");
        Assert.AreEqual(Errno.ENOENT, (await Read(TypePath("0000:00:02.0", "i915-GVTg_V5_2", "migration_version"))).Error);
        Assert.AreEqual(Errno.ENOENT, (await Write(TypePath("0000:00:02.0", "i915-GVTg_V5_2", "migration_version"), "x")).Error);
        Assert.AreEqual(Errno.ENOENT, (await Read("bus/pci/devices/0000:5e:00.2/vfio_migration_version")).Error);
    }

    [TestMethod]
    public async Task VersionAttribute_ReadEndsWithANewline()
    {
        Open("vendor-host.json");
        Assert.AreEqual("8086-3e92-GVTg_V5_4-2.1\n", await ReadOk(TypePath("0000:00:02.0", "i915-GVTg_V5_4", "migration_version")));
        Assert.AreEqual("8086-3e92-GVTg_V5_4-2.1\n", await ReadOk($"bus/mdev/devices/{ExistingUuid}/migration_version"));
    }

    [TestMethod]
    [DataRow("8086-3e92-GVTg_V5_4-2.1", Errno.None)]
    [DataRow("8086-3e92-GVTg_V5_4-2.1\n", Errno.None)]
    [DataRow("8086-3e92-GVTg_V5_4-2.1\n\n", Errno.EINVAL)]
    [DataRow("8086-3e92-GVTg_V5_4-1.9", Errno.None)]
    [DataRow("8086-3e92-GVTg_V5_4-2.3", Errno.None)]
    [DataRow("8086-3e92-GVTg_V5_4-2.4", Errno.EINVAL)]
    [DataRow("8086-3e92-GVTg_V5_4-1.8", Errno.EINVAL)]
    [DataRow("10de-1eb8-nvidia-222", Errno.EINVAL)]
    [DataRow("", Errno.None)]
    public async Task TypeVersion_WriteSucceedsIffTheDriverAccepts(string source, Errno expected)
    {
        Open("vendor-host.json");
        Assert.AreEqual(expected, (await Write(TypePath("0000:00:02.0", "i915-GVTg_V5_4", "migration_version"), source)).Error);
    }

    [TestMethod]
    [DataRow(4097, false)]
    [DataRow(10, true)]
    public async Task Write_OfMoreThanAPageOrOfNonAscii_IsRefusedBeforeReachingTheHost(int length, bool nonAscii)
    {
        Open("vendor-host.json");
        var operationsBefore = Host.Snapshot().Operations.Count;
        var value = new string('a', length) + (nonAscii ? "\u00e9" : string.Empty);
        await Assert.ThrowsExactlyAsync<ArgumentException>(() => Write(TypePath("0000:00:02.0", "i915-GVTg_V5_4", "migration_version"), value));
        Assert.AreEqual(operationsBefore, Host.Snapshot().Operations.Count);
    }

    [TestMethod]
    public async Task VersionAttribute_ConfiguredReadAndWriteErrnos()
    {
        Open("vendor-host.json");
        Assert.AreEqual(Errno.EIO, (await Read(TypePath("0000:00:02.0", "i915-GVTg_V5_8", "migration_version"))).Error);
        Assert.AreEqual(Errno.ENODEV, (await Write(TypePath("0000:00:02.0", "i915-GVTg_V5_8", "migration_version"), "anything")).Error);
    }

    [TestMethod]
    public async Task DeviceVersion_OfACreatedMdevFollowsItsTypesDeviceRule()
    {
        Open("vendor-host.json");
        await Write(TypePath("0000:00:02.0", "i915-GVTg_V5_4", "create"), FreeUuid);
        var path = $"bus/mdev/devices/{FreeUuid}/migration_version";
        Assert.AreEqual("8086-3e92-GVTg_V5_4-2.1\n", await ReadOk(path));
        Assert.AreEqual(Errno.None, (await Write(path, "8086-3e92-GVTg_V5_4-2.9")).Error, "the device rule is a prefix");
        Assert.AreEqual(Errno.EINVAL, (await Write(path, "8086-3e92-GVTg_V5_4-1.9")).Error, "the type's explicit list does not apply to devices");
    }

    [TestMethod]
    public async Task ParentLevelVersion_AppliesToEveryTypeAndDevice()
    {
        Open("vendor-host.json");
        Assert.AreEqual("nvidia-535.104.05\n", await ReadOk(TypePath("0000:3b:00.0", "nvidia-223", "migration_version")));
        Assert.AreEqual(Errno.None, (await Write(TypePath("0000:3b:00.0", "nvidia-223", "migration_version"), "nvidia-535.54.03\n")).Error);
        Assert.AreEqual(Errno.EINVAL, (await Write(TypePath("0000:3b:00.0", "nvidia-223", "migration_version"), "nvidia-550.54.03")).Error);
    }

    [TestMethod]
    public async Task PhysicalDevice_HasTypeAndVersionAttributes()
    {
        Open("vendor-host.json");
        Assert.AreEqual("vfio-pci:mlx5\n", await ReadOk("bus/pci/devices/0000:5e:00.1/vfio_migration_type"));
        Assert.AreEqual("mlx5-fw-22.36\n", await ReadOk("bus/pci/devices/0000:5e:00.1/vfio_migration_version"));
        Assert.AreEqual(Errno.None, (await Write("bus/pci/devices/0000:5e:00.1/vfio_migration_version", "mlx5-fw-22.31")).Error);
        Assert.AreEqual(Errno.ENODEV, (await Write("bus/pci/devices/0000:5e:00.1/vfio_migration_version", "mlx5-fw-23.01")).Error);
        Assert.AreEqual(Errno.EACCES, (await Write("bus/pci/devices/0000:5e:00.1/vfio_migration_type", "vfio-pci:x")).Error);
        Assert.AreEqual("0x15b3\n", await ReadOk("bus/pci/devices/0000:5e:00.1/vendor"));
        Assert.AreEqual("../../../bus/pci/drivers/vfio-pci", await ReadLinkOk("bus/pci/devices/0000:5e:00.1/driver"));
    }

    // --- file system semantics ---

    [TestMethod]
    public async Task Directories_CannotBeReadAsFiles_AndFilesCannotBeListed()
    {
        Open("mtty.json");
        Assert.AreEqual(Errno.EISDIR, (await Read("class/mdev_bus/mtty/mdev_supported_types")).Error);
        Assert.AreEqual(Errno.ENOTDIR, await ListError(TypePath("mtty", "mtty-1", "name")));
        Assert.AreEqual(Errno.ENOENT, await ListError("class/mdev_bus/nope"));
    }

    // --- observation ---

    [TestMethod]
    public async Task Snapshot_RecordsEveryOperationWithItsResult()
    {
        Open("mtty.json");
        var before = Host.Snapshot();
        await Write(TypePath("mtty", "mtty-1", "create"), "garbage");
        await Read(TypePath("mtty", "mtty-1", "available_instances"));
        var operations = Host.Snapshot().OperationsSince(before).ToList();
        Assert.HasCount(2, operations);
        Assert.AreEqual("garbage", operations[0].Data);
        Assert.AreEqual(Errno.EINVAL, operations[0].Result);
        Assert.IsFalse(operations[1].IsWrite);
        Assert.AreEqual(Errno.None, operations[1].Result);
    }

    [TestMethod]
    public async Task ConcurrentCreates_NeverExceedTheCapacity()
    {
        Open("mdpy.json");
        var results = await Task.WhenAll(Enumerable.Range(0, 16).Select(i => Task.Run(() => Write(TypePath("mdpy", "mdpy-vga", "create"), Uuid(i)))));
        Assert.AreEqual(4, results.Count(r => r.Succeeded));
        Assert.AreEqual(12, results.Count(r => r.Error == Errno.EUSERS));
        Assert.AreEqual(4, (await List("bus/mdev/devices")).Count);
    }

    protected static string Uuid(int n) => $"0000{n:x4}-0000-4000-8000-000000000000";
}
