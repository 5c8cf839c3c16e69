using Microsoft.Extensions.Logging;
using VfioMigration.Planner;

namespace VfioMigration.Bench;

/// <summary>What one way of finding targets cost on a destination, counted by <see cref="CountingFileSystem"/>.</summary>
/// <param name="Strategy"><c>write-and-ask</c>, <c>write-and-test</c> or <c>exhaustive</c>.</param>
/// <param name="Complete">Whether every host device of the guest got a target.</param>
/// <param name="VersionWrites">Writes of a source version into a <c>migration_version</c>.</param>
/// <param name="Questions">Questions written to a parent's <c>migration_query</c>.</param>
/// <param name="AnswerReads">Answers read back.</param>
/// <param name="ParentVersionPairs">Distinct (parent, source version) asked.</param>
/// <param name="MostQuestionsPerPair">The most questions for one (parent, source version).</param>
/// <param name="PlannerProbes">The planner's own count (<see cref="PlanStatistics.Probes"/>: version writes plus questions); null for the exhaustive search.</param>
public sealed record EconomyCounts(string Strategy, bool Complete, int VersionWrites, int Questions, int AnswerReads, int ParentVersionPairs, int MostQuestionsPerPair, int? PlannerProbes);

/// <summary>
/// Plans one guest onto one destination three ways and counts what each wrote there: the planner
/// with write and ask (the parent's <c>migration_query</c> visible), the planner with write and test
/// only (it hidden), and the exhaustive search (<see cref="ExhaustiveStrategy"/>). Each removes
/// what it created before the next starts, so all three meet the same destination.
/// </summary>
public static class EconomyRunner
{
    /// <summary>Runs the three strategies in that order.</summary>
    /// <param name="source">The source host.</param>
    /// <param name="guest">The guest to plan.</param>
    /// <param name="destination">The destination; its file system is wrapped for counting.</param>
    /// <param name="options">The planner's options.</param>
    /// <param name="logger">Where the planner logs.</param>
    /// <param name="cancellationToken">Cancels the runs.</param>
    public static async Task<IReadOnlyList<EconomyCounts>> RunAsync(MigrationHost source, DomainSelector guest, MigrationHost destination, PlanOptions options, ILogger<MigrationPlanner>? logger = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        var ask = await PlanAsync(source, guest, destination, options, logger, hideQuery: false, cancellationToken).ConfigureAwait(false);
        var test = await PlanAsync(source, guest, destination, options, logger, hideQuery: true, cancellationToken).ConfigureAwait(false);
        var counting = new CountingFileSystem(destination.FileSystem, hideQuery: false);
        var counted = destination with { FileSystem = counting };
        var outcome = await ExhaustiveStrategy.PlanAsync(source, guest, counted, cancellationToken).ConfigureAwait(false);
        await ExhaustiveStrategy.ReleaseAsync(counted, outcome).ConfigureAwait(false);
        return [ask, test, Counts("exhaustive", outcome.Mapped == outcome.Devices, counting, plannerProbes: null)];
    }

    private static async Task<EconomyCounts> PlanAsync(MigrationHost source, DomainSelector guest, MigrationHost destination, PlanOptions options, ILogger<MigrationPlanner>? logger, bool hideQuery, CancellationToken cancellationToken)
    {
        var counting = new CountingFileSystem(destination.FileSystem, hideQuery);
        var planner = new MigrationPlanner(Microsoft.Extensions.Options.Options.Create(options), logger, claims: new TargetClaimRegistry());
        var result = await planner.PlanAsync(new PlanRequest(source, guest, [destination with { FileSystem = counting }]), cancellationToken).ConfigureAwait(false);
        await using var releasesEverything = result.ConfigureAwait(false);
        return Counts(hideQuery ? "write-and-test" : "write-and-ask", result.Succeeded, counting, result.Best.Statistics.Probes);
    }

    private static EconomyCounts Counts(string strategy, bool complete, CountingFileSystem counting, int? plannerProbes) =>
        new(strategy, complete, counting.VersionWrites, counting.Questions, counting.AnswerReads, counting.ParentVersionPairsAsked, counting.MostQuestionsPerParentAndVersion, plannerProbes);
}
