using VfioMigration.Planner;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.State;
using VfioMigration.Remote.Tests.Harness;

namespace VfioMigration.Remote.Tests;

/// <summary>
/// A plan over SSH whose process is gone (its SQLite store opened as a process that no longer exists,
/// the plan neither released nor committed: what SIGKILL leaves), then recovery over SSH: by
/// <see cref="MigrationPlanner.RecoverAsync"/>, or by the next plan before it reads the destination.
/// Nothing is left, and no orphan is handed out as <c>reuse</c>. See docs/state.md.
/// </summary>
[TestClass]
public sealed class RecoveryOverSshTests
{
    /// <summary>A process that is gone: this node and boot, a PID no process has.</summary>
    private static readonly ProcessOwner Gone = ProcessOwner.Current with { Pid = int.MaxValue, StartTicks = 1 };

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public async Task What_a_dead_plan_created_over_ssh_is_removed_and_never_reused(bool byTheNextPlan)
    {
        using var ssh = SshServer.Start();
        using var source = SimulatedRemoteHost.Start("demo-source");
        using var destination = SimulatedRemoteHost.Start("demo-dest-a");
        var state = Directory.CreateTempSubdirectory("vfio-state-ssh-").FullName;
        try
        {
            var before = destination.Simulated.Snapshot().State;
            using var remoteSource = source.Remote(ssh).Connect(readOnly: true);
            using var remoteDestination = destination.Remote(ssh).Connect();
            var request = new PlanRequest(remoteSource.Host, DomainSelector.Parse("render-1"), [remoteDestination.Host]);
            HashSet<string> orphans;
            using (var dead = new SqliteStateStore(state, Gone))
            {
                // Never released nor committed: the process "died" with its plan.
                var killed = await new MigrationPlanner(claims: dead).PlanAsync(request, TestContext.CancellationToken);
                Assert.IsTrue(killed.Succeeded);
                orphans = [.. killed.Best.Created.Select(c => c.Uuid.Value)];
            }

            Assert.HasCount(3, orphans);
            Assert.AreEqual(3, PlanOverSshTests.Leftovers(destination));

            using var store = new SqliteStateStore(state);
            var planner = new MigrationPlanner(claims: store);
            if (byTheNextPlan)
            {
                await using var next = await planner.PlanAsync(request, TestContext.CancellationToken);
                Assert.IsTrue(next.Succeeded);
                var targets = next.Best.Devices.Select(d => d.Target.Target).OfType<MdevTarget>().Select(t => t.Uuid.Value).ToList();
                Assert.IsFalse(targets.Any(orphans.Contains), "an orphan was handed out again");
            }
            else
            {
                var report = await planner.RecoverAsync(remoteDestination.Host, cancellationToken: TestContext.CancellationToken);
                CollectionAssert.AreEquivalent(orphans.ToList(), report.Devices.Select(d => d.Uuid.Value).ToList());
                Assert.IsTrue(report.Devices.All(d => d.Action == RecoveryAction.Removed));
            }

            Assert.AreEqual(0, PlanOverSshTests.Leftovers(destination));
            Assert.AreEqual(before, destination.Simulated.Snapshot().State);
            Assert.IsEmpty(await store.ListPlansAsync());
        }
        finally
        {
            Directory.Delete(state, recursive: true);
        }
    }
}
