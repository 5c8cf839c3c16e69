using System.Xml;

namespace VfioMigration.Planner.Xml;

/// <summary>
/// A name table kept per thread for reading many small documents one after another: an
/// <see cref="XmlReader"/> otherwise builds a table of its own for each document, which for libvirt's
/// guest XML costs about a third of what the reader allocates. Bounded: a table that has taken more
/// than <see cref="MaxCharacters"/> characters of names (libvirt's domain XML uses about a hundred
/// names; only invented ones run past that) is dropped when its document is done.
/// </summary>
/// <remarks>Not thread-safe, by design: each thread has its own, used by one reader at a time.</remarks>
internal sealed class ThreadNameTable : XmlNameTable
{
    /// <summary>The characters of names a table may hold and still be used for the next document.</summary>
    internal const int MaxCharacters = 16 * 1024;

    [ThreadStatic]
    private static ThreadNameTable? current;

    private readonly NameTable _names = new();

    /// <summary>Characters of the names added so far (each counted with one more for its entry).</summary>
    internal int Characters { get; private set; }

    /// <summary>The calling thread's table (made on first use).</summary>
    internal static ThreadNameTable ForThisThread() => current ??= new ThreadNameTable();

    /// <summary>Drops the calling thread's table if it has grown past <see cref="MaxCharacters"/>; call when a document is done.</summary>
    internal static void Trim()
    {
        if (current is { Characters: > MaxCharacters })
        {
            current = null;
        }
    }

    /// <inheritdoc />
    public override string Add(char[] array, int offset, int length) =>
        _names.Get(array, offset, length) ?? Added(_names.Add(array, offset, length));

    /// <inheritdoc />
    public override string Add(string array) =>
        _names.Get(array) ?? Added(_names.Add(array));

    /// <inheritdoc />
    public override string? Get(char[] array, int offset, int length) => _names.Get(array, offset, length);

    /// <inheritdoc />
    public override string? Get(string array) => _names.Get(array);

    private string Added(string name)
    {
        Characters += name.Length + 1;
        return name;
    }
}
