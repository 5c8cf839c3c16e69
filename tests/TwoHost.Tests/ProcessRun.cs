using System.Diagnostics;

namespace VfioMigration.TwoHost.Tests;

/// <summary>A finished process: exit code and what it printed.</summary>
internal sealed record ProcessRun(int ExitCode, string Out, string Error)
{
    /// <summary>Runs <paramref name="start"/> to its end, killing it (and failing the test) after <paramref name="limit"/>.</summary>
    public static async Task<ProcessRun> RunAsync(ProcessStartInfo start, TimeSpan limit)
    {
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {start.FileName}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(limit);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{start.FileName} {string.Join(' ', start.ArgumentList)} did not finish within {limit.TotalSeconds} s");
        }

        return new ProcessRun(process.ExitCode, await stdout, await stderr);
    }
}
