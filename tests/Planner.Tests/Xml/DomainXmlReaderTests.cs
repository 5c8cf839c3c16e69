using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Xml;

namespace VfioMigration.Planner.Tests.Xml;

[TestClass]
public sealed class DomainXmlReaderTests
{
    private static readonly DomainHostDevices Sample = DomainXmlReader.Read(SampleXml.Domain);

    [TestMethod]
    public void Read_NormalisesTheDomainUuidAndKeepsTheName()
    {
        Assert.AreEqual("vgpu-guest", Sample.Name);
        Assert.AreEqual("6695eb01-f6a4-8304-79aa-97f2502e193f", Sample.Uuid);
    }

    [TestMethod]
    [DataRow("<domain type='kvm' id='5'>", true)]
    [DataRow("<domain type='kvm' id='-1'>", false)]
    [DataRow("<domain type='kvm'>", false)]
    public void Read_ARunningDomainIsOneWithAnId(string root, bool active) =>
        Assert.AreEqual(active, DomainXmlReader.Read($"{root}<name>g</name><uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid></domain>").IsActive);

    [TestMethod]
    public void Read_NumbersEveryHostdevAndHostdevInterfaceInDocumentOrder()
    {
        Assert.HasCount(9, Sample.HostDevices);
        CollectionAssert.AreEqual(Enumerable.Range(0, 9).ToList(), Sample.HostDevices.Select(device => device.Ordinal).ToList());
    }

    [TestMethod]
    public void Read_MdevWithDisplayRamfbAliasAndGuestAddress()
    {
        var mdev = (MdevHostDevice)Sample.HostDevices[0];
        Assert.AreEqual(MdevUuid.Parse("4b20d080-1b54-4048-85b3-a6a62d165c01"), mdev.Uuid);
        Assert.AreEqual("4b20d080-1b54-4048-85b3-a6a62d165c01", mdev.Uuid.Value);
        Assert.AreEqual("vfio-pci", mdev.Model);
        Assert.AreEqual("on", mdev.Display);
        Assert.AreEqual("on", mdev.Ramfb);
        Assert.AreEqual("hostdev0", mdev.Alias);
        Assert.AreEqual("pci", mdev.GuestAddress!.Type);
        CollectionAssert.AreEqual(
            new[] { KeyValuePair.Create("domain", "0x0000"), KeyValuePair.Create("bus", "0x05"), KeyValuePair.Create("slot", "0x00"), KeyValuePair.Create("function", "0x0") },
            mdev.GuestAddress.Attributes.ToArray());
    }

    [TestMethod]
    public void Read_CcwAndApMdevs()
    {
        var ccw = (MdevHostDevice)Sample.HostDevices[6];
        Assert.AreEqual("vfio-ccw", ccw.Model);
        Assert.AreEqual("ccw", ccw.GuestAddress!.Type);
        Assert.IsNull(ccw.Display);
        Assert.IsNull(ccw.Alias);

        var ap = (MdevHostDevice)Sample.HostDevices[7];
        Assert.AreEqual("vfio-ap", ap.Model);
        Assert.AreEqual("c0e1ab70-a0ab-4f1b-8d06-7ad0d6e2d33c", ap.Uuid.Value);
        Assert.IsNull(ap.GuestAddress);
    }

    [TestMethod]
    public void Read_PciHostdevFromHexSourceAddress()
    {
        var pci = (PciHostDevice)Sample.HostDevices[1];
        Assert.AreEqual(new PciAddress(0, 0x3b, 0, 1), pci.Address);
        Assert.IsTrue(pci.Managed);
        Assert.AreEqual("vfio", pci.DriverName);
        Assert.AreEqual(PciHostDeviceForm.Hostdev, pci.Form);
        Assert.AreEqual("hostdev1", pci.Alias);
        Assert.AreEqual("on", pci.GuestAddress!.Attributes.Single(attribute => attribute.Key == "multifunction").Value);
    }

    [TestMethod]
    public void Read_PciSourceNumbersAsLibvirtReadsThem_DecimalAndLeadingZeroOctal()
    {
        var pci = (PciHostDevice)Sample.HostDevices[8];
        Assert.AreEqual(PciAddress.Parse("0000:3b:08.2"), pci.Address);
        Assert.IsFalse(pci.Managed);
        Assert.IsNull(pci.DriverName);
    }

