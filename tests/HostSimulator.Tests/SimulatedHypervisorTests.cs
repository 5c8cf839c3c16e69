using System.Xml.Linq;
using VfioMigration.Planner;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Hypervisor;

namespace VfioMigration.HostSimulator.Tests;

/// <summary>The mocked libvirt users unit-test against: guests, node devices, create/destroy and migration between simulated hosts.</summary>
[TestClass]
public sealed class SimulatedHypervisorTests
{
    private const string Guest = "render-1";
    private static readonly MdevUuid SourceVgpu = MdevUuid.Parse("6a1f0c3e-7b2d-4e5f-8a9b-00000000a001");
    private static readonly MdevUuid NewUuid = MdevUuid.Parse("11111111-2222-4333-8444-555555555555");

    private static SimulatedHost Load(string name) => SimulatedHost.Load(Path.Combine(AppContext.BaseDirectory, "scenarios", name));

    [TestMethod]
    public async Task Guests_and_node_devices_read_as_libvirt_lists_them()
    {
        var hypervisor = new SimulatedHypervisor(Load("demo-dest-a.json"));

        var domains = await hypervisor.ListDomainsAsync();
        var inventory = await hypervisor.GetInventoryAsync(InventoryScope.All);
        var parentsOnly = await hypervisor.GetInventoryAsync(InventoryScope.MdevParents);

        Assert.AreEqual("sim:///demo-dest-a", hypervisor.Uri);
        Assert.AreEqual("batch-7", domains.Single().Name);
        Assert.AreEqual(MdevUuid.Parse("9e2b7d41-0c5a-4f6e-b1d2-00000000b001"), ((MdevHostDevice)domains.Single().HostDevices.Single()).Uuid);
        CollectionAssert.AreEqual(
            new[] { "pci_0000_3b_00_0", "pci_0000_5e_00_0", "pci_0000_86_00_0", "pci_0000_00_02_0" },
            inventory.Parents.Select(p => p.Name.Value).ToArray());
        Assert.AreEqual("9e2b7d41-0c5a-4f6e-b1d2-00000000b001", inventory.Mdevs.Single().Uuid.Value);
        Assert.IsEmpty(parentsOnly.Mdevs);
        Assert.AreEqual(3L, hypervisor.LibvirtCalls);
        await Assert.ThrowsExactlyAsync<HypervisorNotFoundException>(() => hypervisor.GetDomainAsync(DomainSelector.Parse("no-such-guest")));
    }

    [TestMethod]
    public async Task CreateMdev_and_DestroyMdev_change_the_host_through_its_sysfs()
    {
        var host = Load("demo-dest-b.json");
        var hypervisor = new SimulatedHypervisor(host);

        await hypervisor.CreateMdevAsync(new MdevCreation(DeviceName.Parse("pci_0000_3b_00_0"), MdevTypeId.Parse("nvidia-223"), NewUuid, Persistent: false));
        var created = host.Snapshot();
        await hypervisor.DestroyMdevAsync(NewUuid, persistent: false);

        Assert.AreEqual(new MdevSnapshot(NewUuid, "0000:3b:00.0", MdevTypeId.Parse("nvidia-223")), created.State.Mdevs.Single());
        Assert.AreEqual("class/mdev_bus/0000:3b:00.0/mdev_supported_types/nvidia-223/create", created.Operations[^1].Path);
        Assert.IsEmpty(host.Snapshot().State.Mdevs);
        var again = await Assert.ThrowsExactlyAsync<HypervisorException>(() => hypervisor.DestroyMdevAsync(NewUuid, persistent: false));
        Assert.Contains("no mediated device with UUID " + NewUuid, again.Message);
        await Assert.ThrowsExactlyAsync<HypervisorNotFoundException>(() => hypervisor.CreateMdevAsync(new MdevCreation(DeviceName.Parse("pci_0000_99_00_0"), MdevTypeId.Parse("nvidia-223"), NewUuid, false)));
    }

    [TestMethod]
    public async Task A_planned_guest_migrates_to_the_destination_with_its_new_devices()
    {
        var source = new SimulatedHypervisor(Load("demo-source.json"));
        var destination = new SimulatedHypervisor(Load("demo-dest-a.json"));
        var planner = new MigrationPlanner(claims: new TargetClaimRegistry());

        await using var result = await planner.PlanAsync(new PlanRequest(
            new MigrationHost("demo-source", source, source.Host.CreateFileSystem()),
            DomainSelector.Parse(Guest),
            [new MigrationHost("demo-dest-a", destination, destination.Host.CreateFileSystem())]));
        Assert.IsTrue(result.Succeeded, string.Join("\n", result.Best.Reasons));
        await result.Best.ExecuteAsync();

        Assert.AreEqual(PlanState.Committed, result.Best.State);
        Assert.IsEmpty(await source.ListDomainsAsync());
        var arrived = (await destination.GetDomainAsync(DomainSelector.Parse(Guest))).Devices;
        var expected = result.Best.Devices.Select(d => d.Target.Id).Order(StringComparer.Ordinal).ToList();
        var actual = arrived.HostDevices.Select(d => d switch { MdevHostDevice m => m.Uuid.Value, PciHostDevice p => p.Address.ToString(), _ => "?" }).Order(StringComparer.Ordinal).ToList();
        CollectionAssert.AreEqual(expected, actual);
    }

