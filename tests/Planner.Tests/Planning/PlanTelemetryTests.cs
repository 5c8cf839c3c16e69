using System.Diagnostics;
using System.Diagnostics.Metrics;
using VfioMigration.Planner.Diagnostics;
using VfioMigration.Planner.Tests.Fakes;

namespace VfioMigration.Planner.Tests.Planning;

/// <summary>
/// The <c>PlanDestination</c> activity of each destination (its destination and completeness tags,
/// its error status) and the plan-duration histogram (found missing by mutation testing,
/// docs/testing.md). The listeners are process-wide: activities are told apart by their destination
/// tag, which names a host no other test uses.
/// </summary>
[TestClass]
public sealed class PlanTelemetryTests
{
    public TestContext TestContext { get; set; } = null!;

    /// <summary>Plans vm1 onto a destination named <paramref name="destination"/>; returns its PlanDestination activities and the durations recorded meanwhile.</summary>
    private static async Task<(List<Activity> Activities, List<double> Durations, Exception? Error)> PlanObservedAsync(string destination, Action<Scenario, FakeHost> arrange, CancellationToken cancellationToken = default)
    {
        var activities = new List<Activity>();
        using var activityListener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == PlannerTelemetry.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                if (activity.OperationName == "PlanDestination" && Equals(activity.GetTagItem("vfio_migration.destination"), destination))
                {
                    lock (activities)
                    {
                        activities.Add(activity);
                    }
                }
            },
        };
        ActivitySource.AddActivityListener(activityListener);
        var durations = new List<double>();
        using var meterListener = new MeterListener();
        meterListener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == PlannerTelemetry.Name && instrument.Name == "vfio_migration.planner.plan.duration")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        meterListener.SetMeasurementEventCallback<double>((_, value, _, _) =>
        {
            lock (durations)
            {
                durations.Add(value);
            }
        });
        meterListener.Start();

        var scenario = new Scenario();
        scenario.Guest("nvidia-63");
        var host = new FakeHost(destination);
        arrange(scenario, host);
        try
        {
            await using var result = await scenario.Planner().PlanAsync(scenario.Request(null, host), cancellationToken);
            return (activities, durations, null);
        }
        catch (OperationCanceledException error)
        {
            return (activities, durations, error);
        }
    }

    [TestMethod]
    public async Task CompletePlan_IsOneActivity_TaggedWithTheDestinationAndComplete_AndOneDuration()
    {
        var (activities, durations, _) = await PlanObservedAsync("telemetry-complete", (_, host) => host.AddParent("0000:41:00.0").AddType("nvidia-63", typeVersion: new FakeVersion(Scenario.Version), deviceVersion: new FakeVersion(Scenario.Version)));

        var activity = activities.Single();
        Assert.AreEqual(true, activity.GetTagItem("vfio_migration.complete"));
        Assert.AreEqual(ActivityStatusCode.Unset, activity.Status);
        Assert.HasCount(1, durations);
        Assert.IsGreaterThanOrEqualTo(0, durations[0]);
    }

    [TestMethod]
    public async Task FailedPlan_IsTaggedIncomplete()
    {
        var (activities, durations, _) = await PlanObservedAsync("telemetry-incomplete", (_, _) => { });

        var activity = activities.Single();
        Assert.AreEqual(false, activity.GetTagItem("vfio_migration.complete"));
        Assert.AreEqual(ActivityStatusCode.Unset, activity.Status);
        Assert.HasCount(1, durations);
    }

    [TestMethod]
    public async Task UnreachableDestination_IsAnErrorWithTheReason()
    {
        var (activities, durations, _) = await PlanObservedAsync("telemetry-unreachable", (_, host) => host.Hypervisor.Unreachable = "no route to host");

        var activity = activities.Single();
        Assert.AreEqual(ActivityStatusCode.Error, activity.Status);
        Assert.AreEqual("no route to host", activity.StatusDescription);
        Assert.IsNull(activity.GetTagItem("vfio_migration.complete"));
        Assert.HasCount(1, durations);
    }

    [TestMethod]
    public async Task CancelledPlan_IsAnErrorWithTheCancellation()
    {
        using var cancellation = new CancellationTokenSource();
        var (activities, durations, error) = await PlanObservedAsync(
            "telemetry-cancelled",
            (_, host) =>
            {
                host.AddParent("0000:41:00.0").AddType("nvidia-63", typeVersion: new FakeVersion(Scenario.Version), deviceVersion: new FakeVersion(Scenario.Version));
                host.BeforeOperation = operation =>
                {
                    if (operation.StartsWith("write ", StringComparison.Ordinal))
                    {
                        cancellation.Cancel();
                    }
                };
            },
            cancellation.Token);

        Assert.IsNotNull(error);
        var activity = activities.Single();
        Assert.AreEqual(ActivityStatusCode.Error, activity.Status);
        Assert.AreEqual(error.Message, activity.StatusDescription);
        Assert.HasCount(1, durations);
    }

    [TestMethod]
    public async Task EachProbe_IsCountedOnce_TaggedWithItsPoint()
    {
        var probes = new List<(long Value, string? Point)>();
        using var meterListener = new MeterListener();
        meterListener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == PlannerTelemetry.Name && instrument.Name == "vfio_migration.planner.probes")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        meterListener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            var point = tags.ToArray().Where(t => t.Key == "point").Select(t => t.Value as string).SingleOrDefault();
            lock (probes)
            {
                probes.Add((value, point));
            }
        });
        meterListener.Start();
        var scenario = new Scenario();
        scenario.Guest("nvidia-63");
        var host = new FakeHost("telemetry-probes");
        host.AddParent("0000:41:00.0").AddType("nvidia-63", typeVersion: new FakeVersion(Scenario.Version), deviceVersion: new FakeVersion(Scenario.Version));

        await using var result = await scenario.Planner().PlanAsync(scenario.Request(null, host), TestContext.CancellationToken);

        Assert.AreEqual(result.Best.Statistics.Probes, probes.Count);
        CollectionAssert.AreEqual(new[] { (1L, "MdevType"), (1L, "MdevDevice") }, probes);
    }
}
