using System.Diagnostics;
using System.Globalization;
using VfioMigration.HostSimulator;
using VfioMigration.HostSimulator.Fuse;
using VfioMigration.HostSimulator.Scenarios;

namespace VfioMigration.Adversarial.Tests;

/// <summary>
/// The console as a real process, signalled while its plan holds mdevs it created. The destination is a
/// simulated host mounted through FUSE by this test (so its devices outlive the console) with simulated
/// sysfs latency; the libvirt side is the test driver. Each test waits (bounded) for the first create,
/// sends the signal, and checks the exit code, the message and that no created device is left. The
/// time from the signal to the exit is printed (a figure, not an assertion).
/// </summary>
[TestClass]
public sealed class SignalTests
{
    private const string Guest = "render-1";

    private string _work = null!;
    private FuseMount? _mount;

    public TestContext TestContext { get; set; } = null!;

    [TestInitialize]
    public void CreateWork()
    {
        if (!File.Exists("/dev/fuse"))
        {
            Assert.Inconclusive("/dev/fuse is absent, so the destination cannot be mounted.");
        }

        _work = Directory.CreateTempSubdirectory("signals-").FullName;
    }

    [TestCleanup]
    public void DeleteWork()
    {
        _mount?.Dispose();
        Directory.Delete(_work, recursive: true);
    }

    [TestMethod]
    [DataRow("TERM", 143)]
    [DataRow("INT", 130)]
    [DataRow("HUP", 129)]
    public async Task A_signal_while_devices_are_held_removes_them_all_and_exits_with_128_plus_the_signal(string signal, int exitCode)
    {
        var (mdevs, before) = MountDestination();
        using var console = StartPlan();
        await WaitForMoreThanAsync(mdevs, before, console);

        var signalled = Stopwatch.StartNew();
        Kill(console, signal);
        var stderr = await WaitForExitAsync(console);
        TestContext.WriteLine($"SIG{signal}: exit {console.ExitCode} {signalled.ElapsedMilliseconds} ms after the signal");

        Assert.AreEqual(exitCode, console.ExitCode, stderr);
        StringAssert.Contains(stderr, $"SIG{signal}: stopping and rolling back what this command created");
        Assert.AreEqual(before, Directory.GetFileSystemEntries(mdevs).Length, $"devices left behind; stderr: {stderr}");
    }

    [TestMethod]
    public async Task A_second_signal_exits_at_once_and_says_what_may_be_left_behind()
    {
        var (mdevs, before) = MountDestination(removeMs: 2000);
        using var console = StartPlan();
        await WaitForMoreThanAsync(mdevs, before, console);

        Kill(console, "TERM");
        await Task.Delay(200);
        Kill(console, "TERM");
        var stderr = await WaitForExitAsync(console);

        Assert.AreEqual(143, console.ExitCode, stderr);
        StringAssert.Contains(stderr, "SIGTERM again: exiting at once. Devices this command created and had not yet removed");
    }

    private (string Mdevs, int Before) MountDestination(int removeMs = 0)
    {
        var scenario = ScenarioLoader.LoadFile(Path.Combine(AppContext.BaseDirectory, "scenarios", "demo-dest-a.json")) with
        {
            Latency = new LatencySpec { ReadMs = 40, CreateMs = 100, RemoveMs = removeMs },
        };
        var host = SimulatedHost.FromScenario(scenario);
        host.WriteLibvirtXml(Path.Combine(_work, "dest.xml"));
        var mountPoint = Directory.CreateDirectory(Path.Combine(_work, "sysfs")).FullName;
        _mount = FuseMount.Mount(host.FileTree, mountPoint);
        var mdevs = Path.Combine(mountPoint, "bus", "mdev", "devices");
        return (mdevs, Directory.GetFileSystemEntries(mdevs).Length);
    }

    private Process StartPlan()
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[]
        {
            Path.Combine(AppContext.BaseDirectory, "vfio-migrator.dll"), "plan",
            "--source-scenario", Path.Combine(AppContext.BaseDirectory, "scenarios", "demo-source.json"),
            "--dest", $"test://{Path.Combine(_work, "dest.xml")}", "--dest-sysfs", Path.Combine(_work, "sysfs"), "--domain", Guest,
        })
        {
            info.ArgumentList.Add(argument);
        }

        return Process.Start(info)!;
    }

    /// <summary>Waits (at most 60 s) until the plan has created a device.</summary>
    private static async Task WaitForMoreThanAsync(string mdevs, int before, Process console)
    {
        var waited = Stopwatch.StartNew();
        while (Directory.GetFileSystemEntries(mdevs).Length <= before)
        {
            if (console.HasExited || waited.Elapsed > TimeSpan.FromSeconds(60))
            {
                console.Kill();
                Assert.Fail($"the plan created no device (exited: {console.HasExited}): {await console.StandardError.ReadToEndAsync()}");
            }

            await Task.Delay(10);
        }
    }

    private static void Kill(Process console, string signal)
    {
        using var kill = Process.Start("kill", ["-" + signal, console.Id.ToString(CultureInfo.InvariantCulture)]);
        Assert.IsTrue(kill.WaitForExit(10_000));
    }

    /// <summary>Waits (at most 60 s) for the console to exit; its standard error.</summary>
    private static async Task<string> WaitForExitAsync(Process console)
    {
        var stderr = console.StandardError.ReadToEndAsync();
        _ = console.StandardOutput.ReadToEndAsync();
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await console.WaitForExitAsync(bound.Token);
        }
        catch (OperationCanceledException)
        {
            console.Kill();
            Assert.Fail("the console did not exit within 60 s of the signal");
        }

        return await stderr;
    }
}
