using System.Text;
using VfioMigration.HostSimulator.Scenarios;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.HostSimulator.Tests;

/// <summary>
/// The reference driver's per-open parts as the simulator models them (examples/scenarios/migref.json):
/// the reason a refused write leaves on its open file, and write and ask.
/// </summary>
[TestClass]
public sealed class MigrationQueryTests
{
    private const string Query = "class/mdev_bus/migref/migration_query";
    private const string LargeVersion = "class/mdev_bus/migref/mdev_supported_types/migref-large/migration_version";
    private const string Idle = "5a000000-0000-4000-8000-000000000001";
    private const string Held = "5a000000-0000-4000-8000-000000000002";

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task Ask_ListsIdleInstancesOldestFirstThenTheType_NotOnesARunningGuestHolds()
    {
        var outcome = await Tree().WriteForOpenFileAsync(Query, "migref-small:2.0\n"u8.ToArray(), TestContext.CancellationToken);

        Assert.AreEqual(Errno.None, outcome.Error);
        Assert.IsNull(outcome.Reason);
        Assert.AreEqual($"migref-small:2.0\nmdev {Idle}\ntype migref-small\n", Encoding.ASCII.GetString(outcome.Content!));
    }

    [TestMethod]
    public async Task Ask_NothingAccepts_AnswersEmptyWithTheDriversReason()
    {
        var outcome = await Tree().WriteForOpenFileAsync(Query, "migref-small:3.0"u8.ToArray(), TestContext.CancellationToken);

        Assert.AreEqual(Errno.None, outcome.Error);
        Assert.AreEqual("migref-small:3.0", Encoding.ASCII.GetString(outcome.Content!));
        Assert.AreEqual("migref: driver 2.1 loads state of versions 2.0, 2.1, not 3.0", outcome.Reason);
    }

    [TestMethod]
    public async Task Ask_AcceptedButFull_GivesTheNoCapacityReason()
    {
        // The two small instances and a large one take 6 of 8 units: no large is left, none idle.
        var scenario = WithDevices(("1a000000-0000-4000-8000-000000000001", "migref-large"));
        var tree = SimulatedHost.FromScenario(scenario).FileTree;

        var outcome = await tree.WriteForOpenFileAsync(Query, "migref-large:2.1"u8.ToArray(), TestContext.CancellationToken);

        Assert.AreEqual(Errno.None, outcome.Error);
        Assert.AreEqual("migref-large:2.1mdev 1a000000-0000-4000-8000-000000000001\n", Encoding.ASCII.GetString(outcome.Content!));
        var full = scenario with { Guests = [.. scenario.Guests!, Guest("g2", "1a000000-0000-4000-8000-000000000001")] };
        var refused = await SimulatedHost.FromScenario(full).FileTree.WriteForOpenFileAsync(Query, "migref-large:2.1"u8.ToArray(), TestContext.CancellationToken);
        Assert.AreEqual("migref: migref-large accepts this state, but has no idle instance and no capacity left", refused.Reason);
        Assert.AreEqual("migref-large:2.1", Encoding.ASCII.GetString(refused.Content!));
    }

    [TestMethod]
    public async Task Ask_NotAQuestion_FailsWithTheReasonAndNoContent()
    {
        var outcome = await Tree().WriteForOpenFileAsync(Query, "garbage"u8.ToArray(), TestContext.CancellationToken);

        Assert.AreEqual(new SimulatedWriteOutcome(Errno.EINVAL, "migref: not a migref version string (expected migref-<type>:<major>.<minor>)", null), outcome);
    }

    [TestMethod]
    public async Task QueryRead_WithoutAQuestion_IsEnodata()
    {
        var result = await Tree().ReadAsync(Query, TestContext.CancellationToken);

        Assert.AreEqual(Errno.ENODATA, result.Error);
    }

    [TestMethod]
    public async Task VersionWrite_Refused_LeavesTheRuleThatMatchedAsReason_Accepted_None()
    {
        var tree = Tree();

        var otherType = await tree.WriteForOpenFileAsync(LargeVersion, "migref-small:2.1"u8.ToArray(), TestContext.CancellationToken);
        var olderVersion = await tree.WriteForOpenFileAsync(LargeVersion, "migref-large:1.9"u8.ToArray(), TestContext.CancellationToken);
        var accepted = await tree.WriteForOpenFileAsync(LargeVersion, "migref-large:2.0\n"u8.ToArray(), TestContext.CancellationToken);

        Assert.AreEqual(new SimulatedWriteOutcome(Errno.EINVAL, "migref: state of type migref-small cannot load into migref-large (types differ)", null), otherType);
        Assert.AreEqual(new SimulatedWriteOutcome(Errno.EINVAL, "migref: driver 2.1 loads state of versions 2.0, 2.1, not 1.9", null), olderVersion);
        Assert.AreEqual(new SimulatedWriteOutcome(Errno.None, null, null), accepted);
    }

    private static ISimulatedFileTree Tree() => SimulatedHost.FromScenario(WithDevices()).FileTree;

    /// <summary>migref.json with two small instances, the second held by a running guest, plus <paramref name="more"/>.</summary>
    private static Scenario WithDevices(params (string Uuid, string Type)[] more)
    {
        var scenario = Conformance.HostFileSystemConformanceTests.LoadScenario("migref.json");
        IEnumerable<(string Uuid, string Type)> devices = [(Idle, "migref-small"), (Held, "migref-small"), .. more];
        return scenario with
        {
            Mdevs = [.. devices.Select(d => new MdevSpec { Uuid = d.Uuid, Parent = "migref", Type = d.Type })],
            Guests = [Guest("g1", Held)],
        };
    }

    private static GuestSpec Guest(string name, string mdev) => new()
    {
        Name = name,
        Uuid = name == "g1" ? "0000000a-0000-4000-8000-000000000001" : "0000000a-0000-4000-8000-000000000002",
        Running = true,
        MemoryMiB = 1024,
        Hostdevs = [new HostdevSpec { Mdev = mdev }],
    };
}
