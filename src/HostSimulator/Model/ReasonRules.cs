using System.Text.RegularExpressions;
using VfioMigration.HostSimulator.Scenarios;

namespace VfioMigration.HostSimulator.Model;

/// <summary>A driver's human-readable reasons: the first rule whose pattern matches the whole written text gives the reason.</summary>
internal sealed class ReasonRules
{
    private static readonly TimeSpan PatternTimeout = TimeSpan.FromMilliseconds(200);

    private readonly List<(Regex Pattern, string Reason)> _rules = [];

    private ReasonRules(IReadOnlyList<ReasonSpec> specs, string path)
    {
        for (var i = 0; i < specs.Count; i++)
        {
            var rulePath = $"{path}[{i}]";
            var spec = ScenarioValues.Required(specs[i], rulePath);
            var reason = ScenarioValues.AttributeText(spec.Reason, $"{rulePath}.reason");
            _rules.Add((Compile(spec.Match, $"{rulePath}.match"), reason));
        }
    }

    /// <summary>The rules of <paramref name="specs"/>; null (no reasons) when absent.</summary>
    public static ReasonRules? From(IReadOnlyList<ReasonSpec>? specs, string path) => specs is null ? null : new ReasonRules(specs, path);

    /// <summary>A .NET regular expression that must match a whole text, with the scenario path in its error.</summary>
    public static Regex Compile(string? pattern, string path)
    {
        try
        {
            return new Regex($"^(?:{ScenarioValues.Required(pattern, path)})\\z", RegexOptions.CultureInvariant, PatternTimeout);
        }
        catch (ArgumentException e)
        {
            throw new ScenarioException(path, $"is not a valid .NET regular expression: {e.Message}", e);
        }
    }

    /// <summary>Whether <paramref name="pattern"/> matches <paramref name="text"/>; a pattern that times out does not.</summary>
    public static bool Matches(Regex pattern, string text, out Match match)
    {
        try
        {
            match = pattern.Match(text);
            return match.Success;
        }
        catch (RegexMatchTimeoutException)
        {
            match = Match.Empty;
            return false;
        }
    }

    /// <summary>The reason for <paramref name="text"/>, or null when no rule matches.</summary>
    public string? For(string text)
    {
        foreach (var (pattern, reason) in _rules)
        {
            if (Matches(pattern, text, out var match))
            {
                return match.Result(reason);
            }
        }

        return null;
    }
}
