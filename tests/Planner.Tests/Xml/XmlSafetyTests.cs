using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Xml;

namespace VfioMigration.Planner.Tests.Xml;

[TestClass]
public sealed class XmlSafetyTests
{
    private const string BillionLaughs = """
        <?xml version="1.0"?>
        <!DOCTYPE domain [
          <!ENTITY lol "lol">
          <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
          <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
          <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
          <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
          <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
          <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
          <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
          <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
          <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
        ]>
        <domain><name>&lol9;</name><uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid></domain>
        """;

    private const string ExternalEntity = """
        <?xml version="1.0"?>
        <!DOCTYPE device [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
        <device><name>&secret;</name></device>
        """;

    public static IEnumerable<object[]> EntryPoints =>
    [
        ["domain reader"],
        ["node device reader"],
        ["writer"],
    ];

    [TestMethod]
    [DynamicData(nameof(EntryPoints))]
    public void EntityExpansionBomb_IsRefusedBeforeAnyExpansion(string entryPoint)
    {
        var error = Assert.ThrowsExactly<LibvirtXmlException>(() => Parse(entryPoint, BillionLaughs));
        StringAssert.Contains(error.Message, "DOCTYPE");
        Assert.AreEqual(2, error.LineNumber);
        Assert.IsNull(error.ElementPath);
    }

    [TestMethod]
    [DynamicData(nameof(EntryPoints))]
    public void ExternalEntity_IsRefused(string entryPoint)
    {
        var error = Assert.ThrowsExactly<LibvirtXmlException>(() => Parse(entryPoint, ExternalEntity));
        StringAssert.Contains(error.Message, "DTDs are refused");
        Assert.DoesNotContain("root:", error.Message);
    }

    [TestMethod]
    [DynamicData(nameof(EntryPoints))]
    public void OversizedDocument_IsRefusedWithTheLimit(string entryPoint)
    {
        var huge = "<domain>" + new string(' ', LibvirtXml.MaxDocumentCharacters) + "</domain>";
        var error = Assert.ThrowsExactly<LibvirtXmlException>(() => Parse(entryPoint, huge));
        StringAssert.Contains(error.Message, "over the limit of 4194304");
    }

    [TestMethod]
    public void MismatchedEndTag_NamesTheOpenElementAndLine()
    {
        const string xml = "<domain>\n  <name>g</name>\n  <devices>\n    <disk/>\n    <hostdev type='pci'>\n      <source>\n    </hostdev>\n  </devices>\n</domain>";
        var error = Assert.ThrowsExactly<LibvirtXmlException>(() => DomainXmlReader.Read(xml));
        Assert.AreEqual("/domain/devices/hostdev/source", error.ElementPath);
        Assert.AreEqual(7, error.LineNumber);
        StringAssert.Contains(error.Message, "not well-formed XML");
        StringAssert.Contains(error.Message, "'source'");
    }

    [TestMethod]
    public void DuplicateAttribute_InTheSecondHostdev_IsIndexed()
    {
        const string xml = "<domain><devices><hostdev/>\n<hostdev type='pci' type='mdev'/></devices></domain>";
        var error = Assert.ThrowsExactly<LibvirtXmlException>(() => DomainXmlReader.Read(xml));
        Assert.AreEqual("/domain/devices/hostdev[2]", error.ElementPath);
        Assert.AreEqual(2, error.LineNumber);
        StringAssert.Contains(error.Message, "duplicate attribute");
    }

    [TestMethod]
    public void MalformedAttribute_NamesItsElement()
    {
        const string xml = "<domain>\n  <devices>\n    <hostdev type='pci'>\n      <source>\n        <address bus=0x3b/>";
        var error = Assert.ThrowsExactly<LibvirtXmlException>(() => DomainXmlReader.Read(xml));
        Assert.AreEqual("/domain/devices/hostdev/source/address", error.ElementPath);
        Assert.AreEqual(5, error.LineNumber);
    }

    [TestMethod]
    [DataRow("")]
    [DataRow("not xml at all")]
    [DataRow("<domain>")]
    public void NotXml_IsALibvirtXmlException(string text)
    {
        var error = Assert.ThrowsExactly<LibvirtXmlException>(() => DomainXmlReader.Read(text));
        StringAssert.Contains(error.Message, "not well-formed XML");
    }

    private static object Parse(string entryPoint, string xml) => entryPoint switch
    {
        "domain reader" => DomainXmlReader.Read(xml),
        "node device reader" => NodeDeviceXmlReader.ReadInventory([xml]),
        _ => DestinationXmlWriter.Rewrite(xml, new Dictionary<int, DeviceTarget>()),
    };
}
