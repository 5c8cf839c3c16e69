using System.Net.Sockets;
using Renci.SshNet;
using Renci.SshNet.Common;

namespace VfioMigration.RemoteHosts;

/// <summary>
/// One SSH connection to one host, opened on first use, and on it one long-lived remote shell
/// (<see cref="RemoteSession"/>) that every operation of the file system goes through. Operations
/// submitted while a batch is being gathered or is on the wire wait and leave together as the next
/// batch: one round trip for all of them. A dead connection or shell is replaced once per batch;
/// operations that must not run twice (writes) are never re-sent after they may have started.
/// </summary>
internal sealed class SshConnection : IDisposable
{
    /// <summary>How long the first operation waits for others submitted at the same moment (concurrent parents of one plan) to share its batch.</summary>
    private static readonly TimeSpan GatherWindow = TimeSpan.FromMilliseconds(2);

    private readonly SshHostOptions _options;
    private readonly string _root;
    private readonly SemaphoreSlim _connectGate = new(1, 1);
    private readonly Lock _queueGate = new();
    private List<Submitted> _queue = [];
    private bool _sending;
    private int _holds;
    private SshClient? _client;
    private RemoteSession? _session;
    private PrivateKeyFile? _key;
    private long _roundTrips;
    private long _connects;
    private long _sessions;
    private bool _disposed;

    public SshConnection(SshHostOptions options, string root)
    {
        _options = options;
        _root = root;
    }

    /// <summary>Batches sent (each one request and its answer).</summary>
    public long RoundTrips => Interlocked.Read(ref _roundTrips);

    /// <summary>Connections opened (1 unless a connection dropped).</summary>
    public long Connects => Interlocked.Read(ref _connects);

    /// <summary>Remote shells (channels) started (1 unless one died).</summary>
    public long Sessions => Interlocked.Read(ref _sessions);

    /// <summary>
    /// Runs <paramref name="requests"/> in the next batch and returns their records, in order
    /// (<see cref="RemoteRequest.Records"/> each).
    /// </summary>
    /// <param name="operation">What is being done, for messages.</param>
    /// <param name="requests">The operations, in order.</param>
    /// <param name="cancellationToken">Cancels the wait; once the batch has left, its writes may still take effect.</param>
    /// <exception cref="RemoteHostException">The host cannot be reached, the shell died, or the answer was malformed.</exception>
    public Task<IReadOnlyList<RemoteRecord>> RunAsync(string operation, IReadOnlyList<RemoteRequest> requests, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ObjectDisposedException.ThrowIf(_disposed, this);
        var submitted = new Submitted(operation, requests, cancellationToken);
        bool start;
        lock (_queueGate)
        {
            _queue.Add(submitted);
            start = !_sending && _holds == 0;
            _sending |= start;
        }

        if (start)
        {
            _ = Task.Run(SendQueuedAsync, CancellationToken.None);
        }

        return submitted.Done.Task.WaitAsync(cancellationToken);
    }

    /// <summary>
    /// Keeps every operation submitted until the returned scope ends in the queue, so that they leave
    /// as one batch whatever the timing (tests count round trips exactly with it).
    /// </summary>
    public IDisposable HoldBatches()
    {
        lock (_queueGate)
        {
            _holds++;
        }

        return new Release(this);
    }

    private void EndHold()
    {
        bool start;
        lock (_queueGate)
        {
            _holds--;
            start = _holds == 0 && !_sending && _queue.Count > 0;
            _sending |= start;
        }

        if (start)
        {
            _ = Task.Run(SendQueuedAsync, CancellationToken.None);
        }
    }

    /// <summary>Sends batch after batch until nothing waits.</summary>
    private async Task SendQueuedAsync()
    {
        while (true)
        {
            await Task.Delay(GatherWindow).ConfigureAwait(false);
            List<Submitted> batch;
            lock (_queueGate)
            {
                if (_queue.Count == 0 || _holds > 0)
                {
                    _sending = false;
                    return;
                }

                (batch, _queue) = (_queue, []);
            }

            batch.RemoveAll(s => s.Token.IsCancellationRequested && s.Done.TrySetCanceled(s.Token));
            try
            {
                await SendAsync(batch).ConfigureAwait(false);
            }
            catch (Exception unexpected) when (unexpected is not OutOfMemoryException)
            {
                // Disposed under the batch, or an error of the SSH library not foreseen above: no caller may wait forever.
                Fail(batch, s => new RemoteHostException(_options.Target, s.Operation, $"the batch could not be completed ({unexpected.GetType().Name}: {unexpected.Message}){MayHaveTakenEffect(s)}.", unexpected));
            }
        }
    }

