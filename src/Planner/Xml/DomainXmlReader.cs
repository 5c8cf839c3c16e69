using System.Text;
using System.Xml;
using System.Xml.Linq;
using VfioMigration.Planner.Devices;

namespace VfioMigration.Planner.Xml;

/// <summary>Reads the host devices a guest owns from its libvirt domain XML.</summary>
public static class DomainXmlReader
{
    private static readonly string[] MdevModels = ["vfio-pci", "vfio-ccw", "vfio-ap"];

    /// <summary>
    /// Reads the domain's name, UUID and host devices: every <c>&lt;hostdev&gt;</c> and
    /// <c>&lt;interface type='hostdev'&gt;</c> under <c>&lt;devices&gt;</c>, in document order
    /// (that order is <see cref="HostDevice.Ordinal"/>).
    /// </summary>
    /// <param name="domainXml">The domain XML, as <c>virDomainGetXMLDesc</c> returns it.</param>
    /// <returns>The guest and its host devices; devices the planner does not handle are <see cref="UnsupportedHostDevice"/>s with a reason.</returns>
    /// <exception cref="LibvirtXmlException">The XML is malformed, too large, has a DTD, or a host device has a missing or invalid value.</exception>
    public static DomainHostDevices Read(string domainXml)
    {
        ArgumentNullException.ThrowIfNull(domainXml);
        LibvirtXml.CheckLength(domainXml.Length, utf8Bytes: false, "domain");
        XElement? outline;
        try
        {
            using var reader = XmlReader.Create(new StringReader(domainXml), LibvirtXml.ReaderSettings);
            outline = Outline(reader, utf8Bytes: false);
        }
        catch (XmlException error)
        {
            // Only a broken document pays for the second pass that finds the element to name.
            throw LibvirtXml.Locate(domainXml, error);
        }

        return FromOutline(outline!);
    }

    /// <summary>
    /// Reads the same as <see cref="Read(string)"/> from the document's UTF-8 bytes (libvirt's own
    /// buffer, <see cref="Libvirt.LibvirtDomain.ReadXmlDescription{T}"/>), with no string of the
    /// whole text and no tree of the whole domain: only <c>&lt;name&gt;</c>, <c>&lt;uuid&gt;</c> and the
    /// host device elements under <c>&lt;devices&gt;</c> are kept; everything else is checked for
    /// well-formedness and skipped.
    /// </summary>
    /// <param name="utf8">The document as UTF-8, seekable (a broken one is read again as text to locate the error).</param>
    /// <exception cref="LibvirtXmlException">As for <see cref="Read(string)"/>.</exception>
    internal static DomainHostDevices Read(Stream utf8)
    {
        LibvirtXml.CheckLength(utf8.Length, utf8Bytes: true, "domain");
        XElement? outline;
        try
        {
            using var reader = XmlReader.Create(utf8, LibvirtXml.ReaderSettings, new XmlParserContext(ThreadNameTable.ForThisThread(), null, null, XmlSpace.None));
            outline = Outline(reader, utf8Bytes: true);
        }
        catch (XmlException)
        {
            outline = null;
        }
        finally
        {
            ThreadNameTable.Trim();
        }

        if (outline is null)
        {
            // Broken, or declaring an encoding other than libvirt's UTF-8 (a byte reader would switch
            // to it): read as the UTF-8 text libvirt means, which also locates any error.
            utf8.Position = 0;
            using var text = new StreamReader(utf8, Encoding.UTF8, detectEncodingFromByteOrderMarks: false);
            return Read(text.ReadToEnd());
        }

        return FromOutline(outline);
    }

    /// <summary>
    /// Reads the whole document (every byte is checked) and keeps its outline: the root with its
    /// attributes, the root's <c>&lt;name&gt;</c> and <c>&lt;uuid&gt;</c> children whole, and each
    /// <c>&lt;devices&gt;</c> with its <c>&lt;hostdev&gt;</c> and <c>&lt;interface&gt;</c> children (an
    /// interface that is not <c>type='hostdev'</c> as an empty stand-in, so that paths count siblings as
    /// the whole document would). Null when <paramref name="utf8Bytes"/> and the XML declaration names
    /// another encoding.
    /// </summary>
    private static XElement? Outline(XmlReader reader, bool utf8Bytes)
    {
        while (reader.Read() && reader.NodeType != XmlNodeType.Element)
        {
            if (utf8Bytes && reader.NodeType == XmlNodeType.XmlDeclaration
                && reader.GetAttribute("encoding") is { } encoding
                && !encoding.Equals("UTF-8", StringComparison.OrdinalIgnoreCase) && !encoding.Equals("UTF8", StringComparison.OrdinalIgnoreCase))
            {
                return null;
            }
        }

        var root = Stub(reader);
        if (root.Name == "domain")
        {
            Children(reader, child => root.Add(child.LocalName switch
            {
                _ when child.NamespaceURI.Length > 0 => Skip(child),
                "name" or "uuid" => Load(child, text: true),
                "devices" => Devices(child),
                _ => Skip(child),
            }));
        }
        else
        {
            reader.Skip();
        }

        // What follows the root (comments, processing instructions, or a second root) is read too.
        while (reader.Read())
        {
        }

        return root;
    }

