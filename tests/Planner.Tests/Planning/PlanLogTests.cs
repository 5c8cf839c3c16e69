using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using VfioMigration.Planner.Tests.Fakes;

namespace VfioMigration.Planner.Tests.Planning;

/// <summary>What one destination's plan logs: each rejection once, with its candidate, and how the plan ended.</summary>
[TestClass]
public sealed class PlanLogTests
{
    private readonly FakeLogger<MigrationPlanner> _logger = new();

    private IReadOnlyList<FakeLogRecord> Logged(int eventId) =>
        [.. _logger.Collector.GetSnapshot().Where(record => record.Id.Id == eventId)];

    [TestMethod]
    public async Task FailedPlan_LogsEveryRejectionWithItsCandidate_ThenTheFailureAndTheEnd()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63");
        scenario.DestinationType(id: "nvidia-64");

        await using var result = await new MigrationPlanner(logger: _logger, claims: scenario.Claims).PlanAsync(scenario.Request());

        Assert.IsFalse(result.Succeeded);
        var rejections = result.Best.Rejections;
        Assert.HasCount(2, rejections);
        Assert.AreEqual(RejectionCode.TypeMismatch, rejections[0].Code);
        Assert.AreEqual("pci_0000_41_00_0", rejections[0].Candidate);
        Assert.AreEqual(RejectionCode.NotPlaced, rejections[1].Code);
        Assert.IsNull(rejections[1].Candidate);

        var rejected = Logged(1005);
        Assert.HasCount(2, rejected);
        CollectionAssert.AreEqual(new[] { "pci_0000_41_00_0", "(none)" }, rejected.Select(r => r.GetStructuredStateValue("Candidate")).ToArray());
        for (var i = 0; i < rejections.Count; i++)
        {
            Assert.AreEqual(LogLevel.Debug, rejected[i].Level);
            Assert.AreEqual(rejections[i].Source, rejected[i].GetStructuredStateValue("Device"));
            Assert.AreEqual("dest", rejected[i].GetStructuredStateValue("Host"));
            Assert.AreEqual(rejections[i].Code.ToString(), rejected[i].GetStructuredStateValue("Code"));
            Assert.AreEqual(rejections[i].Message, rejected[i].GetStructuredStateValue("Message"));
        }

        var failed = Logged(1013).Single();
        Assert.AreEqual("vm1", failed.GetStructuredStateValue("Guest"));
        Assert.AreEqual("dest", failed.GetStructuredStateValue("Destination"));
        StringAssert.Contains(failed.Message, result.Best.Reasons.Single());

        var finished = Logged(1001).Single();
        Assert.AreEqual("vm1", finished.GetStructuredStateValue("Guest"));
        Assert.AreEqual("dest", finished.GetStructuredStateValue("Destination"));
        Assert.AreEqual("False", finished.GetStructuredStateValue("Complete"));
        Assert.AreEqual("0", finished.GetStructuredStateValue("Devices"));
        Assert.AreEqual("0", finished.GetStructuredStateValue("Probes"));
        Assert.AreEqual("0", finished.GetStructuredStateValue("Creates"));
    }

    [TestMethod]
    public async Task CompletePlan_LogsItsDevicesProbesAndCreates_AndNoFailure()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63");
        scenario.DestinationType();

        await using var result = await new MigrationPlanner(logger: _logger, claims: scenario.Claims).PlanAsync(scenario.Request());

        Assert.IsTrue(result.Succeeded);
        Assert.IsEmpty(Logged(1005));
        Assert.IsEmpty(Logged(1013));
        var finished = Logged(1001).Single();
        Assert.AreEqual("True", finished.GetStructuredStateValue("Complete"));
        Assert.AreEqual("1", finished.GetStructuredStateValue("Devices"));
        Assert.AreEqual(result.Best.Statistics.Probes.ToString(System.Globalization.CultureInfo.InvariantCulture), finished.GetStructuredStateValue("Probes"));
        Assert.AreEqual("1", finished.GetStructuredStateValue("Creates"));
    }
}
