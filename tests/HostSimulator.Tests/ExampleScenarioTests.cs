using System.Text.Json;
using Json.Schema;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.HostSimulator.Tests;

/// <summary>The shipped example scenarios load, match the JSON schema, and show what their comments promise.</summary>
[TestClass]
public sealed class ExampleScenarioTests
{
    private static readonly string ScenarioFolder = Path.Combine(AppContext.BaseDirectory, "scenarios");

    // The schema library registers a schema by its $id once per process.
    private static readonly Lazy<JsonSchema> Schema = new(() => JsonSchema.FromText(File.ReadAllText(Path.Combine(ScenarioFolder, "simulator.schema.json"))));

    public TestContext TestContext { get; set; } = null!;

    public static IEnumerable<object[]> ScenarioFiles =>
        Directory.GetFiles(ScenarioFolder, "*.json")
            .Where(f => !f.EndsWith("simulator.schema.json", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .Select(f => new object[] { Path.GetFileName(f) });

    [TestMethod]
    [DynamicData(nameof(ScenarioFiles))]
    public void EveryScenario_LoadsAndMatchesTheSchema(string fileName)
    {
        var path = Path.Combine(ScenarioFolder, fileName);
        var host = SimulatedHost.Load(path);
        Assert.IsNotEmpty(host.Name);
        var schema = Schema.Value;
        using var document = JsonDocument.Parse(File.ReadAllText(path));
        var result = schema.Evaluate(document.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
        var errors = result.Details?.Where(d => d.Errors is not null).SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Value}")) ?? [];
        Assert.IsTrue(result.IsValid, string.Join("\n", errors));
    }

    [TestMethod]
    public void Schema_RefusesWhatTheSimulatorRefuses()
    {
        var schema = Schema.Value;
        using var wrongVersion = JsonDocument.Parse("""{ "version": 2, "name": "h" }""");
        using var unknownProperty = JsonDocument.Parse("""{ "version": 1, "name": "h", "parent": [] }""");
        using var bothNames = JsonDocument.Parse("""{ "version": 1, "name": "h", "parents": [ { "address": "0000:00:02.0", "name": "x", "vendorId": "0x8086", "productId": "0x1234", "types": [ { "id": "t", "name": "n", "maxInstances": 1 } ] } ] }""");
        Assert.IsFalse(schema.Evaluate(wrongVersion.RootElement).IsValid);
        Assert.IsFalse(schema.Evaluate(unknownProperty.RootElement).IsValid);
        Assert.IsFalse(schema.Evaluate(bothNames.RootElement).IsValid);
    }

    [TestMethod]
    public async Task NvidiaExample_GpuWithAType_OffersNothingElse()
    {
        var sysfs = SimulatedHost.Load(Path.Combine(ScenarioFolder, "nvidia.json")).CreateFileSystem();
        var gpu = DeviceName.Parse("0000:3b:00.0");
        var types = (await sysfs.ListAsync(SysfsPath.SupportedTypes(gpu), TestContext.CancellationToken)).Value!;
        Assert.HasCount(13, types, "nvidia.json gives the GPU thirteen types, nvidia-222 to nvidia-234");
        foreach (var type in types)
        {
            var available = (await sysfs.ReadAsync(SysfsPath.TypeAttribute(gpu, MdevTypeId.Parse(type), "available_instances"), TestContext.CancellationToken)).Value;
            Assert.AreEqual(type == "nvidia-223" ? "6\n" : "0\n", available, type);
        }
    }

    [TestMethod]
    public async Task DemoDestinations_AIsCompatibleWhereBIsNot()
    {
        var source = SimulatedHost.Load(Path.Combine(ScenarioFolder, "demo-source.json")).CreateFileSystem();
        var a = SimulatedHost.Load(Path.Combine(ScenarioFolder, "demo-dest-a.json")).CreateFileSystem();
        var b = SimulatedHost.Load(Path.Combine(ScenarioFolder, "demo-dest-b.json")).CreateFileSystem();
        var vgpu = (await source.ReadAsync(SysfsPath.MdevAttribute(MdevUuid.Parse("6a1f0c3e-7b2d-4e5f-8a9b-00000000a001"), "migration_version"), TestContext.CancellationToken)).Value!;
        var nic = (await source.ReadAsync(SysfsPath.PciAttribute(PciAddress.Parse("0000:d8:00.2"), "vfio_migration_version"), TestContext.CancellationToken)).Value!;
        var vgpuTarget = SysfsPath.TypeAttribute(DeviceName.Parse("0000:5e:00.0"), MdevTypeId.Parse("nvidia-223"), "migration_version");
        var nicTarget = SysfsPath.PciAttribute(PciAddress.Parse("0000:d8:00.2"), "vfio_migration_version");
        var igpuTarget = SysfsPath.TypeAttribute(DeviceName.Parse("0000:00:02.0"), MdevTypeId.Parse("i915-GVTg_V5_4"), "migration_version");

        Assert.AreEqual(Errno.None, (await a.WriteAsync(vgpuTarget, vgpu, TestContext.CancellationToken)).Error);
        Assert.AreEqual(Errno.None, (await a.WriteAsync(nicTarget, nic, TestContext.CancellationToken)).Error);
        Assert.AreEqual(Errno.None, (await a.ReadAsync(igpuTarget, TestContext.CancellationToken)).Error);
        Assert.AreEqual(Errno.EINVAL, (await b.WriteAsync(vgpuTarget, vgpu, TestContext.CancellationToken)).Error);
        Assert.AreEqual(Errno.ENODEV, (await b.WriteAsync(nicTarget, nic, TestContext.CancellationToken)).Error);
        Assert.AreEqual(Errno.ENOENT, (await b.ReadAsync(igpuTarget, TestContext.CancellationToken)).Error);
    }
}
