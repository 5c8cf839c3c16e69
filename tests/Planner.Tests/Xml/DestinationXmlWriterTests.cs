using System.Text.RegularExpressions;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Xml;

namespace VfioMigration.Planner.Tests.Xml;

[TestClass]
public sealed partial class DestinationXmlWriterTests
{
    private static readonly MdevUuid NewUuid = MdevUuid.Parse("0d3f4a3c-9a51-4c0e-8f7e-3b1c2a8d9e10");
    private static readonly PciAddress NewAddress = PciAddress.Parse("0000:af:00.5");

    [TestMethod]
    public void Rewrite_WithoutTargets_ReturnsTheDocumentUnchanged() =>
        Assert.AreEqual(SampleXml.Domain, DestinationXmlWriter.Rewrite(SampleXml.Domain, new Dictionary<int, DeviceTarget>()));

    [TestMethod]
    public void Rewrite_SameKind_ChangesNothingButTheMappedSources()
    {
        var targets = new Dictionary<int, DeviceTarget>
        {
            [0] = new MdevTarget(NewUuid),
            [1] = new PciTarget(NewAddress),
            [2] = new PciTarget(PciAddress.Parse("0000:af:02.7")),
            [6] = new MdevTarget(MdevUuid.Parse("11111111-2222-4333-8444-555555555555")),
        };

        var output = DestinationXmlWriter.Rewrite(SampleXml.Domain, targets);

        Assert.AreEqual(MaskSources(SampleXml.Domain, targets.Keys), MaskSources(output, targets.Keys));
        StringAssert.Contains(output, "<address uuid='0d3f4a3c-9a51-4c0e-8f7e-3b1c2a8d9e10'/>");
        StringAssert.Contains(output, "<address domain='0x0000' bus='0xaf' slot='0x00' function='0x5'/>");
        StringAssert.Contains(output, "<address type='pci' domain='0x0000' bus='0xaf' slot='0x02' function='0x7'/>");
    }

    /// <summary>
    /// An mtty guest as it must be written for a kernel without IOMMUFD (docs/real-migration.md): a
    /// QEMU override on the hostdev's alias turns device dirty tracking off. libvirt applies it by
    /// alias, so the destination XML must carry the namespace, the override and the alias unchanged.
    /// </summary>
    private const string GuestWithQemuOverride = """
        <domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
          <name>mtty-guest</name>
          <uuid>4a1c7e0e-8d3b-4f1a-9c2e-6b5d3a2f1e00</uuid>
          <memory unit='KiB'>65536</memory>
          <os><type arch='x86_64' machine='pc'>hvm</type></os>
          <devices>
            <hostdev mode='subsystem' type='mdev' managed='no' model='vfio-pci'>
              <source>
                <address uuid='83b8f4f2-509f-382f-3c1e-e6bfe0fa1001'/>
              </source>
              <alias name='hostdev0'/>
              <address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/>
            </hostdev>
          </devices>
          <qemu:override>
            <qemu:device alias='hostdev0'>
              <qemu:frontend>
                <qemu:property name='x-device-dirty-page-tracking' type='string' value='off'/>
                <qemu:property name='enable-migration' type='string' value='on'/>
              </qemu:frontend>
            </qemu:device>
          </qemu:override>
        </domain>
        """;

    [TestMethod]
    public void Rewrite_CarriesAQemuOverrideOnTheHostdevsAliasThroughUnchanged()
    {
        var output = DestinationXmlWriter.Rewrite(GuestWithQemuOverride, new Dictionary<int, DeviceTarget> { [0] = new MdevTarget(NewUuid) });

        Assert.AreEqual(GuestWithQemuOverride.Replace("83b8f4f2-509f-382f-3c1e-e6bfe0fa1001", NewUuid.Value, StringComparison.Ordinal), output);
        Assert.AreEqual("hostdev0", DomainXmlReader.Read(output).HostDevices.Single().Alias);
    }

