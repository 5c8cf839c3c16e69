using System.Text.Json;
using VfioMigration.HostSimulator.Generation;
using VfioMigration.HostSimulator.Scenarios;

namespace VfioMigration.HostSimulator.Tests.Generation;

/// <summary>Generated fleet-scale hosts: the shape asked for, valid for the simulator, the same for the same seed.</summary>
[TestClass]
public sealed class ScenarioGeneratorTests
{
    [TestMethod]
    public void LargestHost_HasTheRequestedShape_AndLoadsInTheSimulator()
    {
        var options = new GeneratedHostOptions { Name = "big", Seed = 7 };

        var scenario = ScenarioGenerator.Host(options);
        var host = SimulatedHost.FromScenario(scenario);
        var state = host.Snapshot().State;

        Assert.HasCount(16, state.Parents);
        Assert.IsTrue(state.Parents.All(p => p.Types.Count == 32));
        Assert.HasCount(512, state.Mdevs);
        Assert.AreEqual(384, scenario.Guests!.Sum(g => g.Hostdevs!.Count), "three quarters of the mdevs are owned");
        Assert.IsTrue(scenario.Guests!.All(g => g.Hostdevs!.Count is >= 1 and <= 4));
        Assert.AreEqual(2, scenario.Latency!.VersionWriteMs);
        Assert.AreEqual(50, scenario.Latency.CreateMs);
        Assert.AreEqual(20, scenario.Latency.RemoveMs);
    }

    [TestMethod]
    public void OneTypeAtATimeGpus_HoldOneType_AndTheMixOfKindsIsPresent()
    {
        var scenario = ScenarioGenerator.Host(new GeneratedHostOptions { Seed = 3 });

        var oneType = scenario.Parents!.Where(p => p.Capacity == CapacityMode.OneTypeAtATime).Select(p => p.Address).ToHashSet();
        foreach (var parent in oneType)
        {
            Assert.HasCount(1, scenario.Mdevs!.Where(m => m.Parent == parent).Select(m => m.Type).Distinct(), parent);
        }

        Assert.IsNotEmpty(oneType);
        Assert.IsTrue(scenario.Parents!.Any(p => p.Capacity == CapacityMode.PerType));
        Assert.IsTrue(scenario.Parents!.Any(p => p.Migration is null), "some GPUs answer only at device level");
        Assert.IsTrue(scenario.Parents!.Any(p => p.Migration?.Version?.Contains("550", StringComparison.Ordinal) == true), "some GPUs are on an incompatible branch");
    }

    [TestMethod]
    public void SameSeed_SameHost_OtherSeed_OtherHost()
    {
        var options = new GeneratedHostOptions { Gpus = 4, TypesPerGpu = 8, ExistingMdevs = 40 };

        var first = JsonSerializer.Serialize(ScenarioGenerator.Host(options));
        var again = JsonSerializer.Serialize(ScenarioGenerator.Host(options));
        var other = JsonSerializer.Serialize(ScenarioGenerator.Host(options with { Seed = 2 }));

        Assert.AreEqual(first, again);
        Assert.AreNotEqual(first, other);
    }

    [TestMethod]
    public void EvacuationSource_HasTheGuestsAskedFor_OnTheCompatibleBranch()
    {
        var scenario = ScenarioGenerator.EvacuationSource("src", guests: 64, maxDevicesPerGuest: 4, seed: 11);
        var host = SimulatedHost.FromScenario(scenario);

        Assert.HasCount(64, scenario.Guests!);
        Assert.IsTrue(scenario.Guests!.All(g => g.Hostdevs!.Count is >= 1 and <= 4));
        Assert.HasCount(scenario.Guests!.Sum(g => g.Hostdevs!.Count), host.Snapshot().State.Mdevs);
        Assert.IsTrue(scenario.Parents!.All(p => p.Migration!.Version!.StartsWith("nvidia-535", StringComparison.Ordinal)));
        StringAssert.Contains(host.ToLibvirtXml(), "src-vm-63");
    }

    [TestMethod]
    public void OptionOutOfRange_IsNamed()
    {
        var error = Assert.ThrowsExactly<ArgumentException>(() => ScenarioGenerator.Host(new GeneratedHostOptions { Gpus = 0 }));
        StringAssert.Contains(error.Message, "Gpus is 0");

        error = Assert.ThrowsExactly<ArgumentException>(() => ScenarioGenerator.Host(new GeneratedHostOptions { Gpus = 2, MaxInstancesPerType = 4, ExistingMdevs = 9 }));
        StringAssert.Contains(error.Message, "ExistingMdevs");
    }

    [TestMethod]
    public void PreProvisionedPool_EachGpuHoldsItsPoolType_FilledAndMostlyIdle()
    {
        var options = new GeneratedHostOptions
        {
            Name = "pool",
            Gpus = 8,
            MaxInstancesPerType = 6,
            ExistingMdevs = 48,
            OwnedFraction = 0.25,
            Layout = MdevLayout.PreProvisionedPool,
            PoolTypes = 3,
        };

        var scenario = ScenarioGenerator.Host(options);
        var state = SimulatedHost.FromScenario(scenario).Snapshot().State;

        for (var gpu = 0; gpu < scenario.Parents!.Count; gpu++)
        {
            var parent = scenario.Parents[gpu].Address;
            var types = scenario.Mdevs!.Where(m => m.Parent == parent).Select(m => m.Type).ToList();
            Assert.HasCount(6, types, $"{parent} is filled to its instances");
            Assert.IsTrue(types.All(t => t == ScenarioGenerator.TypeId(gpu % 3)), $"{parent} holds only its pool type");
        }

        Assert.HasCount(48, state.Mdevs);
        Assert.AreEqual(12, scenario.Guests!.Sum(g => g.Hostdevs!.Count), "a quarter owned, the rest idle");
    }

    [TestMethod]
    public void PreProvisionedPool_Validation_NamesPoolTypes_AndMixedLayoutIgnoresIt()
    {
        var pool = new GeneratedHostOptions { Gpus = 2, TypesPerGpu = 4, ExistingMdevs = 8, Layout = MdevLayout.PreProvisionedPool, PoolTypes = 5 };

        var error = Assert.ThrowsExactly<ArgumentException>(() => ScenarioGenerator.Host(pool));
        StringAssert.Contains(error.Message, "PoolTypes is 5; it must be between 1 and 4");

        error = Assert.ThrowsExactly<ArgumentException>(() => ScenarioGenerator.Host(pool with { Layout = (MdevLayout)7, PoolTypes = 1 }));
        StringAssert.Contains(error.Message, "Layout is 7");

        Assert.HasCount(8, ScenarioGenerator.Host(pool with { Layout = MdevLayout.Mixed }).Mdevs!);
    }
}
