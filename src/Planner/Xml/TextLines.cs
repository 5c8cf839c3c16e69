namespace VfioMigration.Planner.Xml;

/// <summary>
/// Maps between character offsets in a text and the (line, position) pairs System.Xml reports,
/// which count <c>\r\n</c>, <c>\r</c> and <c>\n</c> each as one line break and positions from 1.
/// </summary>
internal sealed class TextLines
{
    private readonly List<int> lineStarts = [0];

    /// <summary>Indexes the line starts of <paramref name="text"/>.</summary>
    internal TextLines(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '\n' || (text[i] == '\r' && (i + 1 == text.Length || text[i + 1] != '\n')))
            {
                lineStarts.Add(i + 1);
            }
        }
    }

    /// <summary>The offset of 1-based <paramref name="line"/> and <paramref name="position"/>.</summary>
    internal int OffsetOf(int line, int position) => lineStarts[line - 1] + position - 1;

    /// <summary>The 1-based line that contains <paramref name="offset"/>.</summary>
    internal int LineOf(int offset)
    {
        var index = lineStarts.BinarySearch(offset);
        return (index >= 0 ? index : ~index - 1) + 1;
    }
}
