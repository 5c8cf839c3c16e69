using System.Collections.Concurrent;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.Planner;

/// <summary>Identifies one probe: writing <paramref name="Version"/> into the attribute at <paramref name="Path"/> on the host <paramref name="HostKey"/>.</summary>
/// <param name="HostKey">The host (its hypervisor URI).</param>
/// <param name="Path">The version attribute.</param>
/// <param name="Version">The source version written (normalised, without the trailing newline).</param>
public readonly record struct ProbeKey(string HostKey, SysfsPath Path, string Version);

/// <summary>
/// Probe verdicts shared across plans (a write's errno; <see cref="Errno.None"/> means accepted),
/// used only when <see cref="PlanOptions.VerdictCacheLifetime"/> is set. Only definite answers are
/// cached: a timed-out or failed probe is never stored.
/// </summary>
public interface IVerdictCache
{
    /// <summary>Looks up a verdict that has not expired.</summary>
    bool TryGet(ProbeKey key, out Errno verdict);

    /// <summary>Stores a verdict that expires after <paramref name="lifetime"/>.</summary>
    void Store(ProbeKey key, Errno verdict, TimeSpan lifetime);
}

/// <summary>An in-memory <see cref="IVerdictCache"/> with per-entry expiry. Safe for concurrent use.</summary>
/// <param name="timeProvider">The clock deciding expiry; <see cref="TimeProvider.System"/> when null.</param>
public sealed class InMemoryVerdictCache(TimeProvider? timeProvider = null) : IVerdictCache
{
    private readonly TimeProvider _time = timeProvider ?? TimeProvider.System;
    private readonly ConcurrentDictionary<ProbeKey, (Errno Verdict, DateTimeOffset Expires)> _entries = new();

    /// <summary>How many entries are stored, expired ones included until they are looked up.</summary>
    public int Count => _entries.Count;

    /// <inheritdoc />
    public bool TryGet(ProbeKey key, out Errno verdict)
    {
        if (_entries.TryGetValue(key, out var entry))
        {
            if (entry.Expires > _time.GetUtcNow())
            {
                verdict = entry.Verdict;
                return true;
            }

            _entries.TryRemove(KeyValuePair.Create(key, entry));
        }

        verdict = default;
        return false;
    }

    /// <inheritdoc />
    public void Store(ProbeKey key, Errno verdict, TimeSpan lifetime) =>
        _entries[key] = (verdict, _time.GetUtcNow() + lifetime);
}
