using VfioMigration.Bench;

namespace VfioMigration.Etcd.Tests;

/// <summary>
/// The bench's split evacuation (<see cref="FleetSplitRunner"/>) at small scale: 2 real
/// <c>vfio-migrator evacuate</c> processes sharing one etcd, each with half of a source host's
/// guests, onto the same 2 FUSE-mounted destinations. Every guest is placed, no destination device
/// is handed out twice, no capacity is exceeded. Times are the bench's, not asserted here.
/// </summary>
[TestClass]
[DoNotParallelize]
public sealed class FleetSplitTests
{
    private static readonly FleetSplitShape Shape = new(Destinations: 2, Guests: 8);

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    [Timeout(600_000, CooperativeCancellation = true)]
    public async Task TwoPlannerProcesses_SharingOneEtcd_PlaceEveryGuest_AndNoTargetTwice()
    {
        if (FleetSplitRunner.Unavailable is { } reason)
        {
            Assert.Inconclusive(reason);
        }

        var devices = FleetSplitRunner.Source(Shape).Guests!.Sum(g => g.Hostdevs!.Count);
        var planner = new PlannerCommand("dotnet", [Path.Combine(AppContext.BaseDirectory, "vfio-migrator.dll")]);

        var split = await FleetSplitRunner.MeasureAsync(planner, Shape, processes: 2, TestContext.CancellationToken);

        TestContext.WriteLine($"{split}");
        Assert.AreEqual(24, devices, "the generated source: 8 guests of 1-4 devices (seed 500)");
        Assert.AreEqual((2, 8, 24, 8, 24, 0, 0), (split.Processes, split.Guests, split.Devices, split.Complete, split.Targets, split.DoubleAssignments, split.OverCapacity));
    }
}
