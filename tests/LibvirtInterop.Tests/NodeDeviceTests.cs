namespace VfioMigration.Libvirt.Tests;

[TestClass]
public sealed class NodeDeviceTests : LibvirtTestBase
{
    [TestMethod]
    public void ListAllNodeDevices_FiltersByCapability()
    {
        using var host = new TestHost();
        using var connection = LibvirtConnection.Open(host.Uri);

        Assert.AreEqual("computer" + ", " + TestHost.MdevName + ", " + TestHost.ParentName + ", " + TestHost.PlainPciName,
            NamesOf(connection.ListAllNodeDevices()));
        Assert.AreEqual(TestHost.ParentName, NamesOf(connection.ListAllNodeDevices(NodeDeviceListFilters.MdevTypes)));
        Assert.AreEqual(TestHost.MdevName, NamesOf(connection.ListAllNodeDevices(NodeDeviceListFilters.Mdev)));
        Assert.AreEqual("computer", NamesOf(connection.ListAllNodeDevices(NodeDeviceListFilters.System)));
        Assert.AreEqual(TestHost.MdevName + ", " + TestHost.ParentName + ", " + TestHost.PlainPciName,
            NamesOf(connection.ListAllNodeDevices(NodeDeviceListFilters.PciDevice | NodeDeviceListFilters.Mdev)));
    }

    [TestMethod]
    [DataRow(NodeDeviceListFilters.Active)]
    [DataRow(NodeDeviceListFilters.Inactive)]
    public void ListAllNodeDevices_ActivityFilters_AreRefusedByTheTestDriver(NodeDeviceListFilters filter)
    {
        using var connection = LibvirtConnection.Open("test:///default");

        // libvirt's virCheckFlags reports VIR_ERR_INVALID_ARG ("unsupported flags"), not NO_SUPPORT.
        var error = Assert.ThrowsExactly<LibvirtInvalidArgumentException>(() => connection.ListAllNodeDevices(filter));
        Assert.AreEqual(LibvirtErrorCode.InvalidArgument, error.Code);
        StringAssert.Contains(error.LibvirtMessage, "unsupported flags");
    }

    [TestMethod]
    public void Lookup_ReturnsXmlAndParent()
    {
        using var host = new TestHost();
        using var connection = LibvirtConnection.Open(host.Uri);
        using var parent = connection.LookupNodeDeviceByName(TestHost.ParentName);
        using var mdev = connection.LookupNodeDeviceByName(TestHost.MdevName);

        StringAssert.Contains(parent.GetXmlDescription(), $"<type id='{TestHost.MdevTypeId}'>");
        StringAssert.Contains(mdev.GetXmlDescription(), $"<uuid>{TestHost.MdevUuid}</uuid>");
        Assert.AreEqual(TestHost.ParentName, mdev.ParentName);
        Assert.AreEqual("computer", parent.ParentName);
        Assert.AreEqual(TestHost.MdevName, mdev.Name);
    }

    [TestMethod]
    public void ReadXmlDescription_GivesLibvirtsUtf8BytesAsAReadOnlyStream()
    {
        using var host = new TestHost();
        using var connection = LibvirtConnection.Open(host.Uri);
        using var parent = connection.LookupNodeDeviceByName(TestHost.ParentName);

        var expected = parent.GetXmlDescription();
        var (text, length, writable) = parent.ReadXmlDescription(
            stream => (new StreamReader(stream, System.Text.Encoding.UTF8).ReadToEnd(), stream.Length, stream.CanWrite));

        StringAssert.Contains(text, $"<type id='{TestHost.MdevTypeId}'>");
        Assert.AreEqual(expected, text);
        Assert.AreEqual(System.Text.Encoding.UTF8.GetByteCount(expected), length);
        Assert.IsFalse(writable);
    }

    [TestMethod]
    public void ParentName_OfTheRootDevice_IsAnError()
    {
        using var host = new TestHost();
        using var connection = LibvirtConnection.Open(host.Uri);
        using var root = connection.LookupNodeDeviceByName("computer");

        var error = Assert.ThrowsExactly<LibvirtException>(() => root.ParentName);
        Assert.AreEqual(LibvirtErrorCode.InternalError, error.Code);
        StringAssert.Contains(error.LibvirtMessage, "no parent");
    }

    [TestMethod]
    public void Lookup_UnknownDevice_ThrowsNotFoundNamingIt()
    {
        using var connection = LibvirtConnection.Open("test:///default");

        var error = Assert.ThrowsExactly<LibvirtNotFoundException>(() => connection.LookupNodeDeviceByName("pci_0000_99_00_0"));
        Assert.AreEqual(LibvirtErrorCode.NoNodeDevice, error.Code);
        StringAssert.Contains(error.Message, "pci_0000_99_00_0");
    }

    [TestMethod]
    public void Destroy_OnAnMdev_SucceedsAndTheTestDriverKeepsTheDevice()
    {
        using var host = new TestHost();
        using var connection = LibvirtConnection.Open(host.Uri);
        using (var mdev = connection.LookupNodeDeviceByName(TestHost.MdevName))
        {
            mdev.Destroy();
        }

        Assert.AreEqual(TestHost.MdevName, NamesOf(connection.ListAllNodeDevices(NodeDeviceListFilters.Mdev)));
    }

    [TestMethod]
    public void CreateNodeDevice_ForAnMdev_IsRefusedByTheTestDriver()
    {
        using var host = new TestHost();
        using var connection = LibvirtConnection.Open(host.Uri);

        var error = Assert.ThrowsExactly<LibvirtException>(() => connection.CreateNodeDevice(TestHost.MdevCreateXml("7c1f3a52-6f0e-4d8b-9a57-3b2e1d0c9f84")));
        Assert.AreEqual(LibvirtErrorCode.InternalError, error.Code);
        StringAssert.Contains(error.LibvirtMessage, "fibre channel");
    }

    [TestMethod]
    public void DefineStartUndefine_AreNotSupportedByTheTestDriver()
    {
        using var host = new TestHost();
        using var connection = LibvirtConnection.Open(host.Uri);
        using var mdev = connection.LookupNodeDeviceByName(TestHost.MdevName);

        var define = Assert.ThrowsExactly<LibvirtNotSupportedException>(() => connection.DefineNodeDevice(TestHost.MdevCreateXml("7c1f3a52-6f0e-4d8b-9a57-3b2e1d0c9f84")));
        var start = Assert.ThrowsExactly<LibvirtNotSupportedException>(mdev.Start);
        var undefine = Assert.ThrowsExactly<LibvirtNotSupportedException>(mdev.Undefine);

        Assert.AreEqual(LibvirtErrorCode.NoSupport, define.Code);
        Assert.AreEqual("virNodeDeviceDefineXML", define.Function);
        Assert.AreEqual("virNodeDeviceCreate", start.Function);
        Assert.AreEqual("virNodeDeviceUndefine", undefine.Function);
    }
}
