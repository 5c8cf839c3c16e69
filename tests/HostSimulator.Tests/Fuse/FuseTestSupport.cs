using System.Diagnostics;
using VfioMigration.HostSimulator.Fuse;

namespace VfioMigration.HostSimulator.Tests.Fuse;

/// <summary>A simulated tree mounted on a fresh temporary directory for one test.</summary>
internal sealed class TemporaryMount : IDisposable
{
    private TemporaryMount(string directory, FuseMount mount)
    {
        Directory = directory;
        Mount = mount;
    }

    public string Directory { get; }

    public FuseMount Mount { get; }

    /// <summary>Mounts <paramref name="tree"/>; inconclusive (not failed) only when the machine has no /dev/fuse.</summary>
    public static TemporaryMount Of(ISimulatedFileTree tree)
    {
        RequireFuse();
        var directory = System.IO.Directory.CreateTempSubdirectory("fuse-sim-").FullName;
        try
        {
            return new TemporaryMount(directory, FuseMount.Mount(tree, directory));
        }
        catch
        {
            System.IO.Directory.Delete(directory);
            throw;
        }
    }

    public static void RequireFuse()
    {
        if (!File.Exists("/dev/fuse"))
        {
            Assert.Inconclusive("/dev/fuse is absent on this machine, so nothing can be mounted through FUSE.");
        }
    }

    public string PathOf(string relative) => Path.Combine(Directory, relative);

    public void Dispose()
    {
        Mount.Dispose();
        System.IO.Directory.Delete(Directory);
    }
}

/// <summary>
/// Runs <c>SHELL -c SCRIPT sh ARGS...</c>: paths and values go in as positional parameters, never
/// into the script text. <see cref="Run"/> uses /bin/sh (dash on Debian); <see cref="Bash"/> uses
/// bash, whose builtin echo names the errno of a failed write (dash's says "I/O error" for any).
/// </summary>
internal static class Shell
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    public sealed record Result(int ExitCode, string Output, string Error);

    public static Result Run(string script, params string[] arguments) => Start("/bin/sh", script, arguments);

    public static Result Bash(string script, params string[] arguments) => Start("/bin/bash", script, arguments);

    private static Result Start(string shell, string script, string[] arguments)
    {
        var start = new ProcessStartInfo(shell)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(script);
        start.ArgumentList.Add("sh");
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["LC_ALL"] = "C";
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(Timeout))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"'{script}' did not finish within {Timeout.TotalSeconds} s.");
        }

        return new Result(process.ExitCode, output.Result, error.Result);
    }
}
