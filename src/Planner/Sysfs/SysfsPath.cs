using System.Runtime.CompilerServices;
using VfioMigration.Planner.Devices;

namespace VfioMigration.Planner.Sysfs;

/// <summary>
/// A path relative to a host's sysfs root, made only of validated segments: no empty segment,
/// no <c>.</c> or <c>..</c>, no NUL, no control characters, no leading <c>/</c>. Every sysfs path the
/// library touches is built through the named factories below from validated names
/// (<see cref="MdevUuid"/>, <see cref="MdevTypeId"/>, <see cref="DeviceName"/>, <see cref="PciAddress"/>),
/// so an untrusted string never reaches the file system unchecked.
/// </summary>
public readonly record struct SysfsPath
{
    private SysfsPath(string value) => Value = value;

    /// <summary>The relative path, segments joined with <c>/</c>; empty for the root itself.</summary>
    public string Value { get; }

    /// <summary>The sysfs root itself.</summary>
    public static SysfsPath Root => new(string.Empty);

    /// <summary><c>class/mdev_bus</c>: one entry (a link) per mdev-capable parent.</summary>
    public static SysfsPath MdevBus => new("class/mdev_bus");

    /// <summary><c>bus/mdev/devices</c>: one entry (a link) per mdev.</summary>
    public static SysfsPath MdevDevices => new("bus/mdev/devices");

    /// <summary><c>bus/pci/devices</c>: one entry (a link) per PCI function.</summary>
    public static SysfsPath PciDevices => new("bus/pci/devices");

    /// <summary><c>class/mdev_bus/&lt;parent&gt;</c>.</summary>
    public static SysfsPath Parent(DeviceName parent) => MdevBus.Append(parent.Value);

    /// <summary><c>class/mdev_bus/&lt;parent&gt;/mdev_supported_types</c>.</summary>
    public static SysfsPath SupportedTypes(DeviceName parent) => Parent(parent).Append("mdev_supported_types");

    /// <summary><c>class/mdev_bus/&lt;parent&gt;/mdev_supported_types/&lt;type&gt;</c>.</summary>
    public static SysfsPath Type(DeviceName parent, MdevTypeId type) => Joined(MdevBus.Value, parent.Value, "mdev_supported_types", type.Value);

    /// <summary>An attribute of a type directory: <c>name</c>, <c>description</c>, <c>device_api</c>, <c>available_instances</c>, <c>create</c>, <c>migration_version</c>.</summary>
    public static SysfsPath TypeAttribute(DeviceName parent, MdevTypeId type, string attribute) => Joined(MdevBus.Value, parent.Value, "mdev_supported_types", type.Value, attribute);

    /// <summary><c>bus/mdev/devices/&lt;uuid&gt;</c>.</summary>
    public static SysfsPath Mdev(MdevUuid uuid) => MdevDevices.Append(uuid.Value);

    /// <summary>An attribute of an mdev: <c>mdev_type</c> (a link), <c>remove</c>, <c>migration_version</c>.</summary>
    public static SysfsPath MdevAttribute(MdevUuid uuid, string attribute) => Mdev(uuid).Append(attribute);

    /// <summary><c>bus/pci/devices/&lt;dddd:bb:ss.f&gt;</c>.</summary>
    public static SysfsPath Pci(PciAddress address) => PciDevices.Append(address.ToString());

    /// <summary>An attribute of a PCI function: <c>vendor</c>, <c>device</c>, <c>vfio_migration_type</c>, <c>vfio_migration_version</c>, <c>driver</c> (a link).</summary>
    public static SysfsPath PciAttribute(PciAddress address, string attribute) => Joined(PciDevices.Value, address.ToString(), attribute);

    /// <summary>Parses a relative path, checking every segment.</summary>
    /// <exception cref="ArgumentException">The path is absolute, has an empty, <c>.</c> or <c>..</c> segment, or a character outside printable ASCII.</exception>
    public static SysfsPath Parse(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (path.Length == 0)
        {
            return Root;
        }

        foreach (var segment in path.Split('/'))
        {
            CheckSegment(segment, path);
        }

        return new SysfsPath(path);
    }

    /// <summary>This path with one more segment.</summary>
    /// <exception cref="ArgumentException">The segment is empty, <c>.</c>, <c>..</c>, contains <c>/</c>, or a character outside printable ASCII.</exception>
    public SysfsPath Append(string segment)
    {
        CheckSegment(segment, segment);
        return new SysfsPath(Value.Length == 0 ? segment : $"{Value}/{segment}");
    }

    /// <summary>The last segment (the file or directory name); empty for the root.</summary>
    public string Name => Value[(Value.LastIndexOf('/') + 1)..];

    /// <inheritdoc />
    public override string ToString() => Value ?? string.Empty;

    /// <summary>
    /// A valid path followed by segments, checked each, as one string: an inventory builds thousands
    /// of these, and appending one segment at a time made a string per segment.
    /// </summary>
    private static SysfsPath Joined(string validated, params ReadOnlySpan<string> segments)
    {
        var length = validated.Length;
        foreach (var segment in segments)
        {
            CheckSegment(segment, segment);
            length += 1 + segment.Length;
        }

        // Written into a pooled buffer: the string is the only allocation.
        var path = new DefaultInterpolatedStringHandler(length, 0);
        path.AppendLiteral(validated);
        foreach (var segment in segments)
        {
            path.AppendFormatted('/');
            path.AppendLiteral(segment);
        }

        return new SysfsPath(path.ToStringAndClear());
    }

    private static void CheckSegment(string segment, string whole)
    {
        ArgumentNullException.ThrowIfNull(segment);
        if (segment.Length == 0 || segment == "." || segment == ".." || segment.Length > 255)
        {
            throw new ArgumentException($"'{MdevUuid.Shorten(whole)}' is not a safe sysfs path: empty, '.', '..' or over-long segment.", nameof(segment));
        }

        foreach (var c in segment)
        {
            if (c is '/' or < '!' or > '~')
            {
                throw new ArgumentException($"'{MdevUuid.Shorten(whole)}' is not a safe sysfs path: segment '{MdevUuid.Shorten(segment)}' has a '/', a space, or a character outside printable ASCII.", nameof(segment));
            }
        }
    }
}