    [TestMethod]
    public void Read_HostdevInterfaceIsAPciFunctionInInterfaceForm()
    {
        var vf = (PciHostDevice)Sample.HostDevices[2];
        Assert.AreEqual(PciHostDeviceForm.Interface, vf.Form);
        Assert.AreEqual(PciAddress.Parse("0000:3b:02.3"), vf.Address);
        Assert.IsTrue(vf.Managed);
        Assert.AreEqual("net1", vf.Alias);
    }

    [TestMethod]
    [DataRow(3, "hostdev mode='subsystem' type='usb'")]
    [DataRow(4, "hostdev mode='subsystem' type='scsi'")]
    [DataRow(5, "hostdev mode='capabilities' type='storage'")]
    public void Read_OtherHostdevsAreUnsupportedWithAReason(int ordinal, string kind)
    {
        var device = (UnsupportedHostDevice)Sample.HostDevices[ordinal];
        Assert.AreEqual(kind, device.Kind);
        StringAssert.Contains(device.Reason, kind);
        StringAssert.Contains(device.Reason, "not a VFIO");
    }

    [TestMethod]
    public void Read_UnknownHostdevTypeAndUsbInterfaceAreUnsupported()
    {
        var xml = Domain("""
            <hostdev mode='subsystem' type='future-bus'><source/></hostdev>
            <interface type='hostdev'><source><address type='usb' bus='1' device='2'/></source></interface>
            """);
        var devices = DomainXmlReader.Read(xml).HostDevices;
        Assert.AreEqual("hostdev mode='subsystem' type='future-bus'", ((UnsupportedHostDevice)devices[0]).Kind);
        Assert.AreEqual("interface type='hostdev' with a USB source", ((UnsupportedHostDevice)devices[1]).Kind);
    }

    [TestMethod]
    public void Read_DomainWithoutDevices_HasNoHostDevices() =>
        Assert.IsEmpty(DomainXmlReader.Read(Domain(string.Empty)).HostDevices);

    [TestMethod]
    [DataRow("<hostdev mode='subsystem' type='mdev' model='vfio-pci'><source><address uuid='not-a-uuid'/></source></hostdev>", "/domain/devices/hostdev/source/address", "'not-a-uuid' is not a UUID")]
    [DataRow("<hostdev mode='subsystem' type='mdev' model='vfio-pci'><source><address uuid='../../../etc/passwd'/></source></hostdev>", "/domain/devices/hostdev/source/address", "is not a UUID")]
    [DataRow("<hostdev mode='subsystem' type='mdev' model='vfio-pci'><source><address/></source></hostdev>", "/domain/devices/hostdev/source/address", "attribute 'uuid' is missing")]
    [DataRow("<hostdev mode='subsystem' type='mdev' model='vfio-xyz'><source><address uuid='4b20d080-1b54-4048-85b3-a6a62d165c01'/></source></hostdev>", "/domain/devices/hostdev", "model 'vfio-xyz'")]
    [DataRow("<hostdev mode='subsystem' type='mdev'><source><address uuid='4b20d080-1b54-4048-85b3-a6a62d165c01'/></source></hostdev>", "/domain/devices/hostdev", "attribute 'model' is missing")]
    [DataRow("<hostdev mode='subsystem' type='mdev' model='vfio-pci'/>", "/domain/devices/hostdev", "<source> is missing")]
    [DataRow("<hostdev mode='subsystem' type='pci'><source><address domain='0x0000' bus='0x3b' slot='0x20' function='0x0'/></source></hostdev>", "/domain/devices/hostdev/source/address", "'slot' is '0x20' (32), over the maximum of 31")]
    [DataRow("<hostdev mode='subsystem' type='pci'><source><address domain='0x0000' bus='0x3g' slot='0x00' function='0x0'/></source></hostdev>", "/domain/devices/hostdev/source/address", "'bus' is '0x3g', which is not a hex number")]
    [DataRow("<hostdev mode='subsystem' type='pci'><source><address domain='0x0000' bus='09' slot='0x00' function='0x0'/></source></hostdev>", "/domain/devices/hostdev/source/address", "not an octal number")]
    [DataRow("<hostdev mode='subsystem' type='pci'><source><address function='-1'/></source></hostdev>", "/domain/devices/hostdev/source/address", "'function' is '-1'")]
    [DataRow("<hostdev mode='subsystem' type='pci' managed='maybe'><source><address bus='0x01'/></source></hostdev>", "/domain/devices/hostdev", "'managed' is 'maybe'")]
    [DataRow("<hostdev mode='subsystem'><source/></hostdev>", "/domain/devices/hostdev", "attribute 'type' is missing")]
    [DataRow("<hostdev mode='weird' type='pci'><source/></hostdev>", "/domain/devices/hostdev", "attribute 'mode' is 'weird'")]
    [DataRow("<hostdev mode='subsystem' type='pci'><source><address/><address/></source></hostdev>", "/domain/devices/hostdev/source/address[2]", "more than one <address>")]
    [DataRow("<hostdev mode='subsystem' type='pci'><source><address/></source><address domain='0'/></hostdev>", "/domain/devices/hostdev/address", "attribute 'type' is missing")]
    public void Read_InvalidHostdev_NamesTheElementAndTheProblem(string hostdev, string path, string problem)
    {
        var error = Assert.ThrowsExactly<LibvirtXmlException>(() => DomainXmlReader.Read(Domain(hostdev)));
        Assert.AreEqual(path, error.ElementPath);
        StringAssert.Contains(error.Message, problem);
        StringAssert.Contains(error.Message, path);
        Assert.IsNotNull(error.LineNumber);
    }

