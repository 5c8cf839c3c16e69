using System.Net.Sockets;
using Renci.SshNet;
using Renci.SshNet.Common;

namespace VfioMigration.RemoteHosts;

/// <summary>What a remote command answered.</summary>
/// <param name="ExitStatus">The exit status; null when the command ended without one (killed by a signal).</param>
/// <param name="Output">Standard output, byte for byte.</param>
/// <param name="Error">Standard error.</param>
internal sealed record CommandResult(int? ExitStatus, byte[] Output, string Error);

/// <summary>
/// One SSH connection to one host, opened on first use and shared by every command (each command is
/// its own channel on it). A dropped connection is re-established once per command; commands that
/// must not run twice (writes) are never re-sent after they may have started.
/// </summary>
internal sealed class SshConnection : IDisposable
{
    private readonly SshHostOptions _options;
    private readonly SemaphoreSlim _connectGate = new(1, 1);
    private readonly SemaphoreSlim _commandSlots;
    private SshClient? _client;
    private PrivateKeyFile? _key;
    private long _roundTrips;
    private long _connects;
    private bool _disposed;

    public SshConnection(SshHostOptions options)
    {
        _options = options;
        _commandSlots = new SemaphoreSlim(options.MaxConcurrentCommands, options.MaxConcurrentCommands);
    }

    /// <summary>Commands sent (each one request and its answer).</summary>
    public long RoundTrips => Interlocked.Read(ref _roundTrips);

    /// <summary>Connections opened (1 unless a connection dropped).</summary>
    public long Connects => Interlocked.Read(ref _connects);

    /// <summary>Runs <paramref name="command"/> with <paramref name="input"/> as its standard input (then end of file).</summary>
    /// <param name="operation">What is being done, for messages.</param>
    /// <param name="command">The command line (built from validated, quoted parts only).</param>
    /// <param name="input">Standard input.</param>
    /// <param name="mayRepeat">Whether the command may be sent again on a new connection when the first one dropped while it ran.</param>
    /// <param name="cancellationToken">Cancels the wait (the remote command is signalled).</param>
    /// <exception cref="RemoteHostException">The host cannot be reached or the connection was lost.</exception>
    public async Task<CommandResult> RunAsync(string operation, string command, byte[] input, bool mayRepeat, CancellationToken cancellationToken)
    {
        await _commandSlots.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await RunOnceOrTwiceAsync(operation, command, input, mayRepeat, cancellationToken).ConfigureAwait(false);
        }
        catch (SshOperationTimeoutException timeout)
        {
            // A stalled connection would stall every later command too: drop it, the next one reconnects.
            await DropAsync().ConfigureAwait(false);
            throw new RemoteHostException(_options.Target, operation, $"the host stopped answering: no answer within the {_options.CommandTimeout.TotalSeconds:0.#} s command time-out ({timeout.Message}). A slow link or a hung host; raise {_options.SettingNames.CommandTimeout} if the link is known to be slow.", timeout);
        }
        finally
        {
            _commandSlots.Release();
        }
    }

    private async Task<CommandResult> RunOnceOrTwiceAsync(string operation, string command, byte[] input, bool mayRepeat, CancellationToken cancellationToken)
    {
        var client = await ClientAsync(null, operation, cancellationToken).ConfigureAwait(false);
        try
        {
            return await ExecuteAsync(client, command, input, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception lost) when (IsConnectionLoss(lost, cancellationToken))
        {
            if (!mayRepeat)
            {
                throw new RemoteHostException(_options.Target, operation, $"the connection was lost while the command ran, so it may or may not have taken effect ({lost.Message}).", lost);
            }
        }

        client = await ClientAsync(client, operation, cancellationToken).ConfigureAwait(false);
        try
        {
            return await ExecuteAsync(client, command, input, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception lost) when (IsConnectionLoss(lost, cancellationToken))
        {
            throw new RemoteHostException(_options.Target, operation, $"the connection was lost, and again right after reconnecting ({lost.Message}).", lost);
        }
    }

    private async Task DropAsync()
    {
        await _connectGate.WaitAsync().ConfigureAwait(false);
        try
        {
            Close();
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
        _commandSlots.Dispose();
    }

    private static bool IsConnectionLoss(Exception error, CancellationToken cancellationToken) =>
        !cancellationToken.IsCancellationRequested
        && error is SshConnectionException or SocketException or ObjectDisposedException
            or (SshException and not SshOperationTimeoutException and not SshAuthenticationException);

    private async Task<CommandResult> ExecuteAsync(SshClient client, string command, byte[] input, CancellationToken cancellationToken)
    {
        using var sshCommand = client.CreateCommand(command);
        sshCommand.CommandTimeout = _options.CommandTimeout;
        Interlocked.Increment(ref _roundTrips);
        var run = sshCommand.ExecuteAsync(cancellationToken);
        using (var stdin = sshCommand.CreateInputStream())
        {
            await stdin.WriteAsync(input, cancellationToken).ConfigureAwait(false);
        }

        await run.ConfigureAwait(false);

        using var output = new MemoryStream();
        await sshCommand.OutputStream.CopyToAsync(output, cancellationToken).ConfigureAwait(false);
        return new CommandResult(sshCommand.ExitStatus, output.ToArray(), sshCommand.Error);
    }

    /// <summary>The open connection; a new one when there is none or <paramref name="dropped"/> is the current one.</summary>
    private async Task<SshClient> ClientAsync(SshClient? dropped, string operation, CancellationToken cancellationToken)
    {
        await _connectGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_client is { IsConnected: true } current && !ReferenceEquals(current, dropped))
            {
                return current;
            }

            Close();
            return await ConnectAsync(operation, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _connectGate.Release();
        }
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
        _client = client;
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
