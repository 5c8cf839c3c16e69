using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;

namespace VfioMigration.ConsoleMigrator.Cli;

/// <summary>What a command gets besides its arguments.</summary>
/// <param name="Out">Standard output: the result (human text or JSON).</param>
/// <param name="Error">Standard error: errors, progress and logs.</param>
/// <param name="Json">Whether <c>--json</c> was given.</param>
/// <param name="Verbose">Whether <c>--verbose</c> was given.</param>
/// <param name="Logging">Where the library logs: warnings always, everything with <c>--verbose</c>; on stderr.</param>
/// <param name="Interactive">Whether stderr is a terminal (then progress is shown while hosts are probed).</param>
internal sealed record CommandContext(TextWriter Out, TextWriter Error, bool Json, bool Verbose, ILoggerFactory Logging, bool Interactive);

/// <summary>One console command: its name, its help, its options and what it does.</summary>
internal abstract class Command
{
    /// <summary>Options every command accepts.</summary>
    public static readonly IReadOnlyList<OptionSpec> CommonOptions =
    [
        new("--json", null, "Print the result as JSON on stdout."),
        new("--verbose", null, "Log what the library does on stderr; show stack traces on errors."),
        new("--help", null, "Show this help."),
    ];

    /// <summary>The words that select the command (<c>inspect</c>, <c>sim mount</c>).</summary>
    public abstract string Name { get; }

    /// <summary>One line for the command list.</summary>
    public abstract string Summary { get; }

    /// <summary>The positional arguments, for the usage line (<c>SCENARIO DIR</c>); empty when none.</summary>
    public virtual string Positionals => string.Empty;

    /// <summary>How many positional arguments the command takes.</summary>
    public virtual int PositionalCount => 0;

    /// <summary>The command's own options.</summary>
    public abstract IReadOnlyList<OptionSpec> Options { get; }

    /// <summary>A complete example command line.</summary>
    public abstract string Example { get; }

    /// <summary>Runs the command; returns the exit code.</summary>
    public abstract Task<int> RunAsync(Arguments args, CommandContext context, CancellationToken cancellationToken);

    /// <summary>The full help text: usage, options, example.</summary>
    public string Help()
    {
        var text = new StringBuilder();
        var usage = string.Join(' ', new[] { "vfio-migrator", Name, Positionals }.Where(p => p.Length > 0));
        text.AppendLine(CultureInfo.InvariantCulture, $"{Summary}");
        text.AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"Usage: {usage} [options]");
        text.AppendLine();
        text.AppendLine("Options:");
        foreach (var option in Options.Concat(CommonOptions))
        {
            var left = option.IsFlag ? option.Name : $"{option.Name} {option.ValueName}";
            var notes = (option.Required ? " (required)" : string.Empty) + (option.Repeatable ? " (repeatable)" : string.Empty);
            text.AppendLine(CultureInfo.InvariantCulture, $"  {left,-28} {option.Help}{notes}");
        }

        text.AppendLine();
        text.AppendLine("Example:");
        text.AppendLine(CultureInfo.InvariantCulture, $"  {Example}");
        return text.ToString();
    }
}