    [TestMethod]
    public void Read_ErrorInTheSecondHostdev_IndexesItAndGivesItsLine()
    {
        var xml = Domain("""
            <hostdev mode='subsystem' type='mdev' model='vfio-pci'><source><address uuid='4b20d080-1b54-4048-85b3-a6a62d165c01'/></source></hostdev>
            <hostdev mode='subsystem' type='mdev' model='vfio-pci'>
              <source>
                <address uuid='4b20d080-1b54-4048-85b3-a6a62d165c0'/>
              </source>
            </hostdev>
            """);
        var error = Assert.ThrowsExactly<LibvirtXmlException>(() => DomainXmlReader.Read(xml));
        Assert.AreEqual("/domain/devices/hostdev[2]/source/address", error.ElementPath);
        var expectedLine = xml.Split('\n').ToList().FindIndex(line => line.Contains("a6a62d165c0'", StringComparison.Ordinal)) + 1;
        Assert.AreEqual(expectedLine, error.LineNumber);
        StringAssert.Contains(error.Message, $"(line {expectedLine})");
    }

    [TestMethod]
    [DataRow("<domain><uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid></domain>", "/domain", "<name> is missing")]
    [DataRow("<domain><name>x</name></domain>", "/domain", "<uuid> is missing")]
    [DataRow("<domain><name>x</name><uuid>not-a-uuid</uuid></domain>", "/domain/uuid", "not a domain UUID")]
    [DataRow("<domain><name> </name><uuid>6695eb01f6a4830479aa97f2502e193f</uuid></domain>", "/domain/name", "name is empty")]
    [DataRow("<device><name>x</name></device>", "/device", "expected libvirt <domain> XML")]
    public void Read_InvalidDomainElements_AreLocated(string xml, string path, string problem)
    {
        var error = Assert.ThrowsExactly<LibvirtXmlException>(() => DomainXmlReader.Read(xml));
        Assert.AreEqual(path, error.ElementPath);
        StringAssert.Contains(error.Message, problem);
    }

    [TestMethod]
    public void Read_UndashedDomainUuid_IsNormalised() =>
        Assert.AreEqual(
            "6695eb01-f6a4-8304-79aa-97f2502e193f",
            DomainXmlReader.Read("<domain><name>x</name><uuid>6695EB01F6A4830479AA97F2502E193F</uuid></domain>").Uuid);

    internal static string Domain(string devices) => $"""
        <domain type='test'>
          <name>guest</name>
          <uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>
          <devices>
            {devices}
          </devices>
        </domain>
        """;
}
