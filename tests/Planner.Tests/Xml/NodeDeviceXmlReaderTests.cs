using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Xml;

namespace VfioMigration.Planner.Tests.Xml;

[TestClass]
public sealed class NodeDeviceXmlReaderTests
{
    private static readonly HostInventory Inventory = NodeDeviceXmlReader.ReadInventory(
        [SampleXml.GvtParent, SampleXml.Mdev, SampleXml.VfioFunction, SampleXml.CssParent, SampleXml.TopLevelTypesParent, SampleXml.NetDevice]);

    [TestMethod]
    public void ReadInventory_PciParentWithTypesInsideThePciCapability()
    {
        var parent = Inventory.Parents[0];
        Assert.AreEqual("pci_0000_00_02_0", parent.Name.Value);
        Assert.AreEqual("0000:00:02.0", parent.SysfsName.Value);
        Assert.AreEqual(new PciAddress(0, 0, 2, 0), parent.Address);
        Assert.AreEqual("0x8086", parent.VendorId);
        Assert.AreEqual("0x3e92", parent.ProductId);
        Assert.AreEqual("i915", parent.Driver);
        Assert.HasCount(2, parent.Types);
        Assert.AreEqual(new MdevTypeInfo(MdevTypeId.Parse("i915-GVTg_V5_4"), "GVTg_V5_4", "vfio-pci", 2), parent.Types[0]);
        Assert.AreEqual(new MdevTypeInfo(MdevTypeId.Parse("i915-GVTg_V5_8"), null, "vfio-pci", 0), parent.Types[1]);
    }

    [TestMethod]
    public void ReadInventory_CssParentAndTopLevelMdevTypes()
    {
        var css = Inventory.Parents[1];
        Assert.AreEqual("0.0.0023", css.SysfsName.Value);
        Assert.IsNull(css.Address);
        Assert.IsNull(css.VendorId);
        Assert.AreEqual("vfio-ccw", css.Types.Single().DeviceApi);

        var mtty = Inventory.Parents[2];
        Assert.AreEqual("mtty", mtty.SysfsName.Value);
        Assert.AreEqual(new MdevTypeInfo(MdevTypeId.Parse("mtty-1"), "Single port serial", "vfio-pci", 24), mtty.Types.Single());
        Assert.HasCount(3, Inventory.Parents);
    }

    [TestMethod]
    public void ReadInventory_Mdev()
    {
        var mdev = Inventory.Mdevs.Single();
        Assert.AreEqual("mdev_4b20d080_1b54_4048_85b3_a6a62d165c01_0000_00_02_0", mdev.Name.Value);
        Assert.AreEqual("4b20d080-1b54-4048-85b3-a6a62d165c01", mdev.Uuid.Value);
        Assert.AreEqual("i915-GVTg_V5_4", mdev.Type.Value);
        Assert.AreEqual(DeviceName.Parse("pci_0000_00_02_0"), mdev.Parent);
        Assert.AreEqual(13, mdev.IommuGroup);
        CollectionAssert.AreEqual(
            new[] { KeyValuePair.Create("assign_adapter", "5"), KeyValuePair.Create("assign_domain", "0x2b") },
            mdev.Attributes.ToArray());
    }

    [TestMethod]
    public void ReadInventory_PciDevices_IncludeParentsAndIgnoreOtherCapabilities()
    {
        Assert.HasCount(2, Inventory.PciDevices);
        Assert.AreEqual(new PciDevice(DeviceName.Parse("pci_0000_00_02_0"), new PciAddress(0, 0, 2, 0), "i915", "0x8086", "0x3e92"), Inventory.PciDevices[0]);
        Assert.AreEqual(new PciDevice(DeviceName.Parse("pci_0000_3b_00_1"), PciAddress.Parse("0000:3b:00.1"), "vfio-pci", "0x8086", "0x1572"), Inventory.PciDevices[1]);
    }

