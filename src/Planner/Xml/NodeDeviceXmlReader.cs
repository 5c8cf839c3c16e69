using System.Globalization;
using System.Xml;
using System.Xml.Linq;
using VfioMigration.Planner.Devices;

namespace VfioMigration.Planner.Xml;

/// <summary>Reads what a host offers (mdev parents and their types, mdevs, PCI functions) from libvirt node device XML.</summary>
public static class NodeDeviceXmlReader
{
    /// <summary>
    /// <see cref="LibvirtXml.ReaderSettings"/> without whitespace-only text: every value the reader takes
    /// from a node device is trimmed, so the indentation between elements (most of a node device's
    /// text nodes) is never kept.
    /// </summary>
    private static readonly XmlReaderSettings StreamSettings = new()
    {
        DtdProcessing = LibvirtXml.ReaderSettings.DtdProcessing,
        XmlResolver = null,
        MaxCharactersInDocument = LibvirtXml.ReaderSettings.MaxCharactersInDocument,
        MaxCharactersFromEntities = LibvirtXml.ReaderSettings.MaxCharactersFromEntities,
        IgnoreWhitespace = true,
    };

    /// <summary>
    /// Reads a host's inventory from its node devices' XML (<c>virNodeDeviceGetXMLDesc</c> of each
    /// device). Devices without a <c>pci</c>, <c>mdev</c> or <c>mdev_types</c> capability are ignored.
    /// </summary>
    /// <param name="nodeDeviceXmls">One XML document per node device.</param>
    /// <returns>Parents, mdevs and PCI functions, each in input order.</returns>
    /// <exception cref="LibvirtXmlException">A document is malformed or has an invalid value, or two documents name the same device.</exception>
    public static HostInventory ReadInventory(IEnumerable<string> nodeDeviceXmls)
    {
        ArgumentNullException.ThrowIfNull(nodeDeviceXmls);
        return ReadInventory(nodeDeviceXmls.Select(xml => LibvirtXml.Load(xml, "device").Root!));
    }

    /// <summary>
    /// Loads one node device's XML from libvirt's UTF-8 buffer (<see cref="Libvirt.LibvirtNodeDevice.ReadXmlDescription{T}"/>)
    /// as <see cref="ReadInventory(IEnumerable{XElement})"/> takes it, with no string of the text: the
    /// device element whole, located as a document loaded from text is, without whitespace-only text.
    /// </summary>
    /// <param name="utf8">The document as UTF-8, seekable (a broken one is read again as text to locate the error).</param>
    /// <exception cref="LibvirtXmlException">The document is malformed, too large, has a DTD, or has another root.</exception>
    internal static XElement Load(Stream utf8)
    {
        var device = XmlOutline.Read(utf8, "device", StreamSettings, reader => XmlOutline.Element(reader, text: true))
            ?? LibvirtXml.Load(XmlOutline.Text(utf8), "device").Root!;
        LibvirtXml.CheckRoot(device, "device");
        return device;
    }

    /// <summary>Reads a host's inventory from its node devices' loaded <c>&lt;device&gt;</c> elements, as <see cref="ReadInventory(IEnumerable{string})"/> does from their text.</summary>
    /// <exception cref="LibvirtXmlException">A device has an invalid value, or two name the same device.</exception>
    internal static HostInventory ReadInventory(IEnumerable<XElement> devices)
    {
        var parents = new List<MdevParent>();
        var mdevs = new List<MediatedDevice>();
        var pciDevices = new List<PciDevice>();
        var names = new HashSet<DeviceName>();
        foreach (var device in devices)
        {
            var name = Name(device);
            if (!names.Add(name))
            {
                throw LibvirtXml.Error(device, $"the node device '{name}' appears twice in the inventory; pass each device's XML once.");
            }

            Collect(name, device, parents, mdevs, pciDevices);
        }

        return new HostInventory(parents, mdevs, pciDevices);
    }

    /// <summary>
    /// Reads one node device: what it contributes to a <see cref="HostInventory"/> (a PCI parent
    /// is both an <see cref="MdevParent"/> and a <see cref="PciDevice"/>; other devices contribute nothing).
    /// Useful to re-read a single mdev after creating it.
    /// </summary>
    /// <param name="nodeDeviceXml">The device's XML.</param>
    /// <exception cref="LibvirtXmlException">The document is malformed or has an invalid value.</exception>
    public static HostInventory ReadDevice(string nodeDeviceXml) => ReadInventory([nodeDeviceXml]);

    private static DeviceName Name(XElement device)
    {
        var name = LibvirtXml.RequiredChild(device, "name");
        return LibvirtXml.ParseValue(name, "node device name", name.Value.Trim(), DeviceName.Parse);
    }

