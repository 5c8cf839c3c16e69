using System.Text;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.HostSimulator;

/// <summary>
/// The in-process front end: the planner's <see cref="IHostFileSystem"/> over an
/// <see cref="ISimulatedFileTree"/>, with no root, no FUSE and no real file system.
/// </summary>
/// <remarks>Create one with <see cref="SimulatedHost.CreateFileSystem"/>, or over any file tree.</remarks>
/// <param name="tree">The simulated file tree.</param>
/// <param name="description">How messages name this host.</param>
public sealed class InProcessHostFileSystem(ISimulatedFileTree tree, string description) : IHostFileSystem
{
    private static readonly Encoding Latin1 = Encoding.Latin1;

    /// <inheritdoc />
    public string Description { get; } = description;

    /// <inheritdoc />
    public async ValueTask<SysfsResult<string>> ReadAsync(SysfsPath path, CancellationToken cancellationToken = default)
    {
        var result = await tree.ReadAsync(path.Value, cancellationToken).ConfigureAwait(false);
        return result.Succeeded ? SysfsResult.Of(Latin1.GetString(result.Value!)) : SysfsResult.Failed<string>(result.Error);
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentException"><paramref name="value"/> is not ASCII or is longer than one page; refused before the model sees it, exactly as <see cref="LocalHostFileSystem"/> refuses it before any system call.</exception>
    public ValueTask<SysfsResult> WriteAsync(SysfsPath path, string value, CancellationToken cancellationToken = default) =>
        tree.WriteAsync(path.Value, CheckedValue(path, value), cancellationToken);

    /// <inheritdoc />
    /// <exception cref="ArgumentException"><paramref name="value"/> is not ASCII or is longer than one page.</exception>
    public async ValueTask<SysfsExchange> ExchangeAsync(SysfsPath path, string value, CancellationToken cancellationToken = default)
    {
        var data = CheckedValue(path, value);
        var outcome = await tree.WriteForOpenFileAsync(path.Value, data, cancellationToken).ConfigureAwait(false);
        var reply = outcome.Content is { } content && content.Length > data.Length ? Latin1.GetString(content, data.Length, content.Length - data.Length) : null;
        return new SysfsExchange(outcome.Error, reply, string.IsNullOrEmpty(outcome.Reason) ? null : outcome.Reason);
    }

    private static byte[] CheckedValue(SysfsPath path, string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (!Ascii.IsValid(value))
        {
            throw new ArgumentException($"The value written to '{path}' must be ASCII text; it has a character outside ASCII.", nameof(value));
        }

        if (value.Length > LocalHostFileSystem.MaxWriteLength)
        {
            throw new ArgumentException($"The value written to '{path}' is {value.Length} bytes; sysfs accepts at most {LocalHostFileSystem.MaxWriteLength} bytes (one page) per write.", nameof(value));
        }

        return Encoding.ASCII.GetBytes(value);
    }

    /// <inheritdoc />
    public ValueTask<SysfsResult<IReadOnlyList<string>>> ListAsync(SysfsPath path, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var errno = tree.ListDirectory(path.Value, out var entries);
        return ValueTask.FromResult(errno == Errno.None ? SysfsResult.Of(entries) : SysfsResult.Failed<IReadOnlyList<string>>(errno));
    }

    /// <inheritdoc />
    public ValueTask<SysfsResult<string>> ReadLinkAsync(SysfsPath path, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var errno = tree.ReadLink(path.Value, out var target);
        return ValueTask.FromResult(errno == Errno.None ? SysfsResult.Of(target) : SysfsResult.Failed<string>(errno));
    }
}
