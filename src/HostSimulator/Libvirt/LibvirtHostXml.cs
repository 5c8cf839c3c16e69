using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Xml.Linq;
using VfioMigration.HostSimulator.Model;

namespace VfioMigration.HostSimulator.Libvirt;

/// <summary>
/// Writes a host as a libvirt test-driver file (<c>test:///ABS/PATH.xml</c>): a <c>&lt;node&gt;</c>
/// holding node devices named as libvirt 9 names them and the guests. Checked against libvirt 9.0's
/// test driver: it keeps the node device elements written here and drops the ones it does not model.
/// </summary>
internal static class LibvirtHostXml
{
    private static readonly XNamespace TestNamespace = "http://libvirt.org/schemas/domain/test/1.0";

    /// <summary>The test driver's run state for a shut-off guest (<c>VIR_DOMAIN_SHUTOFF</c>).</summary>
    private const int ShutOffRunState = 5;

    private const string Computer = "computer";

    public static XDocument Build(string hostName, IEnumerable<ParentModel> parents, IEnumerable<PciFunctionModel> functions, IEnumerable<GuestModel> guests)
    {
        var node = new XElement("node", ComputerDevice(hostName));
        var iommuGroup = 0;
        foreach (var parent in parents.Where(p => p.Present))
        {
            if (parent.Address is not null)
            {
                node.Add(ParentDevice(parent));
            }

            foreach (var mdev in parent.Types.SelectMany(t => t.Instances).OrderBy(m => m.Uuid.Value, StringComparer.Ordinal))
            {
                node.Add(MdevDevice(mdev, iommuGroup++));
            }
        }

        foreach (var function in functions)
        {
            var device = PciDevice(function.Address, function.DevicePath, function.VendorId, function.ProductId, function.Driver);
            if (function.PhysicalFunction is { } pf)
            {
                // An SR-IOV VF, as libvirt describes one: its PF inside the pci capability.
                device.Element("capability")!.Add(new XElement("capability", new XAttribute("type", "phys_function"), PciAddressElement(pf)));
            }

            node.Add(device);
        }

        foreach (var guest in guests)
        {
            node.Add(Domain(guest));
        }

        return new XDocument(node);
    }

    /// <summary>libvirt's name for an mdev since 7.7: <c>mdev_&lt;uuid&gt;_&lt;parent&gt;</c>, non-alphanumerics as <c>_</c>.</summary>
    public static string MdevNodeDeviceName(MdevModel mdev) =>
        Planner.Devices.MediatedDevice.NodeDeviceName(mdev.Uuid, mdev.Type.Parent.Name).Value;

    /// <summary>The node device name of a parent: <c>pci_dddd_bb_ss_f</c>; virtual parents have no node device, so mdevs hang off <c>computer</c>.</summary>
    public static string ParentNodeDeviceName(ParentModel parent) =>
        parent.Address is { } address ? address.ToNodeDeviceName() : Computer;

    private static XElement ComputerDevice(string hostName) =>
        new(
            "device",
            new XElement("name", Computer),
            new XElement(
                "capability",
                new XAttribute("type", "system"),
                new XElement(
                    "hardware",
                    new XElement("vendor", "VfioMigration host simulator"),
                    new XElement("uuid", StableUuid(hostName)))));

    private static XElement ParentDevice(ParentModel parent)
    {
        var device = PciDevice(parent.Address!.Value, parent.DevicePath, parent.VendorId!, parent.ProductId!, parent.Driver);
        device.Element("capability")!.Add(new XElement(
            "capability",
            new XAttribute("type", "mdev_types"),
            parent.Types.Select(type => new XElement(
                "type",
                new XAttribute("id", type.Id.Value),
                new XElement("name", type.Name),
                new XElement("deviceAPI", type.DeviceApi),
                new XElement("availableInstances", type.AvailableInstances.ToString(CultureInfo.InvariantCulture))))));
        return device;
    }

