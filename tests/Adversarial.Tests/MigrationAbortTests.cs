using VfioMigration.ConsoleMigrator.Cli;
using VfioMigration.Planner.Hypervisor;

namespace VfioMigration.Adversarial.Tests;

/// <summary>
/// A cancellation during the migration call aborts the migration and waits for libvirt's answer
/// before anything is rolled back (<c>LibvirtHypervisor.MigrateOrAbortAsync</c>); the migration call
/// and the abort are stand-ins here, TwoHost.Tests aborts a real migration.
/// </summary>
[TestClass]
public sealed class MigrationAbortTests
{
    private const string What = "the migration of 'vm1' from host a (qemu:///a)";

    private readonly TaskCompletionSource<bool> _migration = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly LibvirtCallsInFlight _calls = new("host a (qemu:///a)");
    private int _aborts;

    public MigrationAbortTests() => _calls.Start(1, "virDomainMigrate3('vm1', 'qemu:///b')", bounded: false);

    [TestMethod]
    public async Task A_migration_cancelled_is_aborted_and_its_failure_ends_as_a_cancellation_saying_the_guest_stays()
    {
        var error = await CancelledAsync(() => _migration.SetException(new HypervisorException("operation aborted: migration out job: canceled by client")));

        Assert.AreEqual(1, _aborts);
        Assert.AreEqual($"{What} was aborted and the guest stays on the source (operation aborted: migration out job: canceled by client)", error.Message);
        Assert.IsInstanceOfType<HypervisorException>(error.InnerException);
        Assert.AreEqual(ExitCodes.Interrupted, ErrorReport.Describe(error).Code);
    }

    [TestMethod]
    public async Task An_abort_refused_while_libvirt_has_no_job_yet_is_asked_again_until_it_takes()
    {
        var error = await CancelledAsync(() =>
        {
            if (_aborts < 3)
            {
                throw new HypervisorException("Requested operation is not valid: no job is active on the domain");
            }

            _migration.SetException(new HypervisorException("operation aborted"));
        });

        Assert.AreEqual(3, _aborts);
        Assert.AreEqual($"{What} was aborted and the guest stays on the source (operation aborted)", error.Message);
    }

    [TestMethod]
    public async Task A_migration_that_ends_before_the_abort_takes_effect_returns_normally_the_guest_runs_on_the_destination()
    {
        using var cancellation = new CancellationTokenSource();
        var waiting = Migrate(() => _migration.SetResult(true), TimeSpan.FromMinutes(1), cancellation.Token);

        await cancellation.CancelAsync();
        await waiting;

        Assert.AreEqual(1, _aborts);
    }

    [TestMethod]
    public async Task A_migration_that_fails_on_its_own_while_no_abort_takes_says_it_failed_and_the_guest_stays()
    {
        var error = await CancelledAsync(() =>
        {
            _migration.TrySetException(new HypervisorException("load of migration failed"));
            throw new HypervisorException("no job is active on the domain");
        });

        Assert.AreEqual(1, _aborts);
        Assert.AreEqual($"{What} failed after the cancellation and the guest stays on the source (load of migration failed)", error.Message);
    }

    [TestMethod]
    public async Task A_migration_still_running_at_the_limit_after_the_abort_is_given_up_with_its_outcome_unknown()
    {
        using var cancellation = new CancellationTokenSource();
        var waiting = Migrate(() => { }, TimeSpan.FromMilliseconds(200), cancellation.Token);

        await cancellation.CancelAsync();
        var error = await Assert.ThrowsExactlyAsync<MigrationOutcomeUnknownException>(() => waiting);

        Assert.AreEqual(1, _aborts);
        Assert.AreEqual(
            $"interrupted during {What}, and the migration did not end in time after the abort: the migration may still finish, so where the guest runs is unknown; " +
            "stopped waiting for libvirt: virDomainMigrate3('vm1', 'qemu:///b') on host a (qemu:///a) is still running inside libvirt, which cannot interrupt it",
            error.Message);
        Assert.IsFalse(_migration.Task.IsCompleted);
    }

    [TestMethod]
    public async Task An_abort_refused_until_the_limit_is_named_in_the_unknown_outcome()
    {
        using var cancellation = new CancellationTokenSource();
        var waiting = Migrate(() => throw new HypervisorException("no job is active on the domain"), TimeSpan.FromMilliseconds(300), cancellation.Token);

        await cancellation.CancelAsync();
        var error = await Assert.ThrowsExactlyAsync<MigrationOutcomeUnknownException>(() => waiting);

        StringAssert.StartsWith(error.Message, $"interrupted during {What}, and the abort failed (no job is active on the domain): the migration may still finish");
    }

    [TestMethod]
    public async Task Without_a_cancellation_a_failed_migration_is_its_own_error_and_nothing_is_aborted()
    {
        var failure = new HypervisorException("unable to connect to the destination");
        var waiting = Migrate(() => { }, TimeSpan.FromMinutes(1), CancellationToken.None);

        _migration.SetException(failure);

        Assert.AreSame(failure, await Assert.ThrowsExactlyAsync<HypervisorException>(() => waiting));
        Assert.AreEqual(0, _aborts);
    }

    /// <summary>Starts the wait with the abort <paramref name="onAbort"/> stands for, cancels it during the migration, and returns the cancellation it ends with.</summary>
    private async Task<OperationCanceledException> CancelledAsync(Action onAbort)
    {
        using var cancellation = new CancellationTokenSource();
        var waiting = Migrate(onAbort, TimeSpan.FromMinutes(1), cancellation.Token);
        await cancellation.CancelAsync();
        return await Assert.ThrowsExactlyAsync<OperationCanceledException>(() => waiting);
    }

    private Task Migrate(Action onAbort, TimeSpan limit, CancellationToken cancellationToken) =>
        LibvirtHypervisor.MigrateOrAbortAsync(
            _migration.Task,
            () => Task.Run(() =>
            {
                Interlocked.Increment(ref _aborts);
                onAbort();
            }),
            _calls,
            limit,
            What,
            cancellationToken);
}
