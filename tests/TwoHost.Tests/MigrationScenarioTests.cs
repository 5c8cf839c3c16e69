using System.Diagnostics;
using System.Text.Json;
using VfioMigration.Libvirt;

namespace VfioMigration.TwoHost.Tests;

/// <summary>
/// Issue 12's scenarios: the console tool, run from this machine as an operator would, plans and
/// live-migrates a nested guest that owns mtty mdevs between two real L1 hosts (Debian's 6.12
/// kernel, QEMU 10, libvirt 11), and each test checks the outcome on both hosts: the guest's
/// state, the hostdev UUIDs in its live XML, and the mdevs present before and after.
/// Each starts from empty hosts and empties them again.
/// </summary>
[TestClass]
[DoNotParallelize]
public sealed partial class MigrationScenarioTests : IDisposable
{
    private const string Guest = "l2";

    /// <summary>A scenario takes up to about 3 minutes under TCG on a loaded machine (tests/testconfig.json allows 2 for a test).</summary>
    private const int ScenarioTimeout = 600_000;
    private TwoHostEnvironment _environment = null!;
    private L1Host _a = null!;
    private L1Host _b = null!;

    public TestContext TestContext { get; set; } = null!;

    [TestInitialize]
    public async Task StartFromEmptyHosts()
    {
        _environment = TwoHostEnvironment.Require();
        _a = new L1Host(_environment.A, _environment);
        _b = new L1Host(_environment.B, _environment);
        await _a.ResetAsync();
        await _b.ResetAsync();
    }

    [TestCleanup]
    public async Task EmptyTheHosts()
    {
        if (_a is null || _b is null)
        {
            return;
        }

        await _a.ResetAsync();
        await _b.ResetAsync();
    }

    public void Dispose()
    {
        try
        {
            _a?.Dispose();
        }
        finally
        {
            _b?.Dispose();
        }
    }

    [TestMethod]
    [Timeout(ScenarioTimeout, CooperativeCancellation = true)]
    public async Task Two_mdevs_of_different_types_move_to_the_planned_targets_and_the_source_keeps_its_own()
    {
        var sources = new[] { await _a.CreateMdevAsync("mtty-1"), await _a.CreateMdevAsync("mtty-2") };
        _a.StartGuest(Guest, sources);
        var sourceMdevs = await _a.MdevsAsync();
        Assert.AreEqual(0, (await _b.MdevsAsync()).Count);

        var run = await Migrator.RunAsync(Migrator.Migrate(_environment, _environment.A, _environment.B, Guest), TestContext.CancellationToken);
        Log(run);

        Assert.AreEqual(0, run.ExitCode, run.Error);
        var plan = Migrator.Plan(run);
        var targets = Migrator.TargetUuids(plan);
        CollectionAssert.AreEqual(new[] { "create", "create" }, Actions(plan));
        Assert.AreEqual(DomainState.Running, _b.GuestState(Guest));
        CollectionAssert.AreEqual(targets.ToList(), _b.LiveHostdevUuids(Guest).ToList(), "the guest runs on B on exactly the planned UUIDs");
        CollectionAssert.AreEquivalent(
            new Dictionary<string, string> { [targets[0]] = "mtty-1", [targets[1]] = "mtty-2" },
            (await _b.MdevsAsync()).ToDictionary(),
            "B has the two targets of the right types and nothing else");
        StringAssert.Contains(_b.LiveXml(Guest), "x-device-dirty-page-tracking", "the qemu:override went through the XML rewrite");

        // Scenario 5: the source keeps its definition (shut off; --undefine-source would remove it)
        // and its devices: migrate never removes the source's mdevs, they are the operator's.
        Assert.AreEqual(DomainState.Shutoff, _a.GuestState(Guest));
        CollectionAssert.AreEquivalent(sourceMdevs.ToDictionary(), (await _a.MdevsAsync()).ToDictionary());
    }

    [TestMethod]
    [Timeout(ScenarioTimeout, CooperativeCancellation = true)]
    public async Task An_idle_mdev_on_the_destination_is_reused_and_preserve_moves_the_guest_back_on_its_uuid()
    {
        var source = await _a.CreateMdevAsync("mtty-1");
        var idle = await _b.CreateMdevAsync("mtty-1");
        _a.StartGuest(Guest, [source]);

        var there = await Migrator.RunAsync(Migrator.Migrate(_environment, _environment.A, _environment.B, Guest), TestContext.CancellationToken);
        Log(there);

        Assert.AreEqual(0, there.ExitCode, there.Error);
        var plan = Migrator.Plan(there);
        CollectionAssert.AreEqual(new[] { "reuse" }, Actions(plan));
        CollectionAssert.AreEqual(new[] { idle }, Migrator.TargetUuids(plan).ToList());
        Assert.AreEqual(DomainState.Running, _b.GuestState(Guest));
        CollectionAssert.AreEqual(new[] { idle }, _b.LiveHostdevUuids(Guest).ToList());
        CollectionAssert.AreEqual(new[] { idle }, (await _b.MdevsAsync()).Keys.ToList(), "nothing was created on B");

        // Back to A with --uuid preserve, once the operator has removed A's leftover device (an
        // idle mdev of the right type would be reused instead, whatever its UUID): A creates the
        // guest's UUID (B's).
        await _a.RemoveMdevAsync(source);
        var back = await Migrator.RunAsync(Migrator.Migrate(_environment, _environment.B, _environment.A, Guest, "--uuid", "preserve"), TestContext.CancellationToken);
        Log(back);

        Assert.AreEqual(0, back.ExitCode, back.Error);
        var backPlan = Migrator.Plan(back);
        CollectionAssert.AreEqual(new[] { "preserve-uuid" }, Actions(backPlan));
        CollectionAssert.AreEqual(new[] { idle }, Migrator.TargetUuids(backPlan).ToList());
        Assert.AreEqual(DomainState.Running, _a.GuestState(Guest));
        CollectionAssert.AreEqual(new[] { idle }, _a.LiveHostdevUuids(Guest).ToList());
        CollectionAssert.AreEqual(new[] { idle }, (await _a.MdevsAsync()).Keys.ToList());
        Assert.AreEqual(DomainState.Shutoff, _b.GuestState(Guest));
    }