    /// <summary>Sends one batch; on a lost channel, sends its repeatable operations once more on a new one.</summary>
    private async Task SendAsync(List<Submitted> batch)
    {
        var operation = batch.Count == 1 ? batch[0].Operation : $"{batch.Count} operations in one batch ({string.Join("; ", batch.Select(b => b.Operation))})";
        for (var attempt = 1; batch.Count > 0; attempt++)
        {
            RemoteSession session;
            try
            {
                session = await SessionAsync(operation).ConfigureAwait(false);
            }
            catch (RemoteHostException unreachable)
            {
                Fail(batch, _ => unreachable);
                return;
            }

            Exception lost;
            try
            {
                var records = await RunOnSessionAsync(session, [.. batch.SelectMany(s => s.Requests)]).ConfigureAwait(false);
                var at = 0;
                foreach (var submitted in batch)
                {
                    var count = submitted.Requests.Sum(r => r.Records);
                    submitted.Done.TrySetResult([.. records.Skip(at).Take(count)]);
                    at += count;
                }

                return;
            }
            catch (TimeoutException timeout)
            {
                await DropAsync(session).ConfigureAwait(false);
                Fail(batch, s => new RemoteHostException(_options.Target, s.Operation, $"the host stopped answering: no answer within the {_options.CommandTimeout.TotalSeconds:0.#} s command time-out{MayHaveTakenEffect(s)}. A slow link or a hung host; raise {_options.SettingNames.CommandTimeout} if the link is known to be slow.", timeout));
                return;
            }
            catch (FormatException malformed)
            {
                await DropAsync(session).ConfigureAwait(false);
                Fail(batch, s => new RemoteHostException(_options.Target, s.Operation, $"the answer was malformed ({malformed.Message}){MayHaveTakenEffect(s)}; does the login shell print text on its own (e.g. from .bashrc)?", malformed));
                return;
            }
            catch (Exception error) when (IsChannelLoss(error))
            {
                lost = error;
            }

            await DropAsync(session).ConfigureAwait(false);
            var why = session.ExitStatus is { } status
                ? $"the remote shell ended with exit status {status} ({(status == 97 ? "no temporary directory (mktemp -d) or no sysfs root " + _root : "killed or stopped")})"
                : $"the connection or its channel was lost ({lost.Message})";
            var again = attempt == 1 ? string.Empty : ", again right after reconnecting";
            Fail(batch.Where(s => attempt > 1 || !s.MayRepeat), s => new RemoteHostException(_options.Target, s.Operation, $"{why}{again}{MayHaveTakenEffect(s)}.", lost));
            batch = attempt == 1 ? [.. batch.Where(s => s.MayRepeat)] : [];
        }
    }

    /// <summary>The note that a batch's writes may or may not have happened; empty for reads.</summary>
    private static string MayHaveTakenEffect(Submitted submitted) =>
        submitted.MayRepeat ? string.Empty : ", so the write may or may not have taken effect (it is not sent again)";

    private static void Fail(IEnumerable<Submitted> batch, Func<Submitted, Exception> error)
    {
        foreach (var submitted in batch.ToList())
        {
            submitted.Done.TrySetException(error(submitted));
        }
    }

