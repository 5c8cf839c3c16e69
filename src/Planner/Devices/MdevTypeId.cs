using System.Diagnostics.CodeAnalysis;
using System.Text.RegularExpressions;

namespace VfioMigration.Planner.Devices;

/// <summary>
/// An mdev type id as sysfs names its directory (<c>&lt;driver&gt;-&lt;name&gt;</c>, e.g. <c>i915-GVTg_V5_4</c>,
/// <c>nvidia-63</c>, <c>mtty-1</c>). Validated so it is safe as a path segment: 1 to 128 characters of
/// letters, digits, <c>_ - . : +</c>, not starting with a dot.
/// </summary>
public readonly partial record struct MdevTypeId
{
    private MdevTypeId(string value) => Value = value;

    /// <summary>The type id text, exactly as sysfs and libvirt show it.</summary>
    public string Value { get; }

    /// <summary>Parses and validates a type id.</summary>
    /// <exception cref="FormatException">The text is not a safe type id; the message names <paramref name="where"/>.</exception>
    public static MdevTypeId Parse(string? text, string where = "input") =>
        TryParse(text, out var id)
            ? id
            : throw new FormatException($"{where}: '{MdevUuid.Shorten(text)}' is not a valid mdev type id (1-128 characters of letters, digits, '_', '-', '.', ':', '+', not starting with '.').");

    /// <summary>Tries to parse a type id.</summary>
    public static bool TryParse([NotNullWhen(true)] string? text, out MdevTypeId id)
    {
        if (text is not null && Pattern().IsMatch(text))
        {
            id = new MdevTypeId(text);
            return true;
        }

        id = default;
        return false;
    }

    /// <inheritdoc />
    public override string ToString() => Value ?? string.Empty;

    [GeneratedRegex("^[A-Za-z0-9_\\-:+][A-Za-z0-9_\\-.:+]{0,127}\\z", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();
}
