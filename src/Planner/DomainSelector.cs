using VfioMigration.Planner.Devices;

namespace VfioMigration.Planner;

/// <summary>Names a guest by its libvirt name or by its UUID.</summary>
public readonly record struct DomainSelector
{
    private DomainSelector(string value, bool isUuid)
    {
        Value = value;
        IsUuid = isUuid;
    }

    /// <summary>The name, or the UUID in lower case.</summary>
    public string Value { get; }

    /// <summary>True when <see cref="Value"/> is a UUID.</summary>
    public bool IsUuid { get; }

    /// <summary>
    /// Parses a guest name or UUID: text shaped like a UUID selects by UUID, anything else by name.
    /// </summary>
    /// <exception cref="ArgumentException">The text is empty, longer than 1024 characters, or has control characters.</exception>
    public static DomainSelector Parse(string nameOrUuid)
    {
        ArgumentNullException.ThrowIfNull(nameOrUuid);
        if (MdevUuid.TryParse(nameOrUuid, out var uuid))
        {
            return new DomainSelector(uuid.Value, isUuid: true);
        }

        if (nameOrUuid.Length is 0 or > 1024 || nameOrUuid.Any(char.IsControl))
        {
            throw new ArgumentException($"'{MdevUuid.Shorten(nameOrUuid)}' is not a guest name or UUID: give 1-1024 characters without control characters.", nameof(nameOrUuid));
        }

        return new DomainSelector(nameOrUuid, isUuid: false);
    }

    /// <inheritdoc />
    public override string ToString() => Value ?? string.Empty;
}
