using VfioMigration.ConsoleMigrator.Cli;
using VfioMigration.Planner.Hypervisor;

namespace VfioMigration.Adversarial.Tests;

/// <summary>
/// A libvirt call that does not return (libvirt 9.0 parsing a 1 MB run of '-' in a comment takes
/// minutes) cannot be interrupted: cancellation, or the call's deadline, stops the waiting and names
/// the call; the console reports the first as a cancellation, the second as a libvirt error.
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
        var calls = new LibvirtCallsInFlight("host h (test:///x)");
        calls.Start(1, "virDomainGetXMLDesc('vm1')");
        var waiting = LibvirtHypervisor.AbandonWhenStuckAsync(stuck, calls, Timeout.InfiniteTimeSpan, cancellation.Token);

        await cancellation.CancelAsync();
        var error = await Assert.ThrowsAsync<OperationCanceledException>(() => waiting);

        Assert.AreEqual("stopped waiting for libvirt: virDomainGetXMLDesc('vm1') on host h (test:///x) is still running inside libvirt, which cannot interrupt it", error.Message);
        Assert.IsFalse(stuck.IsCompleted);
        release.Set();
        Assert.IsTrue(await stuck);
    }

    [TestMethod]
    public async Task A_call_past_its_deadline_is_given_up_with_a_hypervisor_error_naming_it_and_the_host_while_it_runs_on()
    {
        using var release = new ManualResetEventSlim();
        var stuck = Task.Run(() => release.Wait(TimeSpan.FromSeconds(30)));
        var calls = new LibvirtCallsInFlight("host h (qemu:///system)");
        calls.Start(7, "virNodeDeviceCreateXML('0f1e2d3c-0000-4000-8000-000000000001')");

        var error = await Assert.ThrowsExactlyAsync<HypervisorException>(() => LibvirtHypervisor.AbandonWhenStuckAsync(stuck, calls, TimeSpan.FromMilliseconds(1), CancellationToken.None));

        Assert.AreEqual("stopped waiting for libvirt: virNodeDeviceCreateXML('0f1e2d3c-0000-4000-8000-000000000001') on host h (qemu:///system) got no answer within 0.001 s and is still running inside libvirt, which cannot interrupt it", error.Message);
        Assert.IsFalse(stuck.IsCompleted);
        Assert.AreEqual((ExitCodes.Libvirt, error.Message), ErrorReport.Describe(error));
        release.Set();
        Assert.IsTrue(await stuck);
    }

    [TestMethod]
    public void The_deadline_is_per_call_a_call_that_just_started_is_not_overdue_one_that_returned_is_forgotten_and_a_migration_is_never_overdue()
    {
        var calls = new LibvirtCallsInFlight("host h (test:///x)");
        Assert.AreEqual((null, TimeSpan.FromHours(1)), calls.Overdue(TimeSpan.FromHours(1)));

        calls.Start(1, "virConnectListAllDomains");
        var (overdue, remaining) = calls.Overdue(TimeSpan.FromHours(1));
        Assert.IsNull(overdue);
        Assert.IsTrue(remaining > TimeSpan.Zero && remaining <= TimeSpan.FromHours(1), remaining.ToString());
        Assert.AreEqual("virConnectListAllDomains on host h (test:///x)", calls.Describe());

        calls.End(1);
        Assert.AreEqual("a call on host h (test:///x)", calls.Describe());

        calls.Start(2, "virDomainMigrate3('vm1', 'qemu:///system')", bounded: false);
        Assert.AreEqual((null, TimeSpan.FromTicks(1)), calls.Overdue(TimeSpan.FromTicks(1)));
        Assert.AreEqual("virDomainMigrate3('vm1', 'qemu:///system') on host h (test:///x)", calls.Describe());
    }

    [TestMethod]
    public void The_default_deadline_is_two_minutes_and_a_non_positive_one_is_refused()
    {
        Assert.AreEqual(TimeSpan.FromSeconds(120), LibvirtHypervisor.DefaultCallTimeout);
        using var hypervisor = LibvirtHypervisor.Open("test:///default");
        Assert.AreEqual(LibvirtHypervisor.DefaultCallTimeout, hypervisor.CallTimeout);
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => hypervisor.CallTimeout = TimeSpan.Zero);
        hypervisor.CallTimeout = Timeout.InfiniteTimeSpan;
        Assert.AreEqual(Timeout.InfiniteTimeSpan, hypervisor.CallTimeout);
    }

    [TestMethod]
    public void The_console_reports_the_stuck_call_in_its_cancellation_line()
    {
        var (code, message) = ErrorReport.Describe(new OperationCanceledException("stopped waiting for libvirt: virNodeDeviceCreateXML on host h is still running inside libvirt, which cannot interrupt it"));

        Assert.AreEqual(ExitCodes.Interrupted, code);
        Assert.AreEqual("cancelled (stopped waiting for libvirt: virNodeDeviceCreateXML on host h is still running inside libvirt, which cannot interrupt it); the devices this command had created were removed unless an error above says otherwise.", message);
        Assert.AreEqual("cancelled; the devices this command had created were removed unless an error above says otherwise.", ErrorReport.Describe(new OperationCanceledException()).Message);
    }

    [TestMethod]
    public void The_console_does_not_claim_a_rollback_when_the_migrations_outcome_is_unknown()
    {
        var (code, message) = ErrorReport.Describe(new MigrationOutcomeUnknownException("where the guest runs is unknown; the 1 device(s) it created on b (mdev u) are left for recovery (vfio-migrator recover) once this process has ended"));

        Assert.AreEqual(ExitCodes.Interrupted, code);
        Assert.AreEqual("cancelled (where the guest runs is unknown; the 1 device(s) it created on b (mdev u) are left for recovery (vfio-migrator recover) once this process has ended).", message);
    }
}
