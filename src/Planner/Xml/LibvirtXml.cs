using System.Globalization;
using System.Xml;
using System.Xml.Linq;

namespace VfioMigration.Planner.Xml;

/// <summary>
/// Safe loading of libvirt XML and located errors, shared by the readers and the writer.
/// </summary>
internal static class LibvirtXml
{
    /// <summary>
    /// The largest document accepted, in characters. libvirt's domain and node device documents
    /// are a few kilobytes; anything near this size is a mistake or an attack.
    /// </summary>
    internal const int MaxDocumentCharacters = 4 * 1024 * 1024;

    /// <summary>Parses <paramref name="xml"/> with DTDs refused, no resolver and the size cap, keeping line numbers.</summary>
    /// <param name="xml">The document text.</param>
    /// <param name="rootName">The root element libvirt uses for this kind of document (<c>domain</c>, <c>device</c>).</param>
    /// <exception cref="LibvirtXmlException">The text is too large, not well-formed, has a DTD, or has another root.</exception>
    internal static XDocument Load(string xml, string rootName)
    {
        ArgumentNullException.ThrowIfNull(xml);
        CheckLength(xml.Length, utf8Bytes: false, rootName);
        XDocument document;
        try
        {
            using var reader = XmlReader.Create(new StringReader(xml), ReaderSettings);
            document = XDocument.Load(reader, LoadOptions.SetLineInfo | LoadOptions.PreserveWhitespace);
        }
        catch (XmlException error)
        {
            // Only a broken document pays for the second pass that finds the element to name.
            throw Locate(xml, error);
        }

        CheckRoot(document.Root!, rootName);
        return document;
    }

    /// <summary>Refuses a document of more than <see cref="MaxDocumentCharacters"/> characters, or of more UTF-8 bytes than that many characters can take (3 each).</summary>
    /// <param name="length">The document's length, in characters or (<paramref name="utf8Bytes"/>) bytes.</param>
    /// <param name="utf8Bytes">Whether <paramref name="length"/> counts UTF-8 bytes.</param>
    /// <param name="rootName">The kind of document, for the message.</param>
    /// <exception cref="LibvirtXmlException">The document is over the limit.</exception>
    internal static void CheckLength(long length, bool utf8Bytes, string rootName)
    {
        var (limit, unit) = utf8Bytes ? (3L * MaxDocumentCharacters, "bytes") : (MaxDocumentCharacters, "characters");
        if (length > limit)
        {
            throw new LibvirtXmlException(null, null, string.Create(
                CultureInfo.InvariantCulture,
                $"the document has {length} {unit}, over the limit of {limit}; libvirt's {rootName} XML is a few kilobytes, so this is not one."));
        }
    }

    /// <summary>Refuses a root element other than libvirt's <paramref name="rootName"/>.</summary>
    /// <exception cref="LibvirtXmlException">The root is another element.</exception>
    internal static void CheckRoot(XElement root, string rootName)
    {
        if (root.Name != XName.Get(rootName))
        {
            throw Error(root, $"the root element is <{root.Name.LocalName}>; expected libvirt <{rootName}> XML.");
        }
    }

    /// <summary>An error located at <paramref name="element"/> (its path and line).</summary>
    internal static LibvirtXmlException Error(XElement element, string problem, Exception? innerException = null)
    {
        var line = element is IXmlLineInfo info && info.HasLineInfo() ? info.LineNumber : element.Annotation<SourceLine>()?.Line;
        return new LibvirtXmlException(PathOf(element), line, problem, innerException);
    }

    /// <summary>The line of an element made by hand from a reader's position (an outline's element, which has no line info of its own).</summary>
    /// <param name="Line">The 1-based line of the element's start tag.</param>
    internal sealed record SourceLine(int Line);

    /// <summary>The element's path from the root, with a 1-based index where it has same-named siblings: <c>/domain/devices/hostdev[2]/source/address</c>.</summary>
    internal static string PathOf(XElement element)
    {
        var segments = new Stack<string>();
        for (var current = element; current is not null; current = current.Parent)
        {
            var name = current.Name.LocalName;
            var parent = current.Parent;
            if (parent is not null && parent.Elements(current.Name).Skip(1).Any())
            {
                var index = parent.Elements(current.Name).TakeWhile(sibling => sibling != current).Count() + 1;
                name = string.Create(CultureInfo.InvariantCulture, $"{name}[{index}]");
            }

            segments.Push(name);
        }

        return "/" + string.Join('/', segments);
    }

