using Microsoft.Extensions.Logging;
using VfioMigration.Planner.Devices;
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

/// <summary>A probe's result; <paramref name="Reason"/> is the driver's own words for a refusal, checked printable text.</summary>
internal sealed record ProbeResult(ProbeOutcome Outcome, ProbeRecord Record, string? Error, string? Reason = null);

/// <summary>
/// A parent's answer to write and ask: the idle devices and the types that accept a source version,
/// the errno of the question, and the driver's reason when nothing accepts.
/// </summary>
internal sealed record QueryAnswer(ProbeRecord Record, IReadOnlySet<MdevUuid> Mdevs, IReadOnlySet<MdevTypeId> Types, string? Reason)
{
    /// <summary>Reads the reply's lines (<c>mdev &lt;uuid&gt;</c>, <c>type &lt;id&gt;</c>); anything else is ignored, never interpreted.</summary>
    public static QueryAnswer From(ProbeRecord record, string? reply, string? reason)
    {
        var mdevs = new HashSet<MdevUuid>();
        var types = new HashSet<MdevTypeId>();
        foreach (var line in (reply ?? string.Empty).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = line.Split(' ');
            if (parts.Length != 2)
            {
                continue;
            }

            if (parts[0] == "mdev" && MdevUuid.TryParse(parts[1], out var uuid))
            {
                mdevs.Add(uuid);
            }
            else if (parts[0] == "type" && MdevTypeId.TryParse(parts[1], out var type))
            {
                types.Add(type);
            }
        }

        return new QueryAnswer(record, mdevs, types, reason);
    }
}

/// <summary>
/// Writes a source version into a target's attribute, once per (attribute, version) per plan, cut off
/// after <see cref="PlanOptions.ProbeTimeout"/>; shares definite verdicts across plans when the
/// options ask for it.
/// </summary>
internal sealed class ProbeRunner(MigrationHost host, PlanOptions options, IVerdictCache cache, TimeProvider time, PlanCounters counters, ILogger logger)
{
    /// <summary>The longest driver reason shown; a longer one is cut.</summary>
    private const int ReasonLength = 200;

    private readonly Dictionary<(SysfsPath Path, string Version), Memo> _memo = [];
    private readonly Dictionary<(SysfsPath Path, string Version), Task<QueryAnswer?>> _answers = [];
    private readonly Lock _gate = new();

    /// <summary>
    /// Probes <paramref name="path"/> with <paramref name="version"/> once per plan: a later call for the
    /// same pair gets the same result and counts a cache hit. A <paramref name="prefetch"/> call (the
    /// planner evaluating the candidates its search is about to need, all at once) counts no hit, and the
    /// first ordinary call after it counts none either: it stands for the probe the prefetch made early.
    /// </summary>
    public Task<ProbeResult> ProbeAsync(ProbePoint point, SysfsPath path, string version, CancellationToken cancellationToken, bool prefetch = false)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Memo memo;
        lock (_gate)
        {
            if (_memo.TryGetValue((path, version), out var known))
            {
                if (!prefetch && known.Used)
                {
                    counters.CacheHit();
                }

                known.Used |= !prefetch;
                memo = known;
            }
            else
            {
                memo = new Memo(new Lazy<Task<ProbeResult>>(() => ProbeOnceAsync(point, path, version, cancellationToken))) { Used = !prefetch };
                _memo[(path, version)] = memo;
            }
        }

