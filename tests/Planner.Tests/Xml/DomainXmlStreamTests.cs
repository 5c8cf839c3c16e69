using System.Text;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Xml;

namespace VfioMigration.Planner.Tests.Xml;

/// <summary>
/// The domain reader over libvirt's UTF-8 bytes (<see cref="DomainXmlReader.Read(Stream)"/>), which keeps only
/// an outline of the document: the same answers as the text reader, and hostile XML refused or ignored exactly.
/// </summary>
[TestClass]
public sealed class DomainXmlStreamTests
{
    private const string Mdev = "<hostdev mode='subsystem' type='mdev' model='vfio-pci'><source><address uuid='c2a3e6d1-4b8a-4f3e-9d2c-1a2b3c4d5e6f'/></source></hostdev>";

    [TestMethod]
    public void Sample_ReadsAsTheTextReaderReadsIt()
    {
        var fromBytes = ReadBytes(SampleXml.Domain);
        Assert.AreEqual(Describe(DomainXmlReader.Read(SampleXml.Domain)), Describe(fromBytes));
        Assert.AreEqual("vgpu-guest", fromBytes.Name);
        Assert.IsTrue(fromBytes.IsActive);
        Assert.HasCount(9, fromBytes.HostDevices);
    }

    [TestMethod]
    public void Dtd_IsRefusedAsInTheTextReader()
    {
        const string xml = "<?xml version='1.0'?>\n<!DOCTYPE domain [<!ENTITY x 'y'>]>\n<domain><name>&x;</name><uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid></domain>";
        var error = Assert.ThrowsExactly<LibvirtXmlException>(() => ReadBytes(xml));
        Assert.AreEqual(2, error.LineNumber);
        Assert.IsNull(error.ElementPath);
        StringAssert.StartsWith(error.Message, "line 2: the document has a DOCTYPE");
    }

    [TestMethod]
    public void ExternalEntity_IsRefused()
    {
        const string xml = "<!DOCTYPE domain [<!ENTITY secret SYSTEM 'file:///etc/passwd'>]>\n<domain><name>&secret;</name></domain>";
        var error = Assert.ThrowsExactly<LibvirtXmlException>(() => ReadBytes(xml));
        StringAssert.Contains(error.Message, "DTDs are refused");
        Assert.AreEqual(1, error.LineNumber);
    }

    [TestMethod]
    public void HugeAttributeOnASkippedElement_IsReadPastWithoutBeingKept()
    {
        var xml = DomainXmlReaderTests.Domain(Mdev).Replace("<devices>", $"<memory unit='{new string('K', 1_000_000)}'>1</memory>\n  <devices>", StringComparison.Ordinal);
        var domain = ReadBytes(xml);
        Assert.AreEqual("guest", domain.Name);
        Assert.AreEqual("c2a3e6d1-4b8a-4f3e-9d2c-1a2b3c4d5e6f", ((MdevHostDevice)domain.HostDevices.Single()).Uuid.Value);
    }

    [TestMethod]
    public void AttributeOverTheCharacterLimit_IsRefusedWithTheLimit()
    {
        var xml = $"<domain a='{new string('K', LibvirtXml.MaxDocumentCharacters)}'/>";
        var error = Assert.ThrowsExactly<LibvirtXmlException>(() => ReadBytes(xml));
        Assert.AreEqual($"the document has {LibvirtXml.MaxDocumentCharacters + 14} characters, over the limit of 4194304; libvirt's domain XML is a few kilobytes, so this is not one.", error.Message);
    }

    [TestMethod]
    public void BytesOverThreeTimesTheCharacterLimit_AreRefusedBeforeParsing()
    {
        var bytes = new byte[(3 * LibvirtXml.MaxDocumentCharacters) + 1];
        var error = Assert.ThrowsExactly<LibvirtXmlException>(() => DomainXmlReader.Read(new MemoryStream(bytes)));
        Assert.AreEqual("the document has 12582913 bytes, over the limit of 12582912; libvirt's domain XML is a few kilobytes, so this is not one.", error.Message);
    }

    [TestMethod]
    public void DeepNestingOutsideTheDevices_IsSkipped()
    {
        const int Depth = 100_000;
        var nested = string.Concat(Enumerable.Repeat("<x>", Depth)) + string.Concat(Enumerable.Repeat("</x>", Depth));
        var domain = ReadBytes(DomainXmlReaderTests.Domain(Mdev).Replace("<devices>", $"<metadata>{nested}</metadata><devices>", StringComparison.Ordinal));
        Assert.HasCount(1, domain.HostDevices);
    }

    [TestMethod]
    public void DeepNestingInsideAHostdev_IsKeptAndTheDeviceRead()
    {
        const int Depth = 10_000;
        var nested = string.Concat(Enumerable.Repeat("<x>", Depth)) + string.Concat(Enumerable.Repeat("</x>", Depth));
        var domain = ReadBytes(DomainXmlReaderTests.Domain(Mdev.Replace("</source>", $"</source>{nested}", StringComparison.Ordinal)));
        Assert.AreEqual("c2a3e6d1-4b8a-4f3e-9d2c-1a2b3c4d5e6f", ((MdevHostDevice)domain.HostDevices.Single()).Uuid.Value);
    }

