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
    /// <summary>The bash script: <c>complete -F</c> with a function that passes the line and the cursor, keeping the suggestions that start with the word being completed.</summary>
    internal const string Bash = """
        # vfio-migrator completion for bash: eval "$(vfio-migrator completions bash)"
        _vfio_migrator_complete() {
            local IFS=$'\n'
            COMPREPLY=($(compgen -W "$(command vfio-migrator "[suggest:${COMP_POINT}]" "${COMP_LINE}" 2>/dev/null)" -- "${COMP_WORDS[COMP_CWORD]}"))
        }
        complete -o default -F _vfio_migrator_complete vfio-migrator

        """;

    /// <summary>The zsh script: a <c>compdef</c> function that passes the words and the cursor (<c>compadd</c> keeps the suggestions that match).</summary>
    internal const string Zsh = """
        # vfio-migrator completion for zsh: eval "$(vfio-migrator completions zsh)" (after compinit)
        _vfio_migrator_complete() {
            local line="${(j: :)words}"
            local -a suggestions
            suggestions=("${(@f)$(command vfio-migrator "[suggest:${#${(j: :)words[1,CURRENT]}}]" "$line" 2>/dev/null)}")
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
