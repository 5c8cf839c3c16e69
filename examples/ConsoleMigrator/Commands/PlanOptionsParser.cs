using System.CommandLine;
using System.Globalization;
using VfioMigration.ConsoleMigrator.Cli;
using VfioMigration.Planner;
using VfioMigration.Planner.Hypervisor;

namespace VfioMigration.ConsoleMigrator.Commands;

/// <summary>The planner options every planning command accepts, and their parsing.</summary>
internal static class PlanOptionsParser
{
    /// <summary>The options.</summary>
    public static IReadOnlyList<Option> Options =>
    [
        CliOption.Value("--policy", "POLICY", "When nothing can verify a device: require-verified (default: reject) or allow-type-match (accept, marked unverified)."),
        CliOption.Value("--uuid", "STRATEGY", "rewrite (default: new UUIDs, XML rewritten) or preserve (targets keep the source UUIDs: an idle mdev with that UUID is reused, else one is created with it)."),
        CliOption.Value("--placement", "PREFERENCE", "pack (default: fewest parents) or spread (most parents)."),
        CliOption.Flag("--allow-hybrid", "Also try mdev<->physical targets (the vendor driver must accept)."),
        CliOption.Flag("--allow-cross-type", "Also try other mdev types, accepted only by a device-level version probe."),
        CliOption.Flag("--persistent", "Create mdevs persistently (libvirt define + start) instead of transiently."),
        CliOption.Value("--probe-timeout", "SECONDS", "Cut off a version probe after this long and count it as unknown (default 10)."),
        CliOption.Value("--libvirt-timeout", "SECONDS", "Stop waiting for a libvirt call that gets no answer for this long, roll back and fail naming it (default 120; the migration call itself is not cut off, but after a signal this bounds the wait for its abort)."),
    ];

    /// <summary>Builds planner options from the arguments.</summary>
    /// <exception cref="UsageException">A value is not one of the documented ones.</exception>
    public static PlanOptions Parse(ParseResult args)
    {
        var options = new PlanOptions
        {
            VerificationPolicy = Choice(args, "--policy", VerificationPolicy.RequireVerified, ("require-verified", VerificationPolicy.RequireVerified), ("allow-type-match", VerificationPolicy.AllowTypeMatch)),
            UuidStrategy = Choice(args, "--uuid", UuidStrategy.Rewrite, ("rewrite", UuidStrategy.Rewrite), ("preserve", UuidStrategy.Preserve)),
            Placement = Choice(args, "--placement", PlacementPreference.Pack, ("pack", PlacementPreference.Pack), ("spread", PlacementPreference.Spread)),
            AllowHybrid = args.Flag("--allow-hybrid"),
            AllowCrossType = args.Flag("--allow-cross-type"),
            PersistentMdevs = args.Flag("--persistent"),
        };
        options.ProbeTimeout = Seconds(args, "--probe-timeout") ?? options.ProbeTimeout;
        return options;
    }

    /// <summary>The deadline of one libvirt call (<c>--libvirt-timeout</c>, default <see cref="LibvirtHypervisor.DefaultCallTimeout"/>).</summary>
    /// <exception cref="UsageException">The value is not a number of seconds in range.</exception>
    public static TimeSpan LibvirtTimeout(ParseResult args) => Seconds(args, "--libvirt-timeout") ?? LibvirtHypervisor.DefaultCallTimeout;

    private static TimeSpan? Seconds(ParseResult args, string option)
    {
        if (args.Value(option) is not { } text)
        {
            return null;
        }

        // NaN fails every comparison, so the range is written to accept only what lies inside it; below a millisecond a TimeSpan is zero.
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) || !(seconds >= 0.001 && seconds <= 3600))
        {
            throw new UsageException($"{option}: '{text}' is not a number of seconds from 0.001 to 3600.");
        }

        return TimeSpan.FromSeconds(seconds);
    }

    private static T Choice<T>(ParseResult args, string option, T fallback, params (string Name, T Value)[] choices)
    {
        var text = args.Value(option);
        if (text is null)
        {
            return fallback;
        }

        foreach (var (name, value) in choices)
        {
            if (name == text)
            {
                return value;
            }
        }

        throw new UsageException($"{option}: '{text}' is not one of {string.Join(", ", choices.Select(c => c.Name))}.");
    }
}
