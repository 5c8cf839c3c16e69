using System.Diagnostics;
using System.Globalization;
using VfioMigration.Planner;

namespace VfioMigration.ConsoleMigrator.Cli;

/// <summary>
/// A pause at the migration call, for the fault tests only (docs/state.md): with
/// <c>VFIO_MIGRATOR_TEST_PAUSE_MIGRATION=FILE</c> set and a source on libvirt's test driver (which
/// cannot migrate a guest, so never a host in production), <c>migrate</c> writes its PID to FILE
/// as it reaches the migration call and waits until FILE is deleted, at most two minutes. A test
/// kills the process there, as if mid-migration. Any other source ignores the variable.
/// </summary>
internal static class MigrationPause
{
    /// <summary>The environment variable naming the file.</summary>
    public const string Variable = "VFIO_MIGRATOR_TEST_PAUSE_MIGRATION";

    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(2);

    /// <summary>Pauses when the variable is set and <paramref name="source"/> is on the test driver; returns at once otherwise.</summary>
    public static async Task AtMigrationCallAsync(MigrationHost source, CancellationToken cancellationToken)
    {
        var file = Environment.GetEnvironmentVariable(Variable);
        if (string.IsNullOrEmpty(file) || !IsTestDriver(source.Hypervisor.Uri))
        {
            return;
        }

        await File.WriteAllTextAsync(file, Environment.ProcessId.ToString(CultureInfo.InvariantCulture), cancellationToken).ConfigureAwait(false);
        var waited = Stopwatch.StartNew();
        while (File.Exists(file) && waited.Elapsed < Limit)
        {
            await Task.Delay(50, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>libvirt's test driver: <c>test:///…</c>, or <c>test+transport://…</c> through a daemon.</summary>
    private static bool IsTestDriver(string uri) =>
        uri.StartsWith("test:", StringComparison.Ordinal) || uri.StartsWith("test+", StringComparison.Ordinal);
}
