using VfioMigration.Planner.Sysfs;

namespace VfioMigration.Bench;

/// <summary>
/// A destination's sysfs with its version traffic counted where it reaches the host, whoever
/// causes it (the planner or the exhaustive baseline): every write of a source version into a
/// <c>migration_version</c> (a probe), and every question written to a parent's
/// <c>migration_query</c> with the read of its answer on the same open file, per (parent, version).
/// With <c>hideQuery</c> the parent's <c>migration_query</c> is absent (<see cref="Errno.ENOENT"/>,
/// left out of listings): what a driver offering write and test only shows.
/// </summary>
/// <param name="inner">The host's sysfs.</param>
/// <param name="hideQuery">Whether to hide every <c>migration_query</c>.</param>
public sealed class CountingFileSystem(IHostFileSystem inner, bool hideQuery) : IHostFileSystem
{
    private const string VersionAttribute = "migration_version";
    private const string QueryAttribute = "migration_query";

    private readonly Lock _gate = new();
    private readonly Dictionary<string, int> _questions = new(StringComparer.Ordinal);
    private int _versionWrites;
    private int _answerReads;

    /// <inheritdoc />
    public string Description => inner.Description;

    /// <inheritdoc />
    public bool BatchesCalls => inner.BatchesCalls;

    /// <summary>Writes into a <c>migration_version</c> (type-level or device-level) that reached the host.</summary>
    public int VersionWrites
    {
        get
        {
            lock (_gate)
            {
                return _versionWrites;
            }
        }
    }

    /// <summary>Questions written to a <c>migration_query</c>.</summary>
    public int Questions
    {
        get
        {
            lock (_gate)
            {
                return _questions.Values.Sum();
            }
        }
    }

    /// <summary>Answers read back on the question's open file: one per question the driver took (an empty answer is read too); a refused question has none.</summary>
    public int AnswerReads
    {
        get
        {
            lock (_gate)
            {
                return _answerReads;
            }
        }
    }

    /// <summary>The most questions written for one (parent, source version).</summary>
    public int MostQuestionsPerParentAndVersion
    {
        get
        {
            lock (_gate)
            {
                return _questions.Count == 0 ? 0 : _questions.Values.Max();
            }
        }
    }

    /// <summary>How many distinct (parent, source version) were asked.</summary>
    public int ParentVersionPairsAsked
    {
        get
        {
            lock (_gate)
            {
                return _questions.Count;
            }
        }
    }

    /// <inheritdoc />
    public ValueTask<SysfsResult<string>> ReadAsync(SysfsPath path, CancellationToken cancellationToken = default) =>
        IsHidden(path) ? ValueTask.FromResult(SysfsResult.Failed<string>(Errno.ENOENT)) : inner.ReadAsync(path, cancellationToken);

    /// <inheritdoc />
    public async ValueTask<SysfsResult> WriteAsync(SysfsPath path, string value, CancellationToken cancellationToken = default)
    {
        if (IsHidden(path))
        {
            return new SysfsResult(Errno.ENOENT);
        }

        var written = await inner.WriteAsync(path, value, cancellationToken).ConfigureAwait(false);
        Count(path, value, written.Error, answered: false);
        return written;
    }

    /// <inheritdoc />
    public async ValueTask<SysfsExchange> ExchangeAsync(SysfsPath path, string value, CancellationToken cancellationToken = default)
    {
        if (IsHidden(path))
        {
            return new SysfsExchange(Errno.ENOENT, null, null);
        }

        var exchange = await inner.ExchangeAsync(path, value, cancellationToken).ConfigureAwait(false);
        Count(path, value, exchange.Error, answered: exchange.Error == Errno.None);
        return exchange;
    }

    /// <inheritdoc />
    public async ValueTask<SysfsResult<IReadOnlyList<string>>> ListAsync(SysfsPath path, CancellationToken cancellationToken = default)
    {
        var listing = await inner.ListAsync(path, cancellationToken).ConfigureAwait(false);
        return hideQuery && listing.Value is { } names && names.Contains(QueryAttribute, StringComparer.Ordinal)
            ? SysfsResult.Of<IReadOnlyList<string>>([.. names.Where(name => name != QueryAttribute)])
            : listing;
    }

    /// <inheritdoc />
    public ValueTask<SysfsResult<string>> ReadLinkAsync(SysfsPath path, CancellationToken cancellationToken = default) => inner.ReadLinkAsync(path, cancellationToken);

    private bool IsHidden(SysfsPath path) => hideQuery && Name(path) == QueryAttribute;

    private static string Name(SysfsPath path) => path.Value[(path.Value.LastIndexOf('/') + 1)..];

    /// <summary>Counts a write that reached the host: an attribute that does not exist (ENOENT) ran no driver code.</summary>
    private void Count(SysfsPath path, string version, Errno error, bool answered)
    {
        if (error == Errno.ENOENT)
        {
            return;
        }

        var name = Name(path);
        lock (_gate)
        {
            if (name == VersionAttribute)
            {
                _versionWrites++;
            }
            else if (name == QueryAttribute)
            {
                var key = $"{path.Value}|{version.TrimEnd('\n')}";
                _questions[key] = _questions.GetValueOrDefault(key) + 1;
                _answerReads += answered ? 1 : 0;
            }
        }
    }
}
