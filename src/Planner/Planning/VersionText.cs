using System.Text;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.Planner.Planning;

/// <summary>Whether a device said which version it has.</summary>
internal enum VersionState
{
    /// <summary>A valid version string was read.</summary>
    Present,

    /// <summary>The attribute does not exist: the device does not say it can migrate.</summary>
    Absent,

    /// <summary>The attribute exists but could not be read, or its content is not a valid version string.</summary>
    Invalid,
}

/// <summary>A version (or transparent migration type) read from a host, checked but never interpreted.</summary>
/// <param name="State">Present, absent or invalid.</param>
/// <param name="Value">The string without its trailing newline, when present.</param>
/// <param name="Reason">Why it is absent or invalid, in a sentence; empty when present.</param>
internal sealed record SourceVersion(VersionState State, string? Value, string Reason)
{
    public static SourceVersion Absent(string reason) => new(VersionState.Absent, null, reason);
}

/// <summary>
/// Checks opaque strings read from hosts: ASCII only, at most one page, one trailing newline
/// stripped. The planner compares and writes them back; it never parses them.
/// </summary>
internal static class VersionText
{
    /// <summary>Sysfs hands out and accepts at most one page.</summary>
    public const int MaxBytes = 4096;

    /// <summary>Turns the result of reading <paramref name="path"/> into a checked string or a reason.</summary>
    public static SourceVersion FromRead(SysfsResult<string> read, SysfsPath path)
    {
        if (read.Error == Errno.ENOENT)
        {
            return SourceVersion.Absent($"{path} does not exist: the device does not say it can migrate");
        }

        if (!read.Succeeded || read.Value is null)
        {
            return new SourceVersion(VersionState.Invalid, null, $"reading {path} failed with {read.Error}: the device is not migratable");
        }

        return TryNormalize(read.Value, out var value, out var problem)
            ? new SourceVersion(VersionState.Present, value, string.Empty)
            : new SourceVersion(VersionState.Invalid, null, $"{path} {problem}: the device is not migratable");
    }

    /// <summary>Checks <paramref name="raw"/> and strips one trailing newline.</summary>
    public static bool TryNormalize(string raw, out string value, out string problem)
    {
        value = string.Empty;
        if (Encoding.UTF8.GetByteCount(raw) > MaxBytes)
        {
            problem = $"holds {Encoding.UTF8.GetByteCount(raw)} bytes, more than the {MaxBytes} a sysfs attribute can";
            return false;
        }

        var text = raw.EndsWith('\n') ? raw[..^1] : raw;
        if (text.Length == 0)
        {
            problem = "is empty";
            return false;
        }

        foreach (var c in text)
        {
            if (c is < ' ' or > '~')
            {
                problem = $"holds a character outside printable ASCII (U+{(int)c:X4})";
                return false;
            }
        }

        value = text;
        problem = string.Empty;
        return true;
    }
}
