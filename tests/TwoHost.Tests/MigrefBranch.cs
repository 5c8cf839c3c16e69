namespace VfioMigration.TwoHost.Tests;

/// <summary>
/// A "driver branch" of the reference driver: the version it runs and the versions whose state it
/// loads (its <c>version=</c> and <c>accepts=</c> module parameters, docs/reference-driver.md).
/// </summary>
internal sealed record MigrefBranch(string Version, string Accepts)
{
    /// <summary>The branches of the truth table: 2.0 loads only 2.0, 2.1 loads 2.0 and 2.1, 3.0 loads only 3.0.</summary>
    public static readonly IReadOnlyDictionary<string, MigrefBranch> All = new Dictionary<string, MigrefBranch>(StringComparer.Ordinal)
    {
        ["2.0"] = new("2.0", "2.0"),
        ["2.1"] = new("2.1", "2.0,2.1"),
        ["3.0"] = new("3.0", "3.0"),
    };

    /// <summary>The driver's rule: state of <paramref name="sourceType"/> saved by <paramref name="source"/> loads into <paramref name="targetType"/> here iff the types are equal and this branch accepts the source's version.</summary>
    public bool Loads(MigrefBranch source, string sourceType, string targetType) =>
        sourceType == targetType && Accepts.Split(',').Contains(source.Version, StringComparer.Ordinal);
}