    /// <summary>Runs the batch on the session's shell, bounded by the command time-out (the reading thread is released by closing the session).</summary>
    private async Task<IReadOnlyList<RemoteRecord>> RunOnSessionAsync(RemoteSession session, IReadOnlyList<RemoteRequest> requests)
    {
        Interlocked.Increment(ref _roundTrips);
        var run = Task.Run(() => session.Run(requests), CancellationToken.None);
        try
        {
            return await run.WaitAsync(_options.CommandTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            _ = run.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            throw;
        }
    }

    private static bool IsChannelLoss(Exception error) =>
        error is EndOfStreamException or IOException or SshConnectionException or SocketException or ObjectDisposedException
            or (SshException and not SshOperationTimeoutException and not SshAuthenticationException);

    /// <summary>Closes <paramref name="session"/> and its connection, unless another batch already replaced them.</summary>
    private async Task DropAsync(RemoteSession session)
    {
        await _connectGate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (ReferenceEquals(session, _session))
            {
                Close();
            }
        }
        finally
        {
            _connectGate.Release();
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _connectGate.Wait();
        try
        {
            _disposed = true;
            Close();
            _key?.Dispose();
        }
        finally
        {
            _connectGate.Release();
        }

        _connectGate.Dispose();
    }

    /// <summary>The live session; a new shell (on a new connection if the old one dropped) when there is none.</summary>
    private async Task<RemoteSession> SessionAsync(string operation)
    {
        await _connectGate.WaitAsync().ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_session is { IsAlive: true } current && _client is { IsConnected: true })
            {
                return current;
            }

            _session?.Dispose();
            _session = null;
            if (_client is not { IsConnected: true })
            {
                Close();
                _client = await ConnectAsync(operation, CancellationToken.None).ConfigureAwait(false);
            }

            try
            {
                _session = RemoteSession.Start(_client, _root);
            }
            catch (Exception error) when (IsChannelLoss(error))
            {
                Close();
                throw new RemoteHostException(_options.Target, operation, $"cannot open a channel for the remote shell ({error.Message}); the server may limit sessions (MaxSessions).", error);
            }

            Interlocked.Increment(ref _sessions);
            return _session;
        }
        finally
        {
            _connectGate.Release();
        }
    }

    /// <summary>Ends a <see cref="HoldBatches"/> scope once.</summary>
    private sealed class Release(SshConnection connection) : IDisposable
    {
        private int _done;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0)
            {
                connection.EndHold();
            }
        }
    }

    /// <summary>An operation waiting for its batch.</summary>
    private sealed record Submitted(string Operation, IReadOnlyList<RemoteRequest> Requests, CancellationToken Token)
    {
        public TaskCompletionSource<IReadOnlyList<RemoteRecord>> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool MayRepeat => Requests.All(r => r.MayRepeat);
    }

    private async Task<SshClient> ConnectAsync(string operation, CancellationToken cancellationToken)
    {
        var what = $"{operation} (connecting)";
        _key ??= LoadKey(what);
        var info = new ConnectionInfo(_options.Host, _options.Port, _options.User, new PrivateKeyAuthenticationMethod(_options.User, _key))
        {
            Timeout = _options.ConnectTimeout,
        };
        var client = new SshClient(info);
        string? refusal = null;
        var knownHosts = KnownHosts.Load(_options.KnownHostsFile);
        client.HostKeyReceived += (_, key) =>
        {
            refusal = HostKeyRefusal(knownHosts, key);
            key.CanTrust = refusal is null;
        };

        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(_options.ConnectTimeout);
        try
        {
            await client.ConnectAsync(bounded.Token).ConfigureAwait(false);
        }
        catch (Exception error) when (error is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            client.Dispose();
            throw ConnectFailure(what, error, refusal);
        }

        Interlocked.Increment(ref _connects);
        return client;
    }

    private RemoteHostException ConnectFailure(string what, Exception error, string? refusal) => error switch
    {
        _ when refusal is not null => new RemoteHostException(_options.Target, what, refusal, error),
        SshAuthenticationException => new RemoteHostException(_options.Target, what, $"the server refused the key {_options.KeyFile} for user {_options.User}; add its public key to that user's authorized_keys on the host ({error.Message}).", error),
        SocketException socket => new RemoteHostException(_options.Target, what, $"cannot connect to {_options.Host} port {_options.Port}: {socket.Message}. Is sshd running and reachable?", error),
        OperationCanceledException or SshOperationTimeoutException => new RemoteHostException(_options.Target, what, $"no SSH handshake within {_options.ConnectTimeout.TotalSeconds:0.#} s (host down, firewall, or a very slow link).", error),
        _ => new RemoteHostException(_options.Target, what, error.Message, error),
    };

    /// <summary>Why the key must be refused under the configured policy; null to accept it.</summary>
    private string? HostKeyRefusal(KnownHosts knownHosts, HostKeyEventArgs key)
    {
        var verdict = knownHosts.Check(_options.Host, _options.Port, key.HostKey);
        var name = KnownHosts.HostPattern(_options.Host, _options.Port);
        return (verdict, _options.HostKeyPolicy) switch
        {
            (KnownHostVerdict.Known, _) => null,
            (KnownHostVerdict.Revoked, _) => $"the host key ({key.HostKeyName} SHA256:{key.FingerPrintSHA256}) is marked @revoked in {_options.KnownHostsFile}; refusing to connect.",
            (KnownHostVerdict.Unknown, HostKeyPolicy.AcceptUnknown or HostKeyPolicy.AcceptAny) => null,
            (KnownHostVerdict.Changed, HostKeyPolicy.AcceptAny) => null,
            (KnownHostVerdict.Unknown, _) => $"the host key ({key.HostKeyName} SHA256:{key.FingerPrintSHA256}) is unknown: '{name}' is not in {_options.KnownHostsFile}. Check the fingerprint and add the key (ssh-keyscan), or opt in with {_options.SettingNames.AcceptUnknownHostKey}.",
            _ => $"the host key CHANGED: {_options.KnownHostsFile} lists other keys for '{name}', the host presented {key.HostKeyName} SHA256:{key.FingerPrintSHA256}. Someone may be intercepting the connection; if the host was reinstalled, replace its line in known_hosts.",
        };
    }

    private PrivateKeyFile LoadKey(string what)
    {
        try
        {
            return new PrivateKeyFile(_options.KeyFile, _options.KeyPassphrase);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException or SshException or ArgumentException or InvalidOperationException or NotSupportedException)
        {
            var hint = error is SshPassPhraseNullOrEmptyException ? "it is encrypted and no passphrase was given" : error.Message;
            throw new RemoteHostException(_options.Target, what, $"cannot load the private key {_options.KeyFile}: {hint}.", error);
        }
    }

    private void Close()
    {
        _session?.Dispose();
        _session = null;
        if (_client is null)
        {
            return;
        }

        try
        {
            _client.Disconnect();
        }
        catch (Exception error) when (error is SshException or SocketException or ObjectDisposedException or InvalidOperationException)
        {
            // Already gone: the point is only to release the socket.
        }

        _client.Dispose();
        _client = null;
    }
}