    [TestMethod]
    [Timeout(ScenarioTimeout, CooperativeCancellation = true)]
    public async Task The_planner_refuses_mtty_1_to_mtty_2_and_libvirt_forced_to_do_it_fails_in_the_stream()
    {
        var source = await _a.CreateMdevAsync("mtty-1");
        _a.StartGuest(Guest, [source]);
        // B offers only an idle mtty-2: mtty-1 and mtty-2 share mtty's ports, and the rest of them
        // go to mtty-1 mdevs that a defined guest holds.
        var offered = await _b.CreateMdevAsync("mtty-2");
        var held = new List<string>();
        for (var free = await _b.AvailableInstancesAsync("mtty-1"); free > 0; free--)
        {
            held.Add(await _b.CreateMdevAsync("mtty-1"));
        }

        _b.DefineGuest("holder", held);
        var bBefore = await _b.MdevsAsync();

        var run = await Migrator.RunAsync(Migrator.Migrate(_environment, _environment.A, _environment.B, Guest, "--allow-cross-type"), TestContext.CancellationToken);
        Log(run);

        Assert.AreEqual(3, run.ExitCode, "no valid plan");
        var plan = Migrator.Plan(run);
        Assert.IsFalse(plan.GetProperty("ok").GetBoolean());
        Assert.IsTrue(plan.GetProperty("rejections").GetArrayLength() > 0);
        CollectionAssert.AreEquivalent(bBefore.ToDictionary(), (await _b.MdevsAsync()).ToDictionary(), "the refused plan left B as it was");
        Assert.AreEqual(DomainState.Running, _a.GuestState(Guest));

        // The same mapping forced through libvirt: the destination QEMU starts, then mtty's load
        // side refuses the mtty-1 state inside the stream.
        var forced = _a.LiveXml(Guest, DomainXmlOptions.Migratable).Replace(source, offered, StringComparison.Ordinal);
        var failure = Assert.ThrowsExactly<LibvirtException>(() => _a.ForceMigrate(Guest, _b, forced, MigrationOptions.Live));
        TestContext.WriteLine($"forced migration: {failure.Message}");
        StringAssert.Contains(failure.Message, "load of migration failed");
        Assert.AreEqual(DomainState.Running, _a.GuestState(Guest), "the guest keeps running on A");
        CollectionAssert.AreEqual(new[] { source }, _a.LiveHostdevUuids(Guest).ToList());
        Assert.AreEqual(DomainState.Shutoff, _b.GuestState("holder"));
        Assert.IsNull(_b.GuestState(Guest));
    }

    [TestMethod]
    [Timeout(ScenarioTimeout, CooperativeCancellation = true)]
    public async Task Killing_the_destination_qemu_mid_migration_fails_it_removes_what_was_created_and_the_guest_stays()
    {
        using var migration = await MigrateUntilTheDestinationQemuAsync("sleep 2; kill -9 \"$(cat /run/libvirt/qemu/l2.pid)\" && echo killed");
        var run = await migration.EndAsync(TestContext.CancellationToken);
        Log(run);

        Assert.AreEqual("killed", migration.OnB.Trim());
        Assert.AreNotEqual(0, run.ExitCode);
        StringAssert.Contains(run.Error, "removed");
        await AssertTheGuestStayedOnAAsync(migration.Source);
    }

