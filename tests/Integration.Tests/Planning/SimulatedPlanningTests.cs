using System.Text.Json;
using VfioMigration.HostSimulator;
using VfioMigration.Integration.Tests.Xml;
using VfioMigration.Planner;
using VfioMigration.Planner.Json;

namespace VfioMigration.Integration.Tests.Planning;

/// <summary>The planner end to end over the host simulator's demo scenarios (in-process sysfs, test-driver-like hypervisor).</summary>
[TestClass]
public sealed class SimulatedPlanningTests
{
    internal static string ScenarioPath(string name)
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var path = Path.Combine(directory.FullName, "examples", "scenarios", name);
            if (File.Exists(path))
            {
                return path;
            }
        }

        throw new FileNotFoundException($"examples/scenarios/{name} not found above {AppContext.BaseDirectory}");
    }

    private static (SimulatedHost Simulated, MigrationHost Host) Load(string scenario)
    {
        var simulated = SimulatedHost.Load(ScenarioPath(scenario));
        return (simulated, new MigrationHost(simulated.Name, new SimulatedHypervisor(simulated), simulated.CreateFileSystem()));
    }

    [TestMethod]
    public async Task DemoGuest_PlansOntoTheBetterDestination_WithEveryDeviceVerified_AndValidXml()
    {
        var (_, source) = Load("demo-source.json");
        var (_, destinationA) = Load("demo-dest-a.json");
        var (simulatedB, destinationB) = Load("demo-dest-b.json");
        var beforeB = simulatedB.ToLibvirtXml();
        var planner = new MigrationPlanner(claims: new TargetClaimRegistry());

        await using var result = await planner.PlanAsync(new PlanRequest(source, DomainSelector.Parse("render-1"), [destinationB, destinationA]));

        Assert.IsTrue(result.Succeeded, string.Join("\n", result.Best.Reasons));
        Assert.AreEqual("demo-dest-a", result.Best.Destination.Name);
        Assert.HasCount(5, result.Best.Devices);
        Assert.IsTrue(result.Best.Devices.All(d => d.Verification == Verification.Verified), PlanJson.Serialize(result));
        Assert.HasCount(2, result.Best.Devices.Where(d => d.Target.Type == "nvidia-223").Select(d => d.Target.Id).Distinct());

        var xmlPath = Path.Combine(Path.GetTempPath(), $"planner-e2e-{Guid.NewGuid():N}.xml");
        try
        {
            await File.WriteAllTextAsync(xmlPath, result.Best.DestinationXml);
            var (exitCode, output) = VirtXmlValidate.Domain(xmlPath);
            Assert.AreEqual(0, exitCode, output);
        }
        finally
        {
            File.Delete(xmlPath);
        }

        var alternative = result.Alternatives.Single();
        Assert.AreEqual("demo-dest-b", alternative.Destination.Name);
        Assert.IsFalse(alternative.IsComplete);
        Assert.IsTrue(alternative.Rejections.Any(r => r.Code == RejectionCode.VersionRejected), PlanJson.Serialize(alternative));
        Assert.AreEqual(beforeB, simulatedB.ToLibvirtXml(), "the losing destination is left as it was");
        await File.WriteAllTextAsync(Path.Combine(Path.GetTempPath(), "planner-demo-plan.json"), PlanJson.Serialize(result));
        using var json = JsonDocument.Parse(PlanJson.Serialize(result));
        Assert.AreEqual("demo-dest-b", json.RootElement.GetProperty("alternatives")[0].GetProperty("destination").GetString());
    }

    [TestMethod]
    public async Task AbandonedPlan_LeavesTheSimulatedDestinationAsItWas()
    {
        var (_, source) = Load("demo-source.json");
        var (simulated, destination) = Load("demo-dest-a.json");
        var before = simulated.ToLibvirtXml();

        var result = await new MigrationPlanner(claims: new TargetClaimRegistry()).PlanAsync(new PlanRequest(source, DomainSelector.Parse("render-1"), [destination]));
        var created = result.Best.Created.Count(c => c.State == CreatedDeviceState.Kept);
        var during = simulated.ToLibvirtXml();
        await result.DisposeAsync();

        Assert.AreEqual(3, created, "the demo creates its three mdevs on destination A (the VF is reused)");
        Assert.AreNotEqual(before, during);
        Assert.AreEqual(before, simulated.ToLibvirtXml());
    }
}
