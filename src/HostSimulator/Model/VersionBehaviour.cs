using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using VfioMigration.HostSimulator.Scenarios;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.HostSimulator.Model;

/// <summary>
/// A vendor driver's behaviour behind one version attribute (<c>migration_version</c>,
/// <c>vfio_migration_version</c>), per domain.md section 2: reads end with a newline; a write is
/// accepted with or without one trailing newline and succeeds iff the driver accepts the version.
/// </summary>
internal sealed class VersionBehaviour
{
    private readonly string? _version;
    private readonly Errno _readErrno;
    private readonly Errno _writeErrno;
    private readonly Errno _rejectErrno;
    private readonly HashSet<string> _accepted = new(StringComparer.Ordinal);
    private readonly string? _prefix;
    private readonly Regex? _pattern;
    private readonly string? _rangePrefix;
    private readonly int[]? _rangeMin;
    private readonly int[]? _rangeMax;
    private readonly ReasonRules? _reasons;

    private VersionBehaviour(MigrationSpec spec, string path)
    {
        _readErrno = ScenarioValues.Errno(spec.ReadErrno, $"{path}.readErrno", Errno.None);
        _writeErrno = ScenarioValues.Errno(spec.WriteErrno, $"{path}.writeErrno", Errno.None);
        _rejectErrno = ScenarioValues.Errno(spec.RejectErrno, $"{path}.rejectErrno", Errno.EINVAL);
        if (spec.Version is not null || _readErrno == Errno.None)
        {
            _version = ScenarioValues.AttributeText(spec.Version, $"{path}.version");
            _accepted.Add(_version);
        }

        _reasons = ReasonRules.From(spec.Reasons, $"{path}.reasons");
        if (spec.Accepts is { } accepts)
        {
            var acceptsPath = $"{path}.accepts";
            for (var i = 0; i < (accepts.Versions?.Count ?? 0); i++)
            {
                _accepted.Add(ScenarioValues.AttributeText(accepts.Versions![i], $"{acceptsPath}.versions[{i}]"));
            }

            _prefix = accepts.Prefix is null ? null : ScenarioValues.AttributeText(accepts.Prefix, $"{acceptsPath}.prefix");
            if (accepts.Pattern is not null)
            {
                _pattern = ReasonRules.Compile(accepts.Pattern, $"{acceptsPath}.pattern");
            }

            if (accepts.Range is { } range)
            {
                var rangePath = $"{acceptsPath}.range";
                _rangePrefix = range.Prefix ?? string.Empty;
                _rangeMin = range.Min is null ? null : ParseNumbers(range.Min) ?? throw new ScenarioException($"{rangePath}.min", $"'{ScenarioValues.Shorten(range.Min)}' is not dotted decimal numbers such as 535.104.");
                _rangeMax = range.Max is null ? null : ParseNumbers(range.Max) ?? throw new ScenarioException($"{rangePath}.max", $"'{ScenarioValues.Shorten(range.Max)}' is not dotted decimal numbers such as 535.999.");
                if (_rangeMin is null && _rangeMax is null)
                {
                    throw new ScenarioException(rangePath, "needs at least one of min and max.");
                }
            }
        }
    }

    /// <summary>The behaviour for <paramref name="spec"/>; null (no attribute) when the spec is null.</summary>
    public static VersionBehaviour? From(MigrationSpec? spec, string path) => spec is null ? null : new VersionBehaviour(spec, path);

    public SysfsResult<byte[]> Read() =>
        _readErrno != Errno.None ? SysfsResult.Failed<byte[]>(_readErrno) : SysfsResult.Of(Encoding.ASCII.GetBytes(_version + "\n"));

    public Errno Write(ReadOnlySpan<byte> data) => Write(data, out _);

    /// <summary>The write, and the reason the driver keeps on the open file when it refuses (null when it has none).</summary>
    public Errno Write(ReadOnlySpan<byte> data, out string? reason)
    {
        reason = null;
        if (_writeErrno != Errno.None)
        {
            return _writeErrno;
        }

        var text = Text(data);
        if (text is not null && Accepts(text))
        {
            return Errno.None;
        }

        reason = _reasons?.For(text ?? Encoding.Latin1.GetString(data));
        return _rejectErrno;
    }

    /// <summary>The written text without one trailing newline, or null when it is not printable ASCII.</summary>
    public static string? Text(ReadOnlySpan<byte> data)
    {
        if (data.Length > 0 && data[^1] == (byte)'\n')
        {
            data = data[..^1];
        }

        foreach (var b in data)
        {
            if (b is < 0x20 or > 0x7e)
            {
                return null;
            }
        }

        return Encoding.ASCII.GetString(data);
    }

    private bool Accepts(string source)
    {
        if (_accepted.Contains(source) || (_prefix is not null && source.StartsWith(_prefix, StringComparison.Ordinal)))
        {
            return true;
        }

        if (_pattern is not null && ReasonRules.Matches(_pattern, source, out _))
        {
            return true;
        }

        return _rangePrefix is not null
            && source.StartsWith(_rangePrefix, StringComparison.Ordinal)
            && ParseNumbers(source[_rangePrefix.Length..]) is { } numbers
            && (_rangeMin is null || Compare(numbers, _rangeMin) >= 0)
            && (_rangeMax is null || Compare(numbers, _rangeMax) <= 0);
    }

    private static int[]? ParseNumbers(string text)
    {
        var parts = text.Split('.');
        var numbers = new int[parts.Length];
        for (var i = 0; i < parts.Length; i++)
        {
            if (parts[i].Length is 0 or > 9 || !parts[i].All(char.IsAsciiDigit))
            {
                return null;
            }

            numbers[i] = int.Parse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture);
        }

        return numbers;
    }

    /// <summary>Compares dotted numbers part by part; a missing part counts as 0, so 535 == 535.0.</summary>
    private static int Compare(int[] left, int[] right)
    {
        for (var i = 0; i < Math.Max(left.Length, right.Length); i++)
        {
            var difference = (i < left.Length ? left[i] : 0).CompareTo(i < right.Length ? right[i] : 0);
            if (difference != 0)
            {
                return difference;
            }
        }

        return 0;
    }
}
