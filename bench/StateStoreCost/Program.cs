// The state store's cost per plan: the calls one plan makes that reuses one device and creates one
// (or three) mdevs: recovery check, 6 claim look-ups, the claims, the intents, the outcomes; then the
// plan ends released, committed after a migration, or committed as kept. In memory next to SQLite in
// a temporary directory on the disk under test; for SQLite the calls as the planner makes them
// (claims and intents of a batch in one durable write, a migration's commit not waiting for the disk)
// next to one call per step as it made them before (each intent and every commit durable on its
// own), plan by plan in turn so both meet the same disk. Then the evacuation of 64 guests onto 8
// hosts of `vfio-migrator bench` (simulated latency), in memory and with SQLite in turn, and how many
// transactions the concurrent plans' writes shared (group commit).
// Figures only (docs/state.md keeps them).
//
//   dotnet run -c Release --project bench/StateStoreCost [-- STATE_PARENT_DIR]   (default: the temp directory)

using System.Diagnostics;
using VfioMigration.Bench;
using VfioMigration.Planner;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.State;

var directory = Path.Combine(args.Length > 0 ? args[0] : Path.GetTempPath(), $"vfio-state-cost-{Guid.NewGuid():N}");
try
{
    Console.WriteLine($"state directory {directory}; {Run.Plans} plans after {Run.Warmup} warm-up ones; times per plan");
    using var sqlite = new SqliteStateStore(directory);
    foreach (var creates in (int[])[1, 3])
    {
        foreach (var ending in Enum.GetValues<Ending>())
        {
            var memory = new List<double>();
            var perCall = new List<double>();
            var batched = new List<double>();
            var memoryStore = new TargetClaimRegistry();
            var (synced, transactions) = (0, 0);
            for (var i = 0; i < Run.Warmup + Run.Plans; i++)
            {
                var warm = i >= Run.Warmup;
                await MeasureAsync(memoryStore, creates, ending, batch: true, warm ? memory : null);
                await MeasureAsync(sqlite, creates, ending, batch: false, warm ? perCall : null);
                var (syncedBefore, transactionsBefore) = (sqlite.DurableTransactions, sqlite.WriteTransactions);
                await MeasureAsync(sqlite, creates, ending, batch: true, warm ? batched : null);
                // The forgetting after the plan (one NORMAL transaction, untimed) is not the plan's.
                (synced, transactions) = (synced + sqlite.DurableTransactions - syncedBefore, transactions + sqlite.WriteTransactions - transactionsBefore - 1);
            }

            Console.WriteLine($"{creates} create(s), {ending,-8}: in memory median {Percentile(memory, 50):0.000} ms; SQLite one call per step median {Percentile(perCall, 50):0.00} ms (p90 {Percentile(perCall, 90):0.00}), as the planner calls it median {Percentile(batched, 50):0.00} ms (p90 {Percentile(batched, 90):0.00}; per plan {(double)transactions / (Run.Warmup + Run.Plans):0.##} write transactions, {(double)synced / (Run.Warmup + Run.Plans):0.##} of them synced)");
        }
    }

    var evacuations = (Memory: new List<double>(), Sqlite: new List<double>());
    var groups = (Writes: 0, Transactions: 0, Synced: 0);
    for (var i = 0; i <= Run.Evacuations; i++)
    {
        var inMemory = await BenchRunner.MeasureEvacuationAsync(new TargetClaimRegistry());
        var (writes, transactions, synced) = (sqlite.Writes, sqlite.WriteTransactions, sqlite.DurableTransactions);
        var durable = await BenchRunner.MeasureEvacuationAsync(sqlite);
        groups = (sqlite.Writes - writes, sqlite.WriteTransactions - transactions, sqlite.DurableTransactions - synced);
        if (inMemory.Succeeded != durable.Succeeded)
        {
            throw new InvalidOperationException($"the two stores placed different numbers of guests ({inMemory.Succeeded}, {durable.Succeeded} of {inMemory.Guests})");
        }

        // The first round warms up.
        if (i > 0)
        {
            evacuations.Memory.Add(inMemory.WallMs);
            evacuations.Sqlite.Add(durable.WallMs);
        }
    }

    Console.WriteLine($"evacuation of 64 guests onto 8 hosts, {Run.Evacuations} each: in memory median {Percentile(evacuations.Memory, 50):0} ms ({string.Join(", ", evacuations.Memory.Select(m => m.ToString("0", System.Globalization.CultureInfo.InvariantCulture)))}), SQLite median {Percentile(evacuations.Sqlite, 50):0} ms ({string.Join(", ", evacuations.Sqlite.Select(m => m.ToString("0", System.Globalization.CultureInfo.InvariantCulture)))}), ratio {Percentile(evacuations.Sqlite, 50) / Percentile(evacuations.Memory, 50):0.00}");
    Console.WriteLine($"the last SQLite evacuation: {groups.Writes} writes in {groups.Transactions} transactions (group commit), {groups.Synced} of them waiting for the disk");
}
finally
{
    Directory.Delete(directory, recursive: true);
}

