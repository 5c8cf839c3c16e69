using System.Text.Json;
using VfioMigration.Planner.Json;
using VfioMigration.Planner.Tests.Fakes;

namespace VfioMigration.Planner.Tests.Planning;

/// <summary>The plan's JSON keeps the names scripts rely on.</summary>
[TestClass]
public sealed class PlanJsonTests
{
    [TestMethod]
    public async Task CompletePlan_HasTheFixedNames()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63");
        scenario.DestinationType(parent: "0000:41:00.0", id: "nvidia-64");
        scenario.DestinationType(parent: "0000:42:00.0");
        var other = new FakeHost("other");

        await using var result = await scenario.Planner().PlanAsync(scenario.Request(null, scenario.Destination, other));
        using var json = JsonDocument.Parse(PlanJson.Serialize(result));
        var root = json.RootElement;

        Assert.AreEqual(PlanJson.Schema, root.GetProperty("schema").GetString());
        Assert.AreEqual("vm1", root.GetProperty("domain").GetString());
        Assert.AreEqual("dest", root.GetProperty("destination").GetString());
        Assert.IsTrue(root.GetProperty("ok").GetBoolean());
        var device = root.GetProperty("devices")[0];
        Assert.AreEqual("mdev", device.GetProperty("source").GetProperty("kind").GetString());
        Assert.AreEqual(scenario.Source.Mdevs[0].Uuid.Value, device.GetProperty("source").GetProperty("uuid").GetString());
        Assert.AreEqual("nvidia-63", device.GetProperty("source").GetProperty("type").GetString());
        Assert.AreEqual(result.Best.Devices[0].Target.Id, device.GetProperty("target").GetProperty("uuid").GetString());
        Assert.AreEqual("pci_0000_42_00_0", device.GetProperty("target").GetProperty("parent").GetString());
        Assert.AreEqual("nvidia-63", device.GetProperty("target").GetProperty("type").GetString());
        Assert.AreEqual("create", device.GetProperty("action").GetString());
        Assert.AreEqual("verified", device.GetProperty("verification").GetString());
        Assert.AreEqual("mdev-device", device.GetProperty("probe").GetProperty("point").GetString());
        var rejection = root.GetProperty("rejections")[0];
        Assert.AreEqual("TYPE_MISMATCH", rejection.GetProperty("code").GetString());
        Assert.AreEqual("pci_0000_41_00_0", rejection.GetProperty("candidate").GetString());
        Assert.IsFalse(string.IsNullOrEmpty(rejection.GetProperty("message").GetString()));
        Assert.AreEqual(result.Best.DestinationXml, root.GetProperty("destinationXml").GetString());
        Assert.AreEqual(result.Best.Devices[0].Target.Id, root.GetProperty("created")[0].GetProperty("uuid").GetString());
        var stats = root.GetProperty("stats");
        foreach (var name in new[] { "probes", "creates", "removes", "libvirtCalls", "elapsedMs" })
        {
            Assert.AreEqual(JsonValueKind.Number, stats.GetProperty(name).ValueKind, name);
        }

        Assert.AreEqual(2, stats.GetProperty("probes").GetInt32(), "one type-level probe and one confirmation");
        var alternative = root.GetProperty("alternatives")[0];
        Assert.AreEqual("other", alternative.GetProperty("destination").GetString());
        Assert.IsFalse(alternative.GetProperty("ok").GetBoolean());
        Assert.IsGreaterThan(0, alternative.GetProperty("reasons").GetArrayLength());
    }

    [TestMethod]
    public async Task FailedPlan_StillPrintsTheDocument_WithReasonsAndANullXml()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63");
        var type = scenario.DestinationType();
        type.TypeVersion = new FakeVersion("other");

        await using var result = await scenario.PlanAsync();
        using var json = JsonDocument.Parse(PlanJson.Serialize(result.Best));
        var root = json.RootElement;

        Assert.IsFalse(root.GetProperty("ok").GetBoolean());
        Assert.AreEqual(0, root.GetProperty("devices").GetArrayLength());
        Assert.AreEqual(JsonValueKind.Null, root.GetProperty("destinationXml").ValueKind);
        var codes = root.GetProperty("rejections").EnumerateArray().Select(r => r.GetProperty("code").GetString()).ToList();
        CollectionAssert.Contains(codes, "VERSION_REJECTED");
        CollectionAssert.Contains(codes, "NOT_PLACED");
        var rejected = root.GetProperty("rejections").EnumerateArray().First(r => r.GetProperty("code").GetString() == "VERSION_REJECTED");
        Assert.AreEqual("EINVAL", rejected.GetProperty("errno").GetString());
        Assert.AreEqual(1, root.GetProperty("reasons").GetArrayLength());
        Assert.AreEqual(0, root.GetProperty("alternatives").GetArrayLength());
    }

    [TestMethod]
    [DataRow(RejectionCode.TypeMismatch, "TYPE_MISMATCH")]
    [DataRow(RejectionCode.InUse, "IN_USE")]
    [DataRow(RejectionCode.NoCapacity, "NO_CAPACITY")]
    [DataRow(RejectionCode.VersionRejected, "VERSION_REJECTED")]
    [DataRow(RejectionCode.NotMigratable, "NOT_MIGRATABLE")]
    [DataRow(RejectionCode.ProbeFailed, "PROBE_FAILED")]
    [DataRow(RejectionCode.ProbeTimeout, "PROBE_TIMEOUT")]
    [DataRow(RejectionCode.CreateFailed, "CREATE_FAILED")]
    public void RejectionCodes_AreUpperSnake(RejectionCode code, string expected) =>
        Assert.AreEqual(expected, PlanJson.Name(code));

    [TestMethod]
    public void PreserveUuid_IsKebabCase() =>
        Assert.AreEqual("preserve-uuid", PlanJson.Name(DeviceAction.PreserveUuid));
}
