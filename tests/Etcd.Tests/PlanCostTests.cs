using System.Diagnostics;
using VfioMigration.ConsoleMigrator.Tests;
using VfioMigration.HostSimulator;
using VfioMigration.HostSimulator.Scenarios;
using VfioMigration.Planner;
using VfioMigration.Planner.State;

namespace VfioMigration.Etcd.Tests;

/// <summary>
/// What the etcd store costs one real plan (in process, simulated hosts): one mdev reused, one
/// created, then released. The round trips are exact and asserted; the time spent in the store
/// (median and p90 over <see cref="Plans"/> plans) is printed for docs/state.md, not asserted.
/// </summary>
[TestClass]
public sealed class PlanCostTests
{
    private const int WarmUp = 5;
    private const int Plans = 40;

    public TestContext TestContext { get; set; } = null!;

    /// <summary>One idle mdev to reuse and room to create one more.</summary>
    private static string Destination() => """
        {"version": 1, "name": "dest", "parents": [@PARENT], "mdevs": [{"uuid": "@IDLE", "parent": "0000:41:00.0", "type": "nvidia-63"}]}
        """
        .Replace("@PARENT", StateScenarios.Parent(4), StringComparison.Ordinal)
        .Replace("@IDLE", StateScenarios.IdleMdev, StringComparison.Ordinal);

    [TestMethod]
    public async Task APlanThatReusesOneMdevAndCreatesOne_CostsTheseRoundTrips()
    {
        using var etcd = TestEtcd.Start(1);
        using var store = etcd.Open("/cost/");
        var timed = new TimedStore(store);
        var source = SimulatedHost.FromScenario(ScenarioLoader.Parse(StateScenarios.Source(devices: 2)));
        var destination = SimulatedHost.FromScenario(ScenarioLoader.Parse(Destination()));
        var before = destination.Snapshot().State;
        var planner = new MigrationPlanner(claims: timed);
        var request = new PlanRequest(
            new MigrationHost("src", new SimulatedHypervisor(source), source.CreateFileSystem()),
            DomainSelector.Parse("vm1"),
            [new MigrationHost("dest", new SimulatedHypervisor(destination), destination.CreateFileSystem())]);

        var roundTrips = new List<long>();
        var storeTimes = new List<double>();
        for (var i = 0; i < WarmUp + Plans; i++)
        {
            var (trips, elapsed) = (store.RoundTrips, timed.Elapsed);
            await using (var result = await planner.PlanAsync(request, TestContext.CancellationToken))
            {
                Assert.IsTrue(result.Succeeded);
                Assert.HasCount(1, result.Best.Created);
            }

            if (i >= WarmUp)
            {
                roundTrips.Add(store.RoundTrips - trips);
                storeTimes.Add((timed.Elapsed - elapsed).TotalMilliseconds);
            }
        }

        storeTimes.Sort();
        Console.WriteLine($"etcd store per plan over {Plans} plans: {roundTrips[0]} round trips; time in the store median {storeTimes[Plans / 2]:0.0} ms, p90 {storeTimes[Plans * 9 / 10]:0.0} ms; calls in {WarmUp + Plans} plans: {timed.Calls}");
        Assert.AreEqual(before, destination.Snapshot().State, "every plan was released");
        CollectionAssert.AreEqual(Enumerable.Repeat(roundTrips[0], Plans).ToList(), roundTrips, "every plan costs the same round trips");
        Assert.AreEqual(ExpectedRoundTrips, roundTrips[0]);
    }

    /// <summary>
    /// One round trip per store call (docs/state.md, <see cref="TimedStore.Calls"/>): the recovery
    /// check, the host's claims read once for the search, the reused mdev claimed, the created one's
    /// claim with its intent, its outcome, its removal, the end with every claim. 10 before the search
    /// read the host's claims at once and claimed in batches (a look-up per candidate, a claim per
    /// device, a release per removed device).
    /// </summary>
    private const long ExpectedRoundTrips = 7;

    /// <summary>The store, timing every call.</summary>
    private sealed class TimedStore(IPlannerStateStore inner) : IPlannerStateStore
    {
        private readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> _calls = new(StringComparer.Ordinal);
        private long _ticks;

