using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using Microsoft.Extensions.Logging;
using VfioMigration.ConsoleMigrator.Commands;

namespace VfioMigration.ConsoleMigrator.Cli;

/// <summary>
/// The <c>vfio-migrator</c> command tree (System.CommandLine: POSIX options, <c>@file</c> response files,
/// the <c>[suggest]</c> directive that <c>completions bash|zsh</c> scripts call), its help, and the run:
/// usage errors and failures become one-line messages and the documented exit codes.
/// </summary>
internal static class ConsoleApp
{
    /// <summary>The program's name in help and messages.</summary>
    public const string Name = "vfio-migrator";

    private const string ExitCodesHelp = "Exit codes: 0 success, 1 unexpected error, 2 usage error, 3 no valid plan, 4 libvirt error, 5 bad host data (XML, scenario, sysfs), 6 state store unusable, 130/143/129 cancelled by SIGINT/SIGTERM/SIGHUP (after rollback); check: 10 incompatible, 11 unknown.";

    /// <summary>
    /// A fresh command tree, every command in the order the help lists them; <paramref name="terminals"/>
    /// (default <see cref="Terminals.None"/>) and <paramref name="rawOut"/> / <paramref name="rawError"/>
    /// (the unescaped streams, default the invocation's) are what the commands' Spectre consoles write to.
    /// </summary>
    public static RootCommand CreateRoot(Terminals? terminals = null, TextWriter? rawOut = null, TextWriter? rawError = null)
    {
        var root = new RootCommand("vfio-migrator: plan and run live migrations of libvirt guests that own VFIO devices.") { HelpName = Name };
        root.Options.Add(Common(CliOption.Flag("--json", "Print the result as JSON on stdout.")));
        root.Options.Add(Common(CliOption.Flag("--verbose", "Log what the library does on stderr; show stack traces on errors.")));
        var plans = new PlansCommand { new PlansReleaseCommand() };
        var sim = new Command("sim", "Simulated hosts: serve a scenario's sysfs through FUSE, write its libvirt host file.") { new SimMountCommand(), new SimLibvirtXmlCommand() };
        Command[] commands =
        [
            new DemoCommand(), new InspectCommand(), new HostCommand(), new PlanCommand(), new MigrateCommand(), new CheckCommand(), new AskCommand(),
            new EvacuateCommand(), new RecoverCommand(), plans, new BenchCommand(), new EconomyCommand(), sim, new CompletionsCommand(),
        ];
        foreach (var command in commands)
        {
            root.Subcommands.Add(command);
        }

        foreach (var command in Commands(root).OfType<CliCommand>())
        {
            command.SetAction((args, cancellationToken) => RunCommandAsync(command, args, terminals ?? Terminals.None, (rawOut, rawError), cancellationToken));
        }

        var help = root.Options.OfType<HelpOption>().Single();
        help.Action = new HelpWithFooter((SynchronousCommandLineAction)help.Action!);
        return root;
    }

    /// <summary>Every command of the tree under <paramref name="command"/>, itself first.</summary>
    public static IEnumerable<Command> Commands(Command command) => command.Subcommands.SelectMany(Commands).Prepend(command);

    /// <summary>The words that select <paramref name="command"/> after the program name (<c>sim mount</c>).</summary>
    public static string PathOf(Command command) =>
        command.Parents.OfType<Command>().FirstOrDefault() is { } parent and not RootCommand ? $"{PathOf(parent)} {command.Name}" : command.Name;

