using VfioMigration.ConsoleMigrator.Cli;
using VfioMigration.ConsoleMigrator.Commands;
using VfioMigration.Packaging.Tests;

namespace VfioMigration.ConsoleMigrator.Tests;

/// <summary>
/// The command line as System.CommandLine and Spectre.Console give it: completion (in process and
/// through the real bash script), response files, usage errors, and what reaches a terminal or a pipe.
/// </summary>
[TestClass]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class CommandLineTests
{
    private static readonly string DemoHost = ConsoleRun.TestUri(ConsoleRun.HostFile("demo-host.xml"));
    private static readonly TimeSpan ProcessLimit = TimeSpan.FromSeconds(120);

    private string _scratch = null!;

    public TestContext TestContext { get; set; } = null!;

    [TestInitialize]
    public void CreateScratch() => _scratch = Directory.CreateTempSubdirectory("cli-").FullName;

    [TestCleanup]
    public void DeleteScratch() => Directory.Delete(_scratch, recursive: true);

    [TestMethod]
    public async Task The_suggest_directive_lists_the_commands_matching_the_word()
    {
        var run = await ConsoleRun.RunAsync("[suggest:16]", "vfio-migrator pl");

        Assert.AreEqual(0, run.ExitCode, run.Error);
        Assert.AreEqual("plan\nplans\ncompletions\n", run.Out, "System.CommandLine matches anywhere in the name; the scripts keep the prefix matches");
        Assert.AreEqual("\n", (await ConsoleRun.RunAsync("[suggest:18]", "vfio-migrator plan")).Out, "after a whole command name it offers nothing: the scripts ask at the word's start");
    }

    [TestMethod]
    [DataRow("vfio-migrator pl", "(vfio-migrator pl)", "plan\nplans\n")]
    [DataRow("vfio-migrator plan", "(vfio-migrator plan)", "plan\nplans\n")]
    [DataRow("vfio-migrator sim l", "(vfio-migrator sim l)", "libvirt-xml\n")]
    [DataRow("vfio-migrator plan --dest-sc", "(vfio-migrator plan --dest-sc)", "--dest-scenario\n")]
    [DataRow("vfio-migrator completions ", "(vfio-migrator completions '')", "--help\n--json\n--verbose\n-?\n-h\n/?\n/h\nbash\nzsh\n")]
    public async Task The_bash_script_completes_through_the_installed_command(string line, string words, string expected)
    {
        var script = $$"""
            eval "$(vfio-migrator completions bash)"
            COMP_LINE='{{line}}'; COMP_POINT={{line.Length}}
            COMP_WORDS={{words}}; COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
            _vfio_migrator_complete
            printf '%s\n' "${COMPREPLY[@]}"
            """;

        var outcome = await BashAsync(script);

        Assert.AreEqual(0, outcome.ExitCode, outcome.Error);
        Assert.AreEqual(expected, outcome.Out);
    }

    [TestMethod]
    [DataRow("(vfio-migrator pl)", "plan\nplans\n")]
    [DataRow("(vfio-migrator plan)", "plan\nplans\n")]
    [DataRow("(vfio-migrator plan --dest-sc)", "--dest-scenario\n")]
    public async Task The_zsh_script_completes_through_the_installed_command(string words, string expected)
    {
        // compdef and compadd stand in for zsh's completion system; compadd keeps the matches of the word's prefix, as the real one does.
        var script = $$"""
            compdef() { print -r -- "compdef $*" }
            compadd() { local name=$2; print -rl -- ${(M)${(P@)name}:#${PREFIX}*} }
            eval "$(vfio-migrator completions zsh)"
            words={{words}}; CURRENT=${#words}; PREFIX=${words[CURRENT]}
            _vfio_migrator_complete
            """;

        var outcome = await ShellAsync("zsh", ["-f", "-c", script]);

        Assert.AreEqual(0, outcome.ExitCode, outcome.Error);
        Assert.AreEqual($"compdef _vfio_migrator_complete vfio-migrator\n{expected}", outcome.Out);
    }

    [TestMethod]
    public async Task The_bash_script_registers_the_completion_function()
    {
        var outcome = await BashAsync("eval \"$(vfio-migrator completions bash)\"; complete -p vfio-migrator");

        Assert.AreEqual(0, outcome.ExitCode, outcome.Error);
        Assert.AreEqual("complete -o default -F _vfio_migrator_complete vfio-migrator\n", outcome.Out);
    }

    [TestMethod]
    public async Task Completions_prints_each_script_and_refuses_another_shell()
    {
        var bash = await ConsoleRun.RunAsync("completions", "bash");
        var zsh = await ConsoleRun.RunAsync("completions", "zsh");
        var fish = await ConsoleRun.RunAsync("completions", "fish");

        Assert.AreEqual((0, CompletionsCommand.Bash), (bash.ExitCode, bash.Out));
        Assert.AreEqual((0, CompletionsCommand.Zsh), (zsh.ExitCode, zsh.Out));
        Assert.AreEqual(2, fish.ExitCode);
        Assert.AreEqual("error: Argument 'fish' not recognized. Must be one of:\n\t'bash'\n\t'zsh' Run 'vfio-migrator completions --help'.\n", fish.Error);
    }

    [TestMethod]
    public async Task A_response_file_gives_the_same_result_as_its_arguments()
    {
        var file = Path.Combine(_scratch, "inspect.rsp");
        await File.WriteAllTextAsync(file, $"--connect {DemoHost}\n--domain vgpu-desktop\n--json\n", TestContext.CancellationToken);

        var direct = await ConsoleRun.RunAsync("inspect", "--connect", DemoHost, "--domain", "vgpu-desktop", "--json");
        var fromFile = await ConsoleRun.RunAsync("inspect", $"@{file}");

        Assert.AreEqual(0, fromFile.ExitCode, fromFile.Error);
        Assert.AreEqual(direct.Out, fromFile.Out);
        StringAssert.StartsWith(fromFile.Out, "{");
    }

    [TestMethod]
    [DataRow(new[] { "host", "--connect", "x", "--bogus" }, "error: Unrecognized command or argument '--bogus'. Run 'vfio-migrator host --help'.\n")]
    [DataRow(new[] { "frobnicate" }, "error: unknown command 'frobnicate'. Run 'vfio-migrator --help' for the list.\n")]
    [DataRow(new[] { "sim", "frob" }, "error: unknown command 'sim frob'. Run 'vfio-migrator sim --help' for the list.\n")]
    [DataRow(new[] { "inspect", "--connect", "x" }, "error: Option '--domain' is required. Run 'vfio-migrator inspect --help'.\n")]
    [DataRow(new[] { "host", "--connect", "x", "--connect", "y" }, "error: Option '--connect' expects a single argument but 2 were provided. Run 'vfio-migrator host --help'.\n")]
    [DataRow(new[] { "plans", "release" }, "error: Required argument 'ID' missing for command: 'release'. Run 'vfio-migrator plans release --help'.\n")]
    public async Task A_usage_error_is_one_line_and_exit_code_two(string[] args, string error)
    {
        var run = await ConsoleRun.RunAsync(args);

        Assert.AreEqual((2, string.Empty, error), (run.ExitCode, run.Out, run.Error));
    }

    [TestMethod]
    public async Task Posix_syntax_equals_sign_and_double_dash_work()
    {
        var spaced = await ConsoleRun.RunAsync("inspect", "--connect", DemoHost, "--domain", "vgpu-desktop", "--json");
        var equals = await ConsoleRun.RunAsync("inspect", $"--connect={DemoHost}", "--domain=vgpu-desktop", "--json");
        var afterDashes = await ConsoleRun.RunAsync("sim", "libvirt-xml", "--json", "--", Path.Combine(AppContext.BaseDirectory, "scenarios", "gvtg.json"), Path.Combine(_scratch, "-out.xml"));

        Assert.AreEqual(spaced.Out, equals.Out);
        Assert.AreEqual(0, afterDashes.ExitCode, afterDashes.Error);
        Assert.IsTrue(File.Exists(Path.Combine(_scratch, "-out.xml")), afterDashes.Out);
    }

    [TestMethod]
    public async Task Output_to_a_pipe_is_plain_text_and_json_is_unchanged()
    {
        var piped = await ProcessAsync(new Dictionary<string, string?>(), "host", "--connect", DemoHost);
        var inProcess = await ConsoleRun.RunAsync("host", "--connect", DemoHost);
        var json = await ProcessAsync(new Dictionary<string, string?>(), "host", "--connect", DemoHost, "--json");
        var jsonInProcess = await ConsoleRun.RunAsync("host", "--connect", DemoHost, "--json");

        Assert.AreEqual(0, piped.ExitCode, piped.Error);
        Assert.AreEqual(inProcess.Out, piped.Out);
        Assert.IsFalse(piped.Out.Contains('\u001b', StringComparison.Ordinal), piped.Out);
        StringAssert.Contains(piped.Out, "\nMDEV                                  TYPE            PARENT            IN USE BY\n");
        Assert.AreEqual(jsonInProcess.Out, json.Out);
    }

    [TestMethod]
    public async Task On_a_terminal_tables_are_coloured_unless_NO_COLOR_is_set()
    {
        var coloured = await TerminalAsync(noColor: false);
        var plain = await TerminalAsync(noColor: true);

        Assert.AreEqual(0, coloured.ExitCode, coloured.Error);
        StringAssert.Contains(coloured.Out, "\u001b[1mMDEV\u001b[0m", "bold headers on a terminal");
        Assert.AreEqual(0, plain.ExitCode, plain.Error);
        Assert.IsFalse(plain.Out.Contains('\u001b', StringComparison.Ordinal), plain.Out);
        StringAssert.Contains(plain.Out, "vgpu-desktop");
    }

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public async Task Host_text_with_markup_or_a_control_sequence_prints_literally(bool ansi)
    {
        var path = Path.Combine(_scratch, "hostile.xml");
        var demo = await File.ReadAllTextAsync(ConsoleRun.HostFile("demo-host.xml"), TestContext.CancellationToken);
        await File.WriteAllTextAsync(path, demo.Replace("<name>GRID T4-1B</name>", "<name>[red]T4[/]&#x9b;2J</name>", StringComparison.Ordinal), TestContext.CancellationToken);
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();

        var code = await ConsoleApp.RunAsync(["host", "--connect", ConsoleRun.TestUri(path)], stdout, stderr, TestContext.CancellationToken, new Terminals(Out: ansi, Error: false, NoColor: false));

        Assert.AreEqual(0, code, stderr.ToString());
        // On a terminal the 80-column table wraps the cell after the backslash.
        StringAssert.Contains(stdout.ToString(), ansi ? "[red]T4[/]\\" : "[red]T4[/]\\x9B2J");
        Assert.IsFalse(stdout.ToString().Contains('\u009b', StringComparison.Ordinal), stdout.ToString());
        Assert.IsFalse(stdout.ToString().Contains("\u001b[31m", StringComparison.Ordinal), "the markup was not applied");
    }

    private static Dictionary<string, string?> DotnetEnvironment() => new()
    {
        ["PATH"] = $"{Path.GetDirectoryName(Environment.ProcessPath)}:{Environment.GetEnvironmentVariable("PATH")}",
    };

    private async Task<ProcessOutcome> ProcessAsync(Dictionary<string, string?> environment, params string[] args) =>
        await BoundedProcess.RunAsync("dotnet", [Path.Combine(AppContext.BaseDirectory, "vfio-migrator.dll"), .. args], _scratch, environment, ProcessLimit, TestContext.CancellationToken);

    private Task<ProcessOutcome> BashAsync(string script) => ShellAsync("bash", ["--norc", "--noprofile", "-c", script]);

    /// <summary>Runs a shell with a <c>vfio-migrator</c> on the PATH that is this build, as a packed tool's shim is.</summary>
    private async Task<ProcessOutcome> ShellAsync(string shell, string[] arguments)
    {
        var bin = Directory.CreateDirectory(Path.Combine(_scratch, "bin")).FullName;
        var shim = Path.Combine(bin, "vfio-migrator");
        await File.WriteAllTextAsync(shim, $"#!/bin/sh\nexec dotnet '{Path.Combine(AppContext.BaseDirectory, "vfio-migrator.dll")}' \"$@\"\n", TestContext.CancellationToken);
        File.SetUnixFileMode(shim, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var environment = DotnetEnvironment();
        environment["PATH"] = $"{bin}:{environment["PATH"]}";
        return await BoundedProcess.RunAsync(shell, arguments, _scratch, environment, ProcessLimit, TestContext.CancellationToken);
    }

    /// <summary>
    /// Runs <c>host</c> with its output on a pseudo-terminal (util-linux <c>script</c>); its input is not
    /// one, so the runtime sends no keypad mode sequence of its own.
    /// </summary>
    private async Task<ProcessOutcome> TerminalAsync(bool noColor)
    {
        var environment = DotnetEnvironment();
        environment["NO_COLOR"] = noColor ? "1" : null;
        // A terminal whose terminfo has no keypad mode (smkx): on xterm the .NET runtime itself writes ESC[?1h ESC= to any terminal it starts on.
        environment["TERM"] = "linux";
        var command = $"dotnet '{Path.Combine(AppContext.BaseDirectory, "vfio-migrator.dll")}' host --connect '{DemoHost}' < /dev/null";
        return await BoundedProcess.RunAsync("script", ["--quiet", "--return", "--command", command, "/dev/null"], _scratch, environment, ProcessLimit, TestContext.CancellationToken);
    }
}
