using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text.RegularExpressions;

namespace VfioMigration.Planner.Devices;

/// <summary>
/// A PCI function address, <c>dddd:bb:ss.f</c> in lower-case hex (the sysfs name under
/// <c>bus/pci/devices</c>). Safe to use as a path segment.
/// </summary>
public readonly partial record struct PciAddress
{
    /// <summary>Creates an address from its numeric parts.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A part is out of the PCI range (domain 0..0xffff, bus 0..0xff, slot 0..0x1f, function 0..7).</exception>
    public PciAddress(int domain, int bus, int slot, int function)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(domain);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(domain, 0xffff);
        ArgumentOutOfRangeException.ThrowIfNegative(bus);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(bus, 0xff);
        ArgumentOutOfRangeException.ThrowIfNegative(slot);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(slot, 0x1f);
        ArgumentOutOfRangeException.ThrowIfNegative(function);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(function, 7);
        Domain = domain;
        Bus = bus;
        Slot = slot;
        Function = function;
    }

    /// <summary>PCI domain (segment), 0..0xffff.</summary>
    public int Domain { get; }

    /// <summary>Bus number, 0..0xff.</summary>
    public int Bus { get; }

    /// <summary>Slot (device) number, 0..0x1f.</summary>
    public int Slot { get; }

    /// <summary>Function number, 0..7.</summary>
    public int Function { get; }

    /// <summary>Parses <c>dddd:bb:ss.f</c> (hex, any case).</summary>
    /// <param name="text">The address text.</param>
    /// <param name="where">Where the text came from, for the error message.</param>
    /// <exception cref="FormatException">The text is not a PCI address; the message names <paramref name="where"/>.</exception>
    public static PciAddress Parse(string? text, string where = "input") =>
        TryParse(text, out var address)
            ? address
            : throw new FormatException($"{where}: '{MdevUuid.Shorten(text)}' is not a PCI address (expected dddd:bb:ss.f in hex, e.g. 0000:3b:00.1).");

    /// <summary>Tries to parse <c>dddd:bb:ss.f</c>; returns false when the text is not a valid address.</summary>
    public static bool TryParse([NotNullWhen(true)] string? text, out PciAddress address)
    {
        address = default;
        if (text is null)
        {
            return false;
        }

        var match = Pattern().Match(text);
        if (!match.Success)
        {
            return false;
        }

        var slot = int.Parse(match.Groups[3].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        if (slot > 0x1f)
        {
            return false;
        }

        address = new PciAddress(
            int.Parse(match.Groups[1].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture),
            int.Parse(match.Groups[2].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture),
            slot,
            int.Parse(match.Groups[4].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture));
        return true;
    }

    /// <summary>The libvirt node device name of this function, e.g. <c>pci_0000_3b_00_1</c>.</summary>
    public string ToNodeDeviceName() =>
        string.Create(CultureInfo.InvariantCulture, $"pci_{Domain:x4}_{Bus:x2}_{Slot:x2}_{Function:x1}");

    /// <inheritdoc />
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Domain:x4}:{Bus:x2}:{Slot:x2}.{Function:x1}");

    [GeneratedRegex("^([0-9A-Fa-f]{4}):([0-9A-Fa-f]{2}):([0-9A-Fa-f]{2})\\.([0-7])\\z", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();
}
