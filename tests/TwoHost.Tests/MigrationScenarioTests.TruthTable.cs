using System.Diagnostics;
using VfioMigration.Libvirt;

namespace VfioMigration.TwoHost.Tests;

/// <summary>
/// Issue 13's truth table: A and B load the reference driver (drivers/migref) as two driver
/// branches; the guest on A owns a migref mdev of the source type, B has an idle one of the target
/// type. Each cell compares the planner's verdict (<c>vfio-migrator check</c> from this machine)
/// with a real live migration forced through libvirt onto that very mdev: "compatible" must
/// migrate, "incompatible" must fail in the stream with the guest still running on A.
/// The suite runs a reduced table; <c>TWO_HOST_TRUTH_TABLE=full</c> runs every cell.
/// </summary>
public sealed partial class MigrationScenarioTests
{
    private const string NotMigratableType = "migref-nomig";

    private static readonly string[] MigratableTypes = ["migref-small", "migref-large"];

    /// <summary>(source branch, destination branch) pairs of the full table.</summary>
    private static readonly (string Source, string Destination)[] FullBranchPairs = [("2.0", "2.1"), ("2.1", "2.0"), ("2.1", "3.0"), ("3.0", "3.0")];

    /// <summary>The reduced table: both compatible kinds (an upgrade, the same version) and each reason for "incompatible" (type, version, downgrade).</summary>
    private static readonly (string Source, string SourceType, string Destination, string TargetType)[] ReducedCells =
    [
        ("2.0", "migref-small", "2.1", "migref-small"),
        ("2.0", "migref-small", "2.1", "migref-large"),
        ("2.1", "migref-large", "3.0", "migref-large"),
        ("2.1", "migref-small", "2.0", "migref-small"),
        ("3.0", "migref-large", "3.0", "migref-large"),
    ];

    /// <summary>The cells: source branch, source type, destination branch, target type, the rule's verdict.</summary>
    public static IEnumerable<object[]> TruthTableCells()
    {
        var cells = Environment.GetEnvironmentVariable("TWO_HOST_TRUTH_TABLE") == "full"
            ? FullBranchPairs.SelectMany(pair => MigratableTypes.SelectMany(sourceType => MigratableTypes.Select(targetType => (pair.Source, sourceType, pair.Destination, targetType))))
            : ReducedCells;
        return cells.Select(cell => new object[]
        {
            cell.Item1, cell.Item2, cell.Item3, cell.Item4,
            MigrefBranch.All[cell.Item3].Loads(MigrefBranch.All[cell.Item1], cell.Item2, cell.Item4) ? "compatible" : "incompatible",
        });
    }

    [TestMethod]
    [Timeout(ScenarioTimeout, CooperativeCancellation = true)]
    [DynamicData(nameof(TruthTableCells))]
    public async Task Truth_table_the_planners_verdict_is_what_a_forced_real_migration_does(string sourceBranch, string sourceType, string destinationBranch, string targetType, string verdict)
    {
        Assert.AreEqual(sourceBranch, await _a.LoadMigrefAsync(MigrefBranch.All[sourceBranch]));
        Assert.AreEqual(destinationBranch, await _b.LoadMigrefAsync(MigrefBranch.All[destinationBranch]));
        var source = await _a.CreateMdevAsync(sourceType, L1Host.MigrefParent);
        var target = await _b.CreateMdevAsync(targetType, L1Host.MigrefParent);
        _a.StartGuest(Guest, [source]);

        var check = await Migrator.RunAsync(Migrator.Check(_environment, _environment.A, _environment.B, Guest, source, target), TestContext.CancellationToken);
        Log(check);

        var answer = Migrator.Plan(check);
        Assert.AreEqual(verdict, answer.GetProperty("outcome").GetString(), check.Error);
        Assert.AreEqual(verdict == "compatible" ? 0 : 10, check.ExitCode, check.Error);

        var forced = _a.LiveXml(Guest, DomainXmlOptions.Migratable).Replace(source, target, StringComparison.Ordinal);
        var clock = Stopwatch.StartNew();
        if (verdict == "compatible")
        {
            _a.ForceMigrate(Guest, _b, forced, MigrationOptions.Live | MigrationOptions.PersistDestination);
            TestContext.WriteLine($"truth table: {sourceBranch} {sourceType} -> {destinationBranch} {targetType}: {verdict}, migrated in {clock.Elapsed.TotalSeconds:F1} s");
            Assert.AreEqual(DomainState.Running, _b.GuestState(Guest), "the guest runs on B");
            CollectionAssert.AreEqual(new[] { target }, _b.LiveHostdevUuids(Guest).ToList());
            Assert.AreEqual(DomainState.Shutoff, _a.GuestState(Guest));
        }
        else
        {
            var failure = Assert.ThrowsExactly<LibvirtException>(() => _a.ForceMigrate(Guest, _b, forced, MigrationOptions.Live));
            TestContext.WriteLine($"truth table: {sourceBranch} {sourceType} -> {destinationBranch} {targetType}: {verdict}, failed in {clock.Elapsed.TotalSeconds:F1} s: {failure.Message}");
            StringAssert.Contains(failure.Message, "load of migration failed");
            Assert.AreEqual(DomainState.Running, _a.GuestState(Guest), "the guest keeps running on A");
            CollectionAssert.AreEqual(new[] { source }, _a.LiveHostdevUuids(Guest).ToList());
            Assert.IsNull(_b.GuestState(Guest));
        }
    }

