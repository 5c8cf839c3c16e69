using System.Text.Json;
using System.Text.Json.Serialization;

namespace VfioMigration.HostSimulator.Scenarios;

/// <summary>Reads scenario files. Structural errors (bad JSON, unknown property, wrong value type) name the JSON path.</summary>
/// <remarks>This only parses; <see cref="SimulatedHost.FromScenario"/> checks values and cross-references.</remarks>
public static class ScenarioLoader
{
    /// <summary>The largest scenario file read: 16 MiB (the largest example is a few kilobytes).</summary>
    public const int MaxFileBytes = 16 << 20;

    /// <summary>Reads and parses a scenario file: a regular file of at most <see cref="MaxFileBytes"/> bytes.</summary>
    /// <param name="path">The JSON file.</param>
    /// <exception cref="ScenarioException">The file is not a well-formed scenario; the message names the JSON path and the file.</exception>
    /// <exception cref="FileNotFoundException">Nothing exists at <paramref name="path"/>.</exception>
    /// <exception cref="IOException">The file is a directory, a FIFO or device node, larger than <see cref="MaxFileBytes"/>, or cannot be read; nothing blocks.</exception>
    public static Scenario LoadFile(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var json = Planner.Sysfs.BoundedFile.ReadAllText(path, MaxFileBytes);
        try
        {
            return Parse(json);
        }
        catch (ScenarioException e)
        {
            throw new ScenarioException(e.JsonPath, $"{e.Problem} (in {path})", e);
        }
    }

    /// <summary>Parses scenario JSON text.</summary>
    /// <exception cref="ScenarioException">The text is not a well-formed scenario; the message names the JSON path.</exception>
    public static Scenario Parse(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        try
        {
            return JsonSerializer.Deserialize(json, ScenarioJsonContext.Default.Scenario)
                ?? throw new ScenarioException("$", "the document is null; expected an object with \"version\": 1.");
        }
        catch (JsonException e)
        {
            throw new ScenarioException(e.Path ?? "$", Describe(e), e);
        }
    }

    /// <summary>Serializes a scenario to indented JSON (the format <see cref="Parse"/> reads).</summary>
    public static string Serialize(Scenario scenario) =>
        JsonSerializer.Serialize(scenario, ScenarioJsonContext.Default.Scenario);

    private static string Describe(JsonException e)
    {
        // The serializer's message repeats the path and adds line info; keep its first sentence, which says what is wrong.
        var message = e.Message;
        var pathMention = message.IndexOf(" Path:", StringComparison.Ordinal);
        var core = pathMention > 0 ? message[..pathMention] : message;
        return e.LineNumber is { } line ? $"{core} (line {line + 1})" : core;
    }
}

/// <summary>Source-generated System.Text.Json metadata for scenario files.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    UseStringEnumConverter = true,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    ReadCommentHandling = JsonCommentHandling.Skip,
    AllowTrailingCommas = true,
    WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(Scenario))]
internal sealed partial class ScenarioJsonContext : JsonSerializerContext;
