using System.Xml.Linq;
using VfioMigration.HostSimulator.Tests.Conformance;
using VfioMigration.Libvirt;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.HostSimulator.Tests;

/// <summary>Through the project's own libvirt binding (which, unlike virsh, can list node devices of the test driver), libvirt and sysfs list the same devices and guests.</summary>
[TestClass]
public sealed class LibvirtBindingTests
{
    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    [DataRow("nvidia.json")]
    [DataRow("demo-source.json")]
    [DataRow("demo-dest-a.json")]
    [DataRow("mtty-mdpy.json")]
    public async Task ListAll_GivesTheSameParentsMdevsAndGuestsAsSysfs(string scenarioFile)
    {
        var host = SimulatedHost.FromScenario(HostFileSystemConformanceTests.LoadScenario(scenarioFile));
        var sysfs = host.CreateFileSystem();
        var file = Path.Combine(Path.GetTempPath(), $"binding-{host.Name}-{Guid.NewGuid():N}.xml");
        host.WriteLibvirtXml(file);
        try
        {
            using var connection = OpenOrSkip("test://" + file);
            var parents = (await sysfs.ListAsync(SysfsPath.MdevBus, TestContext.CancellationToken)).Value!
                .Where(p => PciAddress.TryParse(p, out _)).Select(p => PciAddress.Parse(p).ToNodeDeviceName());
            CollectionAssert.AreEquivalent(parents.ToList(), Names(connection.ListAllNodeDevices(NodeDeviceListFilters.MdevTypes)));

            var libvirtMdevs = connection.ListAllNodeDevices(NodeDeviceListFilters.Mdev);
            var libvirtUuids = libvirtMdevs.Select(d =>
            {
                using (d)
                {
                    return XElement.Parse(d.GetXmlDescription()).Descendants("uuid").Single().Value;
                }
            }).ToList();
            CollectionAssert.AreEquivalent((await sysfs.ListAsync(SysfsPath.MdevDevices, TestContext.CancellationToken)).Value!.ToList(), libvirtUuids);

            CollectionAssert.AreEquivalent(host.Scenario.Guests?.Select(g => g.Name).ToList() ?? [], Names(connection.ListAllDomains()));
            var running = Names(connection.ListAllDomains(DomainListFilters.Active));
            CollectionAssert.AreEquivalent(host.Scenario.Guests?.Where(g => g.Running == true).Select(g => g.Name).ToList() ?? [], running);
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static List<string> Names(IReadOnlyList<LibvirtNodeDevice> devices) =>
        devices.Select(d =>
        {
            using (d)
            {
                return d.Name;
            }
        }).ToList();

    private static List<string> Names(IReadOnlyList<LibvirtDomain> domains) =>
        domains.Select(d =>
        {
            using (d)
            {
                return d.Name;
            }
        }).ToList();

    private static LibvirtConnection OpenOrSkip(string uri)
    {
        try
        {
            return LibvirtConnection.Open(uri);
        }
        catch (DllNotFoundException)
        {
            Assert.Inconclusive("libvirt.so.0 is not installed (Debian package libvirt0).");
            throw;
        }
    }
}