    /// <summary>
    /// The cell of the type that cannot migrate (<c>migref-nomig</c>: no <c>migration_version</c>,
    /// no VFIO migration feature): <c>check</c> cannot verify anything and says "unknown", never
    /// "compatible"; QEMU holds a migration blocker for the device, so libvirt refuses the forced
    /// migration before any stream, and the guest keeps running on A.
    /// </summary>
    [TestMethod]
    [Timeout(ScenarioTimeout, CooperativeCancellation = true)]
    public async Task Truth_table_a_non_migratable_mdev_is_refused_before_any_stream_and_check_says_unknown()
    {
        Assert.AreEqual("2.1", await _a.LoadMigrefAsync(MigrefBranch.All["2.1"]));
        Assert.AreEqual("2.1", await _b.LoadMigrefAsync(MigrefBranch.All["2.1"]));
        var source = await _a.CreateMdevAsync(NotMigratableType, L1Host.MigrefParent);
        var target = await _b.CreateMdevAsync(NotMigratableType, L1Host.MigrefParent);
        // The harness's qemu:override sets enable-migration=on, which QEMU refuses outright for a
        // device without the migration feature; without it (auto) QEMU starts the guest and holds
        // a migration blocker instead.
        var refusedStart = Assert.ThrowsExactly<LibvirtException>(() => _a.StartGuest(Guest, [source]));
        StringAssert.Contains(refusedStart.Message, "VFIO migration is not supported in kernel");
        _a.UndefineGuest(Guest);

        _a.StartGuest(Guest, [source], dirtyTrackingOverride: false);

        var check = await Migrator.RunAsync(Migrator.Check(_environment, _environment.A, _environment.B, Guest, source, target), TestContext.CancellationToken);
        Log(check);

        Assert.AreEqual("unknown", Migrator.Plan(check).GetProperty("outcome").GetString(), check.Error);
        Assert.AreEqual(11, check.ExitCode, check.Error);

        var forced = _a.LiveXml(Guest, DomainXmlOptions.Migratable).Replace(source, target, StringComparison.Ordinal);
        var clock = Stopwatch.StartNew();
        var failure = Assert.ThrowsExactly<LibvirtOperationInvalidException>(() => _a.ForceMigrate(Guest, _b, forced, MigrationOptions.Live));
        TestContext.WriteLine($"truth table: 2.1 {NotMigratableType} -> 2.1 {NotMigratableType}: unknown, refused in {clock.Elapsed.TotalSeconds:F1} s: {failure.Message}");
        StringAssert.Contains(failure.Message, "cannot migrate domain");
        Assert.AreEqual(DomainState.Running, _a.GuestState(Guest), "the guest keeps running on A");
        CollectionAssert.AreEqual(new[] { source }, _a.LiveHostdevUuids(Guest).ToList());
        Assert.IsNull(_b.GuestState(Guest), "B never started a guest: no stream was opened");
    }
}