    [TestMethod]
    public void ReadDevice_ReadsOneDevice()
    {
        var one = NodeDeviceXmlReader.ReadDevice(SampleXml.Mdev);
        Assert.AreEqual(Inventory.Mdevs[0].Uuid, one.Mdevs.Single().Uuid);
        Assert.IsEmpty(one.Parents);
        Assert.IsEmpty(NodeDeviceXmlReader.ReadDevice(SampleXml.NetDevice).PciDevices);
    }

    [TestMethod]
    public void SysfsName_FallsBackToThePciAddressWithoutAPath()
    {
        var withoutPath = SampleXml.GvtParent.Replace("<path>/sys/devices/pci0000:00/0000:00:02.0</path>", string.Empty, StringComparison.Ordinal);
        Assert.AreEqual("0000:00:02.0", NodeDeviceXmlReader.ReadDevice(withoutPath).Parents.Single().SysfsName.Value);
    }

    [TestMethod]
    public void ReadInventory_SameDeviceTwice_IsRefused()
    {
        var error = Assert.ThrowsExactly<LibvirtXmlException>(() => NodeDeviceXmlReader.ReadInventory([SampleXml.Mdev, SampleXml.Mdev]));
        StringAssert.Contains(error.Message, "appears twice");
    }

    [TestMethod]
    [DataRow("<type id='i915-GVTg_V5_4'/>", "<type id='../../evil'/>", "/device/capability/type", "not a valid mdev type id")]
    [DataRow("<uuid>4B20D080-1B54-4048-85B3-A6A62D165C01</uuid>", "<uuid>4b20d080</uuid>", "/device/capability/uuid", "is not a UUID")]
    [DataRow("<uuid>4B20D080-1B54-4048-85B3-A6A62D165C01</uuid>", "", "/device/capability", "<uuid> is missing")]
    [DataRow("<parent>pci_0000_00_02_0</parent>", "<parent>../pci</parent>", "/device/parent", "not a valid device name")]
    [DataRow("<name>mdev_4b20d080_1b54_4048_85b3_a6a62d165c01_0000_00_02_0</name>", "<name>a/b</name>", "/device/name", "not a valid device name")]
    [DataRow("<iommuGroup number='13'/>", "<iommuGroup number='x'/>", "/device/capability/iommuGroup", "attribute 'number' is 'x'")]
    public void ReadDevice_InvalidMdevValues_AreLocated(string original, string replacement, string path, string problem) =>
        AssertInvalid(SampleXml.Mdev.Replace(original, replacement, StringComparison.Ordinal), path, problem);

    [TestMethod]
    [DataRow("<bus>0</bus>", "<bus>0x3b</bus>", "/device/capability/bus", "not a decimal number from 0 to 255")]
    [DataRow("<slot>2</slot>", "<slot>32</slot>", "/device/capability/slot", "'32', which is not a decimal number from 0 to 31")]
    [DataRow("<function>0</function>", "", "/device/capability", "<function> is missing")]
    [DataRow("<vendor id='0x8086'>", "<vendor id='0x18086'>", "/device/capability/vendor", "16-bit hex id")]
    [DataRow("<availableInstances>2</availableInstances>", "<availableInstances>-1</availableInstances>", "/device/capability/capability/type[1]/availableInstances", "'-1'")]
    [DataRow("<deviceAPI>vfio-pci</deviceAPI>", "", "/device/capability/capability/type[1]", "<deviceAPI> is missing")]
    [DataRow("<path>/sys/devices/pci0000:00/0000:00:02.0</path>", "<path>/sys/devices/..</path>", "/device/path", "not a valid device name")]
    public void ReadDevice_InvalidParentValues_AreLocated(string original, string replacement, string path, string problem)
    {
        var xml = SampleXml.GvtParent.Replace(original, replacement, StringComparison.Ordinal);
        Assert.AreNotEqual(SampleXml.GvtParent, xml, "the test's replacement must apply");
        AssertInvalid(xml, path, problem);
    }

    private static void AssertInvalid(string xml, string path, string problem)
    {
        var error = Assert.ThrowsExactly<LibvirtXmlException>(() => NodeDeviceXmlReader.ReadDevice(xml));
        Assert.AreEqual(path, error.ElementPath, error.Message);
        StringAssert.Contains(error.Message, problem);
    }
}
