using VfioMigration.Libvirt;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Xml;

namespace VfioMigration.Integration.Tests.Xml;

/// <summary>The XML readers and writer against XML as libvirt itself dumps and accepts it (test driver, in-process) and libvirt's RNG schema.</summary>
[TestClass]
public sealed class LibvirtXmlTests
{
    private static XmlTestHosts hosts = null!;

    /// <summary>The guest's host devices as libvirt 9 dumps them: interfaces come before hostdevs, so the ordinals are libvirt's order.</summary>
    private static readonly string[] DumpedGuestDevices =
    [
        "0 pci/Interface 0000:3b:02.3 managed driver=- alias=ua-vf0 guest=pci[domain=0x0000 bus=0x07 slot=0x00 function=0x0]",
        "1 mdev 4b20d080-1b54-4048-85b3-a6a62d165c01 vfio-pci display=on ramfb=on alias=ua-vgpu0 guest=pci[domain=0x0000 bus=0x05 slot=0x00 function=0x0]",
        "2 pci/Hostdev 0000:3b:00.1 managed driver=vfio alias=ua-nic-pf guest=pci[domain=0x0000 bus=0x06 slot=0x00 function=0x0]",
        "3 unsupported hostdev mode='subsystem' type='usb' alias=- guest=-",
        "4 unsupported hostdev mode='subsystem' type='scsi' alias=- guest=drive[controller=0 bus=0 target=0 unit=0]",
        "5 unsupported hostdev mode='capabilities' type='storage' alias=- guest=-",
        "6 mdev 90c6c135-ad44-41d0-b1b7-bae47de48627 vfio-ccw display=- ramfb=- alias=- guest=ccw[cssid=0xfe ssid=0x0 devno=0x0001]",
        "7 mdev c0e1ab70-a0ab-4f1b-8d06-7ad0d6e2d33c vfio-ap display=- ramfb=- alias=- guest=-",
        "8 pci/Hostdev 0000:3b:08.2 unmanaged driver=- alias=- guest=-",
    ];

    private static readonly string[] SourcePciDevices = ["pci_0000_00_02_0 0000:00:02.0 0x8086:0x3e92", "pci_0000_3b_00_1 0000:3b:00.1 0x8086:0x1572"];

    private static readonly string[] DemoParents = ["0000:00:02.0 i915-GVTg_V5_4,i915-GVTg_V5_8", "0000:3b:00.0 nvidia-222,nvidia-223,nvidia-224,nvidia-230"];

    [ClassInitialize]
    public static void WriteHostFiles(TestContext context) => hosts = new XmlTestHosts();

    [ClassCleanup]
    public static void DeleteHostFiles() => hosts.Dispose();

    [TestMethod]
    public void DomainReader_ReadsEveryHostDeviceFormAsLibvirtDumpsIt()
    {
        var guest = DomainXmlReader.Read(DumpDomain(hosts.SourceUri, XmlTestHosts.GuestName));

        Assert.AreEqual(XmlTestHosts.GuestName, guest.Name);
        Assert.AreEqual(XmlTestHosts.GuestUuid, guest.Uuid);
        CollectionAssert.AreEqual(DumpedGuestDevices, guest.HostDevices.Select(Describe).ToArray());
    }

    [TestMethod]
    public void NodeDeviceReader_ReadsTheInventoryAsLibvirtDumpsIt()
    {
        var inventory = NodeDeviceXmlReader.ReadInventory(DumpNodeDevices(hosts.SourceUri));

        var parent = inventory.Parents.Single();
        Assert.AreEqual("pci_0000_00_02_0", parent.Name.Value);
        Assert.AreEqual("0000:00:02.0", parent.SysfsName.Value);
        Assert.AreEqual("0x8086", parent.VendorId);
        Assert.AreEqual("0x3e92", parent.ProductId);
        CollectionAssert.AreEqual(
            new[] { new MdevTypeInfo(MdevTypeId.Parse("i915-GVTg_V5_4"), "GVTg_V5_4", "vfio-pci", 1), new MdevTypeInfo(MdevTypeId.Parse("i915-GVTg_V5_8"), "GVTg_V5_8", "vfio-pci", 2) },
            parent.Types.ToArray());

        var mdev = inventory.Mdevs.Single();
        Assert.AreEqual(XmlTestHosts.GuestMdevUuid, mdev.Uuid.Value);
        Assert.AreEqual("i915-GVTg_V5_4", mdev.Type.Value);
        Assert.AreEqual(parent.Name, mdev.Parent);
        Assert.AreEqual(12, mdev.IommuGroup);

        CollectionAssert.AreEquivalent(
            SourcePciDevices,
            inventory.PciDevices.Select(device => $"{device.Name} {device.Address} {device.VendorId}:{device.ProductId}").ToArray());
    }

    public static IEnumerable<object[]> Mappings =>
    [
        ["same kind", new Dictionary<int, DeviceTarget>
        {
            [0] = new PciTarget(PciAddress.Parse("0000:af:00.5")),
            [1] = new MdevTarget(MdevUuid.Parse(XmlTestHosts.DestinationMdevUuid)),
            [2] = new PciTarget(PciAddress.Parse("0000:3b:00.0")),
            [6] = new MdevTarget(MdevUuid.Parse("11111111-2222-4333-8444-555555555555")),
        }],
        ["mdev to pci", new Dictionary<int, DeviceTarget> { [1] = new PciTarget(PciAddress.Parse("0000:3b:00.0")) }],
        ["pci to mdev", new Dictionary<int, DeviceTarget> { [2] = new MdevTarget(MdevUuid.Parse(XmlTestHosts.DestinationMdevUuid)) }],
    ];

