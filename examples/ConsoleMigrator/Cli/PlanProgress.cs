using System.Diagnostics;
using VfioMigration.Planner.Diagnostics;

namespace VfioMigration.ConsoleMigrator.Cli;

/// <summary>
/// Progress on stderr while hosts are probed, shown only on a terminal: listens to the planner's
/// own activities (one per destination), so what it prints is what the planner really did.
/// </summary>
internal sealed class PlanProgress : IDisposable
{
    private readonly ActivityListener? _listener;

    private PlanProgress(ActivityListener? listener) => _listener = listener;

    /// <summary>Starts reporting to <paramref name="context"/>'s stderr when it is a terminal; otherwise does nothing.</summary>
    public static PlanProgress Start(CommandContext context, string what)
    {
        if (!context.Interactive)
        {
            return new PlanProgress(null);
        }

        context.Error.WriteLine($"{what}...");
        var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == PlannerTelemetry.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
            ActivityStopped = activity =>
            {
                if (activity.OperationName == "PlanDestination")
                {
                    var complete = activity.GetTagItem("vfio_migration.complete") as bool?;
                    var outcome = complete switch
                    {
                        true => "every device placed",
                        false => "not every device placed",
                        null => $"failed: {activity.StatusDescription}",
                    };
                    context.Error.WriteLine($"  {activity.GetTagItem("vfio_migration.destination")}: {outcome} ({activity.Duration.TotalMilliseconds:0} ms)");
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        return new PlanProgress(listener);
    }

    /// <summary>Stops listening.</summary>
    public void Dispose() => _listener?.Dispose();
}
