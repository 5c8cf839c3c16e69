namespace VfioMigration.Planner.Tests.Fakes;

/// <summary>
/// Holds the mdev creates of a <see cref="FakeHost"/> so that their concurrency shows without
/// measuring time: every create waits until <c>holdUntilStarted</c> creates have started, and counts
/// how many were in flight at once, overall and on one parent. With a <c>finishOrder</c> of parents,
/// the held creates then finish one parent at a time in that order, each once the create before it
/// has finished. Every wait ends after <c>guard</c> at the
/// latest: a planner that creates one device at a time makes a test slow to fail, never hang.
/// </summary>
internal sealed class CreateGate
{
    private readonly int _holdUntilStarted;
    private readonly TimeSpan _guard;
    private readonly string[] _finishOrder;
    private readonly TaskCompletionSource[] _turns;
    private readonly TaskCompletionSource _allStarted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Dictionary<FakeParent, int> _inFlightOn = [];
    private readonly List<string> _finished = [];
    private readonly Lock _lock = new();
    private int _started;
    private int _inFlight;

    public CreateGate(FakeHost host, int holdUntilStarted, TimeSpan guard, params string[] finishOrder)
    {
        _holdUntilStarted = holdUntilStarted;
        _guard = guard;
        _finishOrder = finishOrder;
        _turns = [.. finishOrder.Select(_ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously))];
        if (_turns.Length > 0)
        {
            _turns[0].SetResult();
        }

        host.WhileCreating = HoldAsync;
    }

    public int MaxInFlight { get; private set; }

    public int MaxInFlightOnOneParent { get; private set; }

    /// <summary>The parents (sysfs names) of the created devices, in the order their first creates finished.</summary>
    public IReadOnlyList<string> Finished
    {
        get
        {
            lock (_lock)
            {
                return [.. _finished];
            }
        }
    }

    private async Task HoldAsync(FakeType type, CancellationToken cancellationToken)
    {
        var parent = type.Parent;
        lock (_lock)
        {
            _started++;
            _inFlight++;
            _inFlightOn[parent] = _inFlightOn.GetValueOrDefault(parent) + 1;
            MaxInFlight = Math.Max(MaxInFlight, _inFlight);
            MaxInFlightOnOneParent = Math.Max(MaxInFlightOnOneParent, _inFlightOn[parent]);
            if (_started >= _holdUntilStarted)
            {
                _allStarted.TrySetResult();
            }
        }

        try
        {
            await Task.WhenAny(_allStarted.Task, Task.Delay(_guard, CancellationToken.None));
            var position = Array.IndexOf(_finishOrder, parent.SysfsName.Value);
            if (position >= 0)
            {
                await Task.WhenAny(_turns[position].Task, Task.Delay(_guard, CancellationToken.None));
            }
        }
        finally
        {
            lock (_lock)
            {
                _inFlight--;
                _inFlightOn[parent]--;
                Finish(parent.SysfsName.Value);
            }
        }
    }

    /// <summary>A create finished: the next parent in the order may go on.</summary>
    private void Finish(string parent)
    {
        if (_finished.Contains(parent))
        {
            return;
        }

        _finished.Add(parent);
        var next = _finished.Count;
        if (next < _turns.Length && _finishOrder[next - 1] == parent)
        {
            _turns[next].TrySetResult();
        }
    }
}