    private static XElement Devices(XmlReader reader)
    {
        var devices = Stub(reader);
        Children(reader, child => devices.Add((child.NamespaceURI.Length > 0 ? null : child.LocalName) switch
        {
            "hostdev" => Load(child, text: false),
            "interface" when child.GetAttribute("type") == "hostdev" => Load(child, text: false),
            "interface" => Stub(child, skip: true),
            _ => Skip(child),
        }));
        return devices;
    }

    /// <summary>Calls <paramref name="visit"/> on each child element of the element the reader is on (each leaves the reader after its child), then moves past the element.</summary>
    private static void Children(XmlReader reader, Action<XmlReader> visit)
    {
        if (reader.IsEmptyElement)
        {
            reader.Read();
            return;
        }

        var depth = reader.Depth;
        reader.Read();
        while (reader.Depth > depth)
        {
            if (reader.NodeType == XmlNodeType.Element)
            {
                visit(reader);
            }
            else
            {
                reader.Read();
            }
        }

        reader.Read();
    }

    /// <summary>
    /// The element the reader is on, built as <see cref="XElement.Load(XmlReader, LoadOptions)"/> builds it (names and
    /// attributes alike) with each element's line, leaving the reader after it. With <paramref name="text"/> its text is kept
    /// too (a name, a UUID); a host device's is not, since nothing reads it.
    /// </summary>
    private static XElement Load(XmlReader reader, bool text)
    {
        var top = Stub(reader);
        if (reader.IsEmptyElement)
        {
            reader.Read();
            return top;
        }

        var depth = reader.Depth;
        var open = top;
        reader.Read();
        while (reader.Depth > depth)
        {
            switch (reader.NodeType)
            {
                case XmlNodeType.Element:
                    var child = Stub(reader);
                    open.Add(child);
                    open = reader.IsEmptyElement ? open : child;
                    break;
                case XmlNodeType.EndElement:
                    open = open.Parent!;
                    break;
                case XmlNodeType.Text or XmlNodeType.CDATA or XmlNodeType.Whitespace or XmlNodeType.SignificantWhitespace when text:
                    open.Add(new XText(reader.Value));
                    break;
                default:
                    break;
            }

            reader.Read();
        }

        reader.Read();
        return top;
    }

    /// <summary>
    /// The element the reader is on, with its attributes and located at its line, without content; with
    /// <paramref name="skip"/>, no attributes and the reader moved after it.
    /// </summary>
    private static XElement Stub(XmlReader reader, bool skip = false)
    {
        var stub = new XElement(XName.Get(reader.LocalName, reader.NamespaceURI));
        if (reader is IXmlLineInfo info && info.HasLineInfo())
        {
            stub.AddAnnotation(new LibvirtXml.SourceLine(info.LineNumber));
        }

        if (!skip && reader.MoveToFirstAttribute())
        {
            // As XLinq names them: an attribute without a prefix (xmlns itself included) has no namespace.
            do
            {
                stub.Add(new XAttribute(XName.Get(reader.LocalName, reader.Prefix.Length == 0 ? string.Empty : reader.NamespaceURI), reader.Value));
            }
            while (reader.MoveToNextAttribute());
            reader.MoveToElement();
        }

        if (skip)
        {
            reader.Skip();
        }

        return stub;
    }

    /// <summary>Moves past the element the reader is on; nothing is kept.</summary>
    private static XElement? Skip(XmlReader reader)
    {
        reader.Skip();
        return null;
    }

    private static DomainHostDevices FromOutline(XElement domain)
    {
        LibvirtXml.CheckRoot(domain, "domain");
        var name = LibvirtXml.RequiredChild(domain, "name");
        if (string.IsNullOrWhiteSpace(name.Value))
        {
            throw LibvirtXml.Error(name, "the domain name is empty.");
        }

        // libvirt writes the domain's id only while it runs (a positive number; -1 or none when shut off).
        var id = (string?)domain.Attribute("id");
        return new DomainHostDevices(name.Value.Trim(), ReadDomainUuid(LibvirtXml.RequiredChild(domain, "uuid")), ReadHostDevices(domain))
        {
            IsActive = id is not null && int.TryParse(id, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var number) && number > 0,
        };
    }

