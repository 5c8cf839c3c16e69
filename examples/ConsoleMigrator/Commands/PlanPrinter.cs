using System.Globalization;
using System.Text;
using VfioMigration.ConsoleMigrator.Cli;
using VfioMigration.Planner;
using VfioMigration.Planner.Json;

namespace VfioMigration.ConsoleMigrator.Commands;

/// <summary>The human form of a plan: the mapping, the rejected candidates with reasons, the other destinations.</summary>
internal static class PlanPrinter
{
    /// <summary>Renders a plan result as readable text.</summary>
    public static string Render(PlanResult result)
    {
        var best = result.Best;
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"Guest {best.GuestName} ({best.GuestUuid})");
        text.AppendLine(best.IsComplete
            ? $"Plan: migrate to {best.Destination.Name}: {best.Devices.Count} device(s), {Count(best, Verification.Verified)} verified, {Count(best, Verification.Unverified)} unverified, {best.CreationCount} to create."
            : $"No valid plan: the best destination, {best.Destination.Name}, cannot take every device.");
        foreach (var reason in best.Reasons)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"  - {reason}");
        }

        text.AppendLine();
        if (best.Devices.Count > 0)
        {
            var mapping = new TextTable("SOURCE DEVICE", "TYPE", "TARGET", "PARENT", "ACTION", "VERIFICATION");
            foreach (var device in best.Devices)
            {
                mapping.Add(
                    $"{device.Source.Kind.ToString().ToLowerInvariant()} {device.Source.Id}",
                    device.Source.Type,
                    device.Target.Id,
                    device.Target.Parent,
                    PlanJson.Name(device.Action),
                    device.Verification == Verification.Verified
                        ? $"verified ({Probe(device.DecidedBy)})"
                        : $"UNVERIFIED{(device.Note is null ? string.Empty : $" ({device.Note})")}");
            }

            text.Append(mapping);
            text.AppendLine();
        }

        if (best.Rejections.Count > 0)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"Rejected candidates on {best.Destination.Name} ({best.Rejections.Count}):");
            var rejections = new TextTable("SOURCE", "CANDIDATE", "CODE", "WHY");
            foreach (var rejection in best.Rejections)
            {
                rejections.Add(rejection.Source, rejection.Candidate, PlanJson.Name(rejection.Code), rejection.Message);
            }

            text.Append(rejections);
            text.AppendLine();
        }

        if (result.Alternatives.Count > 0)
        {
            text.AppendLine("Other destinations:");
            foreach (var other in result.Alternatives)
            {
                text.AppendLine(other.IsComplete
                    ? $"  {other.Destination.Name}: possible, but ranked lower ({Summary(other)})."
                    : $"  {other.Destination.Name}: not possible.");
                foreach (var reason in other.Reasons)
                {
                    text.AppendLine(CultureInfo.InvariantCulture, $"    - {reason}");
                }
            }

            text.AppendLine();
        }

        var stats = best.Statistics;
        text.AppendLine(CultureInfo.InvariantCulture, $"Probes {stats.Probes} (+{stats.ProbeCacheHits} cached), creates {stats.Creates}, removes {stats.Removes}, libvirt calls {stats.LibvirtCalls}, sysfs reads {stats.SysfsReads}, {stats.ElapsedMs} ms.");
        return text.ToString();
    }

    private static int Count(MigrationPlan plan, Verification verification) => plan.Devices.Count(d => d.Verification == verification);

    private static string Summary(MigrationPlan plan) =>
        $"{Count(plan, Verification.Verified)} verified, {Count(plan, Verification.Unverified)} unverified, {plan.CreationCount} to create, {plan.ParentsTouched} parent(s) touched";

    private static string Probe(ProbeRecord? probe) => probe is null
        ? "no probe"
        : probe.Point switch
        {
            ProbePoint.MdevType => "type-level probe",
            ProbePoint.MdevDevice => "device-level probe",
            ProbePoint.ParentQuery => "write and ask",
            _ => "PCI device probe",
        } + (probe.FromCache ? ", cached" : string.Empty);
}
