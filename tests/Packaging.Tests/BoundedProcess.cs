using System.Diagnostics;
using System.Text;

namespace VfioMigration.Packaging.Tests;

/// <summary>What a finished process printed and returned.</summary>
internal sealed record ProcessOutcome(int ExitCode, string Out, string Error, TimeSpan Elapsed)
{
    /// <summary>The last lines of both streams, for assertion messages (build logs are long).</summary>
    public string Tail(int lines = 40) =>
        string.Join('\n', (Out + "\n" + Error).Split('\n', StringSplitOptions.RemoveEmptyEntries).TakeLast(lines));
}

/// <summary>Runs a child process with a time limit; on time-out its whole process tree is killed.</summary>
internal static class BoundedProcess
{
    public static async Task<ProcessOutcome> RunAsync(
        string fileName,
        IEnumerable<string> arguments,
        string workingDirectory,
        IReadOnlyDictionary<string, string?> environment,
        TimeSpan timeout,
        CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        // A null value removes the variable (e.g. the MSBuild settings of the `dotnet test` that started us).
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => Append(stdout, e.Data);
        process.ErrorDataReceived += (_, e) => Append(stderr, e.Data);
        var clock = Stopwatch.StartNew();
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
            var command = $"{fileName} {string.Join(' ', start.ArgumentList)}";
            var reason = cancellationToken.IsCancellationRequested ? "was cancelled" : $"did not finish within {timeout.TotalSeconds:0} s";
            throw new TimeoutException($"'{command}' {reason} and was killed. Its last output:\n{Tail(stdout, stderr)}");
        }

        return new ProcessOutcome(process.ExitCode, Text(stdout), Text(stderr), clock.Elapsed);
    }

    private static void Append(StringBuilder buffer, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (buffer)
        {
            buffer.AppendLine(line);
        }
    }

    private static string Text(StringBuilder buffer)
    {
        lock (buffer)
        {
            return buffer.ToString();
        }
    }

    private static string Tail(StringBuilder stdout, StringBuilder stderr) =>
        new ProcessOutcome(-1, Text(stdout), Text(stderr), TimeSpan.Zero).Tail();
}
