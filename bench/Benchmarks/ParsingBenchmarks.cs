using BenchmarkDotNet.Attributes;
using VfioMigration.Bench;
using VfioMigration.HostSimulator;
using VfioMigration.HostSimulator.Generation;
using VfioMigration.Libvirt;
using VfioMigration.Planner;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Xml;

namespace VfioMigration.Benchmarks;

/// <summary>
/// The libvirt XML a plan reads and writes, as libvirt's test driver formats it: the largest
/// host's node devices parsed into an inventory, an 8-device guest's domain XML parsed, and that
/// XML rewritten to point at destination devices.
/// </summary>
[MemoryDiagnoser]
public class ParsingBenchmarks
{
    private const int GuestDevices = 8;
    private IReadOnlyList<string> _nodeDevices = null!;
    private string _domainXml = null!;
    private Dictionary<int, DeviceTarget> _targets = null!;

    /// <summary>Reads the node devices and the guest's XML through libvirt's test driver once.</summary>
    [GlobalSetup]
    public async Task SetupAsync()
    {
        var file = Path.Combine(Path.GetTempPath(), $"vfio-bdn-largest-{Guid.NewGuid():N}.xml");
        SimulatedHost.FromScenario(ScenarioGenerator.Host(BenchRunner.LargestHost)).WriteLibvirtXml(file);
        try
        {
            using var connection = LibvirtConnection.OpenReadOnly($"test://{file}");
            var devices = connection.ListAllNodeDevices(NodeDeviceListFilters.MdevTypes | NodeDeviceListFilters.Mdev | NodeDeviceListFilters.PciDevice);
            _nodeDevices = [.. devices.Select(d => d.GetXmlDescription())];
            foreach (var device in devices)
            {
                device.Dispose();
            }
        }
        finally
        {
            File.Delete(file);
        }

        using var source = new BenchHost(ScenarioGenerator.SingleGuestSource("bdn-source", GuestDevices, seed: 3));
        _domainXml = (await source.Host.Hypervisor.GetDomainAsync(DomainSelector.Parse("bench-guest"))).MigratableXml;
        _targets = NodeDeviceXmlReader.ReadInventory(_nodeDevices).Mdevs
            .Take(GuestDevices)
            .Select((mdev, ordinal) => (ordinal, Target: (DeviceTarget)new MdevTarget(mdev.Uuid)))
            .ToDictionary(t => t.ordinal, t => t.Target);
    }

    /// <summary>Every node device of the largest host (16 parents with 32 types each, 512 mdevs) into a <see cref="HostInventory"/>.</summary>
    [Benchmark]
    public HostInventory ParseLargestHostInventory() => NodeDeviceXmlReader.ReadInventory(_nodeDevices);

    /// <summary>The 8-device guest's domain XML into its host devices.</summary>
    [Benchmark]
    public DomainHostDevices ParseGuestDomainXml() => DomainXmlReader.Read(_domainXml);

    /// <summary>The 8-device guest's destination XML: every mdev's source pointed at a destination mdev.</summary>
    [Benchmark]
    public string RewriteDestinationXml() => DestinationXmlWriter.Rewrite(_domainXml, _targets);
}