return 0;

static async Task MeasureAsync(IPlannerStateStore store, int creates, Ending ending, bool batch, List<double>? times)
{
    var plan = Guid.NewGuid();
    var started = Stopwatch.GetTimestamp();
    await OnePlanAsync(store, plan, creates, ending, batch);
    times?.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    // A committed plan keeps its claims and entries: forget it (untimed) so every plan meets the same store.
    await store.ForgetPlanAsync(plan);
}

static async Task OnePlanAsync(IPlannerStateStore store, Guid plan, int creates, Ending ending, bool batch)
{
    store.BeginPlan(plan, "vm1");
    await store.PlansToRecoverAsync(Run.Host, includeCommitted: false);
    for (var lookUp = 0; lookUp < 6; lookUp++)
    {
        await store.HolderOfAsync(Run.Host, $"mdev:{Guid.NewGuid():D}", plan);
    }

    await store.TryClaimAsync(Run.Host, $"mdev:{Guid.NewGuid():D}", plan);
    var intents = Enumerable.Range(0, creates)
        .Select(order => new JournalEntry(plan, Run.Host, "dest", MdevUuid.NewRandom(), "pci_0000_41_00_0", MdevTypeId.Parse("nvidia-63"), CreationMethod.Libvirt, Persistent: false, order, JournalState.Intent))
        .ToList();
    if (batch)
    {
        await store.ClaimAndIntendAsync(intents);
    }
    else
    {
        foreach (var intent in intents)
        {
            await store.TryClaimAsync(Run.Host, $"mdev:{intent.Uuid.Value}", plan);
            await store.JournalAsync(intent);
        }
    }

    foreach (var intent in intents)
    {
        await store.JournalAsync(intent with { State = JournalState.Created });
    }

    switch (ending)
    {
        case Ending.Released:
            await store.EndPlanAsync(plan);
            break;
        case Ending.Migrated when batch:
            await store.CommitMigratedPlanAsync(plan);
            break;
        default:
            await store.CommitPlanAsync(plan);
            break;
    }
}

static double Percentile(List<double> times, int percent) => times.Order().ElementAt((times.Count - 1) * percent / 100);

/// <summary>How the measured plan ends.</summary>
internal enum Ending
{
    /// <summary>Released (or failed): its claims and entries go.</summary>
    Released,

    /// <summary>Committed after its guest migrated: a guest uses its devices.</summary>
    Migrated,

    /// <summary>Committed as kept (<c>--keep</c>): no guest uses its devices yet.</summary>
    Kept,
}

/// <summary>How much is measured.</summary>
internal static class Run
{
    /// <summary>Plans (and the first evacuation) run before measuring.</summary>
    public const int Warmup = 20;

    /// <summary>Evacuations measured per store.</summary>
    public const int Evacuations = 5;

    /// <summary>Plans measured per case and store.</summary>
    public const int Plans = 200;

    /// <summary>The destination's key in the store.</summary>
    public const string Host = "qemu+ssh://root@dest/system";
}
