using System.Text;
using System.Text.RegularExpressions;
using VfioMigration.HostSimulator.Scenarios;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.HostSimulator.Model;

/// <summary>
/// A parent's write and ask (<c>migration_query</c>, docs/reference-driver.md): which of its
/// configurations accept a source version, idle instances first, then the types that can still
/// create one, each type in scenario order.
/// </summary>
internal sealed class MigrationQuery
{
    private readonly ParentModel _parent;
    private readonly Func<MdevUuid, bool> _inUse;
    private readonly Regex _questions;
    private readonly Errno _rejectErrno;
    private readonly ReasonRules? _reasons;
    private readonly string? _noCapacityReason;

    private MigrationQuery(MigrationQuerySpec spec, ParentModel parent, Func<MdevUuid, bool> inUse, string path)
    {
        _parent = parent;
        _inUse = inUse;
        _questions = ReasonRules.Compile(spec.Questions, $"{path}.questions");
        _rejectErrno = ScenarioValues.Errno(spec.RejectErrno, $"{path}.rejectErrno", Errno.EINVAL);
        _reasons = ReasonRules.From(spec.Reasons, $"{path}.reasons");
        _noCapacityReason = spec.NoCapacityReason is null ? null : ScenarioValues.AttributeText(spec.NoCapacityReason, $"{path}.noCapacityReason");
    }

    /// <summary>The query of <paramref name="spec"/>; null (no attribute) when absent. <paramref name="inUse"/> tells a device a running guest holds.</summary>
    public static MigrationQuery? From(MigrationQuerySpec? spec, ParentModel parent, Func<MdevUuid, bool> inUse, string path) =>
        spec is null ? null : new MigrationQuery(spec, parent, inUse, path);

    /// <summary>One question, under the host's lock: the errno, the reason when nothing accepts, and the open file's new content.</summary>
    public SimulatedWriteOutcome Ask(ReadOnlySpan<byte> data)
    {
        var text = VersionBehaviour.Text(data);
        if (text is null || !ReasonRules.Matches(_questions, text, out _))
        {
            return new(_rejectErrno, _reasons?.For(text ?? Encoding.Latin1.GetString(data)), null);
        }

        var answer = new StringBuilder();
        string? accepting = null;
        foreach (var type in _parent.Types)
        {
            if (type.TypeVersion is not { } version || version.Write(data) != Errno.None)
            {
                continue;
            }

            accepting ??= type.Id.Value;
            foreach (var mdev in type.Instances.Where(m => !_inUse(m.Uuid)))
            {
                answer.Append("mdev ").Append(mdev.Uuid.Value).Append('\n');
            }

            if (type.AvailableInstances > 0)
            {
                answer.Append("type ").Append(type.Id.Value).Append('\n');
            }
        }

        var reason = answer.Length > 0 ? null
            : accepting is not null ? _noCapacityReason?.Replace("{type}", accepting, StringComparison.Ordinal)
            : _reasons?.For(text);
        return new(Errno.None, reason, [.. data, .. Encoding.ASCII.GetBytes(answer.ToString())]);
    }
}
