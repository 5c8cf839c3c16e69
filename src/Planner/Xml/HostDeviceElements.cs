using System.Xml.Linq;

namespace VfioMigration.Planner.Xml;

/// <summary>What a host device element is, as far as the planner is concerned.</summary>
internal enum HostDeviceKind
{
    /// <summary><c>&lt;hostdev mode='subsystem' type='mdev'&gt;</c>.</summary>
    Mdev,

    /// <summary><c>&lt;hostdev mode='subsystem' type='pci'&gt;</c>.</summary>
    PciHostdev,

    /// <summary><c>&lt;interface type='hostdev'&gt;</c> with a PCI source (an SR-IOV VF).</summary>
    PciInterface,

    /// <summary>Any other host device (USB, SCSI, capabilities mode, ...).</summary>
    Unsupported,
}

/// <summary>
/// Finds and classifies a domain's host device elements. The reader and the writer both go
/// through here, so an ordinal means the same element to both.
/// </summary>
internal static class HostDeviceElements
{
    /// <summary>Every <c>&lt;hostdev&gt;</c> and <c>&lt;interface type='hostdev'&gt;</c> under <c>&lt;devices&gt;</c>, in document order; the index is the ordinal.</summary>
    internal static IReadOnlyList<XElement> Find(XElement domain) =>
        [.. domain.Elements("devices").Elements()
            .Where(element => element.Name == "hostdev" || (element.Name == "interface" && (string?)element.Attribute("type") == "hostdev"))];

    /// <summary>Classifies a host device element and describes it (<c>hostdev type='usb'</c>) for messages.</summary>
    /// <exception cref="LibvirtXmlException">The element lacks what libvirt requires to classify it.</exception>
    internal static (HostDeviceKind Kind, string Description) Classify(XElement element)
    {
        if (element.Name == "interface")
        {
            var sourceAddressType = (string?)LibvirtXml.RequiredChild(element, "source").Element("address")?.Attribute("type");
            return sourceAddressType == "pci"
                ? (HostDeviceKind.PciInterface, "interface type='hostdev'")
                : (HostDeviceKind.Unsupported, "interface type='hostdev' with a USB source");
        }

        var mode = (string?)element.Attribute("mode") ?? "subsystem";
        var type = LibvirtXml.RequiredAttribute(element, "type");
        return (mode, type) switch
        {
            ("subsystem", "mdev") => (HostDeviceKind.Mdev, "hostdev type='mdev'"),
            ("subsystem", "pci") => (HostDeviceKind.PciHostdev, "hostdev type='pci'"),
            ("subsystem" or "capabilities", _) => (HostDeviceKind.Unsupported, $"hostdev mode='{mode}' type='{LibvirtXml.Shorten(type)}'"),
            _ => throw LibvirtXml.Error(element, $"the attribute 'mode' is '{LibvirtXml.Shorten(mode)}'; libvirt allows 'subsystem' or 'capabilities'."),
        };
    }

    /// <summary>Why the planner leaves a device alone, in a sentence.</summary>
    internal static string UnsupportedReason(string description) =>
        $"This {description} is not a VFIO mediated device or PCI function, so the planner cannot choose or check its destination; make sure the destination host provides it.";

    /// <summary>The <c>&lt;address&gt;</c> inside the element's <c>&lt;source&gt;</c> (the host side of the device).</summary>
    /// <exception cref="LibvirtXmlException">The source or its address is missing or repeated.</exception>
    internal static XElement SourceAddress(XElement element) =>
        LibvirtXml.RequiredChild(LibvirtXml.RequiredChild(element, "source"), "address");
}
