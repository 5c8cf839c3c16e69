using VfioMigration.ConsoleMigrator.Cli;

namespace VfioMigration.ConsoleMigrator.Tests;

/// <summary>Runs the console in-process and captures what it prints.</summary>
internal sealed record ConsoleRun(int ExitCode, string Out, string Error)
{
    public static string HostFile(string name) => Path.Combine(AppContext.BaseDirectory, "hosts", name);

    public static string TestUri(string path) => $"test://{path}";

    public static async Task<ConsoleRun> RunAsync(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var code = await ConsoleApp.RunAsync(args, stdout, stderr, CancellationToken.None);
        return new ConsoleRun(code, stdout.ToString(), stderr.ToString());
    }
}
