using VfioMigration.Planner.Planning;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.Planner.Tests.Planning;

/// <summary>
/// Two small pieces read directly: a write-and-ask reply taken apart line by line
/// (<see cref="QueryAnswer.From"/>), and one plan's counters taking in what the shared source facts
/// cost (<see cref="PlanCounters.Add"/>).
/// </summary>
[TestClass]
public sealed class QueryAnswerAndCountersTests
{
    private static readonly ProbeRecord Record = new(ProbePoint.MdevType, SysfsPath.Parse("class/mdev_bus/mtty/query"), Errno.None, false);

    [TestMethod]
    public void AReplyOfSeveralLines_GivesEveryMdevAndType_AndIgnoresAnyOtherLine()
    {
        const string Reply = "mdev 83b8f4f2-509f-382f-3c1e-e6bfe0fa1001\ntype mtty-2\n\nnoise here too\nmdev not-a-uuid\ntype mtty-1\n";

        var answer = QueryAnswer.From(Record, Reply, "a reason");

        CollectionAssert.AreEqual(new[] { "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001" }, answer.Mdevs.Select(m => m.Value).ToArray());
        CollectionAssert.AreEqual(new[] { "mtty-1", "mtty-2" }, answer.Types.Select(t => t.Value).Order(StringComparer.Ordinal).ToArray());
        Assert.AreEqual((Record, "a reason"), (answer.Record, answer.Reason));
    }

    [TestMethod]
    public void NoReply_GivesNothing()
    {
        var answer = QueryAnswer.From(Record, null, null);

        Assert.AreEqual((0, 0, (string?)null), (answer.Mdevs.Count, answer.Types.Count, answer.Reason));
    }

    [TestMethod]
    public void Add_TakesInTheOtherCountersCalls_Reads_AndSourceRoundTrips()
    {
        var source = new PlanCounters();
        source.HypervisorCall();
        source.SysfsReads(4);
        source.SourceRoundTrips(3);
        var plan = new PlanCounters();
        plan.SysfsReads(1);
        plan.SourceRoundTrips(2);

        plan.Add(source);

        var total = plan.Snapshot();
        Assert.AreEqual((1L, 5L, 5L), ((long)total.LibvirtCalls, (long)total.SysfsReads, total.SourceRoundTrips));
    }
}