    private static XElement PciDevice(Planner.Devices.PciAddress address, string devicePath, string vendorId, string productId, string? driver) =>
        new(
            "device",
            new XElement("name", address.ToNodeDeviceName()),
            new XElement("path", "/sys/" + devicePath),
            new XElement("parent", Computer),
            driver is null ? null : new XElement("driver", new XElement("name", driver)),
            new XElement(
                "capability",
                new XAttribute("type", "pci"),
                new XElement("domain", address.Domain.ToString(CultureInfo.InvariantCulture)),
                new XElement("bus", address.Bus.ToString(CultureInfo.InvariantCulture)),
                new XElement("slot", address.Slot.ToString(CultureInfo.InvariantCulture)),
                new XElement("function", address.Function.ToString(CultureInfo.InvariantCulture)),
                new XElement("product", new XAttribute("id", productId)),
                new XElement("vendor", new XAttribute("id", vendorId))));

    private static XElement MdevDevice(MdevModel mdev, int iommuGroup) =>
        new(
            "device",
            new XElement("name", MdevNodeDeviceName(mdev)),
            new XElement("path", $"/sys/{mdev.Type.Parent.DevicePath}/{mdev.Uuid.Value}"),
            new XElement("parent", ParentNodeDeviceName(mdev.Type.Parent)),
            new XElement(
                "capability",
                new XAttribute("type", "mdev"),
                new XElement("type", new XAttribute("id", mdev.Type.Id.Value)),
                new XElement("uuid", mdev.Uuid.Value),
                new XElement("iommuGroup", new XAttribute("number", iommuGroup.ToString(CultureInfo.InvariantCulture)))));

    private static XElement Domain(GuestModel guest)
    {
        var domain = new XElement(
            "domain",
            new XAttribute("type", "test"),
            new XAttribute(XNamespace.Xmlns + "test", TestNamespace.NamespaceName),
            new XElement("name", guest.Name),
            new XElement("uuid", guest.Uuid.ToString("D")),
            new XElement("memory", new XAttribute("unit", "MiB"), guest.MemoryMiB.ToString(CultureInfo.InvariantCulture)),
            new XElement("os", new XElement("type", "hvm")),
            new XElement("devices", guest.Hostdevs.Select(Hostdev)));
        if (!guest.Running)
        {
            domain.Add(new XElement(TestNamespace + "runstate", ShutOffRunState.ToString(CultureInfo.InvariantCulture)));
        }

        return domain;
    }

    private static XElement Hostdev(GuestHostdevModel hostdev)
    {
        var element = hostdev.Mdev is { } uuid
            ? new XElement(
                "hostdev",
                new XAttribute("mode", "subsystem"),
                new XAttribute("type", "mdev"),
                new XAttribute("model", hostdev.Model),
                new XElement("source", new XElement("address", new XAttribute("uuid", uuid.Value))))
            : new XElement(
                "hostdev",
                new XAttribute("mode", "subsystem"),
                new XAttribute("type", "pci"),
                new XAttribute("managed", "yes"),
                new XElement("source", PciAddressElement(hostdev.Pci!.Value)));
        if (hostdev.Alias is not null)
        {
            element.Add(new XElement("alias", new XAttribute("name", hostdev.Alias)));
        }

        if (hostdev.GuestAddress is { } guestAddress)
        {
            element.Add(new XElement("address", new XAttribute("type", "pci"), PciAddressElement(guestAddress).Attributes()));
        }

        return element;
    }

    /// <summary>A PCI address as libvirt writes it in domain XML (hex attributes).</summary>
    private static XElement PciAddressElement(Planner.Devices.PciAddress address) =>
        new(
            "address",
            new XAttribute("domain", string.Create(CultureInfo.InvariantCulture, $"0x{address.Domain:x4}")),
            new XAttribute("bus", string.Create(CultureInfo.InvariantCulture, $"0x{address.Bus:x2}")),
            new XAttribute("slot", string.Create(CultureInfo.InvariantCulture, $"0x{address.Slot:x2}")),
            new XAttribute("function", string.Create(CultureInfo.InvariantCulture, $"0x{address.Function:x1}")));

    /// <summary>A UUID derived from the host name, so the same scenario always gives the same system UUID.</summary>
    private static string StableUuid(string name)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(name), hash);
        hash[6] = (byte)((hash[6] & 0x0f) | 0x50);
        hash[8] = (byte)((hash[8] & 0x3f) | 0x80);
        return new Guid(hash[..16], bigEndian: true).ToString("D");
    }
}