    [TestMethod]
    public void Rewrite_ReadsBackAsTheSameDevicesWithTheNewSources()
    {
        var before = DomainXmlReader.Read(SampleXml.Domain);
        var output = DestinationXmlWriter.Rewrite(SampleXml.Domain, new Dictionary<int, DeviceTarget> { [0] = new MdevTarget(NewUuid), [2] = new PciTarget(NewAddress) });
        var after = DomainXmlReader.Read(output);

        Assert.AreEqual(before.Name, after.Name);
        Assert.AreEqual(before.Uuid, after.Uuid);
        Assert.AreEqual(((MdevHostDevice)before.HostDevices[0]) with { Uuid = NewUuid, GuestAddress = after.HostDevices[0].GuestAddress }, after.HostDevices[0]);
        CollectionAssert.AreEqual(before.HostDevices[0].GuestAddress!.Attributes.ToArray(), after.HostDevices[0].GuestAddress!.Attributes.ToArray());
        Assert.AreEqual(NewAddress, ((PciHostDevice)after.HostDevices[2]).Address);
        Assert.AreEqual("net1", after.HostDevices[2].Alias);
    }

    [TestMethod]
    public void Rewrite_MdevToPci_ChangesTypeDropsMdevOnlyAttributesAndReplacesTheAddress()
    {
        var output = DestinationXmlWriter.Rewrite(SampleXml.Domain, new Dictionary<int, DeviceTarget> { [0] = new PciTarget(NewAddress) });

        var expected = SampleXml.Domain
            .Replace(
                "<hostdev mode='subsystem' type='mdev' managed='no' model='vfio-pci' display='on' ramfb='on'>",
                "<hostdev mode='subsystem' type='pci' managed='no'>",
                StringComparison.Ordinal)
            .Replace(
                "<address uuid='4B20D080-1B54-4048-85B3-A6A62D165C01'/>",
                "<address domain='0x0000' bus='0xaf' slot='0x00' function='0x5'/>",
                StringComparison.Ordinal);
        Assert.AreEqual(expected, output);
        var device = (PciHostDevice)DomainXmlReader.Read(output).HostDevices[0];
        Assert.AreEqual(NewAddress, device.Address);
        Assert.AreEqual("hostdev0", device.Alias);
    }

    [TestMethod]
    public void Rewrite_PciToMdev_SetsTypeAndModelAndRemovesTheDriverElement()
    {
        var output = DestinationXmlWriter.Rewrite(SampleXml.Domain, new Dictionary<int, DeviceTarget> { [1] = new MdevTarget(NewUuid) });

        var expected = SampleXml.Domain
            .Replace(
                "<hostdev mode='subsystem' type='pci' managed='yes'>\n      <driver name='vfio'/>\n",
                "<hostdev mode='subsystem' type='mdev' managed='yes' model='vfio-pci'>\n",
                StringComparison.Ordinal)
            .Replace(
                "<address domain='0x0000' bus='0x3b' slot='0x00' function='0x1'/>",
                "<address uuid='0d3f4a3c-9a51-4c0e-8f7e-3b1c2a8d9e10'/>",
                StringComparison.Ordinal);
        Assert.AreNotEqual(SampleXml.Domain, expected, "the test's replacements must apply");
        Assert.AreEqual(expected, output);
        var device = (MdevHostDevice)DomainXmlReader.Read(output).HostDevices[1];
        Assert.AreEqual(NewUuid, device.Uuid);
        Assert.AreEqual("vfio-pci", device.Model);
    }

    [TestMethod]
    public void Rewrite_PciToMdev_DropsPciOnlySourceAttributes()
    {
        var output = DestinationXmlWriter.Rewrite(SampleXml.Domain, new Dictionary<int, DeviceTarget> { [8] = new MdevTarget(NewUuid) });

        var expected = SampleXml.Domain
            .Replace("<hostdev type='pci'>", "<hostdev type='mdev' model='vfio-pci'>", StringComparison.Ordinal)
            .Replace(
                "<source startupPolicy='optional'>\n        <address domain='0' bus='59' slot='010' function='2'/>",
                "<source>\n        <address uuid='0d3f4a3c-9a51-4c0e-8f7e-3b1c2a8d9e10'/>",
                StringComparison.Ordinal);
        Assert.AreNotEqual(SampleXml.Domain, expected, "the test's replacements must apply");
        Assert.AreEqual(expected, output);
    }

