using System.CommandLine;
using VfioMigration.ConsoleMigrator.Cli;

namespace VfioMigration.ConsoleMigrator.Commands;

/// <summary>
/// <c>completions bash|zsh</c>: prints a shell script that completes vfio-migrator's commands and
/// options. The script asks the program itself through System.CommandLine's <c>[suggest:POSITION]</c>
/// directive, so it needs nothing but <c>vfio-migrator</c> on the PATH (no <c>dotnet-suggest</c>).
/// </summary>
internal sealed class CompletionsCommand : CliCommand
{
    /// <summary>
    /// The bash script: <c>complete -F</c> with a function that asks for what may stand where the word
    /// being completed starts (the line before it), keeping the suggestions that begin with the word.
    /// Asking at the word's end instead would offer nothing after a whole command name (<c>plan</c>, not <c>plans</c>).
    /// </summary>
    internal const string Bash = """
        # vfio-migrator completion for bash: eval "$(vfio-migrator completions bash)"
        _vfio_migrator_complete() {
            local IFS=$'\n' word="${COMP_WORDS[COMP_CWORD]}"
            local line="${COMP_LINE:0:$((COMP_POINT - ${#word}))}"
            COMPREPLY=($(compgen -W "$(command vfio-migrator "[suggest:${#line}]" "$line" 2>/dev/null)" -- "$word"))
        }
        complete -o default -F _vfio_migrator_complete vfio-migrator

        """;

    /// <summary>The zsh script: the same question with the words before the cursor's; <c>compadd</c> keeps the suggestions that match.</summary>
    internal const string Zsh = """
        # vfio-migrator completion for zsh: eval "$(vfio-migrator completions zsh)" (after compinit)
        _vfio_migrator_complete() {
            local line="${(j: :)words[1,CURRENT-1]} "
            local -a suggestions
            suggestions=("${(@f)$(command vfio-migrator "[suggest:${#line}]" "$line" 2>/dev/null)}")
            compadd -a suggestions
        }
        compdef _vfio_migrator_complete vfio-migrator

        """;

    public CompletionsCommand()
        : base("completions", "Print the shell completion script for bash or zsh (enable it with eval \"$(vfio-migrator completions bash)\").")
    {
        var shell = new Argument<string>("SHELL") { Description = "bash or zsh." };
        shell.AcceptOnlyFromAmong("bash", "zsh");
        Arguments.Add(shell);
    }

    public override string Example => "echo 'eval \"$(vfio-migrator completions bash)\"' >> ~/.bashrc";

    public override async Task<int> RunAsync(ParseResult args, CommandContext context, CancellationToken cancellationToken)
    {
        await context.Out.WriteAsync(args.Required("SHELL") == "bash" ? Bash : Zsh).ConfigureAwait(false);
        return ExitCodes.Success;
    }
}