    [TestMethod]
    public async Task Migration_refuses_a_destination_XML_naming_a_device_the_destination_lacks()
    {
        var source = new SimulatedHypervisor(Load("demo-source.json"));
        var destination = new SimulatedHypervisor(Load("demo-dest-b.json"));
        var guest = await source.GetDomainAsync(DomainSelector.Parse(Guest));
        var before = (source.Host.ToLibvirtXml(), destination.Host.ToLibvirtXml());

        // The source's own XML names mdevs that exist only on the source.
        var mdev = await Assert.ThrowsExactlyAsync<HypervisorException>(() =>
            source.MigrateAsync(new MigrationCall(DomainSelector.Parse(Guest), destination, guest.MigratableXml, new MigrationSettings())));

        Assert.AreEqual($"sim:///demo-dest-b: device not found: mediated device '{SourceVgpu}' not found", mdev.Message);
        Assert.AreEqual(before, (source.Host.ToLibvirtXml(), destination.Host.ToLibvirtXml()), "a refused migration changes neither host");
    }

    [TestMethod]
    public async Task Migration_refuses_a_PCI_function_the_destination_lacks_and_takes_one_it_has()
    {
        var source = new SimulatedHypervisor(Load("demo-source.json"));
        var destination = new SimulatedHypervisor(Load("demo-dest-b.json"));
        var pciOnly = XElement.Parse((await source.GetDomainAsync(DomainSelector.Parse(Guest))).MigratableXml);
        pciOnly.Descendants("hostdev").Where(h => (string?)h.Attribute("type") == "mdev").Remove();
        // The L40S VF vGPU (bus 0x17) too: demo-dest-b's L40S VFs are other addresses; the mlx5 VF is the one under test.
        pciOnly.Descendants("hostdev").Where(h => (string?)h.Element("source")!.Element("address")!.Attribute("bus") == "0x17").Remove();
        var missing = new XElement(pciOnly);
        missing.Descendants("hostdev").Single().Element("source")!.Element("address")!.SetAttributeValue("function", "0x5");

        var refused = await Assert.ThrowsExactlyAsync<HypervisorException>(() =>
            source.MigrateAsync(new MigrationCall(DomainSelector.Parse(Guest), destination, missing.ToString(), new MigrationSettings())));
        await source.MigrateAsync(new MigrationCall(DomainSelector.Parse(Guest), destination, pciOnly.ToString(), new MigrationSettings()));

        Assert.AreEqual("sim:///demo-dest-b: device not found: PCI device 0000:d8:00.5 not found: could not access /sys/bus/pci/devices/0000:d8:00.5/config", refused.Message);
        var arrived = (await destination.GetDomainAsync(DomainSelector.Parse(Guest))).Devices.HostDevices.Single();
        Assert.AreEqual(PciAddress.Parse("0000:d8:00.2"), ((PciHostDevice)arrived).Address);
        Assert.AreEqual("ua-nic0", arrived.Alias);
        Assert.IsEmpty(await source.ListDomainsAsync());
    }

    [TestMethod]
    public async Task Migration_refuses_an_mdev_another_guest_of_the_destination_uses()
    {
        var source = new SimulatedHypervisor(Load("demo-dest-a.json"));
        var destination = new SimulatedHypervisor(Load("demo-source.json"));
        var guest = await source.GetDomainAsync(DomainSelector.Parse("batch-7"));
        var free = guest.MigratableXml.Replace("9e2b7d41-0c5a-4f6e-b1d2-00000000b001", "6a1f0c3e-7b2d-4e5f-8a9b-00000000a001", StringComparison.Ordinal);

        // render-1 holds mdev a001 on demo-source.
        var inUse = await Assert.ThrowsExactlyAsync<HypervisorException>(() =>
            source.MigrateAsync(new MigrationCall(DomainSelector.Parse("batch-7"), destination, free, new MigrationSettings())));

        Assert.AreEqual($"sim:///demo-source: Requested operation is not valid: mediated device '{SourceVgpu}' is in use by driver QEMU, domain render-1", inUse.Message);
        Assert.AreEqual("batch-7", (await source.ListDomainsAsync()).Single().Name);
    }
}
