using System.Text;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.RemoteHosts;

/// <summary>
/// A remote host's sysfs over SSH, using only bash and GNU coreutils on the host. Every
/// call goes through one long-lived remote shell: the operations of one call, and those of calls made
/// at the same moment (the planner's concurrent parents), leave as one batch, one round trip
/// (<see cref="ReadManyAsync"/> reads a whole inventory in one). Reads, listings and writes are the
/// shell's builtins, no process per file; a write makes a single <c>write()</c> of the value, which
/// never appears on a command line; write and ask
/// (<see cref="ExchangeAsync"/>) keeps the file open to read the answer and the reason. Errors come
/// back as the kernel's errno. The protocol is described in docs/remote-hosts.md.
/// </summary>
/// <remarks>
/// One SSH connection and one shell channel per instance, opened on first use, shared by concurrent
/// calls, and re-established once when they died. Throws <see cref="RemoteHostException"/> (an
/// <see cref="IOException"/>) when the host cannot be reached; a write is never re-sent once it may
/// have reached the host.
/// </remarks>
public sealed class SshHostFileSystem : IHostFileSystem, IDisposable
{
    private readonly SshConnection _connection;
    private readonly string _root;

    /// <summary>Creates the file system; nothing is connected until the first call.</summary>
    /// <param name="options">How to reach the host.</param>
    /// <exception cref="ArgumentException">An option is missing or out of range.</exception>
    public SshHostFileSystem(SshHostOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        var trimmed = options.SysfsRoot.TrimEnd('/');
        _root = trimmed.Length == 0 ? "/" : trimmed;
        _connection = new SshConnection(options, _root);
    }

    /// <summary>The options this instance was created with.</summary>
    public SshHostOptions Options { get; }

    /// <inheritdoc />
    public string Description => _root == "/sys" ? $"{Options.Target} (ssh)" : $"{Options.Target} (ssh, {_root})";

    /// <summary>Batches sent so far: each is one request and its answer over the network.</summary>
    public long RoundTrips => _connection.RoundTrips;

    /// <inheritdoc/>
    public bool BatchesCalls => true;

    /// <summary>Remote shells (SSH channels) started so far (1 unless one died and was replaced).</summary>
    internal long Sessions => _connection.Sessions;

    /// <summary>Holds the calls made until the scope ends, then sends them as one batch.</summary>
    internal IDisposable HoldBatches() => _connection.HoldBatches();

    /// <summary>SSH connections opened so far (1 unless a connection dropped and was re-established).</summary>
    public long Connections => _connection.Connects;

    /// <inheritdoc />
    public async ValueTask<SysfsResult<string>> ReadAsync(SysfsPath path, CancellationToken cancellationToken = default) =>
        AsText((await BatchAsync("read " + path, [(RemoteOperation.Read, path)], cancellationToken).ConfigureAwait(false))[0]);

    /// <summary>Reads every path with one remote command.</summary>
    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<SysfsResult<string>>> ReadManyAsync(IReadOnlyList<SysfsPath> paths, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(paths);
        if (paths.Count == 0)
        {
            return [];
        }

        var records = await BatchAsync($"read {paths.Count} attribute(s)", [.. paths.Select(p => (RemoteOperation.Read, p))], cancellationToken).ConfigureAwait(false);
        return [.. records.Select(AsText)];
    }

    /// <inheritdoc />
    public async ValueTask<SysfsResult<IReadOnlyList<string>>> ListAsync(SysfsPath path, CancellationToken cancellationToken = default)
    {
        var record = (await BatchAsync("list " + path, [(RemoteOperation.List, path)], cancellationToken).ConfigureAwait(false))[0];
        if (!record.Succeeded)
        {
            return SysfsResult.Failed<IReadOnlyList<string>>(record.Error);
        }

        // The names are joined by '/', the one byte besides NUL that no name holds: a name with a newline stays one name.
        var names = Encoding.UTF8.GetString(record.Bytes).Split('/', StringSplitOptions.RemoveEmptyEntries);
        return names.Length > LocalHostFileSystem.MaxListingEntries ? SysfsResult.Failed<IReadOnlyList<string>>(Errno.EFBIG) : SysfsResult.Of<IReadOnlyList<string>>(names);
    }

