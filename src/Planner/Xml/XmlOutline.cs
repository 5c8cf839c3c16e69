using System.Text;
using System.Xml;
using System.Xml.Linq;

namespace VfioMigration.Planner.Xml;

/// <summary>
/// Reading libvirt's XML straight from its UTF-8 buffer into the few elements a reader keeps (an
/// outline), without a string of the whole text or a tree of the whole document; shared by the
/// domain and node device readers. Elements are built as <see cref="XElement.Load(XmlReader, LoadOptions)"/>
/// builds them (names and attributes alike), each located at its line (<see cref="LibvirtXml.SourceLine"/>),
/// so errors name the same path and line as a document loaded from text.
/// </summary>
internal static class XmlOutline
{
    /// <summary>
    /// Reads the whole document from <paramref name="utf8"/> (every byte is checked) with the calling
    /// thread's name table; <paramref name="readRoot"/> is called on the root element and must leave the
    /// reader after it. Null when the document is broken or declares an encoding other than libvirt's
    /// UTF-8 (a byte reader would switch to it): the caller then reads it as text
    /// (<see cref="Text(Stream)"/>), which also locates any error.
    /// </summary>
    /// <param name="utf8">The document as UTF-8, seekable.</param>
    /// <param name="rootName">The kind of document, for the size check's message.</param>
    /// <param name="settings">The reader settings (<see cref="LibvirtXml.ReaderSettings"/> or a stricter copy).</param>
    /// <param name="readRoot">Reads the root element into what is kept.</param>
    /// <exception cref="LibvirtXmlException">The document is over the size limit.</exception>
    internal static XElement? Read(Stream utf8, string rootName, XmlReaderSettings settings, Func<XmlReader, XElement> readRoot)
    {
        LibvirtXml.CheckLength(utf8.Length, utf8Bytes: true, rootName);
        try
        {
            using var reader = XmlReader.Create(utf8, settings, new XmlParserContext(ThreadNameTable.ForThisThread(), null, null, XmlSpace.None));
            return Document(reader, utf8Bytes: true, readRoot);
        }
        catch (XmlException)
        {
            return null;
        }
        finally
        {
            ThreadNameTable.Trim();
        }
    }

    /// <summary>
    /// Reads the whole document from <paramref name="reader"/>: up to the root element, the root with
    /// <paramref name="readRoot"/>, then what follows it (comments, processing instructions, or a second
    /// root, which fails). Null when <paramref name="utf8Bytes"/> and the XML declaration names another encoding.
    /// </summary>
    /// <exception cref="XmlException">The document is not well-formed.</exception>
    internal static XElement? Document(XmlReader reader, bool utf8Bytes, Func<XmlReader, XElement> readRoot)
    {
        while (reader.Read() && reader.NodeType != XmlNodeType.Element)
        {
            if (utf8Bytes && reader.NodeType == XmlNodeType.XmlDeclaration
                && reader.GetAttribute("encoding") is { } encoding
                && !encoding.Equals("UTF-8", StringComparison.OrdinalIgnoreCase) && !encoding.Equals("UTF8", StringComparison.OrdinalIgnoreCase))
            {
                return null;
            }
        }

        var root = readRoot(reader);
        while (reader.Read())
        {
        }

        return root;
    }

    /// <summary>The document <see cref="Read"/> could not read, as the UTF-8 text libvirt means.</summary>
    internal static string Text(Stream utf8)
    {
        utf8.Position = 0;
        using var text = new StreamReader(utf8, Encoding.UTF8, detectEncodingFromByteOrderMarks: false);
        return text.ReadToEnd();
    }

    /// <summary>
    /// The element the reader is on, whole, leaving the reader after it. With <paramref name="text"/> its
    /// text is kept too (the text, CDATA and whitespace nodes the reader reports); without, only elements
    /// and attributes.
    /// </summary>
    internal static XElement Element(XmlReader reader, bool text)
    {
        var top = Stub(reader);
        if (reader.IsEmptyElement)
        {
            reader.Read();
            return top;
        }

        var depth = reader.Depth;
        var open = top;
        reader.Read();
        while (reader.Depth > depth)
        {
            switch (reader.NodeType)
            {
                case XmlNodeType.Element:
                    var child = Stub(reader);
                    open.Add(child);
                    open = reader.IsEmptyElement ? open : child;
                    break;
                case XmlNodeType.EndElement:
                    open = open.Parent!;
                    break;
                case XmlNodeType.Text or XmlNodeType.CDATA or XmlNodeType.Whitespace or XmlNodeType.SignificantWhitespace when text:
                    open.Add(new XText(reader.Value));
                    break;
                default:
                    break;
            }

            reader.Read();
        }

        reader.Read();
        return top;
    }

    /// <summary>
    /// The element the reader is on, with its attributes and located at its line, without content; with
    /// <paramref name="skip"/>, no attributes and the reader moved after it.
    /// </summary>
    internal static XElement Stub(XmlReader reader, bool skip = false)
    {
        var stub = new XElement(XName.Get(reader.LocalName, reader.NamespaceURI));
        if (reader is IXmlLineInfo info && info.HasLineInfo())
        {
            stub.AddAnnotation(new LibvirtXml.SourceLine(info.LineNumber));
        }

        if (!skip && reader.MoveToFirstAttribute())
        {
            // As XLinq names them: an attribute without a prefix (xmlns itself included) has no namespace.
            do
            {
                stub.Add(new XAttribute(XName.Get(reader.LocalName, reader.Prefix.Length == 0 ? string.Empty : reader.NamespaceURI), reader.Value));
            }
            while (reader.MoveToNextAttribute());
            reader.MoveToElement();
        }

        if (skip)
        {
            reader.Skip();
        }

        return stub;
    }
}
