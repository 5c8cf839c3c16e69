using System.Runtime.InteropServices;

namespace VfioMigration.ConsoleMigrator.Cli;

/// <summary>
/// SIGINT, SIGTERM and SIGHUP cancel the command's token, so the command stops and rolls back what it
/// made, then exits with 128 + the signal's number (130, 143, 129). A second signal exits at once,
/// saying what may be left behind.
/// </summary>
internal sealed class SignalCancellation : IDisposable
{
    private readonly CancellationTokenSource _cancellation = new();
    private readonly PosixSignalRegistration[] _registrations;
    private readonly TextWriter _stderr;
    private int _signals;
    private int _firstSignal;

    private SignalCancellation(TextWriter stderr)
    {
        _stderr = stderr;
        _registrations = [.. new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM, PosixSignal.SIGHUP }.Select(s => PosixSignalRegistration.Create(s, OnSignal))];
    }

    /// <summary>Cancelled by the first signal.</summary>
    public CancellationToken Token => _cancellation.Token;

    /// <summary>Starts handling the three signals; messages go to <paramref name="stderr"/>.</summary>
    public static SignalCancellation Register(TextWriter stderr) => new(stderr);

    /// <summary>The process exit code: <paramref name="commandExitCode"/>, or 128 + the signal's number when a signal cancelled the command.</summary>
    public int ExitCode(int commandExitCode) =>
        commandExitCode == ExitCodes.Interrupted && Volatile.Read(ref _firstSignal) != 0 ? 128 + _firstSignal : commandExitCode;

    /// <summary>The conventional number of a signal (the runtime's <see cref="PosixSignal"/> values are its own).</summary>
    internal static int Number(PosixSignal signal) => signal switch
    {
        PosixSignal.SIGHUP => 1,
        PosixSignal.SIGINT => 2,
        _ => 15,
    };

    public void Dispose()
    {
        foreach (var registration in _registrations)
        {
            registration.Dispose();
        }

        _cancellation.Dispose();
    }

    private void OnSignal(PosixSignalContext context)
    {
        context.Cancel = true; // the command ends itself, after its rollback
        var number = Number(context.Signal);
        if (Interlocked.Increment(ref _signals) == 1)
        {
            Volatile.Write(ref _firstSignal, number);
            _stderr.WriteLine($"{context.Signal}: stopping and rolling back what this command created (send it again to exit at once)");
            _cancellation.Cancel();
            return;
        }

        _stderr.WriteLine($"{context.Signal} again: exiting at once. Devices this command created and had not yet removed (mdevs it made on the destinations) may be left behind; list them with 'vfio-migrator host' and remove them by hand.");
        _stderr.Flush();
        Environment.Exit(128 + number);
    }
}
