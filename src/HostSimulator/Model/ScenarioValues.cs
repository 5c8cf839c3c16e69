using System.Globalization;
using VfioMigration.HostSimulator.Scenarios;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.HostSimulator.Model;

/// <summary>Checks one scenario value at a time, throwing a <see cref="ScenarioException"/> that names its JSON path.</summary>
internal static class ScenarioValues
{
    public static T Required<T>(T? value, string path)
        where T : class =>
        value ?? throw new ScenarioException(path, "is required.");

    public static T Required<T>(T? value, string path)
        where T : struct =>
        value ?? throw new ScenarioException(path, "is required.");

    public static Errno Errno(string? text, string path, Errno whenAbsent)
    {
        if (text is null)
        {
            return whenAbsent;
        }

        if (text.StartsWith('E') && Enum.TryParse<Errno>(text, ignoreCase: false, out var errno) && Enum.IsDefined(errno))
        {
            return errno;
        }

        throw new ScenarioException(path, $"'{text}' is not a known errno name (use one such as EINVAL, ENODEV, EUSERS, ENOSPC, EIO, EAGAIN).");
    }

    public static int Positive(int? value, string path) =>
        Required(value, path) is var n && n > 0 ? n : throw new ScenarioException(path, "must be > 0.");

    public static int NonNegative(int? value, string path) =>
        value is null ? 0 : value >= 0 ? value.Value : throw new ScenarioException(path, "must be >= 0.");

    public static MdevUuid Uuid(string? text, string path) =>
        MdevUuid.TryParse(Required(text, path), out var uuid) ? uuid : throw new ScenarioException(path, $"'{Shorten(text)}' is not a UUID (expected 8-4-4-4-12 hex digits).");

    public static PciAddress Pci(string? text, string path) =>
        PciAddress.TryParse(Required(text, path), out var address) ? address : throw new ScenarioException(path, $"'{Shorten(text)}' is not a PCI address (expected dddd:bb:ss.f in hex, e.g. 0000:3b:00.1).");

    public static MdevTypeId TypeId(string? text, string path) =>
        MdevTypeId.TryParse(Required(text, path), out var id) ? id : throw new ScenarioException(path, $"'{Shorten(text)}' is not a valid mdev type id (letters, digits, '_', '-', '.', ':', '+').");

    public static DeviceName Name(string? text, string path) =>
        DeviceName.TryParse(Required(text, path), out var name) ? name : throw new ScenarioException(path, $"'{Shorten(text)}' is not a valid device name (letters, digits, '_', '-', '.', ':').");

    /// <summary>A PCI id such as <c>0x8086</c>, as sysfs prints it.</summary>
    public static string PciId(string? text, string path)
    {
        var value = Required(text, path);
        if (value.Length == 6 && value.StartsWith("0x", StringComparison.Ordinal)
            && int.TryParse(value.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out _))
        {
            return value.ToLowerInvariant();
        }

        throw new ScenarioException(path, $"'{Shorten(value)}' is not a PCI id (expected 0x and 4 hex digits, e.g. 0x10de).");
    }

    /// <summary>Attribute text as sysfs would print it: printable ASCII (newlines only where a driver prints several lines), at most a page.</summary>
    public static string AttributeText(string? text, string path, bool multiLine = false)
    {
        var value = Required(text, path);
        if (multiLine && value.EndsWith('\n'))
        {
            throw new ScenarioException(path, "must not end with a newline (the simulator adds it).");
        }

        const int maxLength = 4095; // one page with the newline the simulator appends
        if (value.Length > maxLength)
        {
            throw new ScenarioException(path, $"is {value.Length} characters long; at most {maxLength} fit in one sysfs page with its newline.");
        }

        foreach (var c in value)
        {
            if ((c is < ' ' or > '~') && !(multiLine && c == '\n'))
            {
                throw new ScenarioException(path, multiLine
                    ? "must be printable ASCII; inner newlines are allowed, not a final one (the simulator adds it)."
                    : "must be printable ASCII on one line (sysfs attributes are ASCII; no newline, the simulator adds it).");
            }
        }

        return value;
    }

    public static string Shorten(string? text) =>
        text is null ? "(missing)" : text.Length <= 80 ? text : string.Concat(text.AsSpan(0, 77), "...");
}
