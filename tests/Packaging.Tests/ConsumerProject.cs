using System.Security;
using System.Xml.Linq;

namespace VfioMigration.Packaging.Tests;

/// <summary>
/// Fresh projects outside the repository that use the packed packages the way a customer would:
/// <c>examples/MinimalPlan/Program.cs</c> built against PackageReferences instead of the projects,
/// and an MSTest project whose unit tests plan and migrate a guest with the mocked libvirt
/// (<c>SimulatedHypervisor</c>).
/// </summary>
internal static class ConsumerProject
{
    public const string Name = "PackageConsumer";

    public const string UnitTestsName = "PackageConsumer.Tests";

    /// <summary>The unit tests <see cref="WriteUnitTests"/> writes; the run must report exactly this many passed.</summary>
    public const int UnitTestCount = 2;

    /// <summary>Writes the program into <paramref name="directory"/>.</summary>
    /// <param name="directory">An empty directory outside the repository.</param>
    /// <param name="repository">The repository root (for the example program and the pinned Microsoft.Extensions versions).</param>
    /// <param name="packageSource">The folder the packages were packed into.</param>
    /// <param name="packageCache">An empty folder for the consumer's restored packages, so no cached copy of the same version is used.</param>
    /// <param name="version">The version of the VfioMigration packages to restore.</param>
    public static void Write(string directory, string repository, string packageSource, string packageCache, string version)
    {
        var pinned = PinnedVersions(repository);
        WriteProject(directory, Name, packageSource, packageCache, version, "", $"""
                <PackageReference Include="VfioMigration.RemoteHosts" Version="[{Escape(version)}]" />
                <PackageReference Include="Microsoft.Extensions.DependencyInjection" Version="{Escape(pinned["Microsoft.Extensions.DependencyInjection"])}" />
                <PackageReference Include="Microsoft.Extensions.Logging.Console" Version="{Escape(pinned["Microsoft.Extensions.Logging.Console"])}" />
            """);
        File.Copy(Path.Combine(repository, "examples", "MinimalPlan", "Program.cs"), Path.Combine(directory, "Program.cs"));
    }

    /// <summary>
    /// Writes an MSTest project (Microsoft.Testing.Platform runner) into <paramref name="directory"/>
    /// whose tests plan <c>render-1</c> from the demo source onto demo destination A with
    /// <c>SimulatedHypervisor</c>, migrate it, and check that <c>libvirt.so.0</c> was never mapped
    /// into the process and cannot be loaded where they run. The scenario folder comes from the
    /// <c>VFIO_SCENARIOS</c> environment variable.
    /// </summary>
    public static void WriteUnitTests(string directory, string repository, string packageSource, string packageCache, string version)
    {
        var pinned = PinnedVersions(repository);
        WriteProject(directory, UnitTestsName, packageSource, packageCache, version, """
                <EnableMSTestRunner>true</EnableMSTestRunner>
            """, $"""
                <PackageReference Include="MSTest.TestFramework" Version="{Escape(pinned["MSTest.TestFramework"])}" />
                <PackageReference Include="MSTest.TestAdapter" Version="{Escape(pinned["MSTest.TestAdapter"])}" />
            """);
        File.WriteAllText(Path.Combine(directory, "MigrationTests.cs"), """
            using System.Runtime.InteropServices;
            using Microsoft.VisualStudio.TestTools.UnitTesting;
            using VfioMigration.HostSimulator;
            using VfioMigration.Planner;
            using VfioMigration.Planner.Hypervisor;

            [assembly: DoNotParallelize]

            namespace PackageConsumer.Tests;

            [TestClass]
            public sealed class MigrationTests
            {
                private static string Scenario(string name) =>
                    Path.Combine(Environment.GetEnvironmentVariable("VFIO_SCENARIOS") ?? throw new InvalidOperationException("VFIO_SCENARIOS is not set"), name);

                [TestMethod]
                public async Task Guest_plans_and_migrates_on_mocked_libvirt()
                {
                    var source = new SimulatedHypervisor(SimulatedHost.Load(Scenario("demo-source.json")));
                    var destination = new SimulatedHypervisor(SimulatedHost.Load(Scenario("demo-dest-a.json")));
                    var planner = new MigrationPlanner(claims: new TargetClaimRegistry());

                    await using var result = await planner.PlanAsync(new PlanRequest(
                        new MigrationHost("demo-source", source, source.Host.CreateFileSystem()),
                        DomainSelector.Parse("render-1"),
                        [new MigrationHost("demo-dest-a", destination, destination.Host.CreateFileSystem())]));
                    Assert.IsTrue(result.Succeeded, string.Join("; ", result.Best.Reasons));
                    await result.Best.ExecuteAsync();

                    Assert.AreEqual(0, (await source.ListDomainsAsync()).Count, "the guest left the source");
                    Assert.AreEqual(5, (await destination.GetDomainAsync(DomainSelector.Parse("render-1"))).Devices.HostDevices.Count);
                    Assert.IsFalse(File.ReadAllText("/proc/self/maps").Contains("libvirt.so", StringComparison.Ordinal), "libvirt.so was mapped into the test process");
                }

                [TestMethod]
                public void Libvirt_cannot_be_loaded_here()
                {
                    Assert.IsFalse(NativeLibrary.TryLoad("libvirt.so.0", out _), "libvirt.so.0 is loadable: the test is not running where it is hidden");
                }
            }
            """);
    }

    /// <summary>The project file, the feed configuration, and stubs that keep the repository's build settings out.</summary>
    private static void WriteProject(string directory, string name, string packageSource, string packageCache, string version, string properties, string references)
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

        File.WriteAllText(Path.Combine(directory, $"{name}.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <Nullable>enable</Nullable>
                <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
                <RestorePackagesPath>{Escape(packageCache)}</RestorePackagesPath>
            {properties}
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="VfioMigration.Planner" Version="[{Escape(version)}]" />
                <PackageReference Include="VfioMigration.HostSimulator" Version="[{Escape(version)}]" />
            {references}
              </ItemGroup>
            </Project>
            """);
    }

    /// <summary>The versions the repository pins centrally, so the consumer uses what the packages were built against.</summary>
    private static Dictionary<string, string> PinnedVersions(string repository) =>
        XDocument.Load(Path.Combine(repository, "Directory.Packages.props"))
            .Descendants("PackageVersion")
            .ToDictionary(e => (string)e.Attribute("Include")!, e => (string)e.Attribute("Version")!, StringComparer.Ordinal);

    private static string Escape(string value) => SecurityElement.Escape(value);
}
