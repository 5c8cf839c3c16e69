using System.Globalization;
using System.Text;
using Spectre.Console;
using VfioMigration.ConsoleMigrator.Cli;
using VfioMigration.Planner;
using VfioMigration.Planner.Json;

namespace VfioMigration.ConsoleMigrator.Commands;

/// <summary>The human form of a plan: the mapping, the rejected candidates with reasons, the other destinations.</summary>
internal static class PlanPrinter
{
    /// <summary>Writes a plan result as readable text, its tables through the context's Spectre console.</summary>
    /// <param name="context">Where to write.</param>
    /// <param name="result">The plans.</param>
    /// <param name="policy">The policy planned under: under require-verified, a plan refused for want of verification says what the other policy does.</param>
    public static void Write(CommandContext context, PlanResult result, VerificationPolicy policy)
    {
        var best = result.Best;
        var text = new StringBuilder();
        void Flush()
        {
            context.Out.Write(text.ToString());
            text.Clear();
        }

        text.AppendLine(CultureInfo.InvariantCulture, $"Guest {best.GuestName} ({best.GuestUuid})");
        text.AppendLine(best.IsComplete
            ? $"Plan: migrate to {best.Destination.Name}: {best.Devices.Count} device(s), {Count(best, Verification.Verified)} verified, {Count(best, Verification.Unverified)} unverified, {best.CreationCount} to create."
            : $"No valid plan: the best destination, {best.Destination.Name}, cannot take every device.");
        foreach (var reason in best.Reasons)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"  - {reason}");
        }

        if (!best.IsComplete && policy == VerificationPolicy.RequireVerified && best.Rejections.Any(r => r.Code is RejectionCode.NotMigratable or RejectionCode.Unverifiable))
        {
            text.AppendLine(AllowTypeMatchHint);
        }

        foreach (var check in best.Preflight.Where(c => c.Outcome == PreflightOutcome.Warning))
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"Warning ({check.Check} on {check.Host}): {check.Message}");
        }

        text.AppendLine();
        if (best.Devices.Count > 0)
        {
            var mapping = Screen.Table(context.Console, "SOURCE DEVICE", "TYPE", "TARGET", "PARENT", "ACTION", "VERIFICATION");
            foreach (var device in best.Devices)
            {
                mapping.AddRow(
                    new Markup(Screen.Safe($"{PlanJson.Name(device.Source.Kind)} {device.Source.Id}")),
                    new Markup(Screen.Safe(device.Source.Type)),
                    new Markup(Screen.Safe(device.Target.Id)),
                    new Markup(Screen.Safe(device.Target.Parent)),
                    new Markup(Screen.Safe(PlanJson.Name(device.Action))),
                    new Markup(device.Verification == Verification.Verified
                        ? Screen.Coloured("green", $"verified ({Probe(device.DecidedBy)})")
                        : Screen.Coloured("yellow", $"UNVERIFIED{(device.Note is null ? string.Empty : $" ({device.Note})")}")));
            }

            Flush();
            Screen.Write(context, mapping);
            text.AppendLine();
        }

        if (best.Rejections.Count > 0)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"Rejected candidates on {best.Destination.Name} ({best.Rejections.Count}):");
            var rejections = Screen.Table(context.Console, "SOURCE", "CANDIDATE", "CODE", "WHY");
            foreach (var rejection in best.Rejections)
            {
                rejections.Row(rejection.Source, rejection.Candidate, PlanJson.Name(rejection.Code), rejection.Message);
            }

            Flush();
            Screen.Write(context, rejections);
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
        text.AppendLine(CultureInfo.InvariantCulture, $"Probes {stats.Probes} (+{stats.ProbeCacheHits} cached), creates {stats.Creates}, removes {stats.Removes}, libvirt calls {stats.LibvirtCalls}, sysfs reads {stats.SysfsReads}, {stats.ElapsedMs} ms planning ({stats.ConnectMs} ms connecting to the hosts before it){(stats.SourceRoundTrips + stats.DestinationRoundTrips > 0 ? $", SSH round trips: source {stats.SourceRoundTrips}, destination {stats.DestinationRoundTrips}" : string.Empty)}.");
        Flush();
    }

    /// <summary>What an operator can do when devices are refused only because nothing can verify them.</summary>
    internal const string AllowTypeMatchHint =
        "What you can do: if nothing can verify the devices (stock kernels have no migration_version, see docs/contract.md), " +
        "plan with --policy allow-type-match: it accepts a target of the same mdev type (or PCI ids) unverified and marks it so. " +
        "Nothing then checks before the migration that the destination's driver loads this device's state; " +
        "if it cannot, the migration fails inside the stream and the guest keeps running on the source.";

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
