using VfioMigration.HostSimulator;
using VfioMigration.HostSimulator.Generation;
using VfioMigration.HostSimulator.Scenarios;
using VfioMigration.Libvirt;
using VfioMigration.Planner;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Hypervisor;
using VfioMigration.Planner.Xml;

namespace VfioMigration.Integration.Tests.Hypervisor;

/// <summary>
/// <see cref="LibvirtHypervisor"/> on a fleet-sized host (libvirt's test driver): the XML it reads
/// with several calls in flight comes back whole and in a stable order, and destroying an mdev it
/// has seen costs one lookup instead of a scan. (The test driver accepts virNodeDeviceDestroy on an
/// mdev but keeps listing it, so what a destroy did shows in the calls it made, not in the next
/// inventory.)
/// </summary>
[TestClass]
public sealed class LibvirtHypervisorTests
{
    private static readonly Scenario FleetHost = ScenarioGenerator.Host(new GeneratedHostOptions { Name = "fleet", Seed = 7, ExistingMdevs = 300 });

    private string _directory = null!;
    private string _hostFile = null!;

    [TestInitialize]
    public void WriteHostFile()
    {
        _directory = Directory.CreateTempSubdirectory("libvirt-hypervisor-").FullName;
        _hostFile = Path.Combine(_directory, "fleet.xml");
        SimulatedHost.FromScenario(FleetHost).WriteLibvirtXml(_hostFile);
    }

    [TestCleanup]
    public void DeleteHostFile() => Directory.Delete(_directory, recursive: true);

    [TestMethod]
    public async Task Inventory_HasEveryParentAndMdevOfTheHost_WithOneXmlCallPerDevice()
    {
        using var hypervisor = Open();
        var before = hypervisor.LibvirtCalls;

        var inventory = await hypervisor.GetInventoryAsync(InventoryScope.MdevParents | InventoryScope.Mdevs);

        var expected = FleetHost.Mdevs!.OrderBy(m => m.Uuid, StringComparer.Ordinal).Select(m => (m.Uuid!, m.Type!, ParentName(m.Parent!))).ToList();
        CollectionAssert.AreEqual(expected, inventory.Mdevs.Select(m => (m.Uuid.Value, m.Type.Value, m.Parent?.Value)).ToList());
        CollectionAssert.AreEqual(FleetHost.Parents!.Select(p => ParentName(p.Address!)).Order(StringComparer.Ordinal).ToList(), inventory.Parents.Select(p => p.Name.Value).ToList());
        Assert.IsTrue(inventory.Parents.All(p => p.Types.Count == 32), "every generated GPU offers 32 types");
        Assert.AreEqual(1 + FleetHost.Parents!.Count + FleetHost.Mdevs!.Count, hypervisor.LibvirtCalls - before, "one listing, then one XML call per device");
    }

    [TestMethod]
    public async Task Domains_AreEveryGuestWithItsDevices_InTheListingsOrderEveryTime()
    {
        using var hypervisor = Open();

        var first = await hypervisor.ListDomainsAsync();
        var second = await hypervisor.ListDomainsAsync();

        var expected = FleetHost.Guests!.ToDictionary(g => g.Name!, g => g.Hostdevs!.Select(h => h.Mdev!).ToList());
        Assert.HasCount(expected.Count, first);
        foreach (var domain in first)
        {
            CollectionAssert.AreEqual(expected[domain.Name], domain.HostDevices.OfType<MdevHostDevice>().Select(d => d.Uuid.Value).ToList(), domain.Name);
        }

        CollectionAssert.AreEqual(first.Select(d => d.Name).ToList(), second.Select(d => d.Name).ToList());
    }

    [TestMethod]
    public async Task CancelledToken_MakesNoLibvirtCall()
    {
        using var hypervisor = Open();
        using var cancellation = new CancellationTokenSource();
        await cancellation.CancelAsync();
        var before = hypervisor.LibvirtCalls;

        await Assert.ThrowsAsync<OperationCanceledException>(() => hypervisor.GetInventoryAsync(InventoryScope.All, cancellation.Token));
        await Assert.ThrowsAsync<OperationCanceledException>(() => hypervisor.ListDomainsAsync(cancellation.Token));
        await Assert.ThrowsAsync<OperationCanceledException>(() => hypervisor.DestroyMdevAsync(MdevUuid.Parse(FleetHost.Mdevs![0].Uuid!), persistent: false, cancellation.Token));

        Assert.AreEqual(before, hypervisor.LibvirtCalls);
    }

    [TestMethod]
    public async Task Destroy_OfAnMdevTheInventoryListed_LooksItUpByName()
    {
        using var hypervisor = Open();
        var inventory = await hypervisor.GetInventoryAsync(InventoryScope.Mdevs);
        var before = hypervisor.LibvirtCalls;

        await hypervisor.DestroyMdevAsync(inventory.Mdevs[17].Uuid, persistent: false);

        Assert.AreEqual(2, hypervisor.LibvirtCalls - before, "virNodeDeviceLookupByName, virNodeDeviceDestroy");
    }

