using System.Security.Cryptography;
using System.Text;
using Renci.SshNet;

namespace VfioMigration.RemoteHosts;

/// <summary>
/// One long-lived remote shell on an SSH connection (one channel, <see cref="RemoteShell.SessionCommand"/>):
/// the prologue is sent once, then each batch is written to its standard input and its answer read
/// from its output up to the batch's trailer. The trailer carries a random secret of this session
/// and the batch's sequence number, so an answer that lost its place in the stream is refused rather
/// than misread. Not thread-safe: one batch at a time (<see cref="SshConnection"/> serialises them).
/// </summary>
internal sealed class RemoteSession : IDisposable
{
    private readonly SshCommand _command;
    private readonly Task _run;
    private readonly Stream _input;
    private readonly BufferedStream _output;
    private readonly string _root;
    private readonly string _nonce = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
    private long _sequence;

    private RemoteSession(SshCommand command, string root)
    {
        _command = command;
        _root = root;
        _run = command.ExecuteAsync();
        _input = command.CreateInputStream();
        _output = new BufferedStream(command.OutputStream, 64 << 10);
    }

    /// <summary>True while the remote shell runs.</summary>
    public bool IsAlive => !_run.IsCompleted;

    /// <summary>The shell's exit status once it ended (null while it runs or when it ended without one).</summary>
    public int? ExitStatus => _run.IsCompleted ? _command.ExitStatus : null;

    /// <summary>Opens the channel and starts the shell with its prologue (no round trip: the first batch's answer shows it worked).</summary>
    public static RemoteSession Start(SshClient client, string root)
    {
        var session = new RemoteSession(client.CreateCommand(RemoteShell.SessionCommand), root);
        try
        {
            session.Send(RemoteShell.Prologue(root));
            return session;
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>Sends one batch and reads its records, blocking until the trailer has arrived.</summary>
    /// <exception cref="FormatException">The answer is malformed (the session is then unusable).</exception>
    /// <exception cref="EndOfStreamException">The shell or the channel ended before the answer was complete.</exception>
    public IReadOnlyList<RemoteRecord> Run(IReadOnlyList<RemoteRequest> requests)
    {
        var trailer = RemoteShell.Trailer(_nonce, ++_sequence);
        Send(RemoteShell.BatchScript(_root, requests, trailer));
        return RemoteShell.ReadBatch(_output, requests.Sum(r => r.Records), trailer);
    }

    private void Send(string script)
    {
        _input.Write(Encoding.ASCII.GetBytes(script));
        _input.Flush();
    }

    /// <summary>Ends the shell (end of input) and closes the channel; a blocked read returns.</summary>
    public void Dispose()
    {
        try
        {
            _input.Dispose();
        }
        catch (Exception error) when (error is IOException or ObjectDisposedException or InvalidOperationException or Renci.SshNet.Common.SshException)
        {
            // The channel is already gone.
        }

        _command.Dispose();
        _output.Dispose();
        _ = _run.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
    }
}
