using System.Globalization;

namespace VfioMigration.Planner.Xml;

/// <summary>
/// The alias each host device has in the running guest, which is what a
/// <c>&lt;qemu:device alias=&gt;</c> names. The migratable XML keeps only user aliases
/// (<c>ua-</c>…); libvirt's own <c>hostdevN</c> are left out, so they are worked out here the way
/// libvirt's QEMU driver assigns them when the guest starts (<c>qemuAssignDeviceAliases</c>):
/// every <c>&lt;interface type='hostdev'&gt;</c> first, then every <c>&lt;hostdev&gt;</c>, each in
/// document order; a device that has an alias keeps it; one without gets <c>hostdevN</c> with N one
/// more than the largest <c>hostdevN</c> already given (0 when there is none). User aliases take no
/// number. A device hot-plugged after a hot-unplug, or an <c>&lt;interface type='network'&gt;</c> whose
/// network hands out VFs, can make the running guest's numbering differ; the live XML names the
/// aliases as they are, and they are taken as written.
/// </summary>
internal static class HostDeviceAliases
{
    private const string Prefix = "hostdev";

    /// <summary>Each host device's alias, keyed by <see cref="Devices.HostDevice.Ordinal"/>.</summary>
    /// <exception cref="LibvirtXmlException">The XML cannot be read.</exception>
    public static IReadOnlyDictionary<int, string> Read(string domainXml)
    {
        var elements = HostDeviceElements.Find(LibvirtXml.Load(domainXml, "domain").Root!);
        var aliases = new Dictionary<int, string>();
        var next = 0;
        for (var ordinal = 0; ordinal < elements.Count; ordinal++)
        {
            if ((string?)elements[ordinal].Element("alias")?.Attribute("name") is { } alias)
            {
                aliases[ordinal] = alias;
                if (Number(alias) is { } number && number >= next)
                {
                    next = number + 1;
                }
            }
        }

        var order = Enumerable.Range(0, elements.Count).OrderBy(ordinal => elements[ordinal].Name == "interface" ? 0 : 1);
        foreach (var ordinal in order.Where(ordinal => !aliases.ContainsKey(ordinal)))
        {
            aliases[ordinal] = string.Create(CultureInfo.InvariantCulture, $"{Prefix}{next++}");
        }

        return aliases;
    }

    /// <summary>N of an alias <c>hostdevN</c>, or null for any other alias.</summary>
    private static int? Number(string alias) =>
        alias.StartsWith(Prefix, StringComparison.Ordinal) && alias.Length > Prefix.Length && alias.Length <= Prefix.Length + 9 && alias[Prefix.Length..].All(char.IsAsciiDigit)
            ? int.Parse(alias.AsSpan(Prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture)
            : null;
}
