using System.Diagnostics;

namespace VfioMigration.Planner.Planning;

/// <summary>What one plan has cost so far; updated from concurrent probes, hence the interlocked increments.</summary>
internal sealed class PlanCounters
{
    private readonly long _started = Stopwatch.GetTimestamp();
    private int _probes;
    private int _cacheHits;
    private int _creates;
    private int _removes;
    private int _hypervisorCalls;
    private int _sysfsReads;
    private long _sourceRoundTrips;

    public void Probe() => Interlocked.Increment(ref _probes);

    public void CacheHit() => Interlocked.Increment(ref _cacheHits);

    public void Create() => Interlocked.Increment(ref _creates);

    public void Remove() => Interlocked.Increment(ref _removes);

    public void HypervisorCall() => Interlocked.Increment(ref _hypervisorCalls);

    public void SysfsReads(int count) => Interlocked.Add(ref _sysfsReads, count);

    public void SourceRoundTrips(long count) => Interlocked.Add(ref _sourceRoundTrips, count);

    /// <summary>Adds what reading the shared source facts cost, so each plan shows its whole cost.</summary>
    public void Add(PlanCounters other)
    {
        Interlocked.Add(ref _hypervisorCalls, other._hypervisorCalls);
        Interlocked.Add(ref _sysfsReads, other._sysfsReads);
        Interlocked.Add(ref _sourceRoundTrips, Interlocked.Read(ref other._sourceRoundTrips));
    }

    public PlanStatistics Snapshot() => new(
        _probes,
        _cacheHits,
        _creates,
        _removes,
        _hypervisorCalls,
        _sysfsReads,
        (long)Stopwatch.GetElapsedTime(_started).TotalMilliseconds)
    {
        SourceRoundTrips = Interlocked.Read(ref _sourceRoundTrips),
    };
}