    [TestMethod]
    [DynamicData(nameof(Mappings))]
    public void Writer_OutputPassesVirtXmlValidate(string name, Dictionary<int, DeviceTarget> targets)
    {
        var output = DestinationXmlWriter.Rewrite(DumpDomain(hosts.SourceUri, XmlTestHosts.GuestName), targets);
        var path = hosts.WriteFile($"destination-{name.Replace(' ', '-')}.xml", output);

        var (exitCode, messages) = VirtXmlValidate.Domain(path);

        Assert.AreEqual(0, exitCode, messages);
        StringAssert.Contains(messages, "validates");
    }

    [TestMethod]
    [DynamicData(nameof(Mappings))]
    public void Writer_OutputIsDefinedByTheDestinationAndChangesOnlyTheMappedSources(string name, Dictionary<int, DeviceTarget> targets)
    {
        var sourceXml = DumpDomain(hosts.SourceUri, XmlTestHosts.GuestName);
        var source = DomainXmlReader.Read(sourceXml);

        using var destination = LibvirtConnection.Open(hosts.DestinationUri);
        using (destination.DefineDomain(DestinationXmlWriter.Rewrite(sourceXml, targets)))
        {
        }

        var defined = DomainXmlReader.Read(DumpDomain(destination, XmlTestHosts.GuestName));
        Assert.AreEqual(source.Uuid, defined.Uuid, name);
        Assert.HasCount(source.HostDevices.Count, defined.HostDevices);
        foreach (var (before, after) in source.HostDevices.Zip(defined.HostDevices))
        {
            Assert.AreEqual(before.Alias, after.Alias);
            Assert.AreEqual(DescribeGuestAddress(before.GuestAddress), DescribeGuestAddress(after.GuestAddress));
            if (targets.TryGetValue(before.Ordinal, out var target))
            {
                Assert.AreEqual(target, after switch
                {
                    MdevHostDevice mdev => new MdevTarget(mdev.Uuid),
                    PciHostDevice pci => (DeviceTarget)new PciTarget(pci.Address),
                    _ => null,
                });
            }
            else
            {
                Assert.AreEqual(Describe(before), Describe(after));
            }
        }
    }

    [TestMethod]
    public void DemoHost_ReadsThroughTheTestDriver()
    {
        var uri = XmlTestHosts.UriOf(DemoHostPath());

        var running = DomainXmlReader.Read(DumpDomain(uri, "vgpu-desktop"));
        var stopped = DomainXmlReader.Read(DumpDomain(uri, "gvt-office"));
        var inventory = NodeDeviceXmlReader.ReadInventory(DumpNodeDevices(uri));

        Assert.AreEqual(2, running.HostDevices.OfType<MdevHostDevice>().Count());
        Assert.AreEqual(1, running.HostDevices.OfType<PciHostDevice>().Count(device => device.Form == PciHostDeviceForm.Hostdev));
        Assert.AreEqual(1, running.HostDevices.OfType<PciHostDevice>().Count(device => device.Form == PciHostDeviceForm.Interface));
        Assert.AreEqual(1, stopped.HostDevices.OfType<MdevHostDevice>().Count());
        CollectionAssert.AreEquivalent(
            DemoParents,
            inventory.Parents.Select(parent => $"{parent.SysfsName} {string.Join(',', parent.Types.Select(type => type.Id))}").ToArray());
        CollectionAssert.AreEquivalent(
            running.HostDevices.OfType<MdevHostDevice>().Select(device => device.Uuid).ToArray(),
            inventory.Mdevs.Select(mdev => mdev.Uuid).ToArray());
        Assert.HasCount(7, inventory.PciDevices);
        foreach (var assigned in running.HostDevices.OfType<PciHostDevice>())
        {
            Assert.IsTrue(inventory.PciDevices.Any(device => device.Address == assigned.Address), $"{assigned.Address} is a node device");
        }
    }

    private static string DumpDomain(string uri, string name)
    {
        using var connection = LibvirtConnection.Open(uri);
        return DumpDomain(connection, name);
    }

    private static string DumpDomain(LibvirtConnection connection, string name)
    {
        using var domain = connection.LookupDomainByName(name);
        return domain.GetXmlDescription();
    }

    private static List<string> DumpNodeDevices(string uri)
    {
        using var connection = LibvirtConnection.Open(uri);
        var devices = connection.ListAllNodeDevices();
        try
        {
            return [.. devices.Select(device => device.GetXmlDescription())];
        }
        finally
        {
            foreach (var device in devices)
            {
                device.Dispose();
            }
        }
    }

    private static string DemoHostPath()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var candidate = Path.Combine(directory.FullName, "examples", "hosts", "demo-host.xml");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException("examples/hosts/demo-host.xml was not found above the test binaries.");
    }

    private static string Describe(HostDevice device)
    {
        var common = $"alias={device.Alias ?? "-"} guest={DescribeGuestAddress(device.GuestAddress)}";
        return device switch
        {
            MdevHostDevice mdev => $"{mdev.Ordinal} mdev {mdev.Uuid} {mdev.Model} display={mdev.Display ?? "-"} ramfb={mdev.Ramfb ?? "-"} {common}",
            PciHostDevice pci => $"{pci.Ordinal} pci/{pci.Form} {pci.Address} {(pci.Managed ? "managed" : "unmanaged")} driver={pci.DriverName ?? "-"} {common}",
            UnsupportedHostDevice other => $"{other.Ordinal} unsupported {other.Kind} {common}",
            _ => $"{device.Ordinal} {device.GetType().Name}",
        };
    }

    private static string DescribeGuestAddress(GuestAddress? address) =>
        address is null ? "-" : $"{address.Type}[{string.Join(' ', address.Attributes.Select(attribute => $"{attribute.Key}={attribute.Value}"))}]";
}
