using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace VfioMigration.Planner.Diagnostics;

/// <summary>The planner's tracing and metrics sources.</summary>
public static class PlannerTelemetry
{
    /// <summary>The name of the <see cref="ActivitySource"/> and the <see cref="Meter"/>: <c>VfioMigration.Planner</c>.</summary>
    public const string Name = "VfioMigration.Planner";

    internal static readonly ActivitySource ActivitySource = new(Name);

    internal static readonly Meter Meter = new(Name);

    internal static readonly Counter<long> Probes = Meter.CreateCounter<long>("vfio_migration.planner.probes", unit: "{probe}", description: "Version writes made to probe a target.");

    internal static readonly Counter<long> Creates = Meter.CreateCounter<long>("vfio_migration.planner.creates", unit: "{device}", description: "mdevs created by the planner.");

    internal static readonly Counter<long> Removes = Meter.CreateCounter<long>("vfio_migration.planner.removes", unit: "{device}", description: "mdevs removed by the planner.");

    internal static readonly Histogram<double> PlanDuration = Meter.CreateHistogram<double>("vfio_migration.planner.plan.duration", unit: "s", description: "Time to plan one destination.");
}
