using System.Text;
using System.Xml;
using System.Xml.Linq;

namespace VfioMigration.Planner.Xml;

/// <summary>
/// Edits the original text of a parsed document in place: attributes of chosen start tags and
/// whole empty elements. Everything not edited keeps its exact bytes (quotes, spacing, comments,
/// namespaces, attribute order), which re-serialising an <see cref="XDocument"/> would not.
/// </summary>
internal sealed class XmlTextEditor
{
    private readonly string text;
    private readonly TextLines lines;
    private readonly List<(int Start, int Length, string Replacement)> edits = [];

    /// <summary>Prepares to edit <paramref name="text"/>, the text the elements passed in later were loaded from (with line info).</summary>
    internal XmlTextEditor(string text)
    {
        this.text = text;
        lines = new TextLines(text);
    }

    /// <summary>
    /// Rewrites the start tag of <paramref name="element"/>: removes the attributes named in
    /// <paramref name="remove"/>, then sets each of <paramref name="set"/> (in place when it
    /// exists, appended after the last attribute otherwise).
    /// </summary>
    internal void ChangeAttributes(XElement element, IEnumerable<string> remove, IEnumerable<KeyValuePair<string, string>> set)
    {
        var tag = StartTag.Parse(text, StartOf(element));
        var removed = remove.ToHashSet(StringComparer.Ordinal);
        var values = set.ToList();
        var result = new StringBuilder(text, tag.Start, tag.NameEnd - tag.Start, tag.End - tag.Start + 64);
        var position = tag.NameEnd;
        foreach (var attribute in tag.Attributes)
        {
            if (removed.Contains(attribute.Name))
            {
                result.Append(text, position, attribute.Start - position);
                position = attribute.End;
                TrimTrailingWhitespace(result);
                continue;
            }

            var index = values.FindIndex(value => value.Key == attribute.Name);
            if (index < 0)
            {
                continue;
            }

            result.Append(text, position, attribute.ValueStart - position).Append(Escape(values[index].Value, attribute.Quote));
            position = attribute.ValueEnd;
            values.RemoveAt(index);
        }

        var lastAttributeEnd = tag.Attributes.Count == 0 ? tag.NameEnd : Math.Max(position, tag.Attributes[^1].End);
        result.Append(text, position, lastAttributeEnd - position);
        foreach (var (name, value) in values)
        {
            result.Append(' ').Append(name).Append("='").Append(Escape(value, '\'')).Append('\'');
        }

        result.Append(text, lastAttributeEnd, tag.End - lastAttributeEnd);
        edits.Add((tag.Start, tag.End - tag.Start, result.ToString()));
    }

    /// <summary>Removes an element that has no content (<c>&lt;driver name='vfio'/&gt;</c>), with the indentation before it.</summary>
    /// <exception cref="ArgumentException">The element has content.</exception>
    internal void RemoveEmptyElement(XElement element)
    {
        if (element.Nodes().Any(node => node is not XText { Value: var value } || !string.IsNullOrWhiteSpace(value)))
        {
            throw new ArgumentException($"{LibvirtXml.PathOf(element)} has content; only empty elements are removed.", nameof(element));
        }

        var tag = StartTag.Parse(text, StartOf(element));
        var end = tag.End;
        if (!tag.SelfClosing)
        {
            // The end tag follows the (whitespace-only) content.
            end = text.IndexOf('>', text.IndexOf("</", end, StringComparison.Ordinal)) + 1;
        }

        var start = tag.Start;
        while (start > 0 && text[start - 1] is ' ' or '\t')
        {
            start--;
        }

        if (start > 0 && text[start - 1] == '\n')
        {
            start -= start > 1 && text[start - 2] == '\r' ? 2 : 1;
        }
        else
        {
            start = tag.Start;
        }

        edits.Add((start, end - start, string.Empty));
    }

    /// <summary>The text with every edit applied.</summary>
    /// <exception cref="InvalidOperationException">Two edits overlap (one element edited twice).</exception>
    internal string Apply()
    {
        var ordered = edits.OrderBy(edit => edit.Start).ToList();
        var result = new StringBuilder(text.Length + 256);
        var position = 0;
        foreach (var (start, length, replacement) in ordered)
        {
            if (start < position)
            {
                throw new InvalidOperationException("Two edits of the XML text overlap; each element may be edited once.");
            }

            result.Append(text, position, start - position).Append(replacement);
            position = start + length;
        }

        return result.Append(text, position, text.Length - position).ToString();
    }

    private static void TrimTrailingWhitespace(StringBuilder builder)
    {
        var length = builder.Length;
        while (length > 0 && XmlConvert.IsWhitespaceChar(builder[length - 1]))
        {
            length--;
        }

        builder.Length = length;
    }

    private static string Escape(string value, char quote)
    {
        var escaped = value.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal);
        return quote == '\'' ? escaped.Replace("'", "&apos;", StringComparison.Ordinal) : escaped.Replace("\"", "&quot;", StringComparison.Ordinal);
    }

    /// <summary>The offset of the element's <c>&lt;</c>, from the line info it was loaded with, checked against the text.</summary>
    private int StartOf(XElement element)
    {
        var info = (IXmlLineInfo)element;
        var name = element.GetPrefixOfNamespace(element.Name.Namespace) is { Length: > 0 } prefix
            ? $"{prefix}:{element.Name.LocalName}"
            : element.Name.LocalName;
        var start = info.HasLineInfo() ? lines.OffsetOf(info.LineNumber, info.LinePosition) - 1 : -1;
        return start >= 0 && text[start] == '<' && string.CompareOrdinal(text, start + 1, name, 0, name.Length) == 0
            ? start
            : throw new InvalidOperationException($"The start tag of {LibvirtXml.PathOf(element)} was not found where its line info points; the element must come from a document loaded from this text with line info.");
    }

    /// <summary>One attribute of a start tag, as offsets into the text.</summary>
    private readonly record struct TagAttribute(string Name, int Start, int End, int ValueStart, int ValueEnd, char Quote);

    /// <summary>A start tag's layout in the text. The text is known to be well-formed (System.Xml read it), so a simple scan suffices.</summary>
    private sealed record StartTag(int Start, int NameEnd, int End, bool SelfClosing, IReadOnlyList<TagAttribute> Attributes)
    {
        internal static StartTag Parse(string text, int start)
        {
            var position = SkipName(text, start + 1);
            var nameEnd = position;
            var attributes = new List<TagAttribute>();
            while (true)
            {
                while (XmlConvert.IsWhitespaceChar(text[position]))
                {
                    position++;
                }

                if (text[position] == '>')
                {
                    return new StartTag(start, nameEnd, position + 1, false, attributes);
                }

                if (text[position] == '/')
                {
                    return new StartTag(start, nameEnd, position + 2, true, attributes);
                }

                var attributeStart = position;
                position = SkipName(text, position);
                var name = text[attributeStart..position];
                position = text.IndexOf('=', position) + 1;
                while (XmlConvert.IsWhitespaceChar(text[position]))
                {
                    position++;
                }

                var quote = text[position];
                var valueEnd = text.IndexOf(quote, position + 1);
                attributes.Add(new TagAttribute(name, attributeStart, valueEnd + 1, position + 1, valueEnd, quote));
                position = valueEnd + 1;
            }
        }

        private static int SkipName(string text, int position)
        {
            while (!XmlConvert.IsWhitespaceChar(text[position]) && text[position] is not ('=' or '/' or '>'))
            {
                position++;
            }

            return position;
        }
    }
}
