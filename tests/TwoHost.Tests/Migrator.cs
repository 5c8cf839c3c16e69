using System.Diagnostics;
using System.Text.Json;

namespace VfioMigration.TwoHost.Tests;

/// <summary>Runs the built console tool (vfio-migrator, copied beside the tests) as an operator would, in its own process.</summary>
internal static class Migrator
{
    /// <summary>A migration under TCG takes 20-30 s; a plan with connects, a few more.</summary>
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(4);

    /// <summary>Starts the tool with <paramref name="args"/>; disposing what it returns kills the tool if it still runs (a test that failed half way leaves nothing migrating).</summary>
    public static Running Start(params string[] args) => new(Process.Start(StartInfo(args)) ?? throw new InvalidOperationException("could not start vfio-migrator"));

    /// <summary>Runs the tool with <paramref name="args"/> to its end (bounded; <paramref name="cancellationToken"/> kills it too).</summary>
    public static Task<ProcessRun> RunAsync(string[] args, CancellationToken cancellationToken) => ProcessRun.RunAsync(StartInfo(args), Limit, cancellationToken);

    /// <summary>Waits for a tool started with <see cref="Start"/>, bounded like <see cref="RunAsync"/>.</summary>
    public static Task WaitAsync(Running migration, CancellationToken cancellationToken) => ProcessRun.WaitOrKillAsync(migration.Process, "vfio-migrator", Limit, cancellationToken);

    /// <summary>
    /// <c>migrate</c> of guest <paramref name="guest"/> from <paramref name="source"/> to <paramref name="destination"/>
    /// with the harness's key and known_hosts, JSON output, and the policy mtty needs (it has no
    /// migration_version, so nothing can verify a device): then <paramref name="extra"/>.
    /// </summary>
    public static string[] Migrate(TwoHostEnvironment environment, L1HostAddress source, L1HostAddress destination, string guest, params string[] extra) =>
        ["migrate", .. Hosts(environment, source, destination), "--domain", guest, "--policy", "allow-type-match", "--json", .. extra];

    /// <summary>
    /// <c>check</c>: is the guest's device <paramref name="device"/> compatible with the mdev
    /// <paramref name="target"/> on <paramref name="destination"/>? JSON output, the default policy.
    /// </summary>
    public static string[] Check(TwoHostEnvironment environment, L1HostAddress source, L1HostAddress destination, string guest, string device, string target) =>
        ["check", .. Hosts(environment, source, destination), "--domain", guest, "--device", device, "--target", target, "--json"];

    /// <summary>The JSON that <c>--json</c> printed (a plan, or a check's answer).</summary>
    public static JsonElement Plan(ProcessRun run)
    {
        using var document = JsonDocument.Parse(run.Out);
        return document.RootElement.Clone();
    }

    /// <summary>The planned target UUIDs, in the order of the guest's devices.</summary>
    public static IReadOnlyList<string> TargetUuids(JsonElement plan) =>
        plan.GetProperty("devices").EnumerateArray().Select(device => device.GetProperty("target").GetProperty("uuid").GetString()!).ToList();

    private static string[] Hosts(TwoHostEnvironment environment, L1HostAddress source, L1HostAddress destination) =>
        ["--source", source.Uri, "--dest", destination.Uri, "--ssh-key", environment.KeyFile, "--known-hosts", environment.KnownHostsFile];

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

    /// <summary>A tool started with <see cref="Start"/>.</summary>
    internal sealed class Running(Process process) : IDisposable
    {
        public Process Process { get; } = process;

        public void Dispose()
        {
            if (!Process.HasExited)
            {
                Process.Kill(entireProcessTree: true);
            }

            Process.Dispose();
        }
    }
}
