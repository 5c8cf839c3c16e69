using System.CommandLine;
using Microsoft.Extensions.Logging;
using Spectre.Console;

namespace VfioMigration.ConsoleMigrator.Cli;

/// <summary>Thrown for a command line the program cannot run; the message says what is wrong.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>What a command gets besides its arguments.</summary>
/// <param name="Out">Standard output: the result (human text or JSON), control characters escaped.</param>
/// <param name="Error">Standard error: errors, progress and logs, control characters escaped.</param>
/// <param name="Json">Whether <c>--json</c> was given.</param>
/// <param name="Verbose">Whether <c>--verbose</c> was given.</param>
/// <param name="Logging">Where the library logs: warnings always, everything with <c>--verbose</c>; on stderr.</param>
/// <param name="Interactive">Whether stderr is a terminal (then progress is shown while hosts are probed).</param>
/// <param name="Console">Standard output for tables and colour (<see cref="Screen"/>): ANSI only on a terminal without <c>NO_COLOR</c>.</param>
/// <param name="ErrorConsole">Standard error for progress, likewise.</param>
internal sealed record CommandContext(TextWriter Out, TextWriter Error, bool Json, bool Verbose, ILoggerFactory Logging, bool Interactive, IAnsiConsole Console, IAnsiConsole ErrorConsole);

/// <summary>One vfio-migrator command: a System.CommandLine command with an example for its help, and a body that gets the <see cref="CommandContext"/>.</summary>
internal abstract class CliCommand(string name, string summary) : Command(name, summary)
{
    /// <summary>A complete example command line, printed at the end of the help.</summary>
    public abstract string Example { get; }

    /// <summary>Adds the command's options.</summary>
    public void AddOptions(IEnumerable<Option> options)
    {
        foreach (var option in options)
        {
            Options.Add(option);
        }
    }

    /// <summary>Runs the command; returns the exit code.</summary>
    public abstract Task<int> RunAsync(ParseResult args, CommandContext context, CancellationToken cancellationToken);
}

/// <summary>How the commands declare their options: <c>--name VALUE</c>, repeatable ones, flags; a blank value is refused.</summary>
internal static class CliOption
{
    /// <summary>An option with one value (<paramref name="valueName"/> in the help).</summary>
    public static Option<string> Value(string name, string valueName, string help, bool required = false) =>
        NotBlank(new Option<string>(name) { HelpName = valueName, Description = help, Required = required }, valueName);

    /// <summary>An option that may be given several times, one value each.</summary>
    public static Option<string[]> Repeatable(string name, string valueName, string help) =>
        NotBlank(new Option<string[]>(name) { HelpName = valueName, Description = $"{help} (repeatable)", Arity = ArgumentArity.OneOrMore }, valueName);

    /// <summary>A flag: given or not.</summary>
    public static Option<bool> Flag(string name, string help) => new(name) { Description = help, Arity = ArgumentArity.Zero };

    /// <summary>The value of an option given once, or null.</summary>
    public static string? Value(this ParseResult args, string name) => args.GetValue<string>(name);

    /// <summary>Every value of a repeatable option, in the order given.</summary>
    public static IReadOnlyList<string> Values(this ParseResult args, string name) => args.GetValue<string[]>(name) ?? [];

    /// <summary>Whether a flag was given.</summary>
    public static bool Flag(this ParseResult args, string name) => args.GetValue<bool>(name);

    /// <summary>The value of a required option or argument (the parser already checked it is there).</summary>
    public static string Required(this ParseResult args, string name) => args.GetRequiredValue<string>(name);

    private static T NotBlank<T>(T option, string valueName)
        where T : Option
    {
        option.Validators.Add(result =>
        {
            if (result.Tokens.Any(t => string.IsNullOrWhiteSpace(t.Value)))
            {
                result.AddError($"option '{option.Name}' needs a value ({valueName}); it was empty.");
            }
        });
        return option;
    }
}
