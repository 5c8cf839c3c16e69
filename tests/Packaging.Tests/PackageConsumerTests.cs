using System.Diagnostics;
using System.IO.Compression;
using System.Text.Json;

namespace VfioMigration.Packaging.Tests;

/// <summary>
/// Packs the five packages and the tool with <c>nuget/pack.sh</c>, checks what each holds, then restores them by
/// version into a fresh program outside the repository, builds it and plans a migration with it; builds
/// a fresh MSTest project whose tests migrate on the mocked libvirt with <c>libvirt.so.0</c> hidden; and
/// installs the tool into a fresh tool path and runs its demo.
/// Slow (a pack, a restore and two builds): one test, so the cost is paid once.
/// </summary>
[TestClass]
public sealed class PackageConsumerTests
{
    private const string Guest = "render-1";
    private const string ToolPackage = "VfioMigration.Console";
    private static readonly TimeSpan PackTimeout = TimeSpan.FromMinutes(15);
    private static readonly TimeSpan RestoreTimeout = TimeSpan.FromMinutes(10);
    private static readonly TimeSpan BuildTimeout = TimeSpan.FromMinutes(10);
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(2);

    public TestContext TestContext { get; set; } = null!;

    /// <summary>Above the default per-test limit (tests/testconfig.json): the steps' own limits add up to 37 minutes.</summary>
    [TestMethod]
    [Timeout(40 * 60 * 1000, CooperativeCancellation = true)]
    public async Task Packed_packages_restore_build_and_plan_in_a_fresh_consumer()
    {
        var repository = FindRepository();
        var work = Directory.CreateTempSubdirectory("vfio-packaging-");
        try
        {
            var packages = Directory.CreateDirectory(Path.Combine(work.FullName, "packages")).FullName;
            var cache = Directory.CreateDirectory(Path.Combine(work.FullName, "package-cache")).FullName;
            var consumer = Directory.CreateDirectory(Path.Combine(work.FullName, "consumer")).FullName;
            var clock = Stopwatch.StartNew();

            // Built under the temp dir, so the projects' own bin/ and obj/ (which other tests use) stay untouched.
            var pack = await RunAsync("bash", [Path.Combine(repository, "nuget", "pack.sh"), packages, "--artifacts-path", Path.Combine(work.FullName, "build"), "--disable-build-servers"], repository, PackTimeout);
            var version = CheckPackages(packages);

            ConsumerProject.Write(consumer, repository, packages, cache, version);
            var restore = await RunAsync(Dotnet, ["restore", "--disable-build-servers"], consumer, RestoreTimeout, cache);
            CheckRestoredFrom(cache, packages, version);
            var build = await RunAsync(Dotnet, ["build", "--no-restore", "-c", "Release", "--disable-build-servers"], consumer, BuildTimeout, cache);

            var scenarios = Path.Combine(repository, "examples", "scenarios");
            var sourceScenario = Path.Combine(scenarios, "demo-source.json");
            var program = Path.Combine(consumer, "bin", "Release", "net10.0", $"{ConsumerProject.Name}.dll");
            var run = await RunAsync(Dotnet, [program, "--source-scenario", sourceScenario, "--dest-scenario", Path.Combine(scenarios, "demo-dest-a.json"), "--domain", Guest], consumer, RunTimeout, expectedExitCode: null);
            CheckPlan(run, sourceScenario);

            var unitTests = Directory.CreateDirectory(Path.Combine(work.FullName, "unit-tests")).FullName;
            ConsumerProject.WriteUnitTests(unitTests, repository, packages, cache, version);
            await RunAsync(Dotnet, ["restore", "--disable-build-servers"], unitTests, RestoreTimeout, cache);
            await RunAsync(Dotnet, ["build", "--no-restore", "-c", "Release", "--disable-build-servers"], unitTests, BuildTimeout, cache);
            var tests = await RunUnitTestsWithoutLibvirtAsync(Path.Combine(unitTests, "bin", "Release", "net10.0", $"{ConsumerProject.UnitTestsName}.dll"), unitTests, scenarios);

            var tool = await InstallAndRunToolAsync(packages, version, work.FullName, cache);

            TestContext.WriteLine($"packaging test: pack {pack.Elapsed.TotalSeconds:0} s, restore {restore.Elapsed.TotalSeconds:0} s, build {build.Elapsed.TotalSeconds:0} s, run {run.Elapsed.TotalSeconds:0} s, unit tests without libvirt {tests.Elapsed.TotalSeconds:0} s, tool install + demo {tool.Elapsed.TotalSeconds:0} s, total {clock.Elapsed.TotalSeconds:0} s");
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    /// <summary>
    /// Runs the consumer's unit tests in a private mount namespace where an empty file is bind-mounted
    /// over the real <c>libvirt.so.0</c> (which the prerequisites install): a test that loaded
    /// libvirt would fail there. Every test must pass, and the run must say so for all of them.
    /// </summary>
    private async Task<ProcessOutcome> RunUnitTestsWithoutLibvirtAsync(string testAssembly, string workingDirectory, string scenarios)
    {
        var library = new[] { "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib" }
            .Select(d => Path.Combine(d, "libvirt.so.0"))
            .FirstOrDefault(File.Exists);
        Assert.IsNotNull(library, "libvirt.so.0 is not installed (scripts/prerequisites.sh installs libvirt0); without it there is nothing to hide");
        var real = File.ResolveLinkTarget(library, returnFinalTarget: true)?.FullName ?? library;
        var empty = Path.Combine(workingDirectory, "empty-libvirt.so");
        await File.WriteAllBytesAsync(empty, Array.Empty<byte>(), TestContext.CancellationToken);

        // unshare -m makes mounts private to the child; the bind mount vanishes with it.
        const string Script = """mount --bind "$1" "$2" && test ! -s "$2" && VFIO_SCENARIOS="$3" exec "$4" "$5" """;
        var outcome = await RunAsync("unshare", ["-m", "bash", "-c", Script, "hide-libvirt", empty, real, scenarios, Dotnet, testAssembly], workingDirectory, RunTimeout, expectedExitCode: null);
        Assert.AreEqual(0, outcome.ExitCode, $"the consumer's unit tests failed with {real} hidden:\n{outcome.Tail()}");
        StringAssert.Contains(outcome.Out, $"succeeded: {ConsumerProject.UnitTestCount}", $"every unit test of the consumer ran and passed:\n{outcome.Tail()}");
        return outcome;
    }

    /// <summary>
    /// The console packed as a .NET tool: it installs from the packed folder into a fresh tool path
    /// (as <c>dotnet tool install --tool-path</c> does for an operator), and <c>vfio-migrator demo</c>
    /// run from there plans the demo guest onto demo-dest-a.
    /// </summary>
    private async Task<ProcessOutcome> InstallAndRunToolAsync(string packages, string version, string work, string cache)
    {
        var package = PackedPackage.Read(packages, ToolPackage);
        Assert.AreEqual(version, package.Version, "the tool has the libraries' version");
        Assert.Contains("tools/net10.0/any/vfio-migrator.dll", package.Entries, $"the tool package lacks the program; it has: {string.Join(", ", package.Entries)}");
        Assert.Contains("tools/net10.0/any/DotnetToolSettings.xml", package.Entries, "a .NET tool package names its command in DotnetToolSettings.xml");

        var toolPath = Directory.CreateDirectory(Path.Combine(work, "tools")).FullName;
        await RunAsync(Dotnet, ["tool", "install", ToolPackage, "--version", version, "--tool-path", toolPath, "--add-source", packages], work, RestoreTimeout, cache);
        var demo = await RunAsync(Path.Combine(toolPath, "vfio-migrator"), ["demo"], work, RunTimeout);
        StringAssert.Contains(demo.Out, "Verdict: demo-dest-a wins", $"the installed tool's demo did not plan onto demo-dest-a:\n{demo.Tail()}");
        return demo;
    }

    private static string Dotnet => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";

    /// <summary>Each package holds its assembly, XML docs, README, icon and licence, and depends on the one below it at the same version.</summary>
    private static string CheckPackages(string directory)
    {
        var interop = PackedPackage.Read(directory, "VfioMigration.LibvirtInterop");
        var planner = PackedPackage.Read(directory, "VfioMigration.Planner");
        var simulator = PackedPackage.Read(directory, "VfioMigration.HostSimulator");
        var remote = PackedPackage.Read(directory, "VfioMigration.RemoteHosts");
        var etcd = PackedPackage.Read(directory, "VfioMigration.Etcd");
        foreach (var package in new[] { interop, planner, simulator, remote, etcd })
        {
            foreach (var entry in new[] { $"lib/net10.0/{package.Id}.dll", $"lib/net10.0/{package.Id}.xml", "README.md", "icon.png" })
            {
                Assert.Contains(entry, package.Entries, $"{package.Path} lacks {entry}; it has: {string.Join(", ", package.Entries)}");
            }

            Assert.AreEqual("MIT", package.LicenseExpression, $"{package.Id}: licence expression");
            Assert.AreEqual("README.md", package.Readme, $"{package.Id}: readme");
            Assert.AreEqual("icon.png", package.Icon, $"{package.Id}: icon");
            Assert.AreEqual(interop.Version, package.Version, $"{package.Id}: the packages share one version");
            using var symbols = ZipFile.OpenRead(package.SymbolsPath);
            Assert.IsTrue(symbols.Entries.Any(e => e.FullName == $"lib/net10.0/{package.Id}.pdb"), $"{package.SymbolsPath} lacks the PDB");
        }

        Assert.IsFalse(interop.Dependencies.Any(d => d.Id.StartsWith("VfioMigration.", StringComparison.Ordinal)), "LibvirtInterop depends on no other VfioMigration package");
        Assert.Contains(new PackageDependency("VfioMigration.LibvirtInterop", interop.Version), planner.Dependencies, "Planner depends on the LibvirtInterop package of its version");
        Assert.Contains(new PackageDependency("VfioMigration.Planner", planner.Version), simulator.Dependencies, "HostSimulator depends on the Planner package of its version");
        Assert.Contains(new PackageDependency("VfioMigration.Planner", planner.Version), remote.Dependencies, "RemoteHosts depends on the Planner package of its version");
        Assert.IsTrue(remote.Dependencies.Any(d => d.Id == "SSH.NET"), $"RemoteHosts depends on SSH.NET; it depends on: {string.Join(", ", remote.Dependencies)}");
        Assert.Contains(new PackageDependency("VfioMigration.Planner", planner.Version), etcd.Dependencies, "Etcd depends on the Planner package of its version");
        Assert.IsTrue(etcd.Dependencies.Any(d => d.Id == "dotnet-etcd"), $"Etcd depends on dotnet-etcd; it depends on: {string.Join(", ", etcd.Dependencies)}");
        return planner.Version;
    }

    /// <summary>The consumer's packages came from the folder just packed, not from a feed or an older cache.</summary>
    private static void CheckRestoredFrom(string cache, string packages, string version)
    {
        foreach (var id in new[] { "VfioMigration.LibvirtInterop", "VfioMigration.Planner", "VfioMigration.HostSimulator", "VfioMigration.RemoteHosts" })
        {
            var metadata = Path.Combine(cache, id.ToLowerInvariant(), version.ToLowerInvariant(), ".nupkg.metadata");
            Assert.IsTrue(File.Exists(metadata), $"{id} {version} was not restored into the test's package cache {cache}");
            using var json = JsonDocument.Parse(File.ReadAllText(metadata));
            var source = json.RootElement.GetProperty("source").GetString()!;
            Assert.AreEqual(Path.TrimEndingDirectorySeparator(packages), Path.TrimEndingDirectorySeparator(source), $"{id} was restored from {source}");
        }
    }

    /// <summary>The plan is JSON for the guest, complete, and maps exactly the guest's host devices from the scenario.</summary>
    private static void CheckPlan(ProcessOutcome run, string sourceScenario)
    {
        JsonDocument plan;
        try
        {
            plan = JsonDocument.Parse(run.Out);
        }
        catch (JsonException e)
        {
            throw new AssertFailedException($"the consumer did not print JSON ({e.Message}); exit code {run.ExitCode}:\n{run.Tail()}", e);
        }

        using (plan)
        {
            var root = plan.RootElement;
            Assert.AreEqual("vfio-migration-plan/1", root.GetProperty("schema").GetString());
            Assert.AreEqual(Guest, root.GetProperty("domain").GetString());
            var reasons = string.Join("; ", root.GetProperty("reasons").EnumerateArray().Select(r => r.GetString()));
            Assert.IsTrue(root.GetProperty("ok").GetBoolean(), $"demo-dest-a fits and verifies every device of {Guest}, yet the plan failed: {reasons}");
            Assert.AreEqual(0, run.ExitCode, $"a complete plan exits 0:\n{run.Tail()}");

            var mapped = root.GetProperty("devices").EnumerateArray().ToList();
            foreach (var device in mapped)
            {
                var target = device.GetProperty("target");
                Assert.IsTrue(target.TryGetProperty("uuid", out _) || target.TryGetProperty("address", out _), $"a mapped device has no target: {device}");
            }

            var mappedSources = mapped.Select(d => d.GetProperty("source")).Select(s => (s.TryGetProperty("uuid", out var u) ? u : s.GetProperty("address")).GetString()).Order(StringComparer.Ordinal);
            CollectionAssert.AreEqual(GuestHostDevices(sourceScenario).ToList(), mappedSources.ToList(), "the plan maps each of the guest's host devices once");
        }
    }

    /// <summary>The guest's host devices (mdev UUIDs, PCI addresses) as the source scenario declares them.</summary>
    private static IEnumerable<string> GuestHostDevices(string scenario)
    {
        using var json = JsonDocument.Parse(File.ReadAllText(scenario));
        var guest = json.RootElement.GetProperty("guests").EnumerateArray().Single(g => g.GetProperty("name").GetString() == Guest);
        return [.. guest.GetProperty("hostdevs").EnumerateArray()
            .Select(h => (h.TryGetProperty("mdev", out var mdev) ? mdev : h.GetProperty("pci")).GetString()!)
            .Order(StringComparer.Ordinal)];
    }

    private async Task<ProcessOutcome> RunAsync(string fileName, string[] arguments, string workingDirectory, TimeSpan timeout, string? packageCache = null, int? expectedExitCode = 0)
    {
        var environment = new Dictionary<string, string?>
        {
            ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
            ["DOTNET_NOLOGO"] = "1",
            ["DOTNET_CLI_UI_LANGUAGE"] = "en",
            // Set by the `dotnet test` that runs us; a child build must find its own SDK and MSBuild.
            ["MSBuildExtensionsPath"] = null,
            ["MSBuildSDKsPath"] = null,
            ["MSBUILD_EXE_PATH"] = null,
        };
        if (packageCache is not null)
        {
            environment["NUGET_PACKAGES"] = packageCache;
        }

        var outcome = await BoundedProcess.RunAsync(fileName, arguments, workingDirectory, environment, timeout, TestContext.CancellationToken);
        if (expectedExitCode is { } expected)
        {
            Assert.AreEqual(expected, outcome.ExitCode, $"'{fileName} {string.Join(' ', arguments)}' in {workingDirectory} failed:\n{outcome.Tail()}");
        }

        return outcome;
    }

    private static string FindRepository()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "nuget", "pack.sh")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"No repository (a folder with nuget/pack.sh) above {AppContext.BaseDirectory}.");
    }
}
