using System.Globalization;
using System.Xml.Linq;
using VfioMigration.Planner.Devices;

namespace VfioMigration.Planner.Xml;

/// <summary>
/// Writes the domain XML a guest migrates with (libvirt's <c>destination_xml</c>): the source
/// domain XML with only the host side of the mapped host devices changed.
/// </summary>
public static class DestinationXmlWriter
{
    private static readonly string[] PciAddressParts = ["domain", "bus", "slot", "function"];

    /// <summary>
    /// Points the mapped host devices at their destination devices. For each ordinal, only the
    /// <c>&lt;source&gt;&lt;address&gt;</c> changes (mdev <c>uuid</c>; PCI <c>domain bus slot function</c>
    /// in libvirt's hex). When an mdev maps to a PCI function or back, the <c>&lt;hostdev&gt;</c>'s
    /// <c>type</c> and <c>model</c> change too, and the attributes and elements only the old kind
    /// allows (<c>display</c>, <c>ramfb</c>; <c>&lt;driver&gt;</c>, <c>startupPolicy</c>, <c>writeFiltering</c>)
    /// are dropped so libvirt's schema still holds. Every other byte of the document is kept.
    /// </summary>
    /// <param name="sourceDomainXml">The guest's domain XML on the source host (the same text its ordinals were read from).</param>
    /// <param name="targetsByOrdinal">The destination device for each <see cref="HostDevice.Ordinal"/> to change; unmapped devices are left alone.</param>
    /// <returns>The destination domain XML.</returns>
    /// <exception cref="LibvirtXmlException">The source XML is malformed or has an invalid host device.</exception>
    /// <exception cref="ArgumentException">An ordinal does not exist, names a device the planner does not handle, or maps an <c>&lt;interface type='hostdev'&gt;</c> to an mdev.</exception>
    public static string Rewrite(string sourceDomainXml, IReadOnlyDictionary<int, DeviceTarget> targetsByOrdinal)
    {
        ArgumentNullException.ThrowIfNull(targetsByOrdinal);
        var domain = LibvirtXml.Load(sourceDomainXml, "domain").Root!;
        var elements = HostDeviceElements.Find(domain);
        var devices = DomainXmlReader.ReadHostDevices(domain);
        var editor = new XmlTextEditor(sourceDomainXml);
        foreach (var (ordinal, target) in targetsByOrdinal)
        {
            if (ordinal < 0 || ordinal >= devices.Count)
            {
                throw new ArgumentException(
                    string.Create(CultureInfo.InvariantCulture, $"Ordinal {ordinal} does not exist: the domain has {devices.Count} host devices."),
                    nameof(targetsByOrdinal));
            }

            if (target is null)
            {
                throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"The target for ordinal {ordinal} is null."), nameof(targetsByOrdinal));
            }

            Retarget(editor, elements[ordinal], devices[ordinal], target);
        }

        return editor.Apply();

        static void Retarget(XmlTextEditor editor, XElement element, HostDevice device, DeviceTarget target)
        {
            if (device is UnsupportedHostDevice unsupported)
            {
                throw new ArgumentException($"{Describe(device)} is a {unsupported.Kind}, which the planner does not handle; it cannot be retargeted.", nameof(targetsByOrdinal));
            }

            var address = HostDeviceElements.SourceAddress(element);
            switch (device, target)
            {
                case (MdevHostDevice, MdevTarget mdev):
                    editor.ChangeAttributes(address, [], [Attribute("uuid", mdev.Uuid.Value)]);
                    break;
                case (PciHostDevice, PciTarget pci):
                    editor.ChangeAttributes(address, [], PciAttributes(pci.Address));
                    break;
                case (MdevHostDevice, PciTarget pci):
                    editor.ChangeAttributes(element, ["model", "display", "ramfb"], [Attribute("type", "pci")]);
                    editor.ChangeAttributes(address, ["uuid"], PciAttributes(pci.Address));
                    break;
                case (PciHostDevice { Form: PciHostDeviceForm.Hostdev }, MdevTarget mdev):
                    if (element.Element("teaming") is not null)
                    {
                        throw new ArgumentException($"{Describe(device)} has a <teaming> element, which only PCI host devices may have; it cannot become an mdev.", nameof(targetsByOrdinal));
                    }

                    editor.ChangeAttributes(element, [], [Attribute("type", "mdev"), Attribute("model", "vfio-pci")]);
                    if (element.Element("driver") is { } driver)
                    {
                        editor.RemoveEmptyElement(driver);
                    }

                    editor.ChangeAttributes(address.Parent!, ["startupPolicy", "writeFiltering"], []);
                    editor.ChangeAttributes(address, address.Attributes().Select(attribute => attribute.Name.LocalName), [Attribute("uuid", mdev.Uuid.Value)]);
                    break;
                case (PciHostDevice, MdevTarget):
                    throw new ArgumentException($"{Describe(device)} is an <interface type='hostdev'>, which can only name a PCI function, not an mdev.", nameof(targetsByOrdinal));
                default:
                    throw new ArgumentException($"{Describe(device)}: the target type {target.GetType().Name} is not one the writer knows (MdevTarget, PciTarget).", nameof(targetsByOrdinal));
            }
        }
    }

    private static string Describe(HostDevice device) =>
        string.Create(CultureInfo.InvariantCulture, $"Host device {device.Ordinal}{(device.Alias is null ? string.Empty : $" ({device.Alias})")}");

    private static KeyValuePair<string, string> Attribute(string name, string value) => KeyValuePair.Create(name, value);

    /// <summary>The source address attributes as libvirt formats them: <c>0x0000</c>, <c>0x3b</c>, <c>0x00</c>, <c>0x1</c>.</summary>
    private static KeyValuePair<string, string>[] PciAttributes(PciAddress address)
    {
        int[] values = [address.Domain, address.Bus, address.Slot, address.Function];
        string[] formats = ["x4", "x2", "x2", "x1"];
        return [.. PciAddressParts.Select((name, index) => Attribute(name, "0x" + values[index].ToString(formats[index], CultureInfo.InvariantCulture)))];
    }
}
