using VfioMigration.HostSimulator.Scenarios;

namespace VfioMigration.HostSimulator.Tests;

[TestClass]
public sealed class ScenarioValidationTests
{
    private const string Parent = """{ "address": "0000:00:02.0", "vendorId": "0x8086", "productId": "0x3e92", "types": [ { "id": "i915-GVTg_V5_4", "name": "GVTg_V5_4", "maxInstances": 2 } ] }""";

    [TestMethod]
    [DataRow("""{ "version": 2, "name": "h" }""", "$.version", "scenario version 1")]
    [DataRow("""{ "name": "h" }""", "$.version", "is required")]
    [DataRow("""{ "version": 1, "name": "../h" }""", "$.name", "not a valid device name")]
    [DataRow("""{ "version": 1, "name": "h", "parents": [ { "address": "0000:00:02.0", "vendorId": "0x8086", "productId": "0x3e92", "types": [ { "id": "t", "name": "n", "maxInstances": 0 } ] } ] }""", "$.parents[0].types[0].maxInstances", "must be > 0")]
    [DataRow("""{ "version": 1, "name": "h", "parents": [ { "address": "0000:00:02.0", "name": "mtty", "types": [] } ] }""", "$.parents[0]", "exactly one of")]
    [DataRow("""{ "version": 1, "name": "h", "parents": [ { "address": "00:02.0", "types": [] } ] }""", "$.parents[0].address", "not a PCI address")]
    [DataRow("""{ "version": 1, "name": "h", "parents": [ { "name": "mtty", "capacity": "sharedPool", "types": [ { "id": "mtty-1", "name": "x" } ] } ] }""", "$.parents[0].poolSize", "is required")]
    [DataRow("""{ "version": 1, "name": "h", "parents": [ { "name": "mtty", "exhaustionErrno": "EFOO", "types": [ { "id": "mtty-1", "name": "x", "maxInstances": 1 } ] } ] }""", "$.parents[0].exhaustionErrno", "not a known errno")]
    [DataRow("""{ "version": 1, "name": "h", "parents": [ PARENT ], "mdevs": [ { "uuid": "nope", "parent": "0000:00:02.0", "type": "i915-GVTg_V5_4" } ] }""", "$.mdevs[0].uuid", "not a UUID")]
    [DataRow("""{ "version": 1, "name": "h", "parents": [ PARENT ], "mdevs": [ { "uuid": "11111111-2222-3333-4444-555555555555", "parent": "0000:00:03.0", "type": "i915-GVTg_V5_4" } ] }""", "$.mdevs[0].parent", "no parent")]
    [DataRow("""{ "version": 1, "name": "h", "parents": [ PARENT ], "mdevs": [ { "uuid": "11111111-2222-3333-4444-555555555555", "parent": "0000:00:02.0", "type": "i915-GVTg_V5_8" } ] }""", "$.mdevs[0].type", "has no type")]
    [DataRow("""{ "version": 1, "name": "h", "parents": [ PARENT ], "mdevs": [ { "uuid": "11111111-2222-3333-4444-555555555555", "parent": "0000:00:02.0", "type": "i915-GVTg_V5_4" }, { "uuid": "11111111-2222-3333-4444-555555555555", "parent": "0000:00:02.0", "type": "i915-GVTg_V5_4" } ] }""", "$.mdevs[1].uuid", "used twice")]
    [DataRow("""{ "version": 1, "name": "h", "guests": [ { "name": "g", "uuid": "11111111-2222-3333-4444-555555555555", "hostdevs": [ { "mdev": "11111111-2222-3333-4444-555555555556" } ] } ] }""", "$.guests[0].hostdevs[0].mdev", "no mdev")]
    [DataRow("""{ "version": 1, "name": "h", "parents": [ { "address": "0000:00:02.0", "vendorId": "0x8086", "productId": "0x3e92", "types": [ { "id": "t", "name": "n", "maxInstances": 1, "migration": { "version": "v", "accepts": { "pattern": "(" } } } ] } ] }""", "$.parents[0].types[0].migration.accepts.pattern", "regular expression")]
    [DataRow("""{ "version": 1, "name": "h", "faults": [ { "operation": "create" } ] }""", "$.faults[0]", "does nothing")]
    [DataRow("""{ "version": 1, "name": "h", "latency": { "readMs": -1 } }""", "$.latency.readMs", "must be >= 0")]
    public void BadScenario_NamesTheJsonPathAndTheProblem(string json, string path, string problem)
    {
        var error = Assert.ThrowsExactly<ScenarioException>(() => SimulatedHost.FromScenario(ScenarioLoader.Parse(json.Replace("PARENT", Parent, StringComparison.Ordinal))));
        Assert.AreEqual(path, error.JsonPath, error.Message);
        StringAssert.Contains(error.Message, problem);
        StringAssert.StartsWith(error.Message, path + ": ");
    }

    [TestMethod]
    [DataRow("""{ "version": 1, "name": "h", "parent": [] }""", "$.parent")]
    [DataRow("""{ "version": 1, "name": "h", "parents": [ { "capacity": "sometimes" } ] }""", "$.parents[0].capacity")]
    [DataRow("""{ "version": "one" }""", "$.version")]
    public void MalformedJson_NamesTheJsonPath(string json, string path)
    {
        var error = Assert.ThrowsExactly<ScenarioException>(() => ScenarioLoader.Parse(json));
        Assert.AreEqual(path, error.JsonPath, error.Message);
    }

    [TestMethod]
    public void LoadingAFile_NamesTheFileInTheError()
    {
        var path = Path.Combine(Path.GetTempPath(), $"bad-scenario-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, """{ "version": 1, "name": "h", "latency": { "createMs": -5 } }""");
        try
        {
            var error = Assert.ThrowsExactly<ScenarioException>(() => SimulatedHost.Load(path));
            StringAssert.Contains(error.Message, path);
            Assert.AreEqual("$.latency.createMs", error.JsonPath);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [TestMethod]
    public void Serialize_RoundTrips()
    {
        var scenario = Conformance.HostFileSystemConformanceTests.LoadScenario("nvidia.json");
        var again = ScenarioLoader.Parse(ScenarioLoader.Serialize(scenario));
        Assert.AreEqual(SimulatedHost.FromScenario(scenario).Snapshot(), SimulatedHost.FromScenario(again).Snapshot());
    }
}
