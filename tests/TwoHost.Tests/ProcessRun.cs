using System.Diagnostics;

namespace VfioMigration.TwoHost.Tests;

/// <summary>A finished process: exit code and what it printed.</summary>
internal sealed record ProcessRun(int ExitCode, string Out, string Error)
{
    /// <summary>
    /// Runs <paramref name="start"/> to its end, killing it (and failing the test) after
    /// <paramref name="limit"/> or when <paramref name="cancellationToken"/> (the test's time-out) fires.
    /// </summary>
    public static async Task<ProcessRun> RunAsync(ProcessStartInfo start, TimeSpan limit, CancellationToken cancellationToken = default)
    {
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {start.FileName}");
        var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        await WaitOrKillAsync(process, $"{start.FileName} {string.Join(' ', start.ArgumentList)}", limit, cancellationToken);
        return new ProcessRun(process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Waits for <paramref name="process"/> to end; past <paramref name="limit"/> or on cancellation, kills it with its children and fails the test.</summary>
    public static async Task WaitOrKillAsync(Process process, string what, TimeSpan limit, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(limit);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail(cancellationToken.IsCancellationRequested
                ? $"{what} was still running when the test's time-out fired; killed"
                : $"{what} did not finish within {limit.TotalSeconds} s; killed");
        }
    }
}
