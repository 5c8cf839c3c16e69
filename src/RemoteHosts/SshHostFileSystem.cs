using System.Text;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.RemoteHosts;

/// <summary>
/// A remote host's sysfs over SSH, using only POSIX <c>sh</c> and GNU coreutils on the host. Reads,
/// listings and link reads of one call go out as one remote command (<see cref="ReadManyAsync"/>
/// reads a whole inventory in one round trip); a write is one <c>dd</c> that makes a single
/// <c>write()</c> of the value, which travels on standard input, never on a command line. Errors come
/// back as the kernel's errno. The protocol is described in docs/remote-hosts.md.
/// </summary>
/// <remarks>
/// One SSH connection per instance, opened on first use, shared by concurrent calls (up to
/// <see cref="SshHostOptions.MaxConcurrentCommands"/> commands at once), and re-established once
/// when it dropped. Throws <see cref="RemoteHostException"/> (an <see cref="IOException"/>) when the
/// host cannot be reached; a write is never re-sent once it may have reached the host.
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
        _connection = new SshConnection(options);
    }

    /// <summary>The options this instance was created with.</summary>
    public SshHostOptions Options { get; }

    /// <inheritdoc />
    public string Description => _root == "/sys" ? $"{Options.Target} (ssh)" : $"{Options.Target} (ssh, {_root})";

    /// <summary>Remote commands sent so far: each is one request and its answer over the network.</summary>
    public long RoundTrips => _connection.RoundTrips;

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

        var names = Encoding.UTF8.GetString(record.Bytes).Split('\n', StringSplitOptions.RemoveEmptyEntries);
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
        ArgumentNullException.ThrowIfNull(value);
        if (value.Length == 0 || value.Length > LocalHostFileSystem.MaxWriteLength || !Ascii.IsValid(value))
        {
            throw new ArgumentException($"The value written to '{path}' must be 1 to {LocalHostFileSystem.MaxWriteLength} ASCII characters; it is {value.Length} characters{(Ascii.IsValid(value) ? string.Empty : " with some outside ASCII")}.", nameof(value));
        }

        var operation = $"write {path}";
        var result = await _connection.RunAsync(operation, RemoteShell.WriteCommand(_root, path, value.Length), Encoding.ASCII.GetBytes(value), mayRepeat: false, cancellationToken).ConfigureAwait(false);
        if (result.ExitStatus == 0)
        {
            return SysfsResult.Success;
        }

        return StrerrorTable.FromMessage(result.Error) is { } errno
            ? new SysfsResult(errno)
            : throw new RemoteHostException(Options.Target, operation, $"dd failed with exit status {result.ExitStatus?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"} and no known errno text: '{result.Error.Trim()}'. The host needs GNU coreutils' dd.");
    }

    /// <summary>Closes the connection.</summary>
    public void Dispose() => _connection.Dispose();

    /// <summary>A read's record as text; more than one page (the remote side reads one byte more) is <see cref="Errno.EFBIG"/>, as locally.</summary>
    internal static SysfsResult<string> AsText(RemoteRecord record) =>
        !record.Succeeded ? SysfsResult.Failed<string>(record.Error)
        : record.Bytes.Length > LocalHostFileSystem.MaxWriteLength ? SysfsResult.Failed<string>(Errno.EFBIG)
        : SysfsResult.Of(Encoding.UTF8.GetString(record.Bytes));

    private async Task<IReadOnlyList<RemoteRecord>> BatchAsync(string operation, IReadOnlyList<(RemoteOperation, SysfsPath)> operations, CancellationToken cancellationToken)
    {
        var script = RemoteShell.BatchScript(_root, operations);
        var result = await _connection.RunAsync(operation, RemoteShell.BatchCommand, Encoding.ASCII.GetBytes(script), mayRepeat: true, cancellationToken).ConfigureAwait(false);
        if (result.ExitStatus != 0)
        {
            throw new RemoteHostException(Options.Target, operation, $"the remote shell failed with exit status {result.ExitStatus?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"}: '{result.Error.Trim()}'. The host needs POSIX sh, GNU coreutils and a writable temporary directory (mktemp -d).");
        }

        try
        {
            return RemoteShell.ParseBatch(result.Output, operations.Count);
        }
        catch (FormatException malformed)
        {
            throw new RemoteHostException(Options.Target, operation, $"the answer was malformed ({malformed.Message}); does the login shell print text on its own (e.g. from .bashrc)?", malformed);
        }
    }
}
