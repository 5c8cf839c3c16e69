using VfioMigration.HostSimulator.Tests.Fuse;

namespace VfioMigration.HostSimulator.Tests;

/// <summary>
/// The kernel-sample scenarios and the reference driver migref's, mounted with FUSE, give the same transcript of
/// <c>scripts/real-kernel/sysfs-ops.sh</c> as the real kernels did (tests/RealKernel/expected).
/// </summary>
[TestClass]
public sealed class RealKernelTranscriptTests
{
    [TestMethod]
    [DataRow("mtty", "6.1")]
    [DataRow("mtty", "6.12")]
    [DataRow("mdpy", "6.1")]
    [DataRow("mdpy", "6.12")]
    [DataRow("mtty-mdpy", "6.1")]
    [DataRow("mtty-mdpy", "6.12")]
    [DataRow("migref", "6.12")]
    public void SysfsOpsTranscript_MatchesTheRealKernel(string scenario, string kernel)
    {
        TemporaryMount.RequireFuse();
        var repository = RepositoryRoot();
        var expected = File.ReadAllText(Path.Combine(repository, "tests", "RealKernel", "expected", $"{scenario}-{kernel}.txt"));
        var host = SimulatedHost.FromScenario(Conformance.HostFileSystemConformanceTests.LoadScenario($"{scenario}.json"));
        using var mount = TemporaryMount.Of(host.FileTree);
        // bash, like the guest's busybox sh, names the errno of a failed write.
        var result = Shell.Bash("exec bash \"$1\" \"$2\"", Path.Combine(repository, "scripts", "real-kernel", "sysfs-ops.sh"), mount.Directory);
        Assert.AreEqual(string.Empty, result.Error);
        Assert.AreEqual(expected, result.Output);
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "scripts", "real-kernel", "sysfs-ops.sh")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("The repository root (holding scripts/real-kernel/sysfs-ops.sh) is not above the test output folder.");
    }
}