        // Started outside the lock (the verdict cache may be slow), once whoever asks first.
        return memo.Result.Value;
    }

    private async Task<ProbeResult> ProbeOnceAsync(ProbePoint point, SysfsPath path, string version, CancellationToken cancellationToken)
    {
        var key = new ProbeKey(host.Key, path, version);
        if (options.VerdictCacheLifetime is not null && cache.TryGet(key, out var cached))
        {
            counters.CacheHit();
            return FromErrno(point, path, cached, fromCache: true);
        }

        var result = await WriteAsync(point, path, version, cancellationToken).ConfigureAwait(false);
        if (options.VerdictCacheLifetime is { } lifetime && result.Outcome is ProbeOutcome.Accepted or ProbeOutcome.Absent or ProbeOutcome.Rejected)
        {
            cache.Store(key, result.Record.Errno, lifetime);
        }

        return result;
    }

    /// <summary>
    /// Probes the device-level attribute of an mdev this plan has just created. Neither the memo nor
    /// the cache answers for it or keeps its answer: its UUID may have named another device before
    /// (a preserved UUID, created again on another parent after the first one refused), nor for a VF
    /// just configured (<paramref name="point"/> <see cref="ProbePoint.PciDevice"/>).
    /// </summary>
    public Task<ProbeResult> ProbeCreatedAsync(SysfsPath path, string version, CancellationToken cancellationToken, ProbePoint point = ProbePoint.MdevDevice)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return WriteAsync(point, path, version, cancellationToken);
    }

    /// <summary>
    /// Write and ask: one question to a parent's <c>migration_query</c> per (parent, version) per
    /// plan. Null when the parent has no such attribute, the file system cannot keep the file open
    /// for the answer, or the question got no answer in time: then the per-candidate probes decide.
    /// </summary>
    public Task<QueryAnswer?> AskAsync(SysfsPath path, string version, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            if (!_answers.TryGetValue((path, version), out var answer))
            {
                answer = AskOnceAsync(path, version, cancellationToken);
                _answers[(path, version)] = answer;
            }

            return answer;
        }
    }

    private async Task<QueryAnswer?> AskOnceAsync(SysfsPath path, string version, CancellationToken cancellationToken)
    {
        SysfsExchange? asked;
        try
        {
            asked = await ExchangeAsync(path, version, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            return null;
        }

        // A parent without the attribute costs no probe: nothing was written.
        if (asked?.Error != Errno.ENOENT)
        {
            CountProbe(ProbePoint.ParentQuery);
        }

        if (asked is not { } exchange || exchange.Error == Errno.ENOENT || (exchange.Error == Errno.None && exchange.Reply is null && exchange.Reason is null))
        {
            return null;
        }

        return QueryAnswer.From(new ProbeRecord(ProbePoint.ParentQuery, path, exchange.Error, false), exchange.Reply, CheckedReason(exchange.Reason));
    }

    private async Task<ProbeResult> WriteAsync(ProbePoint point, SysfsPath path, string version, CancellationToken cancellationToken)
    {
        CountProbe(point);
        try
        {
            var written = await ExchangeAsync(path, version, cancellationToken).ConfigureAwait(false);
            if (written is not { } exchange)
            {
                return new ProbeResult(ProbeOutcome.TimedOut, new ProbeRecord(point, path, Errno.ETIMEDOUT, false), $"no answer within {options.ProbeTimeout.TotalSeconds:0.###} s");
            }

            var result = FromErrno(point, path, exchange.Error, fromCache: false);
            return result.Outcome == ProbeOutcome.Rejected ? result with { Reason = CheckedReason(exchange.Reason) } : result;
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            return new ProbeResult(ProbeOutcome.Failed, new ProbeRecord(point, path, Errno.EIO, false), error.Message);
        }
    }

    /// <summary>Counts one probe in the plan's statistics and in the planner's meter alike.</summary>
    private void CountProbe(ProbePoint point)
    {
        counters.Probe();
        PlannerTelemetry.Probes.Add(1, new KeyValuePair<string, object?>("point", point.ToString()));
    }

    /// <summary>The reason's first line, printable ASCII only and at most <see cref="ReasonLength"/> characters; null when nothing is left.</summary>
    private static string? CheckedReason(string? raw)
    {
        if (raw is null)
        {
            return null;
        }

        var line = raw.Split('\n')[0];
        var kept = new string([.. line.Where(c => c is >= ' ' and <= '~').Take(ReasonLength)]);
        return kept.Length == 0 ? null : kept;
    }

    /// <summary>One write on an open file and what it says afterwards, bounded by the probe timeout; null when the bound cut it off.</summary>
    private async Task<SysfsExchange?> ExchangeAsync(SysfsPath path, string version, CancellationToken cancellationToken)
    {
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        // On a thread of its own: a sysfs write can block inside the vendor driver (local sysfs writes
        // synchronously), and the bound below must cut off the wait however the file system behaves.
        var write = Task.Run(() => host.FileSystem.ExchangeAsync(path, version, bound.Token).AsTask(), CancellationToken.None);
        try
        {
            // WaitAsync cuts the wait off even when the file system ignores its token.
            var written = await write.WaitAsync(options.ProbeTimeout, time, cancellationToken).ConfigureAwait(false);
            Log.Probe(logger, path, host.Name, written.Error);
            return written;
        }
        catch (TimeoutException)
        {
            await bound.CancelAsync().ConfigureAwait(false);
            Observe(write);
            Log.ProbeTimedOut(logger, path, host.Name, options.ProbeTimeout);
            return null;
        }
        catch (OperationCanceledException)
        {
            Observe(write);
            throw;
        }
    }

    /// <summary>A probe made (or under way) in this plan, and whether an ordinary call has used it yet.</summary>
    private sealed class Memo(Lazy<Task<ProbeResult>> result)
    {
        public Lazy<Task<ProbeResult>> Result { get; } = result;

        public bool Used { get; set; }
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