    /// <summary>The value of a required attribute.</summary>
    /// <exception cref="LibvirtXmlException">The attribute is absent or empty.</exception>
    internal static string RequiredAttribute(XElement element, string name)
    {
        var value = (string?)element.Attribute(name);
        return string.IsNullOrEmpty(value)
            ? throw Error(element, $"the attribute '{name}' is missing or empty.")
            : value;
    }

    /// <summary>The one child element named <paramref name="name"/>.</summary>
    /// <exception cref="LibvirtXmlException">There is no such child, or more than one.</exception>
    internal static XElement RequiredChild(XElement element, string name)
    {
        using var children = element.Elements(name).GetEnumerator();
        if (!children.MoveNext())
        {
            throw Error(element, $"the child element <{name}> is missing.");
        }

        var child = children.Current;
        return children.MoveNext()
            ? throw Error(children.Current, $"<{element.Name.LocalName}> has more than one <{name}>; libvirt writes exactly one.")
            : child;
    }

    /// <summary>Parses a value with one of the validated value types' <c>Parse(text, where)</c> methods, turning its error into a located one.</summary>
    /// <param name="element">The element the value belongs to.</param>
    /// <param name="what">What the value is, e.g. <c>attribute 'uuid'</c>; used as the value type's <c>where</c>.</param>
    /// <param name="text">The text to parse.</param>
    /// <param name="parse">The value type's parser.</param>
    internal static T ParseValue<T>(XElement element, string what, string? text, Func<string?, string, T> parse)
    {
        try
        {
            return parse(text, what);
        }
        catch (FormatException error)
        {
            throw Error(element, error.Message, error);
        }
    }

    /// <summary>
    /// Parses an unsigned number as libvirt's XML parser does (C <c>strtoul</c> with base 0):
    /// <c>0x</c> prefix hex, leading <c>0</c> octal, otherwise decimal. libvirt itself writes hex (<c>0x3b</c>).
    /// </summary>
    /// <exception cref="LibvirtXmlException">The text is not such a number, or exceeds <paramref name="maximum"/>.</exception>
    internal static int ParseLibvirtNumber(XElement element, string attribute, string text, int maximum)
    {
        var (digits, radix, radixName) = text switch
        {
            _ when text.StartsWith("0x", StringComparison.OrdinalIgnoreCase) => (text[2..], 16, "a hex"),
            ['0', _, ..] => (text[1..], 8, "an octal"),
            _ => (text, 10, "a decimal"),
        };

        long value = 0;
        var valid = digits.Length is > 0 and <= 10;
        foreach (var digit in digits)
        {
            var digitValue = HexDigitValue(digit);
            if (!valid || digitValue < 0 || digitValue >= radix)
            {
                valid = false;
                break;
            }

            value = (value * radix) + digitValue;
        }

        if (!valid)
        {
            throw Error(element, $"the attribute '{attribute}' is '{Shorten(text)}', which is not {radixName} number (libvirt writes hex such as '0x3b'; decimal and 0-prefixed octal are also read).");
        }

        return value <= maximum
            ? (int)value
            : throw Error(element, string.Create(CultureInfo.InvariantCulture, $"the attribute '{attribute}' is '{text}' ({value}), over the maximum of {maximum} (0x{maximum:x})."));
    }

    /// <summary>Parses a plain decimal number, as libvirt writes node device values (PCI address parts, counts, IOMMU groups).</summary>
    /// <param name="element">The element the value belongs to.</param>
    /// <param name="what">What the value is, e.g. <c>attribute 'number'</c>.</param>
    /// <param name="text">The text to parse.</param>
    /// <param name="maximum">The largest value allowed.</param>
    /// <exception cref="LibvirtXmlException">The text is not a decimal number in 0..<paramref name="maximum"/>.</exception>
    internal static int ParseDecimal(XElement element, string what, string text, int maximum) =>
        text.Length is > 0 and <= 10
        && text.All(char.IsAsciiDigit)
        && long.Parse(text, NumberStyles.None, CultureInfo.InvariantCulture) is var value
        && value <= maximum
            ? (int)value
            : throw Error(element, string.Create(CultureInfo.InvariantCulture, $"{what} is '{Shorten(text)}', which is not a decimal number from 0 to {maximum}."));

    /// <summary>Cuts untrusted text to a length that fits an error message.</summary>
    internal static string Shorten(string text) =>
        text.Length <= 80 ? text : string.Concat(text.AsSpan(0, 77), "...");