        /// <summary>How many times each method was called.</summary>
        public string Calls => string.Join(", ", _calls.OrderBy(c => c.Key, StringComparer.Ordinal).Select(c => $"{c.Key} {c.Value}"));

        public TimeSpan Elapsed => TimeSpan.FromTicks(Interlocked.Read(ref _ticks));

        public string Location => inner.Location;

        public void BeginPlan(Guid plan, string guest)
        {
            _calls.AddOrUpdate(nameof(BeginPlan), 1, (_, n) => n + 1);
            inner.BeginPlan(plan, guest);
        }

        public Task<ClaimHolder?> TryClaimAsync(string hostKey, string device, Guid plan, CancellationToken cancellationToken = default) => Time(() => inner.TryClaimAsync(hostKey, device, plan, cancellationToken));

        public Task<ClaimHolder?> HolderOfAsync(string hostKey, string device, Guid plan, CancellationToken cancellationToken = default) => Time(() => inner.HolderOfAsync(hostKey, device, plan, cancellationToken));

        public Task<IReadOnlyDictionary<string, ClaimHolder>> ClaimsOnAsync(string hostKey, Guid plan, CancellationToken cancellationToken = default) => Time(() => inner.ClaimsOnAsync(hostKey, plan, cancellationToken));

        public Task<IReadOnlyList<ClaimHolder?>> TryClaimManyAsync(string hostKey, IReadOnlyList<string> devices, Guid plan, CancellationToken cancellationToken = default) => Time(() => inner.TryClaimManyAsync(hostKey, devices, plan, cancellationToken));

        public Task ReleaseManyAsync(string hostKey, IReadOnlyList<string> devices, Guid plan, CancellationToken cancellationToken = default) => Time(() => inner.ReleaseManyAsync(hostKey, devices, plan, cancellationToken));

        public Task<IReadOnlyList<ClaimHolder?>> ClaimAndIntendAsync(IReadOnlyList<JournalEntry> intents, CancellationToken cancellationToken = default) => Time(() => inner.ClaimAndIntendAsync(intents, cancellationToken));

        public Task CommitMigratedPlanAsync(Guid plan, CancellationToken cancellationToken = default) => Time(() => inner.CommitMigratedPlanAsync(plan, cancellationToken));

        public Task ReleaseAsync(string hostKey, string device, Guid plan, CancellationToken cancellationToken = default) => Time(() => inner.ReleaseAsync(hostKey, device, plan, cancellationToken));

        public Task JournalAsync(JournalEntry entry, CancellationToken cancellationToken = default) => Time(() => inner.JournalAsync(entry, cancellationToken));

        public Task CommitPlanAsync(Guid plan, CancellationToken cancellationToken = default) => Time(() => inner.CommitPlanAsync(plan, cancellationToken));

        public Task EndPlanAsync(Guid plan, CancellationToken cancellationToken = default) => Time(() => inner.EndPlanAsync(plan, cancellationToken));

        public Task ForgetPlanAsync(Guid plan, CancellationToken cancellationToken = default) => Time(() => inner.ForgetPlanAsync(plan, cancellationToken));

        public Task<IReadOnlyList<StoredPlan>> ListPlansAsync(CancellationToken cancellationToken = default) => Time(() => inner.ListPlansAsync(cancellationToken));

        public Task<IReadOnlyList<StoredPlan>> PlansToRecoverAsync(string hostKey, bool includeCommitted, CancellationToken cancellationToken = default) => Time(() => inner.PlansToRecoverAsync(hostKey, includeCommitted, cancellationToken));

        private async Task Time(Func<Task> call, [System.Runtime.CompilerServices.CallerMemberName] string method = "") => await Time(
            async () =>
            {
                await call();
                return 0;
            },
            method);

        private async Task<T> Time<T>(Func<Task<T>> call, [System.Runtime.CompilerServices.CallerMemberName] string method = "")
        {
            _calls.AddOrUpdate(method, 1, (_, n) => n + 1);
            var start = Stopwatch.GetTimestamp();
            try
            {
                return await call();
            }
            finally
            {
                Interlocked.Add(ref _ticks, Stopwatch.GetElapsedTime(start).Ticks);
            }
        }
    }
}
