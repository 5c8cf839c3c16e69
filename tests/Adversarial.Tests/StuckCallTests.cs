using VfioMigration.ConsoleMigrator.Cli;
using VfioMigration.Planner.Hypervisor;

namespace VfioMigration.Adversarial.Tests;

/// <summary>
/// A libvirt call that does not return (libvirt 9.0 parsing a 1 MB run of '-' in a comment takes
/// minutes) cannot be interrupted: cancellation stops the waiting and names the call, and the
/// console reports it as a cancellation.
/// </summary>
[TestClass]
public sealed class StuckCallTests
{
    [TestMethod]
    public async Task A_cancelled_wait_for_a_stuck_call_ends_at_once_and_names_the_call_which_runs_on()
    {
        using var release = new ManualResetEventSlim();
        var stuck = Task.Run(() => release.Wait(TimeSpan.FromSeconds(30)));
        using var cancellation = new CancellationTokenSource();
        var waiting = LibvirtHypervisor.AbandonOnCancellationAsync(stuck, () => "virDomainGetXMLDesc('vm1') on host h (test:///x)", cancellation.Token);

        await cancellation.CancelAsync();
        var error = await Assert.ThrowsAsync<OperationCanceledException>(() => waiting);

        Assert.AreEqual("stopped waiting for libvirt: virDomainGetXMLDesc('vm1') on host h (test:///x) is still running inside libvirt, which cannot interrupt it", error.Message);
        Assert.IsFalse(stuck.IsCompleted);
        release.Set();
        Assert.IsTrue(await stuck);
    }

    [TestMethod]
    public void The_console_reports_the_stuck_call_in_its_cancellation_line()
    {
        var (code, message) = ErrorReport.Describe(new OperationCanceledException("stopped waiting for libvirt: virNodeDeviceCreateXML on host h is still running inside libvirt, which cannot interrupt it"));

        Assert.AreEqual(ExitCodes.Interrupted, code);
        Assert.AreEqual("cancelled (stopped waiting for libvirt: virNodeDeviceCreateXML on host h is still running inside libvirt, which cannot interrupt it); the devices this command had created were removed unless an error above says otherwise.", message);
        Assert.AreEqual("cancelled; the devices this command had created were removed unless an error above says otherwise.", ErrorReport.Describe(new OperationCanceledException()).Message);
    }
}
