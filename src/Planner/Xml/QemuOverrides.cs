using System.Xml.Linq;

namespace VfioMigration.Planner.Xml;

/// <summary>
/// The QEMU frontend properties a guest sets on its devices through libvirt's QEMU namespace:
/// <c>&lt;qemu:override&gt;&lt;qemu:device alias='hostdev0'&gt;&lt;qemu:frontend&gt;&lt;qemu:property name= type= value=/&gt;</c>.
/// </summary>
internal static class QemuOverrides
{
    /// <summary>libvirt's QEMU domain namespace.</summary>
    public const string Namespace = "http://libvirt.org/schemas/domain/qemu/1.0";

    /// <summary>Each device alias's frontend properties (name to type and value, as written), from a domain XML.</summary>
    /// <exception cref="LibvirtXmlException">The XML cannot be read.</exception>
    public static IReadOnlyDictionary<string, IReadOnlyDictionary<string, QemuProperty>> FrontendProperties(string domainXml)
    {
        XNamespace qemu = Namespace;
        var root = LibvirtXml.Load(domainXml, "domain").Root!;
        var result = new Dictionary<string, IReadOnlyDictionary<string, QemuProperty>>(StringComparer.Ordinal);
        foreach (var device in root.Elements(qemu + "override").Elements(qemu + "device"))
        {
            if ((string?)device.Attribute("alias") is not { } alias)
            {
                continue;
            }

            var properties = new Dictionary<string, QemuProperty>(StringComparer.Ordinal);
            foreach (var property in device.Elements(qemu + "frontend").Elements(qemu + "property"))
            {
                if ((string?)property.Attribute("name") is { } name && (string?)property.Attribute("value") is { } value)
                {
                    properties[name] = new QemuProperty((string?)property.Attribute("type"), value);
                }
            }

            result[alias] = properties;
        }

        return result;
    }
}

/// <summary>One <c>&lt;qemu:property&gt;</c>: libvirt passes the value to QEMU as the JSON type <paramref name="Type"/> names.</summary>
/// <param name="Type">The <c>type</c> attribute (<c>string</c>, <c>bool</c>, <c>signed</c>, <c>unsigned</c>, <c>remove</c>); null when absent.</param>
/// <param name="Value">The <c>value</c> attribute, as written.</param>
internal sealed record QemuProperty(string? Type, string Value);
