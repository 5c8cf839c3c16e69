// Plans the live migration of one guest and prints the plan as JSON (logs go to stderr).
//   simulated hosts (the default): --source-scenario FILE --dest-scenario FILE --domain NAME
//   real hosts:                    --source-uri URI --dest-uri URI --domain NAME [--ssh-key FILE]
//     a remote URI (qemu+ssh://root@host2/system) reaches that host's sysfs over SSH, a local one (qemu:///system) /sys
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using VfioMigration.HostSimulator;
using VfioMigration.Planner;
using VfioMigration.Planner.Hypervisor;
using VfioMigration.Planner.Json;
using VfioMigration.RemoteHosts;

await using var services = new ServiceCollection()
    .AddLogging(logging => logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace))
    .AddMigrationPlanner(options => options.VerificationPolicy = VerificationPolicy.RequireVerified) // the default, spelled out
    .BuildServiceProvider();
var planner = services.GetRequiredService<MigrationPlanner>();

using var source = OpenHost("source", "examples/scenarios/demo-source.json");
using var destination = OpenHost("dest", "examples/scenarios/demo-dest-a.json");
var request = new PlanRequest(source.Host, DomainSelector.Parse(Option("--domain") ?? "render-1"), [destination.Host]);

// Disposing the result removes the mdevs the plan created: this program only shows the plan.
await using var result = await planner.PlanAsync(request);
Console.WriteLine(PlanJson.Serialize(result));
return result.Succeeded ? 0 : 3;

string? Option(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;

OpenedHost OpenHost(string role, string defaultScenario)
{
    if (Option($"--{role}-uri") is { } uri)
    {
        var connected = HostDescription.Parse(uri, new RemoteHostDefaults { KeyFile = Option("--ssh-key") }).Connect();
        return new(connected.Host, connected);
    }

    // A simulated host: its sysfs in-process, and the same host as a libvirt test-driver file.
    var simulated = SimulatedHost.Load(Option($"--{role}-scenario") ?? defaultScenario);
    var hostFile = Path.Combine(Path.GetTempPath(), $"{simulated.Name}-{Guid.NewGuid():N}.xml");
    simulated.WriteLibvirtXml(hostFile);
    try
    {
        var testDriver = LibvirtHypervisor.Open($"test://{hostFile}");
        return new(new MigrationHost(simulated.Name, testDriver, simulated.CreateFileSystem()), testDriver);
    }
    finally
    {
        File.Delete(hostFile); // the test driver reads the whole file when it connects
    }
}

internal sealed record OpenedHost(MigrationHost Host, IDisposable Connections) : IDisposable
{
    public void Dispose() => Connections.Dispose();
}