    /// <summary>
    /// Runs the command line; returns the process exit code. <paramref name="terminals"/>: which streams are terminals (default none).
    /// Everything printed, logs included, goes through <see cref="TerminalText"/> (or <see cref="Screen.Safe"/>): host text cannot reach the terminal raw.
    /// </summary>
    public static async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken, Terminals? terminals = null)
    {
        var root = CreateRoot(terminals, stdout, stderr);
        stdout = TerminalText.Writer(stdout);
        stderr = TerminalText.Writer(stderr);
        var parsed = root.Parse(HelpWord(root, args));
        var invocation = new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null };
        if (parsed.Action is ParseErrorAction)
        {
            var command = parsed.CommandResult.Command;
            var path = command is RootCommand ? [] : PathOf(command).Split(' ');
            if (command.Action is null && parsed.UnmatchedTokens.Count > 0)
            {
                await stderr.WriteLineAsync($"error: unknown command '{string.Join(' ', path.Append(parsed.UnmatchedTokens[0]))}'. Run '{string.Join(' ', path.Prepend(Name))} --help' for the list.").ConfigureAwait(false);
                return ExitCodes.Usage;
            }

            if (command.Action is null)
            {
                // A group alone (vfio-migrator, vfio-migrator sim): its help, as a usage error.
                await root.Parse([.. path, "--help"]).InvokeAsync(invocation, cancellationToken).ConfigureAwait(false);
                return ExitCodes.Usage;
            }

            await stderr.WriteLineAsync($"error: {parsed.Errors[0].Message} Run '{string.Join(' ', path.Prepend(Name))} --help'.").ConfigureAwait(false);
            return ExitCodes.Usage;
        }

        return await parsed.InvokeAsync(invocation, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>libvirt and libxml2 messages can span lines; the user gets one.</summary>
    private static string OneLine(string message) =>
        string.Join(' ', message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    private static Option<bool> Common(Option<bool> option)
    {
        option.Recursive = true;
        return option;
    }

    /// <summary><c>help</c> after a group's words (<c>vfio-migrator help</c>, <c>vfio-migrator sim help</c>) asks for its help.</summary>
    private static IReadOnlyList<string> HelpWord(Command root, IReadOnlyList<string> args)
    {
        if (args.Count == 0 || args[^1] != "help")
        {
            return args;
        }

        Command? group = root;
        foreach (var word in args.SkipLast(1))
        {
            group = group?.Subcommands.FirstOrDefault(c => c.Name == word);
        }

        return group is { Subcommands.Count: > 0 } ? [.. args.SkipLast(1), "--help"] : args;
    }

    private static async Task<int> RunCommandAsync(CliCommand command, ParseResult args, Terminals terminals, (TextWriter? Out, TextWriter? Error) raw, CancellationToken cancellationToken)
    {
        var (stdout, stderr) = (args.InvocationConfiguration.Output, args.InvocationConfiguration.Error);
        var console = Screen.Create(raw.Out ?? stdout, terminals.Out && !terminals.NoColor);
        var errorConsole = Screen.Create(raw.Error ?? stderr, terminals.Error && !terminals.NoColor);
        var verbose = args.Flag("--verbose");
        try
        {
            // Warnings (a stale mount cleared, a removal that failed) always reach stderr; --verbose adds the rest.
            using var logging = LoggerFactory.Create(builder => builder
                .SetMinimumLevel(verbose ? LogLevel.Debug : LogLevel.Warning)
                .AddProvider(new StderrLoggerProvider(stderr)));
            var context = new CommandContext(stdout, stderr, args.Flag("--json"), verbose, logging, terminals.Error, console, errorConsole);
            return await command.RunAsync(args, context, cancellationToken).ConfigureAwait(false);
        }
        catch (UsageException e)
        {
            await stderr.WriteLineAsync($"error: {e.Message} Run '{Name} {PathOf(command)} --help'.").ConfigureAwait(false);
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

    /// <summary>System.CommandLine's help, then the command's example (or, under the top-level help, the exit codes).</summary>
    private sealed class HelpWithFooter(SynchronousCommandLineAction help) : SynchronousCommandLineAction
    {
        public override bool ClearsParseErrors => true;

        public override int Invoke(ParseResult parseResult)
        {
            var code = help.Invoke(parseResult);
            var output = parseResult.InvocationConfiguration.Output;
            switch (parseResult.CommandResult.Command)
            {
                case CliCommand command:
                    output.WriteLine("Example:");
                    output.WriteLine($"  {command.Example}");
                    output.WriteLine();
                    break;
                case RootCommand:
                    output.WriteLine(ExitCodesHelp);
                    output.WriteLine();
                    break;
            }

            return code;
        }
    }
}