    /// <summary>Reads the host devices of a loaded domain; the writer uses it to check what it rewrites.</summary>
    internal static IReadOnlyList<HostDevice> ReadHostDevices(XElement domain) =>
        [.. HostDeviceElements.Find(domain).Select((element, ordinal) => ReadHostDevice(element, ordinal))];

    private static string ReadDomainUuid(XElement uuid)
    {
        var text = uuid.Value.Trim();

        // libvirt accepts the UUID with or without dashes and always writes it with them.
        return Guid.TryParseExact(text, "D", out var guid) || Guid.TryParseExact(text, "N", out guid)
            ? guid.ToString("D")
            : throw LibvirtXml.Error(uuid, $"'{LibvirtXml.Shorten(text)}' is not a domain UUID (expected 8-4-4-4-12 or 32 hex digits).");
    }

    private static HostDevice ReadHostDevice(XElement element, int ordinal)
    {
        var alias = (string?)element.Element("alias")?.Attribute("name");
        var guestAddress = ReadGuestAddress(element.Element("address"));
        var (kind, description) = HostDeviceElements.Classify(element);
        return kind switch
        {
            HostDeviceKind.Mdev => ReadMdev(element, ordinal, alias, guestAddress),
            HostDeviceKind.PciHostdev => ReadPci(element, ordinal, alias, guestAddress, PciHostDeviceForm.Hostdev),
            HostDeviceKind.PciInterface => ReadPci(element, ordinal, alias, guestAddress, PciHostDeviceForm.Interface),
            _ => new UnsupportedHostDevice(ordinal, alias, guestAddress, description, HostDeviceElements.UnsupportedReason(description)),
        };
    }

    private static MdevHostDevice ReadMdev(XElement element, int ordinal, string? alias, GuestAddress? guestAddress)
    {
        var model = LibvirtXml.RequiredAttribute(element, "model");
        if (!MdevModels.Contains(model, StringComparer.Ordinal))
        {
            throw LibvirtXml.Error(element, $"the mdev model '{LibvirtXml.Shorten(model)}' is not one libvirt knows ({string.Join(", ", MdevModels)}).");
        }

        var address = HostDeviceElements.SourceAddress(element);
        var uuid = LibvirtXml.ParseValue(address, "attribute 'uuid'", LibvirtXml.RequiredAttribute(address, "uuid"), MdevUuid.Parse);
        return new MdevHostDevice(ordinal, alias, guestAddress, uuid, model, (string?)element.Attribute("display"), (string?)element.Attribute("ramfb"));
    }

    private static PciHostDevice ReadPci(XElement element, int ordinal, string? alias, GuestAddress? guestAddress, PciHostDeviceForm form)
    {
        var address = ReadPciAddress(HostDeviceElements.SourceAddress(element));
        var managed = (string?)element.Attribute("managed") switch
        {
            null or "no" => false,
            "yes" => true,
            var other => throw LibvirtXml.Error(element, $"the attribute 'managed' is '{LibvirtXml.Shorten(other)}'; libvirt allows 'yes' or 'no'."),
        };
        return new PciHostDevice(ordinal, alias, guestAddress, address, managed, (string?)element.Element("driver")?.Attribute("name"), form);
    }

    /// <summary>
    /// Reads a source PCI address. Like libvirt, a missing part is 0 and numbers are read as C's
    /// strtoul does with base 0 (libvirt writes them in hex).
    /// </summary>
    private static PciAddress ReadPciAddress(XElement address)
    {
        int Part(string name, int maximum) =>
            (string?)address.Attribute(name) is { } text ? LibvirtXml.ParseLibvirtNumber(address, name, text, maximum) : 0;

        return new PciAddress(Part("domain", 0xffff), Part("bus", 0xff), Part("slot", 0x1f), Part("function", 7));
    }

    private static GuestAddress? ReadGuestAddress(XElement? address) =>
        address is null
            ? null
            : new GuestAddress(
                LibvirtXml.RequiredAttribute(address, "type"),
                [.. address.Attributes()
                    .Where(attribute => !attribute.IsNamespaceDeclaration && attribute.Name != "type")
                    .Select(attribute => KeyValuePair.Create(attribute.Name.LocalName, attribute.Value))]);
}