    [TestMethod]
    public void Rewrite_KeepsCrLfLineEndingsDoubleQuotesAndOpenCloseTags()
    {
        var source = DomainXmlReaderTests.Domain("""
            <hostdev  mode="subsystem"	type="mdev" model="vfio-pci">
              <source>
                <address   uuid="4b20d080-1b54-4048-85b3-a6a62d165c01" ></address>
              </source>
            </hostdev>
            """).ReplaceLineEndings("\r\n");

        var output = DestinationXmlWriter.Rewrite(source, new Dictionary<int, DeviceTarget> { [0] = new MdevTarget(NewUuid) });

        Assert.AreEqual(source.Replace("4b20d080-1b54-4048-85b3-a6a62d165c01", NewUuid.Value, StringComparison.Ordinal), output);
    }

    [TestMethod]
    public void Rewrite_PciSourceWithMissingParts_GetsAllFourInHex()
    {
        var source = DomainXmlReaderTests.Domain("<hostdev mode='subsystem' type='pci'><source><address slot='3'/></source></hostdev>");

        var output = DestinationXmlWriter.Rewrite(source, new Dictionary<int, DeviceTarget> { [0] = new PciTarget(NewAddress) });

        StringAssert.Contains(output, "<source><address slot='0x00' domain='0x0000' bus='0xaf' function='0x5'/></source>");
        Assert.AreEqual(NewAddress, ((PciHostDevice)DomainXmlReader.Read(output).HostDevices[0]).Address);
    }

    [TestMethod]
    [DataRow(2, "mdev", "can only name a PCI function")]
    [DataRow(3, "pci", "hostdev mode='subsystem' type='usb', which the planner does not handle")]
    [DataRow(9, "pci", "Ordinal 9 does not exist: the domain has 9 host devices")]
    [DataRow(-1, "pci", "Ordinal -1 does not exist")]
    public void Rewrite_ImpossibleMappings_AreRefused(int ordinal, string kind, string problem)
    {
        DeviceTarget target = kind == "mdev" ? new MdevTarget(NewUuid) : new PciTarget(NewAddress);
        var error = Assert.ThrowsExactly<ArgumentException>(() => DestinationXmlWriter.Rewrite(SampleXml.Domain, new Dictionary<int, DeviceTarget> { [ordinal] = target }));
        StringAssert.Contains(error.Message, problem);
    }

    [TestMethod]
    public void Rewrite_UnknownTargetKind_IsRefused()
    {
        var error = Assert.ThrowsExactly<ArgumentException>(() => DestinationXmlWriter.Rewrite(SampleXml.Domain, new Dictionary<int, DeviceTarget> { [0] = new UnknownTarget() }));
        StringAssert.Contains(error.Message, "UnknownTarget");
    }

    [TestMethod]
    public void Rewrite_PciWithTeamingToMdev_IsRefused()
    {
        var source = DomainXmlReaderTests.Domain("<hostdev mode='subsystem' type='pci'><source><address bus='0x01'/></source><teaming type='transient' persistent='ua-net0'/></hostdev>");
        var error = Assert.ThrowsExactly<ArgumentException>(() => DestinationXmlWriter.Rewrite(source, new Dictionary<int, DeviceTarget> { [0] = new MdevTarget(NewUuid) }));
        StringAssert.Contains(error.Message, "<teaming>");
    }

    [TestMethod]
    public void Rewrite_InvalidSourceXml_IsALocatedError()
    {
        var source = DomainXmlReaderTests.Domain("<hostdev mode='subsystem' type='mdev' model='vfio-pci'><source><address uuid='bad'/></source></hostdev>");
        var error = Assert.ThrowsExactly<LibvirtXmlException>(() => DestinationXmlWriter.Rewrite(source, new Dictionary<int, DeviceTarget>()));
        Assert.AreEqual("/domain/devices/hostdev/source/address", error.ElementPath);
    }

    /// <summary>Replaces the host device sources of <paramref name="ordinals"/> with a placeholder; in <see cref="SampleXml.Domain"/> the n-th element-content source is host device n.</summary>
    private static string MaskSources(string xml, IEnumerable<int> ordinals)
    {
        var masked = ordinals.ToHashSet();
        var index = 0;
        return HostDeviceSource().Replace(xml, match => masked.Contains(index++) ? "<source>(masked)</source>" : match.Value);
    }

    private sealed record UnknownTarget : DeviceTarget;

    [GeneratedRegex("<source\\b[^>]*(?<!/)>.*?</source>", RegexOptions.Singleline)]
    private static partial Regex HostDeviceSource();
}
