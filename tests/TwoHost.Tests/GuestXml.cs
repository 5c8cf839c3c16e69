using System.Xml.Linq;

namespace VfioMigration.TwoHost.Tests;

/// <summary>The L2 guest's XML from scripts/two-host/l2-guest.xml, with one mtty hostdev per UUID.</summary>
internal static class GuestXml
{
    private static readonly XNamespace Qemu = "http://libvirt.org/schemas/domain/qemu/1.0";

    /// <param name="template">The template: one hostdev whose UUID is MDEV_UUID, with alias ua-mdev0, and its qemu:override for that alias.</param>
    /// <param name="name">The guest's name.</param>
    /// <param name="uuids">The mdevs, in hostdev order (aliases ua-mdev0, ua-mdev1, ...).</param>
    /// <param name="dirtyTrackingOverride">Keep the qemu:override (one per hostdev); false drops it, which Debian 12's kernel cannot migrate.</param>
    public static string Build(string template, string name, IReadOnlyList<string> uuids, bool dirtyTrackingOverride)
    {
        var document = XDocument.Parse(template);
        var domain = document.Root!;
        domain.Element("name")!.Value = name;
        var hostdevTemplate = domain.Element("devices")!.Element("hostdev")!;
        var overrideTemplate = domain.Element(Qemu + "override")!.Element(Qemu + "device")!;
        foreach (var (uuid, index) in uuids.Select((uuid, index) => (uuid, index)))
        {
            var hostdev = new XElement(hostdevTemplate);
            hostdev.Element("source")!.Element("address")!.SetAttributeValue("uuid", uuid);
            hostdev.Element("alias")!.SetAttributeValue("name", $"ua-mdev{index}");
            hostdevTemplate.AddBeforeSelf(hostdev);
            var device = new XElement(overrideTemplate);
            device.SetAttributeValue("alias", $"ua-mdev{index}");
            overrideTemplate.AddBeforeSelf(device);
        }

        hostdevTemplate.Remove();
        overrideTemplate.Remove();
        if (!dirtyTrackingOverride)
        {
            domain.Element(Qemu + "override")!.Remove();
        }

        return document.ToString();
    }
}