    [TestMethod]
    public async Task Destroy_OfAnMdevNeverListed_FindsItByReadingTheMdevsXml()
    {
        var victim = LastMdevLibvirtLists();
        using var hypervisor = Open();

        await hypervisor.DestroyMdevAsync(victim, persistent: false);

        Assert.AreEqual(2L + 1 + FleetHost.Mdevs!.Count + 1, hypervisor.LibvirtCalls, "opening (2 calls), the listing, the XML of every mdev up to the last one listed, virNodeDeviceDestroy");
    }

    [TestMethod]
    public async Task Destroy_OfAnUnknownUuid_NamesIt()
    {
        using var hypervisor = Open();
        var unknown = MdevUuid.Parse("0badc0de-0000-4000-8000-000000000000");

        var error = await Assert.ThrowsAsync<HypervisorException>(() => hypervisor.DestroyMdevAsync(unknown, persistent: false));

        StringAssert.Contains(error.Message, unknown.Value);
        StringAssert.Contains(error.Message, "cannot be destroyed");
    }

    [TestMethod]
    public async Task NodeDeviceXmlThePlannerRefuses_IsAFailureOfThatHost_NamingTheDeviceAndTheValue()
    {
        var type = FleetHost.Mdevs![0].Type!;
        var hostile = File.ReadAllText(_hostFile).Replace($"<type id=\"{type}\" />", "<type id=\"../../../../etc\" />", StringComparison.Ordinal);
        File.WriteAllText(_hostFile, hostile);
        using var hypervisor = Open();

        var error = await Assert.ThrowsExactlyAsync<HypervisorException>(() => hypervisor.GetInventoryAsync(InventoryScope.Mdevs));

        StringAssert.Contains(error.Message, "fleet");
        StringAssert.Contains(error.Message, "returned XML the planner cannot accept");
        StringAssert.Contains(error.Message, "../../../../etc");
        Assert.IsInstanceOfType<LibvirtXmlException>(error.InnerException);
    }

    [TestMethod]
    public async Task Migrate_ByDefault_IsClientDrivenThroughTheDestinationConnection()
    {
        using var source = Open();
        using var destination = LibvirtHypervisor.Open("test:///default");
        var guest = DomainSelector.Parse(FleetHost.Guests![0].Name!);

        var error = await Assert.ThrowsExactlyAsync<HypervisorNotSupportedException>(() => source.MigrateAsync(new MigrationCall(guest, destination, "<domain/>", new MigrationSettings())));

        StringAssert.Contains(error.Message, $"virDomainMigrate3('{guest.Value}', 'test:///default')");
        Assert.AreEqual("virDomainMigrate3", ((LibvirtException)error.InnerException!).Function);
    }

    [TestMethod]
    public async Task Migrate_PeerToPeer_GoesToTheHostToHostUri_NotTheManagementOne()
    {
        using var source = Open();
        using var destination = LibvirtHypervisor.Open("test:///default");
        var guest = DomainSelector.Parse(FleetHost.Guests![0].Name!);
        var settings = new MigrationSettings { Flags = MigrationMode.Live | MigrationMode.PeerToPeer, DestinationUri = "test+tcp://10.0.0.2/default", MigrateUri = "tcp://10.0.0.2" };

        var error = await Assert.ThrowsExactlyAsync<HypervisorNotSupportedException>(() => source.MigrateAsync(new MigrationCall(guest, destination, "<domain/>", settings)));

        StringAssert.Contains(error.Message, $"virDomainMigrateToURI3('{guest.Value}', 'test+tcp://10.0.0.2/default')");
        Assert.AreEqual("virDomainMigrateToURI3", ((LibvirtException)error.InnerException!).Function);
    }

    [TestMethod]
    public async Task Migrate_ClientDrivenToAReadOnlyDestination_IsRefusedBeforeAnyCall()
    {
        using var source = Open();
        using var destination = LibvirtHypervisor.Open("test:///default", readOnly: true);
        var before = source.LibvirtCalls;

        var error = await Assert.ThrowsExactlyAsync<HypervisorException>(() => source.MigrateAsync(new MigrationCall(DomainSelector.Parse(FleetHost.Guests![0].Name!), destination, "<domain/>", new MigrationSettings())));

        StringAssert.Contains(error.Message, "read-only");
        Assert.AreEqual(before, source.LibvirtCalls);
    }

    private LibvirtHypervisor Open() => LibvirtHypervisor.Open($"test://{_hostFile}");

    /// <summary>The UUID of the mdev libvirt lists last for the host file (a connection of its own reads the same file, so it lists in the same order).</summary>
    private MdevUuid LastMdevLibvirtLists()
    {
        using var connection = LibvirtConnection.OpenReadOnly($"test://{_hostFile}");
        var devices = connection.ListAllNodeDevices(NodeDeviceListFilters.Mdev);
        try
        {
            Assert.HasCount(FleetHost.Mdevs!.Count, devices);
            return NodeDeviceXmlReader.ReadDevice(devices[^1].GetXmlDescription()).Mdevs.Single().Uuid;
        }
        finally
        {
            foreach (var device in devices)
            {
                device.Dispose();
            }
        }
    }

    /// <summary>libvirt's node device name of a PCI parent at <paramref name="address"/> (<c>0000:10:00.0</c> → <c>pci_0000_10_00_0</c>).</summary>
    private static string ParentName(string address) => "pci_" + address.Replace(':', '_').Replace('.', '_');
}
