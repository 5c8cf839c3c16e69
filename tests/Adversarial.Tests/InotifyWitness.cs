using System.Collections.Concurrent;
using System.Diagnostics;

namespace VfioMigration.Adversarial.Tests;

/// <summary>
/// Watches a directory tree with <c>inotifywait</c> (inotify-tools) for every open, read, write and
/// attribute change, so a test can show that nothing touched it. Started before the operations
/// under test; <see cref="StopAsync"/> returns every event seen.
/// </summary>
internal sealed class InotifyWitness : IAsyncDisposable
{
    private const string Sentinel = ".witness-sentinel";

    private readonly Process _process;
    private readonly string _directory;
    private readonly ConcurrentQueue<string> _events = new();
    private readonly SemaphoreSlim _sentinelSeen = new(0);
    private readonly Task _reader;

    private InotifyWitness(Process process, string directory)
    {
        _process = process;
        _directory = directory;
        _reader = Task.Run(ReadEventsAsync);
    }

    /// <summary>Starts watching <paramref name="directory"/> and waits (at most 10 s) until the watches are in place.</summary>
    public static async Task<InotifyWitness> StartAsync(string directory)
    {
        var info = new ProcessStartInfo("inotifywait") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { "-m", "-r", "--format", "%e %w%f", "-e", "open,access,modify,attrib,close_write,create,delete,moved_to", directory })
        {
            info.ArgumentList.Add(argument);
        }

        var process = Process.Start(info)!;
        using var ready = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (true)
        {
            var line = await process.StandardError.ReadLineAsync(ready.Token);
            if (line is null)
            {
                throw new InvalidOperationException("inotifywait exited before its watches were established.");
            }

            if (line.Contains("Watches established", StringComparison.Ordinal))
            {
                return new InotifyWitness(process, directory);
            }
        }
    }

    /// <summary>
    /// Stops watching and returns the events seen (<c>OPEN /path</c>), none when untouched. A sentinel
    /// file is created last and awaited (at most 10 s), so every earlier event has been read.
    /// </summary>
    public async Task<IReadOnlyList<string>> StopAsync()
    {
        await File.WriteAllTextAsync(Path.Combine(_directory, Sentinel), "x");
        Assert.IsTrue(await _sentinelSeen.WaitAsync(TimeSpan.FromSeconds(10)), "inotifywait did not report the sentinel within 10 s");
        _process.Kill();
        await _reader.WaitAsync(TimeSpan.FromSeconds(10));
        File.Delete(Path.Combine(_directory, Sentinel));
        return [.. _events];
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
        }

        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        _process.Dispose();
        _sentinelSeen.Dispose();
    }

    private async Task ReadEventsAsync()
    {
        while (await _process.StandardOutput.ReadLineAsync() is { } line)
        {
            if (line.EndsWith(Sentinel, StringComparison.Ordinal))
            {
                _sentinelSeen.Release();
            }
            else
            {
                _events.Enqueue(line);
            }
        }
    }
}
