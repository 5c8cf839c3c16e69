using VfioMigration.Planner.Sysfs;
using VfioMigration.Planner.Tests.Fakes;

namespace VfioMigration.Planner.Tests.Planning;

/// <summary>
/// Inputs that kill mutants of <c>DestinationPlanner</c> which survived Stryker (docs/testing.md,
/// "Mutation testing"): each test was shown to fail with its mutant planted by hand.
/// </summary>
[TestClass]
public sealed class DestinationPlannerSurvivorTests
{
    [TestMethod]
    public async Task Statistics_ConnectMsIsTheSumOfBothHosts_AndDestinationRoundTripsAreOnlyThoseOfThisPlan()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63");
        scenario.DestinationType();
        var destination = scenario.Destination;
        destination.FileSystem.RoundTrips = 10;
        destination.BeforeOperation = _ => destination.FileSystem.RoundTrips++;
        var request = new PlanRequest(
            scenario.Source.ToHost() with { ConnectTime = TimeSpan.FromMilliseconds(5) },
            DomainSelector.Parse("vm1"),
            [destination.ToHost() with { ConnectTime = TimeSpan.FromMilliseconds(2) }],
            new PlanOptions());

        await using var result = await scenario.Planner().PlanAsync(request);

        Assert.IsTrue(result.Succeeded, string.Join("\n", result.Best.Reasons));
        Assert.AreEqual(7L, result.Best.Statistics.ConnectMs, "source 5 ms + destination 2 ms");
        Assert.AreEqual(destination.FileSystem.RoundTrips - 10, result.Best.Statistics.DestinationRoundTrips, "the round trips counted before the plan started are not this plan's");
        Assert.IsGreaterThan(0L, result.Best.Statistics.DestinationRoundTrips);
    }
    [TestMethod]
    public async Task TwoCreatesThatFailInOneRound_AreRejectedInDeviceOrder()
    {
        // 41 and 42 have room for one nvidia-63 each and both creates fail: the round's results are applied in device order.
        var scenario = new Scenario();
        scenario.Guest("nvidia-63", "nvidia-63");
        scenario.DestinationType(parent: "0000:41:00.0", max: 1);
        scenario.DestinationType(parent: "0000:42:00.0", max: 1);
        scenario.Destination.FileSystem.FailingWrites["class/mdev_bus/0000:41:00.0/mdev_supported_types/nvidia-63/create"] = Errno.EIO;
        scenario.Destination.FileSystem.FailingWrites["class/mdev_bus/0000:42:00.0/mdev_supported_types/nvidia-63/create"] = Errno.EIO;

        await using var result = await scenario.PlanAsync();

        Assert.IsFalse(result.Succeeded);
        var failed = result.Best.Rejections.Where(r => r.Code == RejectionCode.CreateFailed).Select(r => r.Source).ToArray();
        CollectionAssert.AreEqual(new[] { scenario.Source.Mdevs[0].Uuid.Value, scenario.Source.Mdevs[1].Uuid.Value }, failed);
    }
}
