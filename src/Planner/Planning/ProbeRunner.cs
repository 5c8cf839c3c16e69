using Microsoft.Extensions.Logging;
using VfioMigration.Planner.Diagnostics;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.Planner.Planning;

/// <summary>How a probe ended.</summary>
internal enum ProbeOutcome
{
    /// <summary>The write succeeded: the target accepts the version.</summary>
    Accepted,

    /// <summary>The attribute does not exist (ENOENT): this point cannot verify.</summary>
    Absent,

    /// <summary>The write failed with an errno: the target refuses the version, or is not migratable.</summary>
    Rejected,

    /// <summary>The write did not answer within the bound: unknown.</summary>
    TimedOut,

    /// <summary>The host could not be asked (an exception other than cancellation).</summary>
    Failed,
}

/// <summary>A probe's result.</summary>
internal sealed record ProbeResult(ProbeOutcome Outcome, ProbeRecord Record, string? Error);

/// <summary>
/// Writes a source version into a target's attribute, once per (attribute, version) per plan, cut off
/// after <see cref="PlanOptions.ProbeTimeout"/>; shares definite verdicts across plans when the
/// options ask for it.
/// </summary>
internal sealed class ProbeRunner(MigrationHost host, PlanOptions options, IVerdictCache cache, TimeProvider time, PlanCounters counters, ILogger logger)
{
    private readonly Dictionary<(SysfsPath Path, string Version), ProbeResult> _memo = [];
    private readonly Lock _gate = new();

    public async Task<ProbeResult> ProbeAsync(ProbePoint point, SysfsPath path, string version, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            if (_memo.TryGetValue((path, version), out var known))
            {
                counters.CacheHit();
                return known;
            }
        }

        var key = new ProbeKey(host.Key, path, version);
        ProbeResult result;
        if (options.VerdictCacheLifetime is not null && cache.TryGet(key, out var cached))
        {
            counters.CacheHit();
            result = FromErrno(point, path, cached, fromCache: true);
        }
        else
        {
            result = await WriteAsync(point, path, version, cancellationToken).ConfigureAwait(false);
            if (options.VerdictCacheLifetime is { } lifetime && result.Outcome is ProbeOutcome.Accepted or ProbeOutcome.Absent or ProbeOutcome.Rejected)
            {
                cache.Store(key, result.Record.Errno, lifetime);
            }
        }

        lock (_gate)
        {
            _memo[(path, version)] = result;
        }

        return result;
    }

    /// <summary>
    /// Probes the device-level attribute of an mdev this plan has just created. Neither the memo nor
    /// the cache answers for it or keeps its answer: its UUID may have named another device before
    /// (a preserved UUID, created again on another parent after the first one refused).
    /// </summary>
    public Task<ProbeResult> ProbeCreatedAsync(SysfsPath path, string version, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return WriteAsync(ProbePoint.MdevDevice, path, version, cancellationToken);
    }

    private async Task<ProbeResult> WriteAsync(ProbePoint point, SysfsPath path, string version, CancellationToken cancellationToken)
    {
        counters.Probe();
        PlannerTelemetry.Probes.Add(1, new KeyValuePair<string, object?>("point", point.ToString()));
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        // On a thread of its own: a sysfs write can block inside the vendor driver (local sysfs writes
        // synchronously), and the bound below must cut off the wait however the file system behaves.
        var write = Task.Run(() => host.FileSystem.WriteAsync(path, version, bound.Token).AsTask(), CancellationToken.None);
        try
        {
            // WaitAsync cuts the wait off even when the file system ignores its token.
            var written = await write.WaitAsync(options.ProbeTimeout, time, cancellationToken).ConfigureAwait(false);
            Log.Probe(logger, path, host.Name, written.Error);
            return FromErrno(point, path, written.Error, fromCache: false);
        }
        catch (TimeoutException)
        {
            await bound.CancelAsync().ConfigureAwait(false);
            Observe(write);
            Log.ProbeTimedOut(logger, path, host.Name, options.ProbeTimeout);
            return new ProbeResult(ProbeOutcome.TimedOut, new ProbeRecord(point, path, Errno.ETIMEDOUT, false), $"no answer within {options.ProbeTimeout.TotalSeconds:0.###} s");
        }
        catch (OperationCanceledException)
        {
            Observe(write);
            throw;
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            return new ProbeResult(ProbeOutcome.Failed, new ProbeRecord(point, path, Errno.EIO, false), error.Message);
        }
    }

    private static ProbeResult FromErrno(ProbePoint point, SysfsPath path, Errno errno, bool fromCache)
    {
        var outcome = errno switch
        {
            Errno.None => ProbeOutcome.Accepted,
            Errno.ENOENT => ProbeOutcome.Absent,
            _ => ProbeOutcome.Rejected,
        };
        return new ProbeResult(outcome, new ProbeRecord(point, path, errno, fromCache), null);
    }

    /// <summary>An abandoned write may still fail later; observe it so the failure is not reported as unobserved.</summary>
    private static void Observe(Task write) =>
        write.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
}
