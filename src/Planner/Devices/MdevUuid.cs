using System.Diagnostics.CodeAnalysis;
using System.Text.RegularExpressions;

namespace VfioMigration.Planner.Devices;

/// <summary>
/// The UUID of a mediated device, validated and normalised to lower case (the form sysfs uses for
/// <c>bus/mdev/devices/&lt;uuid&gt;</c>). Safe to use as a path segment.
/// </summary>
public readonly partial record struct MdevUuid
{
    private MdevUuid(string value) => Value = value;

    /// <summary>The canonical text: 36 lower-case characters, <c>8-4-4-4-12</c> hex digits.</summary>
    public string Value { get; }

    /// <summary>Parses <paramref name="text"/> (any case) into a UUID.</summary>
    /// <param name="text">The UUID text, exactly <c>8-4-4-4-12</c> hex digits; no braces, no whitespace.</param>
    /// <param name="where">Where the text came from, for the error message (an XML path, a file name).</param>
    /// <exception cref="FormatException">The text is not a UUID; the message names <paramref name="where"/>.</exception>
    public static MdevUuid Parse(string? text, string where = "input") =>
        TryParse(text, out var uuid)
            ? uuid
            : throw new FormatException($"{where}: '{Shorten(text)}' is not a UUID (expected 8-4-4-4-12 hex digits, e.g. 4b20d080-1b54-4048-85b3-a6a62d165c01).");

    /// <summary>Tries to parse <paramref name="text"/>; returns false when it is not a UUID.</summary>
    public static bool TryParse([NotNullWhen(true)] string? text, out MdevUuid uuid)
    {
        if (text is not null && Pattern().IsMatch(text))
        {
            uuid = new MdevUuid(text.ToLowerInvariant());
            return true;
        }

        uuid = default;
        return false;
    }

    /// <summary>Creates a new random (version 4) UUID.</summary>
    public static MdevUuid NewRandom() => new(Guid.NewGuid().ToString("D"));

    /// <inheritdoc />
    public override string ToString() => Value ?? string.Empty;

    internal static string Shorten(string? text) =>
        text is null ? "(missing)" : text.Length <= 80 ? text : string.Concat(text.AsSpan(0, 77), "...");

    [GeneratedRegex("^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\\z", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();
}
