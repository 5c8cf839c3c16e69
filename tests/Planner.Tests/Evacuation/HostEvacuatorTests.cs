using VfioMigration.Planner.Evacuation;
using VfioMigration.Planner.Tests.Fakes;

namespace VfioMigration.Planner.Tests.Evacuation;

/// <summary>Evacuating a host: capacity shared across guests, every destination tried, all kept or all released.</summary>
[TestClass]
public sealed class HostEvacuatorTests
{
    private static FakeHost SourceWithGuests(int guests)
    {
        var scenario = new Scenario();
        var type = scenario.SourceType();
        for (var i = 0; i < guests; i++)
        {
            scenario.Source.DefineGuest($"vm{i}", FakeHost.MdevDevice(0, scenario.Source.AddMdev(type)));
        }

        return scenario.Source;
    }

    private static FakeHost Destination(string name, int capacity)
    {
        var host = new FakeHost(name);
        var version = new FakeVersion(Scenario.Version);
        host.AddParent("0000:41:00.0").AddType("nvidia-63", max: capacity, typeVersion: version, deviceVersion: version);
        return host;
    }

    private static HostEvacuator Evacuator() => new(new MigrationPlanner(claims: new TargetClaimRegistry()));

    [TestMethod]
    [DataRow(1)]
    [DataRow(3)]
    public async Task Capacity_IsSharedAcrossGuests_AndEveryTargetIsGivenOnce(int plansPerHost)
    {
        var source = SourceWithGuests(3);
        var small = Destination("small", capacity: 1);
        var large = Destination("large", capacity: 2);

        await using var result = await Evacuator().EvacuateAsync(new EvacuationRequest(source.ToHost(), [small.ToHost(), large.ToHost()], PlansPerHost: plansPerHost));

        Assert.IsTrue(result.Succeeded);
        Assert.HasCount(3, result.Guests);
        Assert.HasCount(1, small.Mdevs, "the one-instance host holds one guest's device");
        Assert.HasCount(2, large.Mdevs);
        var targets = result.Guests.Select(g => $"{g.Plan.Best.Destination.Name}/{g.Plan.Best.Devices.Single().Target.Id}").ToList();
        Assert.HasCount(3, targets.Distinct(), string.Join(", ", targets));
    }

    [TestMethod]
    public async Task GuestThatFitsNowhere_TriesEveryDestination_AndKeepsItsReasons()
    {
        var source = SourceWithGuests(3);
        var first = Destination("first", capacity: 1);
        var second = Destination("second", capacity: 1);

        await using var result = await Evacuator().EvacuateAsync(new EvacuationRequest(source.ToHost(), [first.ToHost(), second.ToHost()]));

        Assert.IsFalse(result.Succeeded);
        var homeless = result.Guests.Single(g => !g.Succeeded);
        Assert.AreEqual(2, homeless.Attempts);
        Assert.IsTrue(homeless.Retried);
        Assert.IsNotEmpty(homeless.Plan.Best.Reasons);
        Assert.AreEqual(2, result.Guests.Count(g => g.Succeeded));
    }

    [TestMethod]
    public async Task ReleaseAll_RemovesEveryCreatedDevice_CommitAll_KeepsThem()
    {
        var source = SourceWithGuests(2);
        var released = Destination("released", capacity: 2);
        var kept = Destination("kept", capacity: 2);

        var toRelease = await Evacuator().EvacuateAsync(new EvacuationRequest(source.ToHost(), [released.ToHost()]));
        Assert.HasCount(2, released.Mdevs);
        var failures = await toRelease.ReleaseAllAsync();
        Assert.IsEmpty(failures);
        Assert.IsEmpty(released.Mdevs);

        var toKeep = await Evacuator().EvacuateAsync(new EvacuationRequest(source.ToHost(), [kept.ToHost()]));
        await toKeep.CommitAllAsync();
        await toKeep.DisposeAsync();
        Assert.HasCount(2, kept.Mdevs, "committed devices belong to the caller");
    }

    [TestMethod]
    public async Task NodeDevicesAndGuests_AreReadOncePerHost_NotOncePerGuest()
    {
        var source = SourceWithGuests(4);
        var destination = Destination("dest", capacity: 4);

        await using var result = await Evacuator().EvacuateAsync(new EvacuationRequest(source.ToHost(), [destination.ToHost()]));

        Assert.IsTrue(result.Succeeded);
        Assert.AreEqual(1, destination.Operations.Count(o => o.StartsWith("hv:ListDomains", StringComparison.Ordinal)), string.Join("\n", destination.Operations));
        Assert.AreEqual(1, source.Operations.Count(o => o.StartsWith("hv:ListDomains", StringComparison.Ordinal)));
    }

    [TestMethod]
    public async Task OnlyTheRequestedGuests_AreEvacuated()
    {
        var source = SourceWithGuests(3);
        var destination = Destination("dest", capacity: 4);

        await using var result = await Evacuator().EvacuateAsync(new EvacuationRequest(source.ToHost(), [destination.ToHost()], [DomainSelector.Parse("vm2")]));

        Assert.AreEqual("vm2", result.Guests.Single().Guest.Value);
        Assert.HasCount(1, destination.Mdevs);
    }

    [TestMethod]
    public async Task Lanes_AreBalanced_LargestGuestFirst_AndSkipDestinationsAlreadyTried()
    {
        var guests = new[] { 1, 4, 2, 3 }.Select((size, i) => (DomainSelector.Parse($"vm{i}"), size)).ToList();
        var tried = guests.ToDictionary(g => g.Item1, _ => new HashSet<int>());
        tried[guests[1].Item1].Add(0);

        var lanes = HostEvacuator.AssignLanes(guests, [0, 0], tried);

        Assert.AreEqual(5, lanes[0].Sum(g => g.Devices));
        Assert.AreEqual(5, lanes[1].Sum(g => g.Devices));
        Assert.AreEqual("vm1", lanes[1][0].Guest.Value, "the 4-device guest tried destination 0 already");
    }

    [TestMethod]
    public async Task NoDestination_IsAClearError()
    {
        var source = SourceWithGuests(1);

        var error = await Assert.ThrowsExactlyAsync<ArgumentException>(() => Evacuator().EvacuateAsync(new EvacuationRequest(source.ToHost(), [])));

        StringAssert.Contains(error.Message, "at least one destination");
        error = await Assert.ThrowsExactlyAsync<ArgumentException>(() => Evacuator().EvacuateAsync(new EvacuationRequest(source.ToHost(), [source.ToHost()], PlansPerHost: 0)));
        StringAssert.Contains(error.Message, "PlansPerHost is 0");
    }
}
