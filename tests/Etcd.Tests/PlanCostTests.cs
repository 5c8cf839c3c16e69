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

        public void BeginPlan(Guid plan, string guest) => Time(() => inner.BeginPlan(plan, guest));

        public ClaimHolder? TryClaim(string hostKey, string device, Guid plan) => Time(() => inner.TryClaim(hostKey, device, plan));

        public ClaimHolder? HolderOf(string hostKey, string device, Guid plan) => Time(() => inner.HolderOf(hostKey, device, plan));

        public IReadOnlyDictionary<string, ClaimHolder> ClaimsOn(string hostKey, Guid plan) => Time(() => inner.ClaimsOn(hostKey, plan));

        public IReadOnlyList<ClaimHolder?> TryClaimMany(string hostKey, IReadOnlyList<string> devices, Guid plan) => Time(() => inner.TryClaimMany(hostKey, devices, plan));

        public void ReleaseMany(string hostKey, IReadOnlyList<string> devices, Guid plan) => Time(() => inner.ReleaseMany(hostKey, devices, plan));

        public IReadOnlyList<ClaimHolder?> ClaimAndIntend(IReadOnlyList<JournalEntry> intents) => Time(() => inner.ClaimAndIntend(intents));

        public void CommitMigratedPlan(Guid plan) => Time(() => inner.CommitMigratedPlan(plan));

        public void Release(string hostKey, string device, Guid plan) => Time(() => inner.Release(hostKey, device, plan));

        public void Journal(JournalEntry entry) => Time(() => inner.Journal(entry));

        public void CommitPlan(Guid plan) => Time(() => inner.CommitPlan(plan));

        public void EndPlan(Guid plan) => Time(() => inner.EndPlan(plan));

        public void ForgetPlan(Guid plan) => Time(() => inner.ForgetPlan(plan));

        public IReadOnlyList<StoredPlan> ListPlans() => Time(inner.ListPlans);

        public IReadOnlyList<StoredPlan> PlansToRecover(string hostKey, bool includeCommitted) => Time(() => inner.PlansToRecover(hostKey, includeCommitted));

        private void Time(Action call, [System.Runtime.CompilerServices.CallerMemberName] string method = "") => Time(
            () =>
            {
                call();
                return 0;
            },
            method);

        private T Time<T>(Func<T> call, [System.Runtime.CompilerServices.CallerMemberName] string method = "")
        {
            _calls.AddOrUpdate(method, 1, (_, n) => n + 1);
            var start = Stopwatch.GetTimestamp();
            try
            {
                return call();
            }
            finally
            {
                Interlocked.Add(ref _ticks, Stopwatch.GetElapsedTime(start).Ticks);
            }
        }
    }
}
