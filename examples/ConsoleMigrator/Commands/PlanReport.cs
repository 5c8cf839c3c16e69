using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Text;
using VfioMigration.ConsoleMigrator.Cli;
using VfioMigration.Planner;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Hypervisor;
using VfioMigration.Planner.Json;

namespace VfioMigration.ConsoleMigrator.Commands;

/// <summary>
/// <c>--report FILE.html</c>: a plan as one self-contained HTML page (no network, no scripts, no
/// external fonts): an SVG with the source devices left, each destination's parents, types and
/// candidates right, the chosen mapping as arrows (verified or not, created or reused), rejected
/// candidates greyed with their reason on hover; then the rejections as a table and the XML diff.
/// Every string from a host is HTML-escaped.
/// </summary>
internal static class PlanReport
{
    private const int Width = 1240;
    private const int SourceX = 20;
    private const int SourceWidth = 360;
    private const int SourceHeight = 44;
    private const int TargetX = 640;
    private const int TargetWidth = 580;
    private const int RowHeight = 26;
    private const int LabelLimit = 80;

    /// <summary>The option that asks for the report.</summary>
    public static Option Option => CliOption.Value("--report", "FILE.html", "Also write the plan as a self-contained HTML page with a picture of the mapping (no network needed to view it).");

    /// <summary>Writes the report when <c>--report</c> was given.</summary>
    public static async Task WriteIfAskedAsync(ParseResult args, PlanResult result, MigrationHost source, CancellationToken cancellationToken)
    {
        if (args.Value("--report") is { } path)
        {
            await WriteAsync(path, result, source, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Reads the guest's source XML and each destination's parents and PCI functions (the I/O), then writes the report to <paramref name="path"/>.</summary>
    public static async Task WriteAsync(string path, PlanResult result, MigrationHost source, CancellationToken cancellationToken)
    {
        var sourceXml = (await source.Hypervisor.GetDomainAsync(DomainSelector.Parse(result.Best.GuestUuid), cancellationToken).ConfigureAwait(false)).MigratableXml;
        var inventories = new List<HostInventory>();
        foreach (var plan in Plans(result))
        {
            inventories.Add(await plan.Destination.Hypervisor.GetInventoryAsync(InventoryScope.MdevParents | InventoryScope.PciDevices, cancellationToken).ConfigureAwait(false));
        }

        await File.WriteAllTextAsync(path, Render(result, source.Name, sourceXml, inventories), Encoding.UTF8, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The page for <paramref name="result"/>; <paramref name="inventories"/> has one entry per destination, best first then the alternatives.</summary>
    public static string Render(PlanResult result, string sourceName, string sourceXml, IReadOnlyList<HostInventory> inventories)
    {
        var best = result.Best;
        var plans = Plans(result).ToList();
        var sources = best.Devices.Select(d => d.Source)
            .Concat(plans.SelectMany(p => p.Devices.Select(d => d.Source)))
            .DistinctBy(s => s.Ordinal)
            .OrderBy(s => s.Ordinal)
            .ToList();
        var sourceIds = plans.SelectMany(p => p.Rejections.Select(r => r.Source)).Where(id => sources.All(s => s.Id != id)).Distinct(StringComparer.Ordinal).ToList();

        var svg = new StringBuilder();
        var sourceY = new Dictionary<string, int>(StringComparer.Ordinal);
        var y = 60;
        foreach (var device in sources)
        {
            sourceY[device.Id] = y + (SourceHeight / 2);
            svg.Append(CultureInfo.InvariantCulture, $"""<g class="source" data-id="{E(device.Id)}"><rect x="{SourceX}" y="{y}" width="{SourceWidth}" height="{SourceHeight}" rx="6"/>""");
            svg.Append(CultureInfo.InvariantCulture, $"""<text x="{SourceX + 10}" y="{y + 18}" class="id">{E(Short(PlanJson.Name(device.Kind) + " " + device.Id))}</text>""");
            svg.Append(CultureInfo.InvariantCulture, $"""<text x="{SourceX + 10}" y="{y + 36}" class="sub">{E(Short(device.Type + (device.Alias is null ? string.Empty : " · " + device.Alias)))}</text></g>""");
            y += SourceHeight + 14;
        }

        foreach (var id in sourceIds)
        {
            sourceY[id] = y + (SourceHeight / 2);
            svg.Append(CultureInfo.InvariantCulture, $"""<g class="source" data-id="{E(id)}"><rect x="{SourceX}" y="{y}" width="{SourceWidth}" height="{SourceHeight}" rx="6"/><text x="{SourceX + 10}" y="{y + 26}" class="id">{E(Short(id))}</text></g>""");
            y += SourceHeight + 14;
        }

        var sourceBottom = y;
        y = 60;
        var arrows = new StringBuilder();
        for (var p = 0; p < plans.Count; p++)
        {
            y = Destination(svg, arrows, plans[p], p == 0, p < inventories.Count ? inventories[p] : new HostInventory([], [], []), sourceY, y) + 24;
        }

        var height = Math.Max(sourceBottom, y) + 20;
        var page = new StringBuilder();
        page.Append(CultureInfo.InvariantCulture, $$"""
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
            <title>Migration plan for {{E(best.GuestName)}}</title>
            <style>
            body { font-family: sans-serif; margin: 20px; color: #1f2328; background: #fff; }
            h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; }
            svg text { font-family: monospace; font-size: 12px; fill: #1f2328; }
            svg .heading { font-family: sans-serif; font-size: 14px; font-weight: bold; }
            svg .sub { fill: #57606a; }
            .source rect { fill: #ddf4ff; stroke: #0969da; stroke-width: 1.5; }
            .parent rect { fill: #f6f8fa; stroke: #8c959f; }
            .target rect { fill: #dafbe1; stroke: #1a7f37; stroke-width: 1.5; }
            .target.unverified rect { fill: #fff8c5; stroke: #bf8700; }
            .rejected rect { fill: #eaeef2; stroke: #d0d7de; }
            .rejected text { fill: #8c959f; }
            .arrow { fill: none; stroke-width: 3; }
            .arrow.verified { stroke: #1a7f37; }
            .arrow.unverified { stroke: #bf8700; stroke-dasharray: 8 5; }
            .arrow-label { font-family: sans-serif; font-size: 11px; }
            table { border-collapse: collapse; font-size: 13px; } th, td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: left; vertical-align: top; }
            pre { background: #f6f8fa; padding: 10px; font-size: 12px; overflow-x: auto; }
            .add { color: #1a7f37; background: #dafbe1; display: block; } .del { color: #cf222e; background: #ffebe9; display: block; }
            </style>
            </head>
            <body>
            <h1>Migration plan for {{E(best.GuestName)}} from {{E(sourceName)}}</h1>
            <p id="verdict">{{E(Summary(best))}}</p>
            <svg xmlns="http://www.w3.org/2000/svg" id="mapping" width="{{Width}}" height="{{height}}" viewBox="0 0 {{Width}} {{height}}" role="img" aria-label="device mapping">
            <defs><marker id="head-verified" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#1a7f37"/></marker><marker id="head-unverified" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#bf8700"/></marker></defs>
            <text x="{{SourceX}}" y="36" class="heading">Source {{E(Short(sourceName))}}: {{E(Short(best.GuestName))}}'s host devices</text>
            """);
        page.Append(svg).Append(arrows).AppendLine("</svg>");
        page.AppendLine("""<p class="legend">Green solid arrow: verified by a probe; amber dashed: unverified. Grey rows: rejected candidates (hover for the reason).</p>""");
        page.AppendLine("<h2>Rejected candidates</h2>");
        page.AppendLine("""<table id="rejections"><thead><tr><th>destination</th><th>source device</th><th>candidate</th><th>code</th><th>reason</th></tr></thead><tbody>""");
        foreach (var plan in plans)
        {
            foreach (var rejection in plan.Rejections)
            {
                page.Append(CultureInfo.InvariantCulture, $"<tr><td>{E(plan.Destination.Name)}</td><td>{E(rejection.Source)}</td><td>{E(rejection.Candidate ?? "-")}</td><td>{E(PlanJson.Name(rejection.Code))}</td><td>{E(rejection.Message)}</td></tr>\n");
            }
        }

        page.AppendLine("</tbody></table>");
        page.AppendLine("<h2>Destination XML</h2>");
        page.Append("""<pre id="xml-diff">""");
        var diff = best.DestinationXml is { } xml
            ? LineDiff.Unified(sourceXml, xml, $"{best.GuestName} on {sourceName}", $"{best.GuestName} on {best.Destination.Name}", context: 3)
            : $"no destination XML: {best.DestinationXmlNote}";
        foreach (var line in diff.ReplaceLineEndings("\n").Split('\n'))
        {
            page.Append(line.StartsWith("+ ", StringComparison.Ordinal) ? $"""<span class="add">{E(line)}</span>""" : line.StartsWith("- ", StringComparison.Ordinal) ? $"""<span class="del">{E(line)}</span>""" : E(line) + "\n");
        }

        page.AppendLine("</pre>").AppendLine("</body>").AppendLine("</html>");
        return page.ToString();
    }

    /// <summary>One destination's box: its parents with their types, the plan's targets and rejected candidates under them; returns the next free y.</summary>
    private static int Destination(StringBuilder svg, StringBuilder arrows, MigrationPlan plan, bool chosen, HostInventory inventory, Dictionary<string, int> sourceY, int y)
    {
        var heading = chosen ? (plan.IsComplete ? "chosen" : "best, but incomplete") : plan.IsComplete ? "possible, ranked lower" : "not possible";
        svg.Append(CultureInfo.InvariantCulture, $"""<g class="destination" data-name="{E(plan.Destination.Name)}" data-chosen="{(chosen ? "true" : "false")}"><text x="{TargetX}" y="{y - 24}" class="heading">{E(Short(plan.Destination.Name))} ({heading})</text>""");
        var mapped = chosen ? plan.Devices : [];
        var parents = inventory.Parents.Select(p => p.Name.Value)
            .Concat(mapped.Select(d => d.Target.Parent).OfType<string>())
            .Distinct(StringComparer.Ordinal)
            .ToList();
        var placed = new HashSet<Rejection>();
        foreach (var parent in parents)
        {
            var info = inventory.Parents.FirstOrDefault(p => p.Name.Value == parent);
            var types = info is null ? string.Empty : string.Join(", ", info.Types.Select(t => string.Create(CultureInfo.InvariantCulture, $"{t.Id} ({t.AvailableInstances} free)")));
            svg.Append(CultureInfo.InvariantCulture, $"""<g class="parent" data-name="{E(parent)}"><rect x="{TargetX}" y="{y}" width="{TargetWidth}" height="{RowHeight - 4}" rx="3"/><text x="{TargetX + 8}" y="{y + 15}">{E(Short(parent + "  " + types, 78))}</text></g>""");
            y += RowHeight;
            foreach (var device in mapped.Where(d => d.Target.Parent == parent))
            {
                y = Target(svg, arrows, device, sourceY, y);
            }

            foreach (var rejection in plan.Rejections.Where(r => r.Candidate is { } c && (c == parent || c.StartsWith(parent + "/", StringComparison.Ordinal))))
            {
                placed.Add(rejection);
                y = Rejected(svg, rejection, y);
            }
        }

        var others = mapped.Where(d => d.Target.Parent is null || !parents.Contains(d.Target.Parent)).ToList();
        var loose = plan.Rejections.Where(r => r.Candidate is not null && !placed.Contains(r)).ToList();
        if (others.Count + loose.Count > 0)
        {
            svg.Append(CultureInfo.InvariantCulture, $"""<g class="parent" data-name="pci"><rect x="{TargetX}" y="{y}" width="{TargetWidth}" height="{RowHeight - 4}" rx="3"/><text x="{TargetX + 8}" y="{y + 15}">PCI functions and existing mdevs</text></g>""");
            y += RowHeight;
            foreach (var device in others)
            {
                y = Target(svg, arrows, device, sourceY, y);
            }

            foreach (var rejection in loose)
            {
                y = Rejected(svg, rejection, y);
            }
        }

        svg.Append("</g>");
        return y + 30;
    }

    private static int Target(StringBuilder svg, StringBuilder arrows, PlannedDevice device, Dictionary<string, int> sourceY, int y)
    {
        var verification = device.Verification == Verification.Verified ? "verified" : "unverified";
        var action = device.Action switch
        {
            DeviceAction.Reuse => "reused",
            DeviceAction.Create => "created",
            _ => "created with the source UUID",
        };
        var x = TargetX + 20;
        svg.Append(CultureInfo.InvariantCulture, $"""<g class="target {verification}" data-id="{E(device.Target.Id)}"><rect x="{x}" y="{y}" width="{TargetWidth - 20}" height="{RowHeight - 4}" rx="3"/><text x="{x + 8}" y="{y + 15}">{E(Short(device.Target.Id + "  " + device.Target.Type))}</text></g>""");
        if (sourceY.TryGetValue(device.Source.Id, out var from))
        {
            var to = y + ((RowHeight - 4) / 2);
            var start = SourceX + SourceWidth;
            var middle = (start + x) / 2;
            var why = device.Verification == Verification.Verified ? "verified by a probe" : $"unverified: {device.Note}";
            arrows.Append(CultureInfo.InvariantCulture, $"""<g class="mapping" data-source="{E(device.Source.Id)}" data-target="{E(device.Target.Id)}" data-verification="{verification}" data-action="{action}"><title>{E($"{device.Source.Id} → {device.Target.Id}: {action}, {why}")}</title>""");
            arrows.Append(CultureInfo.InvariantCulture, $"""<path class="arrow {verification}" d="M{start},{from} C{middle},{from} {middle},{to} {x - 2},{to}" marker-end="url(#head-{verification})"/>""");
            arrows.Append(CultureInfo.InvariantCulture, $"""<text class="arrow-label" x="{middle - 30}" y="{((from + to) / 2) - 6}">{action}, {verification}</text></g>""");
        }

        return y + RowHeight;
    }

    private static int Rejected(StringBuilder svg, Rejection rejection, int y)
    {
        var x = TargetX + 20;
        svg.Append(CultureInfo.InvariantCulture, $"""<g class="rejected" data-candidate="{E(rejection.Candidate!)}" data-source="{E(rejection.Source)}"><title>{E(rejection.Message)}</title><rect x="{x}" y="{y}" width="{TargetWidth - 20}" height="{RowHeight - 4}" rx="3"/><text x="{x + 8}" y="{y + 15}">{E(Short($"✗ {rejection.Candidate}  {PlanJson.Name(rejection.Code)} for {rejection.Source}", 76))}</text></g>""");
        return y + RowHeight;
    }

    private static IEnumerable<MigrationPlan> Plans(PlanResult result) => [result.Best, .. result.Alternatives];

    private static string Summary(MigrationPlan best) => best.IsComplete
        ? string.Create(CultureInfo.InvariantCulture, $"Plan: migrate to {best.Destination.Name}: {best.Devices.Count} device(s), {best.Devices.Count(d => d.Verification == Verification.Verified)} verified, {best.UnverifiedCount} unverified, {best.CreationCount} to create.")
        : $"No valid plan: the best destination, {best.Destination.Name}, cannot take every device. {string.Join(" ", best.Reasons)}";

    private static string Short(string text, int limit = LabelLimit) => text.Length <= limit ? text : text[..(limit - 1)] + "…";

    private static string E(string text) => WebUtility.HtmlEncode(text);
}
