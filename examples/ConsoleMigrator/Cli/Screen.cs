using System.Diagnostics;
using System.Globalization;
using Spectre.Console;
using Spectre.Console.Rendering;
using VfioMigration.Planner.Diagnostics;

namespace VfioMigration.ConsoleMigrator.Cli;

/// <summary>Which of the standard streams are terminals, and whether <c>NO_COLOR</c> asks for no colour.</summary>
/// <param name="Out">Standard output is a terminal.</param>
/// <param name="Error">Standard error is a terminal.</param>
/// <param name="NoColor">The <c>NO_COLOR</c> environment variable is set and not empty (no-color.org).</param>
internal sealed record Terminals(bool Out, bool Error, bool NoColor)
{
    /// <summary>Neither stream is a terminal: plain text (what tests and pipes get).</summary>
    public static readonly Terminals None = new(false, false, false);

    /// <summary>This process's streams and environment.</summary>
    public static Terminals Detect() =>
        new(!Console.IsOutputRedirected, !Console.IsErrorRedirected, !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR")));
}

/// <summary>
/// Human output through Spectre.Console: tables, colour and progress on a terminal (unless <c>NO_COLOR</c>),
/// plain text with no escape sequence when the stream is redirected. Host text reaches Spectre only
/// through <see cref="Safe"/>: control characters escaped by <see cref="TerminalText"/>, then markup escaped.
/// </summary>
internal static class Screen
{
    /// <summary>The width plain output is laid out for: wide enough that no table cell wraps.</summary>
    private const int PlainWidth = 4096;

    /// <summary>A Spectre console writing to <paramref name="writer"/>: ANSI only when <paramref name="ansi"/>.</summary>
    public static IAnsiConsole Create(TextWriter writer, bool ansi)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = ansi ? AnsiSupport.Yes : AnsiSupport.No,
            ColorSystem = ansi ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = ansi ? InteractionSupport.Yes : InteractionSupport.No,
            Out = new AnsiConsoleOutput(writer),
        });
        if (!ansi)
        {
            console.Profile.Width = PlainWidth;
        }

        return console;
    }

    /// <summary>Host text made safe for Spectre markup: control characters as <c>\xNN</c>, then <c>[</c> and <c>]</c> escaped.</summary>
    public static string Safe(string? text) => Markup.Escape(TerminalText.Escape(text ?? "-"));

    /// <summary>A table with these column headers: rounded borders and bold headers on a terminal, aligned columns two spaces apart otherwise.</summary>
    public static Table Table(IAnsiConsole console, params string[] headers)
    {
        var ansi = console.Profile.Capabilities.Ansi;
        var table = new Table { Border = ansi ? TableBorder.Rounded : TableBorder.None };
        foreach (var (header, i) in headers.Select((h, i) => (h, i)))
        {
            var column = new TableColumn(ansi ? $"[bold]{Markup.Escape(header)}[/]" : Markup.Escape(header));
            table.AddColumn(ansi ? column : column.PadLeft(0).PadRight(i == headers.Length - 1 ? 0 : 2));
        }

        return table;
    }

    /// <summary>Writes a table to standard output: drawn by Spectre on a terminal; as plain lines without trailing blanks otherwise.</summary>
    public static void Write(CommandContext context, Table table)
    {
        if (context.Console.Profile.Capabilities.Ansi)
        {
            context.Console.Write(table);
            return;
        }

        using var text = new StringWriter(CultureInfo.InvariantCulture);
        Create(text, ansi: false).Write(table);
        foreach (var line in text.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            context.Out.WriteLine(line.TrimEnd());
        }
    }

    /// <summary>Adds a row of host text (each cell made <see cref="Safe"/>; null shows as <c>-</c>).</summary>
    public static Table Row(this Table table, params string?[] cells) => table.AddRow([.. cells.Select(c => (IRenderable)new Markup(Safe(c)))]);

    /// <summary>Host text in a colour (none where the console has no colour).</summary>
    public static string Coloured(string colour, string? text) => $"[{colour}]{Safe(text)}[/]";

    /// <summary>
    /// Runs <paramref name="work"/> (planning) with progress on stderr when it is a terminal: a spinner
    /// saying <paramref name="what"/>, and a line per destination as the planner's own activity for it
    /// ends, so what it prints is what the planner really did.
    /// </summary>
    public static async Task<T> WithPlanProgressAsync<T>(CommandContext context, string what, Func<Task<T>> work)
    {
        if (!context.Interactive)
        {
            return await work().ConfigureAwait(false);
        }

        var console = context.ErrorConsole;
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == PlannerTelemetry.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
            ActivityStopped = activity =>
            {
                if (activity.OperationName == "PlanDestination")
                {
                    var outcome = (activity.GetTagItem("vfio_migration.complete") as bool?) switch
                    {
                        true => Coloured("green", "every device placed"),
                        false => Coloured("yellow", "not every device placed"),
                        null => Coloured("red", $"failed: {activity.StatusDescription}"),
                    };
                    console.MarkupLine($"  {Safe(activity.GetTagItem("vfio_migration.destination") as string)}: {outcome} ({activity.Duration.TotalMilliseconds:0} ms)");
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        return await console.Status().StartAsync($"{Safe(what)}...", _ => work()).ConfigureAwait(false);
    }
}
