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
            outline = XmlOutline.Document(reader, utf8Bytes: false, Outline);
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
    internal static DomainHostDevices Read(Stream utf8) =>
        XmlOutline.Read(utf8, "domain", LibvirtXml.ReaderSettings, Outline) is { } outline
            ? FromOutline(outline)
            : Read(XmlOutline.Text(utf8));

    /// <summary>
    /// Keeps the document's outline, the reader on its root element: the root with its attributes, the
    /// root's <c>&lt;name&gt;</c> and <c>&lt;uuid&gt;</c> children whole, and each <c>&lt;devices&gt;</c> with
    /// its <c>&lt;hostdev&gt;</c> and <c>&lt;interface&gt;</c> children (an interface that is not
    /// <c>type='hostdev'</c> as an empty stand-in, so that paths count siblings as the whole document
    /// would); leaves the reader after the root.
    /// </summary>
    private static XElement Outline(XmlReader reader)
    {
        var root = XmlOutline.Stub(reader);
        if (root.Name == "domain")
        {
            Children(reader, child => root.Add(child.LocalName switch
            {
                _ when child.NamespaceURI.Length > 0 => Skip(child),
                "name" or "uuid" => XmlOutline.Element(child, text: true),
                "devices" => Devices(child),
                _ => Skip(child),
            }));
        }
        else
        {
            reader.Skip();
        }

        return root;
    }

    private static XElement Devices(XmlReader reader)
    {
        var devices = XmlOutline.Stub(reader);
        Children(reader, child => devices.Add((child.NamespaceURI.Length > 0 ? null : child.LocalName) switch
        {
            "hostdev" => XmlOutline.Element(child, text: false),
            "interface" when child.GetAttribute("type") == "hostdev" => XmlOutline.Element(child, text: false),
            "interface" => XmlOutline.Stub(child, skip: true),
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
