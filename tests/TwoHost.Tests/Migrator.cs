using System.Diagnostics;
using System.Text.Json;

namespace VfioMigration.TwoHost.Tests;

/// <summary>Runs the built console tool (vfio-migrator, copied beside the tests) as an operator would, in its own process.</summary>
internal static class Migrator
{
    /// <summary>A migration under TCG takes 20-30 s; a plan with connects, a few more.</summary>
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(4);

    public static Process Start(params string[] args) => Process.Start(StartInfo(args)) ?? throw new InvalidOperationException("could not start vfio-migrator");

    public static Task<ProcessRun> RunAsync(params string[] args) => ProcessRun.RunAsync(StartInfo(args), Limit);

    /// <summary>
    /// <c>migrate</c> of guest <paramref name="guest"/> from <paramref name="source"/> to <paramref name="destination"/>
    /// with the harness's key and known_hosts, JSON output, and the policy mtty needs (it has no
    /// migration_version, so nothing can verify a device): then <paramref name="extra"/>.
    /// </summary>
    public static string[] Migrate(TwoHostEnvironment environment, L1HostAddress source, L1HostAddress destination, string guest, params string[] extra) =>
    [
        "migrate", "--source", source.Uri, "--dest", destination.Uri, "--domain", guest,
        "--ssh-key", environment.KeyFile, "--known-hosts", environment.KnownHostsFile,
        "--policy", "allow-type-match", "--json", .. extra,
    ];

    /// <summary>The plan JSON that <c>--json</c> printed.</summary>
    public static JsonElement Plan(ProcessRun run)
    {
        using var document = JsonDocument.Parse(run.Out);
        return document.RootElement.Clone();
    }

    /// <summary>The planned target UUIDs, in the order of the guest's devices.</summary>
    public static IReadOnlyList<string> TargetUuids(JsonElement plan) =>
        plan.GetProperty("devices").EnumerateArray().Select(device => device.GetProperty("target").GetProperty("uuid").GetString()!).ToList();

    private static ProcessStartInfo StartInfo(string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "vfio-migrator.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        return start;
    }
}