    private static void Collect(DeviceName name, XElement device, List<MdevParent> parents, List<MediatedDevice> mdevs, List<PciDevice> pciDevices)
    {
        var driver = ((string?)device.Element("driver")?.Element("name"))?.Trim();
        var pci = Capability(device, "pci");
        var pciAddress = pci is null ? (PciAddress?)null : ReadPciAddress(pci);
        var vendorId = pci is null ? null : ReadId(pci, "vendor");
        var productId = pci is null ? null : ReadId(pci, "product");
        if (pciAddress is { } address)
        {
            pciDevices.Add(new PciDevice(name, address, driver, vendorId, productId));
        }

        // libvirt nests mdev_types in the bus capability (pci, css, ap_matrix); accept it at top level too.
        var mdevTypes = device.Elements("capability")
            .SelectMany(capability => capability.Elements("capability").Prepend(capability))
            .Where(capability => (string?)capability.Attribute("type") == "mdev_types")
            .ToList();
        if (mdevTypes.Count > 0)
        {
            var types = mdevTypes.SelectMany(capability => capability.Elements("type")).Select(ReadTypeInfo).ToList();
            parents.Add(new MdevParent(name, SysfsName(device, name, pciAddress), pciAddress, vendorId, productId, driver, types));
        }

        if (Capability(device, "mdev") is { } mdev)
        {
            mdevs.Add(ReadMdev(name, device, mdev));
        }
    }

    private static XElement? Capability(XElement device, string type) =>
        device.Elements("capability").FirstOrDefault(capability => (string?)capability.Attribute("type") == type);

    /// <summary>
    /// The parent's directory name under <c>class/mdev_bus/</c>: the basename of libvirt's
    /// <c>&lt;path&gt;</c> (the sysfs device path), else the PCI address, else the node device name.
    /// </summary>
    private static DeviceName SysfsName(XElement device, DeviceName name, PciAddress? address)
    {
        if (device.Element("path") is { } path && !string.IsNullOrWhiteSpace(path.Value))
        {
            var basename = path.Value.Trim().TrimEnd('/');
            basename = basename[(basename.LastIndexOf('/') + 1)..];
            return LibvirtXml.ParseValue(path, "the last segment of <path>", basename, DeviceName.Parse);
        }

        return address is { } pciAddress ? DeviceName.Parse(pciAddress.ToString()) : name;
    }

    private static PciAddress ReadPciAddress(XElement pci) =>
        new(
            ParseDecimalChild(pci, "domain", 0xffff),
            ParseDecimalChild(pci, "bus", 0xff),
            ParseDecimalChild(pci, "slot", 0x1f),
            ParseDecimalChild(pci, "function", 7));

    private static int ParseDecimalChild(XElement parent, string name, int maximum)
    {
        var child = LibvirtXml.RequiredChild(parent, name);
        return LibvirtXml.ParseDecimal(child, "the value", child.Value.Trim(), maximum);
    }

    /// <summary>Reads <c>&lt;vendor id='0x8086'&gt;</c> or <c>&lt;product id=..&gt;</c> as <c>0x%04x</c>.</summary>
    private static string? ReadId(XElement pci, string elementName)
    {
        if (pci.Element(elementName) is not { } element)
        {
            return null;
        }

        var text = LibvirtXml.RequiredAttribute(element, "id");
        var digits = text.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? text[2..] : text;
        return digits.Length is > 0 and <= 4 && digits.All(char.IsAsciiHexDigit)
            ? string.Create(CultureInfo.InvariantCulture, $"0x{int.Parse(digits, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture):x4}")
            : throw LibvirtXml.Error(element, $"the attribute 'id' is '{LibvirtXml.Shorten(text)}'; expected a 16-bit hex id such as '0x8086'.");
    }

    private static MdevTypeInfo ReadTypeInfo(XElement type)
    {
        var id = LibvirtXml.ParseValue(type, "attribute 'id'", LibvirtXml.RequiredAttribute(type, "id"), MdevTypeId.Parse);
        var name = ((string?)type.Element("name"))?.Trim();
        var deviceApi = LibvirtXml.RequiredChild(type, "deviceAPI").Value.Trim();
        if (deviceApi.Length == 0)
        {
            throw LibvirtXml.Error(type.Element("deviceAPI")!, "the device API is empty; expected e.g. 'vfio-pci'.");
        }

        var available = ParseDecimalChild(type, "availableInstances", int.MaxValue);
        return new MdevTypeInfo(id, string.IsNullOrEmpty(name) ? null : name, deviceApi, available);
    }

    private static MediatedDevice ReadMdev(DeviceName name, XElement device, XElement mdev)
    {
        var typeElement = LibvirtXml.RequiredChild(mdev, "type");
        var type = LibvirtXml.ParseValue(typeElement, "attribute 'id'", LibvirtXml.RequiredAttribute(typeElement, "id"), MdevTypeId.Parse);
        var uuidElement = LibvirtXml.RequiredChild(mdev, "uuid");
        var uuid = LibvirtXml.ParseValue(uuidElement, "mdev UUID", uuidElement.Value.Trim(), MdevUuid.Parse);
        var parent = device.Element("parent") is { } parentElement
            ? LibvirtXml.ParseValue(parentElement, "parent name", parentElement.Value.Trim(), DeviceName.Parse)
            : (DeviceName?)null;
        var iommuGroup = mdev.Element("iommuGroup") is { } group
            ? LibvirtXml.ParseDecimal(group, "attribute 'number'", LibvirtXml.RequiredAttribute(group, "number"), int.MaxValue)
            : (int?)null;
        var attributes = mdev.Elements("attr")
            .Select(attr => KeyValuePair.Create(LibvirtXml.RequiredAttribute(attr, "name"), (string?)attr.Attribute("value") ?? string.Empty))
            .ToList();
        return new MediatedDevice(name, uuid, type, parent, iommuGroup, attributes);
    }
}
