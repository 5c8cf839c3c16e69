namespace VfioMigration.Planner.Xml;

/// <summary>
/// libvirt XML (a domain or node device document) that cannot be used: not well-formed, over the
/// size limit, carrying a DTD, or with a missing or invalid value. The message names the element
/// (as a path such as <c>/domain/devices/hostdev[2]/source/address</c>), the line and the problem.
/// </summary>
public sealed class LibvirtXmlException : FormatException
{
    /// <summary>Creates an exception with a message only.</summary>
    public LibvirtXmlException()
        : this("The libvirt XML is invalid.")
    {
    }

    /// <summary>Creates an exception with a message only.</summary>
    /// <param name="message">What is wrong.</param>
    public LibvirtXmlException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception that wraps the error that revealed the problem.</summary>
    /// <param name="message">What is wrong.</param>
    /// <param name="innerException">The underlying error.</param>
    public LibvirtXmlException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates an exception located at an element.</summary>
    /// <param name="elementPath">The element's path, e.g. <c>/domain/devices/hostdev[2]/source/address</c>; null when the problem is the document as a whole.</param>
    /// <param name="lineNumber">The 1-based line of the element, when known.</param>
    /// <param name="problem">What is wrong, in a sentence.</param>
    /// <param name="innerException">The underlying error, when any.</param>
    public LibvirtXmlException(string? elementPath, int? lineNumber, string problem, Exception? innerException = null)
        : base(Describe(elementPath, lineNumber, problem), innerException)
    {
        ElementPath = elementPath;
        LineNumber = lineNumber;
        Problem = problem;
    }

    /// <summary>The path of the offending element, e.g. <c>/domain/devices/hostdev[2]/source/address</c>; null when the problem is the document as a whole.</summary>
    public string? ElementPath { get; }

    /// <summary>The 1-based line of the offending element, when known.</summary>
    public int? LineNumber { get; }

    /// <summary>The problem alone, without the location.</summary>
    public string? Problem { get; }

    private static string Describe(string? elementPath, int? lineNumber, string problem) =>
        (elementPath, lineNumber) switch
        {
            (null, null) => problem,
            (null, { } line) => $"line {line}: {problem}",
            ({ } path, null) => $"{path}: {problem}",
            ({ } path, { } line) => $"{path} (line {line}): {problem}",
        };
}