    /// <inheritdoc />
    public async ValueTask<SysfsResult<string>> ReadLinkAsync(SysfsPath path, CancellationToken cancellationToken = default)
    {
        var record = (await BatchAsync("readlink " + path, [(RemoteOperation.ReadLink, path)], cancellationToken).ConfigureAwait(false))[0];
        if (!record.Succeeded)
        {
            return SysfsResult.Failed<string>(record.Error);
        }

        var target = Encoding.UTF8.GetString(record.Bytes);
        return SysfsResult.Of(target.EndsWith('\n') ? target[..^1] : target);
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentException"><paramref name="value"/> is empty, not ASCII, or longer than <see cref="LocalHostFileSystem.MaxWriteLength"/> bytes; nothing is sent.</exception>
    public async ValueTask<SysfsResult> WriteAsync(SysfsPath path, string value, CancellationToken cancellationToken = default)
    {
        var request = new RemoteRequest(RemoteOperation.Write, path, CheckedValue(path, value));
        var operation = $"write {path}";
        var record = (await _connection.RunAsync(operation, [request], cancellationToken).ConfigureAwait(false))[0];
        return new SysfsResult(WriteErrno(record, operation));
    }

    /// <summary>Writes every attribute, in order, with one remote batch: one round trip, each write's errno apart.</summary>
    /// <inheritdoc />
    /// <exception cref="ArgumentException">A value is empty, not ASCII, or longer than <see cref="LocalHostFileSystem.MaxWriteLength"/> bytes; nothing is sent.</exception>
    public async ValueTask<IReadOnlyList<SysfsResult>> WriteManyAsync(IReadOnlyList<(SysfsPath Path, string Value)> writes, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(writes);
        if (writes.Count == 0)
        {
            return [];
        }

        var requests = writes.Select(w => new RemoteRequest(RemoteOperation.Write, w.Path, CheckedValue(w.Path, w.Value))).ToList();
        var operation = $"write {writes.Count} attribute(s)";
        var records = await _connection.RunAsync(operation, requests, cancellationToken).ConfigureAwait(false);
        return [.. records.Select(r => new SysfsResult(WriteErrno(r, operation)))];
    }

    /// <summary>
    /// Write and ask on the host: the value written with one <c>write()</c> on the attribute opened for
    /// reading and writing, then, on that same open file, the rest of the file (the reply) and the text at
    /// offset 4096 (the reason), all in one round trip. An attribute that cannot be opened for reading
    /// gets a plain write and no reply, as locally.
    /// </summary>
    /// <inheritdoc />
    /// <exception cref="ArgumentException"><paramref name="value"/> is empty, not ASCII, or longer than <see cref="LocalHostFileSystem.MaxWriteLength"/> bytes; nothing is sent.</exception>
    public async ValueTask<SysfsExchange> ExchangeAsync(SysfsPath path, string value, CancellationToken cancellationToken = default)
    {
        var request = new RemoteRequest(RemoteOperation.Exchange, path, CheckedValue(path, value));
        var operation = $"write and ask {path}";
        var records = await _connection.RunAsync(operation, [request], cancellationToken).ConfigureAwait(false);
        return new SysfsExchange(WriteErrno(records[0], operation), Text(records[1]), Text(records[2]));

        static string? Text(RemoteRecord record) => record.Bytes.Length == 0 ? null : Encoding.Latin1.GetString(record.Bytes);
    }

    private static byte[] CheckedValue(SysfsPath path, string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (value.Length == 0 || value.Length > LocalHostFileSystem.MaxWriteLength || !Ascii.IsValid(value))
        {
            throw new ArgumentException($"The value written to '{path}' must be 1 to {LocalHostFileSystem.MaxWriteLength} ASCII characters; it is {value.Length} characters{(Ascii.IsValid(value) ? string.Empty : " with some outside ASCII")}.", nameof(value));
        }

        return Encoding.ASCII.GetBytes(value);
    }

    /// <summary>The errno of a write's record; a message outside the errno table is an error, not a guessed errno.</summary>
    private Errno WriteErrno(RemoteRecord record, string operation)
    {
        if (record.Succeeded)
        {
            return Errno.None;
        }

        var message = Encoding.UTF8.GetString(record.Bytes);
        return StrerrorTable.FromMessage(message)
            ?? throw new RemoteHostException(Options.Target, operation, $"the write failed with no known errno text: '{message.Trim()}'. The host needs bash and GNU coreutils' dd.");
    }

    /// <summary>Closes the connection.</summary>
    public void Dispose() => _connection.Dispose();

    /// <summary>A read's record as text; more than one page (the remote side reads one byte more) is <see cref="Errno.EFBIG"/>, as locally.</summary>
    internal static SysfsResult<string> AsText(RemoteRecord record) =>
        !record.Succeeded ? SysfsResult.Failed<string>(record.Error)
        : record.Bytes.Length > LocalHostFileSystem.MaxWriteLength ? SysfsResult.Failed<string>(Errno.EFBIG)
        : SysfsResult.Of(Encoding.UTF8.GetString(record.Bytes));

    private Task<IReadOnlyList<RemoteRecord>> BatchAsync(string operation, IReadOnlyList<(RemoteOperation Operation, SysfsPath Path)> operations, CancellationToken cancellationToken) =>
        _connection.RunAsync(operation, [.. operations.Select(o => new RemoteRequest(o.Operation, o.Path))], cancellationToken);
}
