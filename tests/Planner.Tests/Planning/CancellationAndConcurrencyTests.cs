using VfioMigration.Planner.Planning;
using VfioMigration.Planner.State;
using VfioMigration.Planner.Tests.Fakes;
using VfioMigration.Planner.Tests.State;

namespace VfioMigration.Planner.Tests.Planning;

/// <summary>Cancellation at every step leaves the hosts as they were; concurrent plans never share a target.</summary>
[TestClass]
public sealed class CancellationAndConcurrencyTests
{
    public TestContext TestContext { get; set; } = null!;

    private static Scenario Busy(CreateBehaviour behaviour)
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63", "nvidia-63", "nvidia-63");
        var liar = scenario.DestinationType(parent: "0000:41:00.0", max: 2);
        liar.DeviceVersion = new FakeVersion("other");
        var good = scenario.DestinationType(parent: "0000:42:00.0", max: 2);
        scenario.DestinationType(parent: "0000:43:00.0", max: 2);
        scenario.Destination.AddMdev(good);
        scenario.Destination.Hypervisor.Create = behaviour;
        return scenario;
    }

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public async Task CancellingAtAnyStep_LeavesNothingCreated(bool libvirtCreates)
    {
        var behaviour = libvirtCreates ? CreateBehaviour.Works : CreateBehaviour.NotSupported;
        // Count the operations of an uncancelled run, then cancel just before each one in turn.
        var reference = Busy(behaviour);
        int steps;
        await using (var result = await reference.PlanAsync())
        {
            Assert.IsTrue(result.Succeeded);
            steps = reference.Source.Operations.Count + reference.Destination.Operations.Count;
        }

        Assert.IsGreaterThan(10, steps);
        for (var step = 1; step <= steps; step++)
        {
            var scenario = Busy(behaviour);
            var before = scenario.Destination.Snapshot();
            using var cancellation = new CancellationTokenSource();
            var seen = 0;
            void CancelAtStep(string operation)
            {
                if (Interlocked.Increment(ref seen) == step)
                {
                    cancellation.Cancel();
                }
            }

            scenario.Source.BeforeOperation = CancelAtStep;
            scenario.Destination.BeforeOperation = CancelAtStep;

            try
            {
                await using var result = await scenario.PlanAsync(cancellationToken: cancellation.Token);
                Assert.Fail($"step {step}: the plan should have been cancelled");
            }
            catch (OperationCanceledException)
            {
            }

            Assert.AreEqual(before, scenario.Destination.Snapshot(), $"cancelled before step {step} of {steps}");
            Assert.AreEqual(0, scenario.Claims.Count, $"claims left after cancelling at step {step}");
        }
    }

    [TestMethod]
    public async Task TwoPlansAtOnce_NeverGetTheSameTarget()
    {
        var registry = new TargetClaimRegistry();
        var destination = new FakeHost("dest");
        var type = destination.AddParent("0000:41:00.0").AddType("nvidia-63", max: 1, typeVersion: new FakeVersion(Scenario.Version), deviceVersion: new FakeVersion(Scenario.Version));
        destination.AddMdev(type);
        var sources = Enumerable.Range(0, 2).Select(i =>
        {
            var source = new FakeHost($"source{i}");
            var sourceType = source.AddParent("0000:01:00.0").AddType("nvidia-63", max: 1, deviceVersion: new FakeVersion(Scenario.Version));
            source.DefineGuest("vm1", FakeHost.MdevDevice(0, source.AddMdev(sourceType)));
            return source;
        }).ToList();

        var planner = new MigrationPlanner(claims: registry);
        var plans = await Task.WhenAll(sources.Select(source =>
            planner.PlanAsync(new PlanRequest(source.ToHost(), DomainSelector.Parse("vm1"), [destination.ToHost()]))));

        try
        {
            Assert.HasCount(1, plans.Where(p => p.Succeeded), "one idle device, no capacity: exactly one guest gets it");
            var loser = plans.Single(p => !p.Succeeded);
            Assert.IsTrue(loser.Best.Rejections.Any(r => r.Code == RejectionCode.InUse && r.Message.Contains("another plan", StringComparison.Ordinal)));
        }
        finally
        {
            foreach (var plan in plans)
            {
                await plan.DisposeAsync();
            }
        }

        Assert.AreEqual(0, registry.Count);
    }

    /// <summary>
    /// A racing plan claims the idle mdev just after this plan read the host's claims: the search
    /// chose it, loses it in the batch claim, knows it held from then on and runs again, creating one.
    /// </summary>
    [TestMethod]
    public async Task ADeviceARacerClaimsAfterTheClaimsWereRead_IsNotHandedOut_TheSearchRunsAgain()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63");
        var idle = scenario.Destination.AddMdev(scenario.DestinationType(parent: "0000:41:00.0", max: 2));
        var racer = Guid.NewGuid();
        var store = new RacerAfterTheRead(TargetKeys.Mdev(idle.Uuid), racer);

        await using (var result = await new MigrationPlanner(claims: store).PlanAsync(scenario.Request(), TestContext.CancellationToken))
        {
            Assert.IsTrue(result.Succeeded);
            Assert.AreEqual(DeviceAction.Create, result.Best.Devices.Single().Action);
            Assert.AreEqual($"{idle.Uuid} is claimed by another plan (plan {racer} for guest vm9, process {Environment.ProcessId} (this one)).", result.Best.Rejections.Single(r => r.Code == RejectionCode.InUse).Message);
            Assert.AreEqual(1, store.Reads, "the host's claims are read once per plan");
        }

        Assert.AreEqual(racer, (await store.Claims.ListPlansAsync()).Single().Id, "only the racer's claim is left");
    }

    /// <summary>The in-memory store, with a racing plan that claims a device right after each read of the host's claims.</summary>
    private sealed class RacerAfterTheRead(string device, Guid racer) : OneDeviceStore, IPlannerStateStore
    {
        public int Reads { get; private set; }

        async Task<IReadOnlyDictionary<string, ClaimHolder>> IPlannerStateStore.ClaimsOnAsync(string hostKey, Guid plan, CancellationToken cancellationToken)
        {
            var claims = await Claims.ClaimsOnAsync(hostKey, plan, cancellationToken);
            Reads++;
            Claims.BeginPlan(racer, "vm9");
            Assert.IsNull(await Claims.TryClaimAsync(hostKey, device, racer, cancellationToken));
            return claims;
        }
    }
}
