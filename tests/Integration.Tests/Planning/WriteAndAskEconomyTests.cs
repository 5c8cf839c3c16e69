using VfioMigration.HostSimulator;
using VfioMigration.HostSimulator.Scenarios;
using VfioMigration.Planner;
using VfioMigration.Planner.Json;

namespace VfioMigration.Integration.Tests.Planning;

/// <summary>
/// Probes the planner spends on the reference driver migref's host (examples/scenarios/migref.json:
/// driver 2.1 loading 2.0 and 2.1): with write and test only (the parent's <c>migration_query</c>
/// removed), with write and ask, and what an exhaustive search would write (every source device's
/// version into every <c>migration_version</c> on the destination).
/// </summary>
[TestClass]
public sealed class WriteAndAskEconomyTests
{
    private static readonly string[] IdleSmall =
    [
        "5a000000-0000-4000-8000-00000000000a",
        "5a000000-0000-4000-8000-00000000000b",
        "5a000000-0000-4000-8000-00000000000c",
        "5a000000-0000-4000-8000-00000000000d",
    ];

    /// <summary>An exhaustive search's writes: idle mdevs (4) plus types with the attribute (2) on the destination, times the guest's 3 devices (18).</summary>
    private const int Exhaustive = 3 * (4 + 2);

    [TestMethod]
    public async Task RefusedVersion_WriteAndAskAsksOnce_WriteAndTestProbesEveryCandidate()
    {
        var test = await PlanAsync("1.9", withQuery: false);
        var ask = await PlanAsync("1.9", withQuery: true);

        Assert.IsFalse(test.Succeeded);
        Assert.IsFalse(ask.Succeeded);
        // Write and test: the 4 idle smalls and the small type for the first device, which then has
        // no target, so the plan for this destination stops.
        Assert.AreEqual(5, test.Probes, test.VersionWrites);
        // Write and ask: one question (small 1.9) answers for all five.
        Assert.AreEqual(1, ask.Probes, ask.VersionWrites);
        Assert.IsTrue(test.Probes < Exhaustive, $"write and test {test.Probes} probes, exhaustive {Exhaustive}");
        StringAssert.Contains(ask.Messages, "(the driver says: \"migref: driver 2.1 loads state of versions 2.0, 2.1, not 1.9\")");
        StringAssert.Contains(test.Messages, "failed with EINVAL (the driver says: \"migref: driver 2.1 loads state of versions 2.0, 2.1, not 1.9\")");
    }

    [TestMethod]
    public async Task AcceptedVersion_WriteAndAskAddsOneQuestionPerVersion_ThenConfirmsEachTarget()
    {
        var test = await PlanAsync("2.0", withQuery: false);
        var ask = await PlanAsync("2.0", withQuery: true);

        Assert.IsTrue(test.Succeeded, test.Messages);
        Assert.IsTrue(ask.Succeeded, ask.Messages);
        // Write and test: each idle small answers its own probe; the large type, then the created large.
        Assert.AreEqual(4, test.Probes, test.VersionWrites);
        // Write and ask: two questions, then the same three confirmations on the targets themselves.
        Assert.AreEqual(5, ask.Probes, ask.VersionWrites);
        Assert.AreEqual(
            "class/mdev_bus/migref/migration_query migref-small:2.0|class/mdev_bus/migref/migration_query migref-large:2.0",
            string.Join('|', ask.VersionWrites.Split('|').Where(w => w.Contains("migration_query", StringComparison.Ordinal))),
            "one question per source version, the second small device reuses the first answer");
        Assert.IsFalse(ask.VersionWrites.Contains("mdev_supported_types", StringComparison.Ordinal), "the answer stands in for every type-level probe: " + ask.VersionWrites);
    }

    /// <summary>Plans the guest onto the destination; VersionWrites lists every write of a source version there, "path value|...".</summary>
    private static async Task<(bool Succeeded, int Probes, string Messages, string VersionWrites)> PlanAsync(string sourceVersion, bool withQuery)
    {
        var source = SimulatedHost.FromScenario(ScenarioLoader.Parse(SourceJson(sourceVersion)));
        var destinationScenario = ScenarioLoader.LoadFile(SimulatedPlanningTests.ScenarioPath("migref.json"));
        var parent = destinationScenario.Parents![0];
        destinationScenario = destinationScenario with
        {
            Parents = [withQuery ? parent : parent with { MigrationQuery = null }],
            Mdevs = [.. IdleSmall.Select(uuid => new MdevSpec { Uuid = uuid, Parent = "migref", Type = "migref-small" })],
        };
        var destination = SimulatedHost.FromScenario(destinationScenario);
        var planner = new MigrationPlanner(claims: new TargetClaimRegistry());

        await using var result = await planner.PlanAsync(new PlanRequest(
            new MigrationHost(source.Name, new SimulatedHypervisor(source), source.CreateFileSystem()),
            DomainSelector.Parse("migrating"),
            [new MigrationHost(destination.Name, new SimulatedHypervisor(destination), destination.CreateFileSystem())]));

        var versionWrites = destination.Snapshot().Operations
            .Where(o => o.IsWrite && (o.Path.EndsWith("/migration_version", StringComparison.Ordinal) || o.Path.EndsWith("/migration_query", StringComparison.Ordinal)))
            .Select(o => $"{o.Path} {o.Data}");
        return (
            result.Succeeded,
            result.Best.Statistics.Probes,
            string.Join("\n", result.Best.Rejections.Select(r => r.Message)) + "\n" + PlanJson.Serialize(result),
            string.Join('|', versionWrites));
    }

    /// <summary>A source host running migref <paramref name="version"/>: guest "migrating" owns two small and one large mdev.</summary>
    private static string SourceJson(string version) => $$"""
        {
          "version": 1,
          "name": "migref-source",
          "parents": [{
            "name": "migref", "capacity": "sharedPool", "poolSize": 8, "exhaustionErrno": "ENOSPC",
            "types": [
              { "id": "migref-small", "name": "Small profile", "poolUnits": 1, "migration": { "version": "migref-small:{{version}}" } },
              { "id": "migref-large", "name": "Large profile", "poolUnits": 4, "migration": { "version": "migref-large:{{version}}" } }
            ]
          }],
          "mdevs": [
            { "uuid": "50000000-0000-4000-8000-000000000001", "parent": "migref", "type": "migref-small" },
            { "uuid": "50000000-0000-4000-8000-000000000002", "parent": "migref", "type": "migref-small" },
            { "uuid": "10000000-0000-4000-8000-000000000001", "parent": "migref", "type": "migref-large" }
          ],
          "guests": [{
            "name": "migrating", "uuid": "6d000000-0000-4000-8000-000000000001", "running": true, "memoryMiB": 1024,
            "hostdevs": [
              { "mdev": "50000000-0000-4000-8000-000000000001", "alias": "ua-s0", "guestAddress": "0000:05:00.0" },
              { "mdev": "50000000-0000-4000-8000-000000000002", "alias": "ua-s1", "guestAddress": "0000:06:00.0" },
              { "mdev": "10000000-0000-4000-8000-000000000001", "alias": "ua-l0", "guestAddress": "0000:07:00.0" }
            ]
          }]
        }
        """;
}
