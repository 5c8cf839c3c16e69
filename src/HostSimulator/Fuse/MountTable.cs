using System.Globalization;
using System.Text;

namespace VfioMigration.HostSimulator.Fuse;

/// <summary>Reads <c>/proc/self/mountinfo</c> to tell whether a directory is a mount point.</summary>
internal static class MountTable
{
    private const string MountInfoPath = "/proc/self/mountinfo";

    /// <summary>True when <paramref name="path"/> (absolute, no trailing slash) is the mount point of a mount in this process's namespace.</summary>
    internal static bool IsMountPoint(string path, out string fileSystemType)
    {
        foreach (var line in File.ReadLines(MountInfoPath))
        {
            if (TryParse(line, out var mountPoint, out var type) && mountPoint == path)
            {
                fileSystemType = type;
                return true;
            }
        }

        fileSystemType = string.Empty;
        return false;
    }

    /// <summary>
    /// One mountinfo line: <c>id parent major:minor root mount-point options [optional...] - type source super-options</c>,
    /// with spaces, tabs, newlines and backslashes in paths written as octal escapes.
    /// </summary>
    internal static bool TryParse(string line, out string mountPoint, out string fileSystemType)
    {
        var fields = line.Split(' ');
        var separator = fields.Length < 7 ? -1 : Array.IndexOf(fields, "-", 6);
        if (separator < 0 || separator + 1 >= fields.Length)
        {
            mountPoint = fileSystemType = string.Empty;
            return false;
        }

        mountPoint = Unescape(fields[4]);
        fileSystemType = fields[separator + 1];
        return true;
    }

    private static string Unescape(string field)
    {
        if (!field.Contains('\\', StringComparison.Ordinal))
        {
            return field;
        }

        var bytes = new List<byte>(field.Length);
        for (var i = 0; i < field.Length; i++)
        {
            if (field[i] == '\\' && i + 3 < field.Length && int.TryParse(field.AsSpan(i + 1, 3), NumberStyles.None, CultureInfo.InvariantCulture, out _))
            {
                bytes.Add(Convert.ToByte(field.Substring(i + 1, 3), 8));
                i += 3;
            }
            else
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(field[i].ToString()));
            }
        }

        return Encoding.UTF8.GetString(bytes.ToArray());
    }
}
