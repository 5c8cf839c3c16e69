using System.IO.Compression;
using System.Xml.Linq;

namespace VfioMigration.Packaging.Tests;

/// <summary>A dependency as a package's nuspec declares it.</summary>
internal sealed record PackageDependency(string Id, string Version);

/// <summary>What one packed .nupkg holds: its files and its nuspec metadata.</summary>
internal sealed record PackedPackage(
    string Id,
    string Version,
    string Path,
    IReadOnlySet<string> Entries,
    IReadOnlyList<PackageDependency> Dependencies,
    string? LicenseExpression,
    string? Readme,
    string? Icon)
{
    /// <summary>Reads the single <c>ID.VERSION.nupkg</c> in <paramref name="directory"/>.</summary>
    public static PackedPackage Read(string directory, string id)
    {
        var candidates = Directory.GetFiles(directory, $"{id}.*.nupkg")
            .Where(f => char.IsAsciiDigit(System.IO.Path.GetFileName(f)[(id.Length + 1)..][0]))
            .ToList();
        Assert.HasCount(1, candidates, $"expected exactly one {id} package in {directory}, found: {string.Join(", ", candidates)}");
        using var zip = ZipFile.OpenRead(candidates[0]);
        var entries = zip.Entries.Select(e => e.FullName).ToHashSet(StringComparer.Ordinal);
        var nuspecEntry = zip.Entries.Single(e => e.FullName == $"{id}.nuspec");
        XElement metadata;
        using (var stream = nuspecEntry.Open())
        {
            metadata = XDocument.Load(stream).Root!.Elements().Single(e => e.Name.LocalName == "metadata");
        }

        string? Value(string name) => metadata.Elements().SingleOrDefault(e => e.Name.LocalName == name)?.Value;
        var dependencies = metadata.Descendants()
            .Where(e => e.Name.LocalName == "dependency")
            .Select(e => new PackageDependency((string)e.Attribute("id")!, (string)e.Attribute("version")!))
            .ToList();
        var license = metadata.Elements().SingleOrDefault(e => e.Name.LocalName == "license" && (string?)e.Attribute("type") == "expression")?.Value;
        return new PackedPackage(Value("id")!, Value("version")!, candidates[0], entries, dependencies, license, Value("readme"), Value("icon"));
    }

    /// <summary>The symbols package packed beside this one.</summary>
    public string SymbolsPath => System.IO.Path.ChangeExtension(Path, ".snupkg");
}
