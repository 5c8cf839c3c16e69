namespace VfioMigration.HostSimulator.Scenarios;

/// <summary>A scenario file or object is malformed or inconsistent.</summary>
/// <remarks>The message starts with the JSON path of the offending value, e.g. <c>$.parents[1].types[0].maxInstances: must be &gt; 0</c>.</remarks>
public sealed class ScenarioException : Exception
{
    /// <summary>Creates the exception for the value at <paramref name="jsonPath"/>.</summary>
    /// <param name="jsonPath">Where the problem is, e.g. <c>$.parents[1].types[0].maxInstances</c>.</param>
    /// <param name="problem">What is wrong and what to do about it.</param>
    /// <param name="innerException">The parser's exception, when there was one.</param>
    public ScenarioException(string jsonPath, string problem, Exception? innerException = null)
        : base($"{jsonPath}: {problem}", innerException)
    {
        JsonPath = jsonPath;
        Problem = problem;
    }

    /// <summary>Creates the exception with a bare message (prefer the JSON-path constructor).</summary>
    public ScenarioException()
        : this("$", "invalid scenario")
    {
    }

    /// <summary>Creates the exception with a bare message (prefer the JSON-path constructor).</summary>
    public ScenarioException(string message)
        : this("$", message)
    {
    }

    /// <summary>Creates the exception with a bare message (prefer the JSON-path constructor).</summary>
    public ScenarioException(string message, Exception innerException)
        : this("$", message, innerException)
    {
    }

    /// <summary>The JSON path of the offending value (<c>$</c> for the whole document).</summary>
    public string JsonPath { get; }

    /// <summary>What is wrong, without the path.</summary>
    public string Problem { get; }
}
