using System.Text;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Xml;

namespace VfioMigration.Planner.Tests.Xml;

/// <summary>
/// The node device reader over libvirt's UTF-8 bytes (<see cref="NodeDeviceXmlReader.Load(Stream)"/>), which
/// keeps the device element without whitespace-only text: the same inventory as the text reader, and broken
/// or hostile XML refused with the same located errors.
/// </summary>
[TestClass]
public sealed class NodeDeviceXmlStreamTests
{
    [TestMethod]
    public void Samples_ReadAsTheTextReaderReadsThem()
    {
        string[] samples = [SampleXml.GvtParent, SampleXml.Mdev, SampleXml.VfioFunction, SampleXml.CssParent, SampleXml.TopLevelTypesParent, SampleXml.NetDevice];
        var fromBytes = ReadBytes(samples);
        Assert.AreEqual(Describe(NodeDeviceXmlReader.ReadInventory(samples)), Describe(fromBytes));
        Assert.AreEqual("GVTg_V5_4", fromBytes.Parents[0].Types[0].Name);
        Assert.AreEqual("4b20d080-1b54-4048-85b3-a6a62d165c01", fromBytes.Mdevs.Single().Uuid.Value);
    }

    [TestMethod]
    public void WhitespaceInValues_IsTrimmedAsInTheTextReader()
    {
        var padded = SampleXml.GvtParent
            .Replace("<name>pci_0000_00_02_0</name>", "<name>\n    pci_0000_00_02_0\n  </name>", StringComparison.Ordinal)
            .Replace("<path>/sys/devices/pci0000:00/0000:00:02.0</path>", "<path>   </path>", StringComparison.Ordinal)
            .Replace("<deviceAPI>vfio-pci</deviceAPI>", "<deviceAPI> vfio-pci\t</deviceAPI>", StringComparison.Ordinal);
        var fromBytes = ReadBytes([padded]);
        Assert.AreEqual(Describe(NodeDeviceXmlReader.ReadInventory([padded])), Describe(fromBytes));
        var parent = fromBytes.Parents.Single();
        Assert.AreEqual("pci_0000_00_02_0", parent.Name.Value);
        Assert.AreEqual("0000:00:02.0", parent.SysfsName.Value, "an empty <path> falls back to the PCI address");
        Assert.AreEqual("vfio-pci", parent.Types[0].DeviceApi);
    }

    [TestMethod]
    public void InvalidValue_IsLocatedAsInTheTextReader()
    {
        var broken = SampleXml.GvtParent.Replace("<availableInstances>0</availableInstances>", "<availableInstances>-1</availableInstances>", StringComparison.Ordinal);
        var fromText = Assert.ThrowsExactly<LibvirtXmlException>(() => NodeDeviceXmlReader.ReadInventory([broken]));
        var fromBytes = Assert.ThrowsExactly<LibvirtXmlException>(() => ReadBytes([broken]));
        Assert.AreEqual("/device/capability/capability/type[2]/availableInstances", fromBytes.ElementPath);
        Assert.AreEqual((fromText.ElementPath, fromText.LineNumber, fromText.Message), (fromBytes.ElementPath, fromBytes.LineNumber, fromBytes.Message));
    }

    [TestMethod]
    public void MalformedDocument_IsLocatedAsInTheTextReader()
    {
        const string broken = "<device>\n  <name>pci_0000_00_02_0</name>\n  <capability type='pci'>\n    <domain>0</bus>\n  </capability>\n</device>";
        var fromText = Assert.ThrowsExactly<LibvirtXmlException>(() => NodeDeviceXmlReader.ReadInventory([broken]));
        var fromBytes = Assert.ThrowsExactly<LibvirtXmlException>(() => ReadBytes([broken]));
        Assert.AreEqual(4, fromBytes.LineNumber);
        Assert.AreEqual((fromText.ElementPath, fromText.LineNumber, fromText.Message), (fromBytes.ElementPath, fromBytes.LineNumber, fromBytes.Message));
    }

    [TestMethod]
    public void Dtd_AnotherRootAndTwoDevicesOfOneName_AreRefused()
    {
        var dtd = Assert.ThrowsExactly<LibvirtXmlException>(() => ReadBytes(["<!DOCTYPE device [<!ENTITY x 'y'>]>\n<device><name>&x;</name></device>"]));
        StringAssert.Contains(dtd.Message, "DTDs are refused");

        var root = Assert.ThrowsExactly<LibvirtXmlException>(() => ReadBytes(["<domain><name>pci_0000_00_02_0</name></domain>"]));
        Assert.AreEqual("/domain", root.ElementPath);
        StringAssert.Contains(root.Message, "the root element is <domain>; expected libvirt <device> XML.");

        var twice = Assert.ThrowsExactly<LibvirtXmlException>(() => ReadBytes([SampleXml.GvtParent, SampleXml.GvtParent]));
        StringAssert.Contains(twice.Message, "the node device 'pci_0000_00_02_0' appears twice");
    }

    private static HostInventory ReadBytes(IEnumerable<string> xmls) =>
        NodeDeviceXmlReader.ReadInventory([.. xmls.Select(xml => NodeDeviceXmlReader.Load(new MemoryStream(Encoding.UTF8.GetBytes(xml))))]);

    private static string Describe(HostInventory inventory) => string.Join(
        '\n',
        [
            .. inventory.Parents.Select(p => $"{p.Name} {p.SysfsName} {p.Address} {p.VendorId}/{p.ProductId}/{p.Driver} {string.Join(',', p.Types.Select(t => $"{t.Id}:{t.Name}:{t.DeviceApi}:{t.AvailableInstances}"))}"),
            .. inventory.Mdevs.Select(m => $"{m.Name} {m.Uuid} {m.Type} {m.Parent} {m.IommuGroup} {string.Join(',', m.Attributes)}"),
            .. inventory.PciDevices.Select(d => d.ToString()),
        ]);
}
