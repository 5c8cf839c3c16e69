using System.Diagnostics.CodeAnalysis;
using System.Text.RegularExpressions;

namespace VfioMigration.Planner.Devices;

/// <summary>
/// A device name that is safe as one path segment: a libvirt node device name
/// (<c>pci_0000_00_02_0</c>, <c>mdev_..._0000_00_02_0</c>) or a parent's sysfs directory name
/// (<c>0000:00:02.0</c>, <c>mtty</c>). 1 to 255 characters of letters, digits, <c>_ - . :</c>, not
/// starting with a dot.
/// </summary>
public readonly partial record struct DeviceName
{
    private DeviceName(string value) => Value = value;

    /// <summary>The name text.</summary>
    public string Value { get; }

    /// <summary>Parses and validates a device name.</summary>
    /// <exception cref="FormatException">The text is not a safe device name; the message names <paramref name="where"/>.</exception>
    public static DeviceName Parse(string? text, string where = "input") =>
        TryParse(text, out var name)
            ? name
            : throw new FormatException($"{where}: '{MdevUuid.Shorten(text)}' is not a valid device name (1-255 characters of letters, digits, '_', '-', '.', ':', not starting with '.').");

    /// <summary>Tries to parse a device name.</summary>
    public static bool TryParse([NotNullWhen(true)] string? text, out DeviceName name)
    {
        if (text is not null && Pattern().IsMatch(text))
        {
            name = new DeviceName(text);
            return true;
        }

        name = default;
        return false;
    }

    /// <inheritdoc />
    public override string ToString() => Value ?? string.Empty;

    [GeneratedRegex("^[A-Za-z0-9_\\-:][A-Za-z0-9_\\-.:]{0,254}\\z", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();
}