    private static int HexDigitValue(char digit) =>
        char.IsAsciiDigit(digit) ? digit - '0'
        : char.IsAsciiHexDigitLower(digit) ? digit - 'a' + 10
        : char.IsAsciiHexDigitUpper(digit) ? digit - 'A' + 10
        : -1;

    /// <summary>DTDs prohibited, no resolver, the size cap. Read-only once a reader has used it, and no shared NameTable: safe to share between threads.</summary>
    internal static readonly XmlReaderSettings ReaderSettings = new()
    {
        DtdProcessing = DtdProcessing.Prohibit,
        XmlResolver = null,
        MaxCharactersInDocument = MaxDocumentCharacters,
        MaxCharactersFromEntities = 0,
    };

    /// <summary>
    /// Reads a document that failed to load with <paramref name="loadError"/> again, tracking the open
    /// elements, and returns the error naming the element it occurred in (XDocument.Load cannot).
    /// </summary>
    internal static LibvirtXmlException Locate(string xml, XmlException loadError)
    {
        var open = new Stack<(string Segment, Dictionary<string, int> ChildCounts)>();
        var topLevel = new Dictionary<string, int>(StringComparer.Ordinal);
        try
        {
            using var reader = XmlReader.Create(new StringReader(xml), ReaderSettings);
            while (reader.Read())
            {
                if (reader.NodeType == XmlNodeType.Element)
                {
                    var siblings = open.Count == 0 ? topLevel : open.Peek().ChildCounts;
                    var index = siblings[reader.LocalName] = siblings.GetValueOrDefault(reader.LocalName) + 1;
                    var segment = index == 1 ? reader.LocalName : string.Create(CultureInfo.InvariantCulture, $"{reader.LocalName}[{index}]");
                    if (!reader.IsEmptyElement)
                    {
                        open.Push((segment, new Dictionary<string, int>(StringComparer.Ordinal)));
                    }
                }
                else if (reader.NodeType == XmlNodeType.EndElement)
                {
                    open.Pop();
                }
            }
        }
        catch (XmlException error) when (error.LineNumber == 0 && xml.Contains("<!DOCTYPE", StringComparison.Ordinal))
        {
            return new LibvirtXmlException(null, LineOf(xml, xml.IndexOf("<!DOCTYPE", StringComparison.Ordinal)),
                "the document has a DOCTYPE; libvirt XML never has one, and DTDs are refused because their entities can expand without bound.", error);
        }
        catch (XmlException error)
        {
            var segments = open.Reverse().Select(frame => frame.Segment).ToList();
            if (error.LineNumber > 0 && StartTagAt(xml, new TextLines(xml).OffsetOf(error.LineNumber, error.LinePosition)) is { } name)
            {
                // The error is inside a start tag (a duplicate or malformed attribute): that element is the one to name.
                var siblings = open.Count == 0 ? topLevel : open.Peek().ChildCounts;
                var index = siblings.GetValueOrDefault(name) + 1;
                segments.Add(index == 1 ? name : string.Create(CultureInfo.InvariantCulture, $"{name}[{index}]"));
            }

            var path = segments.Count == 0 ? null : "/" + string.Join('/', segments);
            return NotWellFormed(path, error);
        }

        // The same reader settings read the same text, so this pass fails too; if it ever did not, say what the load said.
        return NotWellFormed(null, loadError);
    }

    private static LibvirtXmlException NotWellFormed(string? path, XmlException error) =>
        new(path, error.LineNumber == 0 ? null : error.LineNumber, $"not well-formed XML: {error.Message}", error);

    /// <summary>The name of the start tag that encloses <paramref name="offset"/>, if the offset is inside one.</summary>
    private static string? StartTagAt(string xml, int offset)
    {
        offset = Math.Min(offset, xml.Length - 1);
        var tagStart = offset < 0 ? -1 : xml.LastIndexOf('<', offset);
        if (tagStart < 0 || xml.IndexOf('>', tagStart, offset - tagStart + 1) >= 0 || tagStart + 1 >= xml.Length || !XmlConvert.IsStartNCNameChar(xml[tagStart + 1]))
        {
            return null;
        }

        var nameEnd = tagStart + 1;
        while (nameEnd < xml.Length && (XmlConvert.IsNCNameChar(xml[nameEnd]) || xml[nameEnd] == ':'))
        {
            nameEnd++;
        }

        return nameEnd > offset ? null : xml[(tagStart + 1)..nameEnd];
    }

    private static int LineOf(string text, int offset) =>
        new TextLines(text).LineOf(offset);
}