    [TestMethod]
    public void HostdevsOutsideDevices_AreNotTheGuests()
    {
        var pci = "<hostdev mode='subsystem' type='pci'><source><address bus='0x01' slot='0x00' function='0x0'/></source></hostdev>";
        var xml = $"""
            <domain type='kvm' xmlns:q='urn:other'>
              <name>guest</name>
              <uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>
              {pci}
              <metadata><devices>{pci}</devices></metadata>
              <q:devices>{pci}</q:devices>
              <devices>
                <disk type='file'>{pci}</disk>
                <q:hostdev mode='subsystem' type='pci'/>
                <interface type='network'><source network='default'/></interface>
                {Mdev}
              </devices>
            </domain>
            """;
        var domain = ReadBytes(xml);
        Assert.AreEqual(Describe(DomainXmlReader.Read(xml)), Describe(domain));
        var only = (MdevHostDevice)domain.HostDevices.Single();
        Assert.AreEqual(0, only.Ordinal);
        Assert.AreEqual("c2a3e6d1-4b8a-4f3e-9d2c-1a2b3c4d5e6f", only.Uuid.Value);
    }

    [TestMethod]
    public void ErrorInAHostdevInterface_CountsEveryInterfaceInItsPath()
    {
        var xml = DomainXmlReaderTests.Domain("<interface type='network'/>\n    <interface type='hostdev'><mac address='52:54:00:00:00:01'/></interface>");
        var error = Assert.ThrowsExactly<LibvirtXmlException>(() => ReadBytes(xml));
        Assert.AreEqual("/domain/devices/interface[2]", error.ElementPath);
        Assert.AreEqual(6, error.LineNumber);
        StringAssert.Contains(error.Message, "the child element <source> is missing");
    }

    [TestMethod]
    public void MissingName_IsLocatedAtTheRootsLine()
    {
        var error = Assert.ThrowsExactly<LibvirtXmlException>(() => ReadBytes("<!-- first -->\n<domain>\n<uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid></domain>"));
        Assert.AreEqual("/domain", error.ElementPath);
        Assert.AreEqual(2, error.LineNumber);
        StringAssert.Contains(error.Message, "the child element <name> is missing");
    }

    [TestMethod]
    public void AnotherRoot_IsRefusedOnceTheWholeDocumentIsRead()
    {
        var wrongRoot = Assert.ThrowsExactly<LibvirtXmlException>(() => ReadBytes("<device><name>x</name></device>"));
        Assert.AreEqual("/device", wrongRoot.ElementPath);
        StringAssert.Contains(wrongRoot.Message, "the root element is <device>; expected libvirt <domain> XML.");

        var brokenAfter = Assert.ThrowsExactly<LibvirtXmlException>(() => ReadBytes("<device><name>x</name></device><second/>"));
        StringAssert.Contains(brokenAfter.Message, "not well-formed XML");
    }

    [TestMethod]
    public void MalformedHostdev_IsLocatedAsInTheTextReader()
    {
        const string xml = "<domain>\n  <name>g</name>\n  <devices>\n    <disk/>\n    <hostdev type='pci'>\n      <source>\n    </hostdev>\n  </devices>\n</domain>";
        var error = Assert.ThrowsExactly<LibvirtXmlException>(() => ReadBytes(xml));
        Assert.AreEqual("/domain/devices/hostdev/source", error.ElementPath);
        Assert.AreEqual(7, error.LineNumber);
    }

    [TestMethod]
    public void DeclaredLatin1_IsStillReadAsLibvirtsUtf8()
    {
        var xml = "<?xml version='1.0' encoding='ISO-8859-1'?>\n<domain><name>gäst</name><uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid></domain>";
        Assert.AreEqual("gäst", ReadBytes(xml).Name);
    }

    [TestMethod]
    public void InvalidUtf8_ReadsAsReplacementCharacters()
    {
        var bytes = Encoding.UTF8.GetBytes("<domain><name>g?</name><uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid></domain>");
        bytes[Array.IndexOf(bytes, (byte)'?')] = 0xff;
        Assert.AreEqual("g\uFFFD", DomainXmlReader.Read(new MemoryStream(bytes)).Name);
    }

    private static DomainHostDevices ReadBytes(string xml) => DomainXmlReader.Read(new MemoryStream(Encoding.UTF8.GetBytes(xml)));

    private static string Describe(DomainHostDevices domain) =>
        $"{domain.Name} {domain.Uuid} {domain.IsActive}\n" + string.Join('\n', domain.HostDevices.Select(d => $"{d} {string.Join(',', d.GuestAddress?.Attributes ?? [])}"));
}