    /// <summary>
    /// Ctrl-C while the migration runs: the tool aborts the migration (virDomainAbortJob) and waits
    /// for libvirt to say so before it removes what it created, so the guest stays on A with its
    /// device and B ends empty (a rollback that did not wait could pull the device from under a
    /// guest whose migration went on).
    /// </summary>
    [TestMethod]
    [Timeout(ScenarioTimeout, CooperativeCancellation = true)]
    public async Task Interrupting_migrate_mid_migration_aborts_it_removes_what_was_created_and_the_guest_stays()
    {
        using var migration = await MigrateUntilTheDestinationQemuAsync("echo started");
        using (var interrupt = Process.Start("kill", ["-INT", migration.Tool.Process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await interrupt.WaitForExitAsync(TestContext.CancellationToken);
        }

        var run = await migration.EndAsync(TestContext.CancellationToken);
        Log(run);

        Assert.AreEqual("started", migration.OnB.Trim());
        Assert.AreEqual(130, run.ExitCode, run.Error);
        StringAssert.Contains(run.Error, "was aborted and the guest stays on the source");
        await AssertTheGuestStayedOnAAsync(migration.Source);
    }

    [TestMethod]
    [Timeout(ScenarioTimeout, CooperativeCancellation = true)]
    public async Task Without_the_dirty_tracking_override_the_preflight_refuses_before_anything_is_created()
    {
        var source = await _a.CreateMdevAsync("mtty-1");
        _a.StartGuest(Guest, [source], dirtyTrackingOverride: false);

        var run = await Migrator.RunAsync(Migrator.Migrate(_environment, _environment.A, _environment.B, Guest), TestContext.CancellationToken);
        Log(run);

        Assert.AreEqual(3, run.ExitCode, "no valid plan");
        var plan = Migrator.Plan(run);
        Assert.IsFalse(plan.GetProperty("ok").GetBoolean());
        var dirtyTracking = plan.GetProperty("preflight").EnumerateArray()
            .Where(check => check.GetProperty("check").GetString() == "DIRTY_TRACKING" && check.GetProperty("outcome").GetString() == "failed")
            .ToList();
        Assert.IsTrue(dirtyTracking.Count > 0, "a failed DIRTY_TRACKING check");
        StringAssert.Contains(dirtyTracking[0].GetProperty("message").GetString(), "IOMMUFD");
        Assert.AreEqual(0, plan.GetProperty("created").GetArrayLength(), "nothing was created");
        Assert.AreEqual(0, (await _b.MdevsAsync()).Count, "B has no mdev");
        Assert.IsNull(_b.GuestState(Guest), "nothing was migrated");
        Assert.AreEqual(DomainState.Running, _a.GuestState(Guest));
        CollectionAssert.AreEqual(new[] { source }, _a.LiveHostdevUuids(Guest).ToList());
    }

    /// <summary>
    /// Starts the guest on A with a new mtty-1 mdev and <c>migrate</c> A → B in its own process, waits
    /// on B until the destination QEMU exists (from libvirt's prepare phase on), then runs
    /// <paramref name="onB"/> there at once.
    /// </summary>
    private async Task<MidMigration> MigrateUntilTheDestinationQemuAsync(string onB)
    {
        var source = await _a.CreateMdevAsync("mtty-1");
        _a.StartGuest(Guest, [source]);
        var tool = Migrator.Start(Migrator.Migrate(_environment, _environment.A, _environment.B, Guest));
        try
        {
            var output = tool.Process.StandardOutput.ReadToEndAsync(TestContext.CancellationToken);
            var errors = tool.Process.StandardError.ReadToEndAsync(TestContext.CancellationToken);
            var said = await _b.ShellAsync(
                $"for i in $(seq 1 100); do if [ -s /run/libvirt/qemu/l2.pid ]; then {onB}; exit 0; fi; sleep 0.5; done; echo 'no destination qemu within 50 s'");
            return new MidMigration(source, tool, output, errors, said);
        }
        catch
        {
            tool.Dispose();
            throw;
        }
    }

    /// <summary>The guest runs on A on its own mdev <paramref name="source"/>; B has no mdev and does not run it.</summary>
    private async Task AssertTheGuestStayedOnAAsync(string source)
    {
        Assert.AreEqual(DomainState.Running, _a.GuestState(Guest), "the guest keeps running on A");
        CollectionAssert.AreEqual(new[] { source }, _a.LiveHostdevUuids(Guest).ToList());
        Assert.AreEqual(0, (await _b.MdevsAsync()).Count, "every device migrate created on B is gone");
        Assert.AreNotEqual(DomainState.Running, _b.GuestState(Guest));
    }

    /// <summary>A <c>migrate</c> caught in flight: the guest's device on A, the tool, and what the command on B printed.</summary>
    private sealed record MidMigration(string Source, Migrator.Running Tool, Task<string> Output, Task<string> Errors, string OnB) : IDisposable
    {
        /// <summary>Waits for the tool to end (bounded) and returns what it did.</summary>
        public async Task<ProcessRun> EndAsync(CancellationToken cancellationToken)
        {
            await Migrator.WaitAsync(Tool, cancellationToken);
            return new ProcessRun(Tool.Process.ExitCode, await Output, await Errors);
        }

        public void Dispose() => Tool.Dispose();
    }

    private static List<string> Actions(JsonElement plan) =>
        plan.GetProperty("devices").EnumerateArray().Select(device => device.GetProperty("action").GetString()!).ToList();

    private void Log(ProcessRun run)
    {
        TestContext.WriteLine($"vfio-migrator exit {run.ExitCode}");
        TestContext.WriteLine(run.Out);
        TestContext.WriteLine(run.Error);
    }
}
