using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace VfioMigration.Remote.Tests.Harness;

/// <summary>Starting and stopping the daemons the tests need, and small process helpers.</summary>
internal static class Daemon
{
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(20);

    /// <summary>Runs a tool to completion; fails the test with its output when it fails.</summary>
    public static void Run(string file, params string[] arguments)
    {
        using var process = Process.Start(Info(file, arguments)) ?? throw new InvalidOperationException($"Cannot start {file}.");
        var stderr = process.StandardError.ReadToEndAsync();
        _ = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(StartTimeout) || process.ExitCode != 0)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{file} {string.Join(' ', arguments)} failed: {stderr.Result}");
        }
    }

    /// <summary>Starts a long-running daemon in the foreground (its output goes to the log files it is told about).</summary>
    public static Process Start(string file, IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        if (!File.Exists(file))
        {
            Assert.Fail($"{file} is not installed; run scripts/prerequisites.sh --tests (Debian packages openssh-server and libvirt-daemon).");
        }

        var info = Info(file, arguments);
        info.RedirectStandardOutput = false;
        info.RedirectStandardError = false;
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[name] = value;
        }

        return Process.Start(info) ?? throw new InvalidOperationException($"Cannot start {file}.");
    }

    /// <summary>Kills the daemon and every process it forked (sshd's per-connection children), and waits.</summary>
    public static void Stop(Process process)
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit(StartTimeout);
        }
    }

    /// <summary>Polls until <paramref name="ready"/> holds; fails the test naming <paramref name="what"/> otherwise.</summary>
    public static void WaitUntil(Func<bool> ready, string what, Process? process = null)
    {
        var deadline = Stopwatch.StartNew();
        while (!ready())
        {
            if (process is { HasExited: true })
            {
                Assert.Fail($"{what}: the process exited with {process.ExitCode}.");
            }

            if (deadline.Elapsed > StartTimeout)
            {
                Assert.Fail($"{what}: not ready within {StartTimeout.TotalSeconds} s.");
            }

            Thread.Sleep(50);
        }
    }

    public static bool Accepts(int port)
    {
        try
        {
            using var client = new TcpClient();
            client.Connect(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static ProcessStartInfo Info(string file, IReadOnlyList<string> arguments)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        return info;
    }
}
