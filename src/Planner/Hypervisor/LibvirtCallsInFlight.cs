using System.Collections.Concurrent;
using System.Diagnostics;

namespace VfioMigration.Planner.Hypervisor;

/// <summary>
/// The libvirt calls running now on one connection, with when each started: named when a plan stops
/// waiting for them, and timed against the per-call deadline.
/// </summary>
/// <param name="host">The host the calls go to, as error messages name it.</param>
internal sealed class LibvirtCallsInFlight(string host)
{
    private readonly ConcurrentDictionary<long, (string Name, long Started, bool Bounded)> _calls = new();

    /// <summary>
    /// Records that call number <paramref name="id"/>, <paramref name="name"/>, starts now; an unbounded
    /// one (a migration, which runs for minutes) is named but never overdue.
    /// </summary>
    public void Start(long id, string name, bool bounded = true) => _calls[id] = (name, Stopwatch.GetTimestamp(), bounded);

    /// <summary>Records that call number <paramref name="id"/> returned.</summary>
    public void End(long id) => _calls.TryRemove(id, out _);

    /// <summary>The calls in flight and the host, e.g. <c>virDomainGetXMLDesc('vm1') on host h (qemu:///system)</c>.</summary>
    public string Describe() => Named(_calls.Values.Select(c => c.Name));

    /// <summary>
    /// The bounded calls that have run for <paramref name="deadline"/> or longer, named with the host (null
    /// when none has), and how long until the oldest other one reaches it (the whole deadline when none runs).
    /// </summary>
    public (string? Overdue, TimeSpan Remaining) Overdue(TimeSpan deadline)
    {
        var now = Stopwatch.GetTimestamp();
        var running = _calls.Values.Where(c => c.Bounded).Select(c => (c.Name, Age: Stopwatch.GetElapsedTime(c.Started, now))).ToList();
        var overdue = running.Where(c => c.Age >= deadline).Select(c => c.Name).ToList();
        if (overdue.Count > 0)
        {
            return (Named(overdue), TimeSpan.Zero);
        }

        return (null, running.Count == 0 ? deadline : deadline - running.Max(c => c.Age));
    }

    private string Named(IEnumerable<string> calls)
    {
        var names = calls.Order(StringComparer.Ordinal).ToList();
        return $"{(names.Count == 0 ? "a call" : string.Join(", ", names))} on {host}";
    }
}
