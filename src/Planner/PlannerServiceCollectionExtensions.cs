using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using VfioMigration.Planner.State;

namespace VfioMigration.Planner;

/// <summary>Registers the migration planner with a service collection.</summary>
public static class PlannerServiceCollectionExtensions
{
    /// <summary>
    /// Adds <see cref="MigrationPlanner"/> (singleton), its default <see cref="PlanOptions"/>, an
    /// in-memory <see cref="IVerdictCache"/>, the process-wide <see cref="TargetClaimRegistry"/> (also as the <see cref="IPlannerStateStore"/>; register a <see cref="SqliteStateStore"/> first for durable state) and
    /// <see cref="TimeProvider.System"/>, each only when not registered already.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Sets the default options, e.g. <c>o =&gt; o.VerificationPolicy = VerificationPolicy.AllowTypeMatch</c>.</param>
    /// <returns>The service collection.</returns>
    public static IServiceCollection AddMigrationPlanner(this IServiceCollection services, Action<PlanOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<PlanOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.Validate(
            o =>
            {
                o.Validate();
                return true;
            },
            "PlanOptions are invalid.");
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IVerdictCache>(provider => new InMemoryVerdictCache(provider.GetService<TimeProvider>()));
        services.TryAddSingleton(TargetClaimRegistry.Shared);
        services.TryAddSingleton<IPlannerStateStore>(provider => provider.GetRequiredService<TargetClaimRegistry>());
        services.TryAddSingleton(provider => new MigrationPlanner(
            provider.GetRequiredService<IOptions<PlanOptions>>(),
            provider.GetService<ILogger<MigrationPlanner>>(),
            provider.GetService<IVerdictCache>(),
            provider.GetService<TimeProvider>(),
            provider.GetService<IPlannerStateStore>()));
        return services;
    }
}
