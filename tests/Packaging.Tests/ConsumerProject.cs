using System.Security;
using System.Xml.Linq;

namespace VfioMigration.Packaging.Tests;

/// <summary>
/// A fresh program outside the repository that uses the packed packages the way a customer would:
/// <c>examples/MinimalPlan/Program.cs</c> built against PackageReferences instead of the projects.
/// </summary>
internal static class ConsumerProject
{
    public const string Name = "PackageConsumer";

    /// <summary>Writes the consumer into <paramref name="directory"/>.</summary>
    /// <param name="directory">An empty directory outside the repository.</param>
    /// <param name="repository">The repository root (for the example program and the pinned Microsoft.Extensions versions).</param>
    /// <param name="packageSource">The folder the packages were packed into.</param>
    /// <param name="packageCache">An empty folder for the consumer's restored packages, so no cached copy of the same version is used.</param>
    /// <param name="version">The version of the VfioMigration packages to restore.</param>
    public static void Write(string directory, string repository, string packageSource, string packageCache, string version)
    {
        // Empty stubs end MSBuild's upward search here: the repository's central package management
        // and build settings must not reach the consumer (they cannot from a temp dir, and must not if it moves).
        foreach (var stub in new[] { "Directory.Build.props", "Directory.Build.targets", "Directory.Packages.props" })
        {
            File.WriteAllText(Path.Combine(directory, stub), "<Project />\n");
        }

        File.WriteAllText(Path.Combine(directory, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="packed" value="{Escape(packageSource)}" />
                <add key="nuget.org" value="https://api.nuget.org/v3/index.json" protocolVersion="3" />
              </packageSources>
              <packageSourceMapping>
                <packageSource key="packed">
                  <package pattern="VfioMigration.*" />
                </packageSource>
                <packageSource key="nuget.org">
                  <package pattern="*" />
                </packageSource>
              </packageSourceMapping>
            </configuration>
            """);

        var pinned = PinnedVersions(repository);
        File.WriteAllText(Path.Combine(directory, $"{Name}.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <Nullable>enable</Nullable>
                <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
                <RestorePackagesPath>{Escape(packageCache)}</RestorePackagesPath>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="VfioMigration.Planner" Version="[{Escape(version)}]" />
                <PackageReference Include="VfioMigration.HostSimulator" Version="[{Escape(version)}]" />
                <PackageReference Include="VfioMigration.RemoteHosts" Version="[{Escape(version)}]" />
                <PackageReference Include="Microsoft.Extensions.DependencyInjection" Version="{Escape(pinned["Microsoft.Extensions.DependencyInjection"])}" />
                <PackageReference Include="Microsoft.Extensions.Logging.Console" Version="{Escape(pinned["Microsoft.Extensions.Logging.Console"])}" />
              </ItemGroup>
            </Project>
            """);
        File.Copy(Path.Combine(repository, "examples", "MinimalPlan", "Program.cs"), Path.Combine(directory, "Program.cs"));
    }

    /// <summary>The versions the repository pins centrally, so the consumer uses what the packages were built against.</summary>
    private static Dictionary<string, string> PinnedVersions(string repository) =>
        XDocument.Load(Path.Combine(repository, "Directory.Packages.props"))
            .Descendants("PackageVersion")
            .ToDictionary(e => (string)e.Attribute("Include")!, e => (string)e.Attribute("Version")!, StringComparer.Ordinal);

    private static string Escape(string value) => SecurityElement.Escape(value);
}
