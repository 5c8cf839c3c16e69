using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;

namespace VfioMigration.ConsoleMigrator.Cli;

/// <summary>Selects the command from the first words of the command line, parses its options, runs it, and turns failures into one-line messages and exit codes.</summary>
internal static class CommandRunner
{
    /// <summary>Every command, in the order the top-level help lists them.</summary>
    public static IReadOnlyList<Command> Commands { get; } =
    [
        new Commands.DemoCommand(),
        new Commands.InspectCommand(),
        new Commands.HostCommand(),
        new Commands.PlanCommand(),
        new Commands.MigrateCommand(),
        new Commands.CheckCommand(),
        new Commands.AskCommand(),
        new Commands.EvacuateCommand(),
        new Commands.RecoverCommand(),
        new Commands.PlansCommand(),
        new Commands.PlansReleaseCommand(),
        new Commands.BenchCommand(),
        new Commands.EconomyCommand(),
        new Commands.SimMountCommand(),
        new Commands.SimLibvirtXmlCommand(),
    ];

    /// <summary>
    /// Runs the command line; returns the process exit code. <paramref name="interactive"/>: stderr is a terminal.
    /// Everything printed, logs included, goes through <see cref="TerminalText"/>: host text cannot reach the terminal raw.
    /// </summary>
    public static async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken, bool interactive = false)
    {
        stdout = TerminalText.Writer(stdout);
        stderr = TerminalText.Writer(stderr);
        var command = Commands
            .Where(c => Matches(c, args))
            .MaxBy(c => c.Name.Split(' ').Length);
        if (command is null)
        {
            if (args.Count == 0 || args[0] is "--help" or "-h" or "help")
            {
                await stdout.WriteAsync(TopLevelHelp()).ConfigureAwait(false);
                return args.Count == 0 ? ExitCodes.Usage : ExitCodes.Success;
            }

            var group = Commands.Where(c => c.Name.StartsWith(args[0] + " ", StringComparison.Ordinal)).ToList();
            if (group.Count > 0 && (args.Count == 1 || args[1] is "--help" or "-h" or "help"))
            {
                await stdout.WriteAsync(GroupHelp(args[0], group)).ConfigureAwait(false);
                return args.Count == 1 ? ExitCodes.Usage : ExitCodes.Success;
            }

            await stderr.WriteLineAsync($"error: unknown command '{string.Join(' ', args.Take(2))}'. Run 'vfio-migrator --help' for the list.").ConfigureAwait(false);
            return ExitCodes.Usage;
        }

        var rest = args.Skip(command.Name.Split(' ').Length).ToList();
        var verbose = rest.Contains("--verbose");
        if (rest.Contains("--help"))
        {
            await stdout.WriteAsync(command.Help()).ConfigureAwait(false);
            return ExitCodes.Success;
        }

        try
        {
            var parsed = Arguments.Parse(rest, [.. command.Options, .. Command.CommonOptions]);

            if (parsed.Positionals.Count != command.PositionalCount)
            {
                throw new UsageException(command.PositionalCount == 0
                    ? $"unexpected argument '{parsed.Positionals[0]}'."
                    : $"expected {command.Positionals}, got {parsed.Positionals.Count} argument(s).");
            }

            // Warnings (a stale mount cleared, a removal that failed) always reach stderr; --verbose adds the rest.
            using var logging = LoggerFactory.Create(builder => builder
                .SetMinimumLevel(verbose ? LogLevel.Debug : LogLevel.Warning)
                .AddProvider(new StderrLoggerProvider(stderr)));
            var context = new CommandContext(stdout, stderr, parsed.Flag("--json"), verbose, logging, interactive);
            return await command.RunAsync(parsed, context, cancellationToken).ConfigureAwait(false);
        }
        catch (UsageException e)
        {
            await stderr.WriteLineAsync($"error: {e.Message} Run 'vfio-migrator {command.Name} --help'.").ConfigureAwait(false);
            return ExitCodes.Usage;
        }
        catch (Exception e)
        {
            var (code, message) = ErrorReport.Describe(e);
            await stderr.WriteLineAsync($"error: {OneLine(message)}").ConfigureAwait(false);
            if (verbose)
            {
                await stderr.WriteLineAsync(e.ToString()).ConfigureAwait(false);
            }

            return code;
        }
    }

    /// <summary>libvirt and libxml2 messages can span lines; the user gets one.</summary>
    private static string OneLine(string message) =>
        string.Join(' ', message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    private static bool Matches(Command command, IReadOnlyList<string> args)
    {
        var words = command.Name.Split(' ');
        return args.Count >= words.Length && words.Select((w, i) => args[i] == w).All(x => x);
    }

    /// <summary>The help of a group of commands (<c>sim</c>): its subcommands.</summary>
    private static string GroupHelp(string group, IReadOnlyList<Command> commands)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"Usage: vfio-migrator {group} SUBCOMMAND [options]   (SUBCOMMAND --help for its options and an example)");
        text.AppendLine();
        text.AppendLine("Subcommands:");
        foreach (var command in commands)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"  {command.Name,-18} {command.Summary}");
        }

        return text.ToString();
    }

    private static string TopLevelHelp()
    {
        var text = new StringBuilder();
        text.AppendLine("vfio-migrator: plan and run live migrations of libvirt guests that own VFIO devices.");
        text.AppendLine();
        text.AppendLine("Usage: vfio-migrator COMMAND [options]   (COMMAND --help for its options and an example)");
        text.AppendLine();
        text.AppendLine("Commands:");
        foreach (var command in Commands)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"  {command.Name,-18} {command.Summary}");
        }

        text.AppendLine();
        text.AppendLine("Exit codes: 0 success, 1 unexpected error, 2 usage error, 3 no valid plan, 4 libvirt error, 5 bad host data (XML, scenario, sysfs), 130/143/129 cancelled by SIGINT/SIGTERM/SIGHUP (after rollback); check: 10 incompatible, 11 unknown.");
        return text.ToString();
    }
}
