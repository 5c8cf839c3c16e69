using VfioMigration.Planner.Tests.Fakes;

namespace VfioMigration.Planner.Tests.Planning;

/// <summary>
/// Probe waves on a destination whose calls batch (<see cref="VfioMigration.Planner.Sysfs.IHostFileSystem.BatchesCalls"/>, as
/// over SSH): a dry search takes each candidate not evaluated yet as accepted and the candidates it
/// reaches are probed together; the real search then plans as one that probes one candidate at a
/// time, with the same rejections (found missing by mutation testing, docs/testing.md).
/// </summary>
[TestClass]
public sealed class ProbeWaveTests
{
    /// <summary>
    /// vm1: two nvidia-63 mdevs with versions vA and vB; the destination's two idle nvidia-63 mdevs
    /// (its parent has no room for more) accept one version each: A (listed first) only vB, B only vA.
    /// </summary>
    private static (Scenario Scenario, FakeMdev A, FakeMdev B) CrossedIdleMdevs(bool batches)
    {
        var scenario = new Scenario();
        var type = scenario.SourceType();
        scenario.Source.DefineGuest(
            "vm1",
            FakeHost.MdevDevice(0, scenario.Source.AddMdev(type, new FakeVersion("vA"))),
            FakeHost.MdevDevice(1, scenario.Source.AddMdev(type, new FakeVersion("vB"))));
        var target = scenario.DestinationType(max: 2);
        var a = scenario.Destination.AddMdev(target, new FakeVersion("vB"));
        var b = scenario.Destination.AddMdev(target, new FakeVersion("vA"));
        scenario.Destination.FileSystem.BatchesCalls = batches;
        return (scenario, a, b);
    }

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public async Task Waves_ProbeWhatTheDrySearchReaches_AndThePlanIsTheOneAtATimeSearchs(bool batches)
    {
        var (scenario, a, b) = CrossedIdleMdevs(batches);

        await using var result = await scenario.PlanAsync();

        Assert.IsTrue(result.Succeeded, string.Join("\n", result.Best.Reasons));
        CollectionAssert.AreEqual(new[] { b.Uuid.Value, a.Uuid.Value }, result.Best.Devices.Select(d => d.Target.Id).ToArray());
        Assert.IsTrue(result.Best.Devices.All(d => d.Action == DeviceAction.Reuse && d.Verification == Verification.Verified));
        string Probe(FakeMdev mdev, string version) => $"write bus/mdev/devices/{mdev.Uuid}/migration_version {version}";

        // One at a time: device 0 asks A (no) then B (yes), device 1 asks A (yes). The first wave takes
        // A for device 0 and so B for device 1 (which refuses vB, a probe the plan does not use); the
        // second wave asks B for device 0 and A for device 1 (within a wave, in no set order).
        var probes = scenario.DestinationWrites("migration_version");
        if (batches)
        {
            CollectionAssert.AreEquivalent(new[] { Probe(a, "vA"), Probe(b, "vB") }, probes.Take(2).ToArray());
            CollectionAssert.AreEquivalent(new[] { Probe(b, "vA"), Probe(a, "vB") }, probes.Skip(2).ToArray());
        }
        else
        {
            CollectionAssert.AreEqual(new[] { Probe(a, "vA"), Probe(b, "vA"), Probe(a, "vB") }, probes.ToArray());
        }

        // The rejections are the real search's: the wave's refusal of B for device 1 is not among them.
        var sources = scenario.Source.Mdevs.Select(m => m.Uuid.Value).ToArray();
        var rejections = result.Best.Rejections.Select(r => (r.Source, r.Candidate, r.Code)).ToArray();
        CollectionAssert.AreEqual(
            new[]
            {
                (sources[0], (string?)"pci_0000_41_00_0/nvidia-63", RejectionCode.NoCapacity),
                (sources[1], "pci_0000_41_00_0/nvidia-63", RejectionCode.NoCapacity),
                (sources[0], a.Uuid.Value, RejectionCode.VersionRejected),
            },
            rejections,
            string.Join("\n", result.Best.Rejections));
    }

    [TestMethod]
    public async Task ProbeAWaveMade_IsNoCacheHit_WhenTheSearchThenUsesIt()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63");
        scenario.DestinationType();
        scenario.Destination.FileSystem.BatchesCalls = true;

        await using var result = await scenario.PlanAsync();

        Assert.IsTrue(result.Succeeded, string.Join("\n", result.Best.Reasons));
        Assert.AreEqual(DeviceAction.Create, result.Best.Devices.Single().Action);
        Assert.HasCount(1, scenario.DestinationWrites("mdev_supported_types/nvidia-63/migration_version"), "the wave probed the type once; the search found it done");
        Assert.AreEqual(0, result.Best.Statistics.ProbeCacheHits, "the search's use of the wave's probe stands for that probe, not for a hit");
    }
}
