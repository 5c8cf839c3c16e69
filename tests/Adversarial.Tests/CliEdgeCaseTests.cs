using VfioMigration.ConsoleMigrator.Cli;

namespace VfioMigration.Adversarial.Tests;

/// <summary>
/// Command lines and input files that used to crash (exit 1 with a stack) or hang the console. Each
/// must end with one error line on stderr and its documented exit code, and nothing it prints may
/// hold a control character other than a line feed.
/// </summary>
[TestClass]
public sealed class CliEdgeCaseTests
{
    private static readonly string Source = Scenario("demo-source.json");
    private static readonly string Dest = Scenario("demo-dest-a.json");

    private string _scratch = null!;

    [TestInitialize]
    public void CreateScratch() => _scratch = Directory.CreateTempSubdirectory("cli-edge-").FullName;

    [TestCleanup]
    public void DeleteScratch() => Directory.Delete(_scratch, recursive: true);

    [TestMethod]
    [DataRow("--probe-timeout", "NaN", "--probe-timeout: 'NaN' is not a number of seconds from 0.001 to 3600.")]
    [DataRow("--probe-timeout", "1e-300", "--probe-timeout: '1e-300' is not a number of seconds from 0.001 to 3600.")]
    [DataRow("--probe-timeout", "Infinity", "--probe-timeout: 'Infinity' is not a number of seconds from 0.001 to 3600.")]
    [DataRow("--probe-timeout", "-1", "--probe-timeout: '-1' is not a number of seconds from 0.001 to 3600.")]
    [DataRow("--libvirt-timeout", "NaN", "--libvirt-timeout: 'NaN' is not a number of seconds from 0.001 to 3600.")]
    [DataRow("--libvirt-timeout", "0", "--libvirt-timeout: '0' is not a number of seconds from 0.001 to 3600.")]
    [DataRow("--dest", "", "option '--dest' needs a value (URI); it was empty.")]
    [DataRow("--dest", " ", "option '--dest' needs a value (URI); it was empty.")]
    public async Task A_bad_plan_option_is_a_usage_error(string option, string value, string message)
    {
        var run = await RunAsync("plan", "--source-scenario", Source, "--dest-scenario", Dest, "--domain", "render-1", option, value);

        Assert.AreEqual(ExitCodes.Usage, run.Code, run.Error);
        Assert.AreEqual($"error: {message} Run 'vfio-migrator plan --help'.\n", run.Error);
    }

    [TestMethod]
    [DataRow("inspect", "--connect", "", "--domain", "x")]
    [DataRow("inspect", "--connect", " ", "--domain", "x")]
    [DataRow("host", "--connect", "")]
    public async Task A_blank_connect_uri_is_a_usage_error(params string[] args)
    {
        var run = await RunAsync(args);

        Assert.AreEqual(ExitCodes.Usage, run.Code, run.Error);
        Assert.AreEqual($"error: option '--connect' needs a value (URI); it was empty. Run 'vfio-migrator {args[0]} --help'.\n", run.Error);
    }

    [TestMethod]
    public async Task Special_files_and_directories_as_scenarios_are_bad_host_data_and_never_read()
    {
        var fifo = Path.Combine(_scratch, "fifo");
        HostileTree.Run("mkfifo", fifo);
        var huge = Path.Combine(_scratch, "huge.json");
        await using (var file = File.Create(huge))
        {
            file.SetLength((16 << 20) + 1);
        }

        var expectations = new (string Path, string Message)[]
        {
            ("/dev/zero", "error: scenario file '/dev/zero' is not a regular file (a FIFO, device node or socket); it is not read.\n"),
            (fifo, $"error: scenario file '{fifo}' is not a regular file (a FIFO, device node or socket); it is not read.\n"),
            (_scratch, $"error: scenario file '{_scratch}' is a directory, not a file.\n"),
            (huge, $"error: scenario file '{huge}' holds more than 16777216 bytes; it is not read.\n"),
            (Path.Combine(_scratch, "missing.json"), $"error: scenario file '{Path.Combine(_scratch, "missing.json")}' does not exist.\n"),
        };
        foreach (var (path, message) in expectations)
        {
            var run = await RunAsync("plan", "--source-scenario", path, "--dest-scenario", Dest, "--domain", "render-1");

            Assert.AreEqual(ExitCodes.HostData, run.Code, run.Error);
            Assert.AreEqual(message, run.Error);
        }
    }

    [TestMethod]
    [DataRow("sim", "--help", 0)]
    [DataRow("sim", "help", 0)]
    [DataRow("sim", null, 2)]
    public async Task Sim_alone_or_with_help_lists_its_subcommands(string group, string? help, int code)
    {
        var run = help is null ? await RunAsync(group) : await RunAsync(group, help);

        Assert.AreEqual(code, run.Code);
        StringAssert.Contains(run.Out, "  mount <SCENARIO> <DIR> ");
        StringAssert.Contains(run.Out, "  libvirt-xml <SCENARIO> <OUT.xml> ");
        Assert.AreEqual(string.Empty, run.Error);
    }

    [TestMethod]
    public async Task Text_echoed_in_an_error_reaches_the_terminal_escaped()
    {
        var run = await RunAsync("inspect", "--connect", $"test://{Path.Combine(AppContext.BaseDirectory, "hosts", "demo-host.xml")}", "--domain", "evil\u001b[2J\u009b31m\rname");

        Assert.AreEqual(ExitCodes.Usage, run.Code, run.Error);
        StringAssert.StartsWith(run.Error, "error: --domain: 'evil\\x1B[2J\\x9B31m\\x0Dname' is not a guest name or UUID", StringComparison.Ordinal);
    }

    private static string Scenario(string name) => Path.Combine(AppContext.BaseDirectory, "scenarios", name);

    private static async Task<(int Code, string Out, string Error)> RunAsync(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var code = await ConsoleApp.RunAsync(args, stdout, stderr, bound.Token);
        var (output, error) = (stdout.ToString(), stderr.ToString());
        Assert.IsFalse((output + error).Any(c => (c < ' ' && c is not '\n' and not '\t') || c is >= '\x7f' and <= '\x9f'), $"a control character was printed: {error}");
        Assert.AreNotEqual(ExitCodes.Unexpected, code, error);
        return (code, output, error);
    }
}
