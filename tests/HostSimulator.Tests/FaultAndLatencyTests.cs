using Microsoft.Extensions.Time.Testing;
using VfioMigration.HostSimulator.Scenarios;
using VfioMigration.HostSimulator.Tests.Conformance;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.HostSimulator.Tests;

[TestClass]
public sealed class FaultAndLatencyTests
{
    private const string Create = "class/mdev_bus/mdpy/mdev_supported_types/mdpy-vga/create";

    public TestContext TestContext { get; set; } = null!;

    private static SimulatedHost Mdpy(params FaultSpec[] faults) =>
        SimulatedHost.FromScenario(HostFileSystemConformanceTests.LoadScenario("mdpy.json") with { Faults = faults });

    private Task<SysfsResult> Write(IHostFileSystem sysfs, string path, string value) =>
        sysfs.WriteAsync(SysfsPath.Parse(path), value, TestContext.CancellationToken).AsTask();

    [TestMethod]
    public async Task NthCreate_FailsWithTheGivenErrno_AndLeavesNothingBehind()
    {
        var host = Mdpy(new FaultSpec { Operation = SimulatedOperation.Create, Nth = 2, Errno = "EAGAIN" });
        var sysfs = host.CreateFileSystem();
        Assert.AreEqual(Errno.None, (await Write(sysfs, Create, "00000000-0000-4000-8000-000000000001")).Error);
        Assert.AreEqual(Errno.EAGAIN, (await Write(sysfs, Create, "00000000-0000-4000-8000-000000000002")).Error);
        Assert.AreEqual(Errno.None, (await Write(sysfs, Create, "00000000-0000-4000-8000-000000000002")).Error);
        Assert.HasCount(2, host.Snapshot().State.Mdevs);
    }

    [TestMethod]
    public async Task ReadFault_FailsOnlyTheTargetedAttribute()
    {
        var host = Mdpy(new FaultSpec { Operation = SimulatedOperation.Read, Type = "mdpy-hd", Errno = "EIO" });
        var sysfs = host.CreateFileSystem();
        Assert.AreEqual(Errno.EIO, (await sysfs.ReadAsync(SysfsPath.Parse("class/mdev_bus/mdpy/mdev_supported_types/mdpy-hd/name"), TestContext.CancellationToken)).Error);
        Assert.AreEqual(Errno.None, (await sysfs.ReadAsync(SysfsPath.Parse("class/mdev_bus/mdpy/mdev_supported_types/mdpy-vga/name"), TestContext.CancellationToken)).Error);
    }

    [TestMethod]
    public async Task HangingWrite_HonoursCancellation_AndIsLogged()
    {
        var host = Mdpy(new FaultSpec { Operation = SimulatedOperation.Create, HangMs = 600_000 });
        var sysfs = host.CreateFileSystem();
        using var cancellation = CancellationTokenSource.CreateLinkedTokenSource(TestContext.CancellationToken);
        var write = sysfs.WriteAsync(SysfsPath.Parse(Create), "00000000-0000-4000-8000-000000000001", cancellation.Token).AsTask();
        Assert.IsFalse(write.IsCompleted);
        await cancellation.CancelAsync();
        await Assert.ThrowsAsync<OperationCanceledException>(() => write);
        var snapshot = host.Snapshot();
        Assert.AreEqual(Errno.ECANCELED, snapshot.Operations.Single().Result);
        Assert.IsEmpty(snapshot.State.Mdevs);
    }

    [TestMethod]
    public async Task ParentDisappearing_DuringACreate_GivesEnodev_ThenEverythingUnderItIsGone()
    {
        var host = Mdpy(new FaultSpec { Operation = SimulatedOperation.Create, Parent = "mdpy", Nth = 2, ParentDisappears = true });
        var sysfs = host.CreateFileSystem();
        Assert.AreEqual(Errno.None, (await Write(sysfs, Create, "00000000-0000-4000-8000-000000000001")).Error);
        Assert.AreEqual(Errno.ENODEV, (await Write(sysfs, Create, "00000000-0000-4000-8000-000000000002")).Error);
        Assert.AreEqual(Errno.ENOENT, (await Write(sysfs, Create, "00000000-0000-4000-8000-000000000003")).Error);
        Assert.IsEmpty((await sysfs.ListAsync(SysfsPath.MdevBus, TestContext.CancellationToken)).Value!);
        Assert.IsEmpty((await sysfs.ListAsync(SysfsPath.MdevDevices, TestContext.CancellationToken)).Value!);
        Assert.IsEmpty(host.Snapshot().State.Parents);
    }

    [TestMethod]
    public async Task RemovingAParent_FailsAnOperationAlreadyInFlightWithEnodev()
    {
        var time = new FakeTimeProvider();
        var host = SimulatedHost.FromScenario(HostFileSystemConformanceTests.LoadScenario("mdpy.json") with { Latency = new LatencySpec { CreateMs = 1000 } }, time);
        var write = host.CreateFileSystem().WriteAsync(SysfsPath.Parse(Create), "00000000-0000-4000-8000-000000000001", TestContext.CancellationToken).AsTask();
        Assert.IsFalse(write.IsCompleted, "the create waits for its simulated latency");
        Assert.IsTrue(host.RemoveParent("mdpy"));
        Assert.IsFalse(host.RemoveParent("mdpy"));
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.AreEqual(Errno.ENODEV, (await write).Error);
        Assert.IsEmpty(host.Snapshot().State.Mdevs);
    }

    [TestMethod]
    public async Task Latency_DelaysTheOperationUntilItsTimeHasPassed()
    {
        var time = new FakeTimeProvider();
        var host = SimulatedHost.FromScenario(HostFileSystemConformanceTests.LoadScenario("mdpy.json") with { Latency = new LatencySpec { CreateMs = 1000 } }, time);
        var write = host.CreateFileSystem().WriteAsync(SysfsPath.Parse(Create), "00000000-0000-4000-8000-000000000001", TestContext.CancellationToken).AsTask();
        time.Advance(TimeSpan.FromMilliseconds(999));
        Assert.IsFalse(write.IsCompleted);
        Assert.IsEmpty(host.Snapshot().State.Mdevs, "nothing happens before the latency has passed");
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.AreEqual(Errno.None, (await write).Error);
        Assert.HasCount(1, host.Snapshot().State.Mdevs);
    }

    [TestMethod]
    public async Task Snapshot_StateComparesByValue_AndChangesWithTheHost()
    {
        var host = Mdpy();
        var sysfs = host.CreateFileSystem();
        var before = host.Snapshot();
        Assert.AreEqual(before.State, host.Snapshot().State);
        await Write(sysfs, Create, "00000000-0000-4000-8000-000000000001");
        var during = host.Snapshot();
        Assert.AreNotEqual(before.State, during.State);
        StringAssert.Contains(during.State.ToString(), "00000000-0000-4000-8000-000000000001");
        await Write(sysfs, "bus/mdev/devices/00000000-0000-4000-8000-000000000001/remove", "1");
        Assert.AreEqual(before.State, host.Snapshot().State);
        Assert.AreNotEqual(before, host.Snapshot(), "the operation log grew");
    }
}
