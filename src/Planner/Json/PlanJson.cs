using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.Planner.Json;

/// <summary>Serialises plans to the JSON documented in <c>docs/plan-format.md</c> (schema <c>vfio-migration-plan/1</c>).</summary>
public static class PlanJson
{
    /// <summary>The value of the document's <c>schema</c> key.</summary>
    public const string Schema = "vfio-migration-plan/1";

    // Relaxed escaping keeps the destination XML readable ('<' rather than \u003C); the document is never embedded in HTML.
    private static readonly PlanJsonContext Context = new(new JsonSerializerOptions
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });

    /// <summary>The best plan, with one <c>alternatives</c> entry per other destination.</summary>
    public static string Serialize(PlanResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        return JsonSerializer.Serialize(ToDocument(result.Best, result.Alternatives), Context.PlanDocument);
    }

    /// <summary>One plan, with an empty <c>alternatives</c> list.</summary>
    public static string Serialize(MigrationPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        return JsonSerializer.Serialize(ToDocument(plan, []), Context.PlanDocument);
    }

    /// <summary>The JSON name of a rejection code: UPPER_SNAKE, e.g. <c>VERSION_REJECTED</c>.</summary>
    public static string Name(RejectionCode code) => JsonNamingPolicy.SnakeCaseUpper.ConvertName(code.ToString());

    /// <summary>The JSON name of a source device's kind: <c>mdev</c>, <c>pci</c>, <c>unsupported</c>, <c>vf-vgpu</c>.</summary>
    /// <param name="kind">The kind.</param>
    public static string Name(SourceDeviceKind kind) => Lower(kind);

    /// <summary>The JSON name of an action: <c>reuse</c>, <c>create</c>, <c>preserve-uuid</c>.</summary>
    public static string Name(DeviceAction action) => JsonNamingPolicy.KebabCaseLower.ConvertName(action.ToString());

    private static string Lower<T>(T value)
        where T : struct, Enum => JsonNamingPolicy.KebabCaseLower.ConvertName(value.ToString());

    private static PlanDocument ToDocument(MigrationPlan plan, IReadOnlyList<MigrationPlan> alternatives) => new(
        Schema,
        plan.IsComplete,
        Lower(plan.State),
        plan.GuestName,
        plan.GuestUuid,
        plan.Destination.Name,
        plan.Destination.Hypervisor.Uri,
        [.. plan.Devices.Select(ToDevice)],
        [.. plan.Rejections.Select(r => new RejectionDocument(r.Source, r.Candidate, Name(r.Code), r.Message, r.Errno?.ToString()))],
        plan.Reasons,
        plan.DestinationXml,
        plan.DestinationXmlNote,
        [.. plan.Created.Select(c => new CreatedDocument(c.Host, c.Uuid.Value, c.Parent, c.Type.Value, Lower(c.Method), c.Persistent, Lower(c.State), c.Error))],
        [.. plan.RemovalFailures.Select(f => new RemovalFailureDocument(f.Host, f.Uuid.Value, f.Message))],
        [.. plan.Preflight.Select(c => new PreflightDocument(c.Host, c.Check, Lower(c.Outcome), c.Message, c.Device))],
        new StatsDocument(plan.Statistics.Probes, plan.Statistics.ProbeCacheHits, plan.Statistics.Creates, plan.Statistics.Removes, plan.Statistics.LibvirtCalls, plan.Statistics.SysfsReads, plan.Statistics.ElapsedMs, plan.Statistics.ConnectMs, plan.Statistics.SourceRoundTrips, plan.Statistics.DestinationRoundTrips),
        [.. alternatives.Select(a => new AlternativeDocument(a.Destination.Name, a.IsComplete, a.IsComplete ? [Summary(a, plan)] : a.Reasons))]);

    private static string Summary(MigrationPlan alternative, MigrationPlan best) =>
        $"complete: {alternative.Devices.Count} device(s), {alternative.UnverifiedCount} unverified, {alternative.CreationCount} to create on {alternative.ParentsTouched} parent(s); ranked below {best.Destination.Name}";

    private static DeviceDocument ToDevice(PlannedDevice device)
    {
        var source = new SourceDocument(
            Lower(device.Source.Kind),
            device.Source.Uuid?.Value,
            device.Source.Address?.ToString(),
            device.Source.Type,
            device.Source.DeviceApi,
            device.Source.Parent,
            device.Source.Ordinal,
            device.Source.Alias);
        var target = device.Target.Target switch
        {
            MdevTarget mdev => new TargetDocument(mdev.Uuid.Value, null, device.Target.Parent, device.Target.Type),
            PciTarget pci => new TargetDocument(null, pci.Address.ToString(), device.Target.Parent, device.Target.Type),
            _ => new TargetDocument(null, null, device.Target.Parent, device.Target.Type),
        };
        var probe = device.DecidedBy is { } record
            ? new ProbeDocument(Lower(record.Point), record.Path.Value, record.Errno == Errno.None ? "accepted" : record.Errno.ToString(), record.FromCache)
            : null;
        return new DeviceDocument(source, target, Name(device.Action), Lower(device.Verification), probe, device.Note);
    }
}

internal sealed record PlanDocument(
    string Schema,
    bool Ok,
    string State,
    string Domain,
    string DomainUuid,
    string Destination,
    string DestinationUri,
    IReadOnlyList<DeviceDocument> Devices,
    IReadOnlyList<RejectionDocument> Rejections,
    IReadOnlyList<string> Reasons,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? DestinationXml,
    string? DestinationXmlNote,
    IReadOnlyList<CreatedDocument> Created,
    IReadOnlyList<RemovalFailureDocument> RemovalFailures,
    IReadOnlyList<PreflightDocument> Preflight,
    StatsDocument Stats,
    IReadOnlyList<AlternativeDocument> Alternatives);

internal sealed record SourceDocument(string Kind, string? Uuid, string? Address, string Type, string? DeviceApi, string? Parent, int Ordinal, string? Alias);

internal sealed record TargetDocument(string? Uuid, string? Address, string? Parent, string Type);

internal sealed record ProbeDocument(string Point, string Path, string Result, bool FromCache);

internal sealed record DeviceDocument(SourceDocument Source, TargetDocument Target, string Action, string Verification, ProbeDocument? Probe, string? Note);

internal sealed record RejectionDocument(string Source, string? Candidate, string Code, string Message, string? Errno);

internal sealed record CreatedDocument(string Host, string Uuid, string Parent, string Type, string Method, bool Persistent, string State, string? Error);

internal sealed record RemovalFailureDocument(string Host, string Uuid, string Message);

internal sealed record StatsDocument(int Probes, int ProbeCacheHits, int Creates, int Removes, int LibvirtCalls, int SysfsReads, long ElapsedMs, long ConnectMs, long SourceRoundTrips, long DestinationRoundTrips);

internal sealed record PreflightDocument(string Host, string Check, string Outcome, string Message, string? Device);

internal sealed record AlternativeDocument(string Destination, bool Ok, IReadOnlyList<string> Reasons);

[JsonSerializable(typeof(PlanDocument))]
internal sealed partial class PlanJsonContext : JsonSerializerContext;
