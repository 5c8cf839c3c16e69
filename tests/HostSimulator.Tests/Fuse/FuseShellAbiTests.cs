using VfioMigration.HostSimulator.Tests.Conformance;

namespace VfioMigration.HostSimulator.Tests.Fuse;

/// <summary>
/// Every row of domain.md section 3 (the mdev sysfs ABI) through a mounted scenario, as an operator
/// sees it with cat, echo (bash), ls -l and readlink: the output, or the errno message the shell
/// prints. Also checks nothing is cached: a change shows at the next read.
/// </summary>
[TestClass]
public sealed class FuseShellAbiTests
{
    private const string Uuid = "a1b2c3d4-0000-4000-8000-000000000001";
    private const string ExistingUuid = "11111111-2222-3333-4444-555555555555";
    private const string MttyType = "class/mdev_bus/mtty/mdev_supported_types/mtty-2";

    private TemporaryMount? _mount;

    [TestCleanup]
    public void Unmount() => _mount?.Dispose();

    [TestMethod]
    public void Parent_is_a_link_in_class_mdev_bus()
    {
        Mount("mtty.json");

        StringAssert.Contains(Run("ls -l \"$1\"", "class/mdev_bus").Output, "mtty -> ../../devices/virtual/mtty/mtty");
        Assert.AreEqual("../../devices/virtual/mtty/mtty\n", Run("readlink \"$1\"", "class/mdev_bus/mtty").Output);
        Assert.AreEqual("mtty-1\nmtty-2\n", Run("ls \"$1\"", "class/mdev_bus/mtty/mdev_supported_types").Output);
    }

    [TestMethod]
    public void Type_attributes_read_with_cat()
    {
        Mount("mtty.json");

        var result = Run("cd \"$1\" && cat name device_api available_instances", MttyType);

        Assert.AreEqual("Dual port serial\nvfio-pci\n12\n", result.Output, result.Error);
    }

    [TestMethod]
    public void Description_is_optional()
    {
        Mount("mdpy.json");
        Assert.AreEqual("virtual display, 1024x768 framebuffer\n", Run("cat \"$1\"", "class/mdev_bus/mdpy/mdev_supported_types/mdpy-xga/description").Output);
        _mount!.Dispose();
        _mount = null;

        Mount("mtty.json");
        var missing = Run("cat \"$1\"", $"{MttyType}/description");
        Assert.AreEqual(1, missing.ExitCode);
        StringAssert.EndsWith(missing.Error, "description: No such file or directory\n");
    }

    [TestMethod]
    [DataRow("name")]
    [DataRow("device_api")]
    [DataRow("available_instances")]
    public void Read_only_attributes_refuse_echo_at_open(string attribute)
    {
        Mount("mtty.json");

        var result = Echo("1", $"{MttyType}/{attribute}");

        Assert.AreEqual(1, result.ExitCode);
        StringAssert.EndsWith(result.Error, $"{attribute}: Permission denied\n");
    }

    [TestMethod]
    public void Ls_shows_the_kernels_modes_and_sizes()
    {
        Mount("mtty.json");

        var lines = Run("ls -l \"$1\"", MttyType).Output.Split('\n');

        AssertLine(lines, "-r--r--r-- 1 root root 4096 ", "available_instances");
        AssertLine(lines, "--w------- 1 root root 4096 ", "create");
        AssertLine(lines, "-r--r--r-- 1 root root 4096 ", "device_api");
        AssertLine(lines, "drwxr-xr-x 2 root root ", "devices");
        AssertLine(lines, "-r--r--r-- 1 root root 4096 ", "name");
    }

    [TestMethod]
    public void Echo_uuid_into_create_makes_the_mdev_and_counts_change_at_once()
    {
        Mount("mtty.json");

        var result = Echo(Uuid, $"{MttyType}/create");

        Assert.AreEqual(0, result.ExitCode, result.Error);
        Assert.AreEqual(Uuid + "\n", Run("ls \"$1\"", "bus/mdev/devices").Output);
        StringAssert.Contains(Run("ls -l \"$1\"", $"{MttyType}/devices").Output, $"{Uuid} -> ../../../{Uuid}");
        Assert.AreEqual("11\n", Run("cat \"$1\"", $"{MttyType}/available_instances").Output);
        Assert.AreEqual("22\n", Run("cat \"$1\"", "class/mdev_bus/mtty/mdev_supported_types/mtty-1/available_instances").Output);
    }

    [TestMethod]
    public void Create_cannot_be_read()
    {
        Mount("mtty.json");

        StringAssert.EndsWith(Run("cat \"$1\"", $"{MttyType}/create").Error, "create: Permission denied\n");
    }

    [TestMethod]
    public void Create_of_something_else_than_a_uuid_is_invalid_argument()
    {
        Mount("mtty.json");

        var result = Echo("not-a-uuid", $"{MttyType}/create");

        Assert.AreEqual(1, result.ExitCode);
        StringAssert.EndsWith(result.Error, "echo: write error: Invalid argument\n");
    }

    [TestMethod]
    public void Create_of_a_uuid_in_use_is_file_exists()
    {
        Mount("vendor-host.json");

        var result = Echo(ExistingUuid, "class/mdev_bus/0000:3b:00.0/mdev_supported_types/nvidia-222/create");

        StringAssert.EndsWith(result.Error, "echo: write error: File exists\n");
    }

    [TestMethod]
    public void Exhausted_mtty_is_no_space_left()
    {
        Mount("mtty.json");
        for (var i = 0; i < 12; i++)
        {
            Assert.AreEqual(0, Echo($"a1b2c3d4-0000-4000-8000-0000000000{i:x2}", $"{MttyType}/create").ExitCode);
        }

        var result = Echo(Uuid.Replace("0001", "00ff", StringComparison.Ordinal), $"{MttyType}/create");

        StringAssert.EndsWith(result.Error, "echo: write error: No space left on device\n");
        Assert.AreEqual("0\n", Run("cat \"$1\"", $"{MttyType}/available_instances").Output);
    }

    [TestMethod]
    public void Exhausted_mdpy_is_too_many_users()
    {
        Mount("mdpy.json");
        const string Type = "class/mdev_bus/mdpy/mdev_supported_types/mdpy-vga";
        for (var i = 0; i < 4; i++)
        {
            Assert.AreEqual(0, Echo($"a1b2c3d4-0000-4000-8000-0000000000{i:x2}", $"{Type}/create").ExitCode);
        }

        StringAssert.EndsWith(Echo(Uuid.Replace("0001", "00ff", StringComparison.Ordinal), $"{Type}/create").Error, "echo: write error: Too many users\n");
    }

    [TestMethod]
    public void Mdev_is_a_link_and_its_type_a_link_to_the_type_directory()
    {
        Mount("mtty.json");
        Echo(Uuid, $"{MttyType}/create");

        Assert.AreEqual($"../../../devices/virtual/mtty/mtty/{Uuid}\n", Run("readlink \"$1\"", $"bus/mdev/devices/{Uuid}").Output);
        Assert.AreEqual("../mdev_supported_types/mtty-2\n", Run("readlink \"$1\"", $"bus/mdev/devices/{Uuid}/mdev_type").Output);
        Assert.AreEqual("Dual port serial\n", Run("cat \"$1\"", $"bus/mdev/devices/{Uuid}/mdev_type/name").Output);
        var lines = Run("ls -l \"$1\"/", $"bus/mdev/devices/{Uuid}").Output.Split('\n');
        AssertLine(lines, "lrwxrwxrwx 1 root root ", "mdev_type -> ../mdev_supported_types/mtty-2");
        AssertLine(lines, "--w------- 1 root root 4096 ", "remove");
    }

    [TestMethod]
    public void Remove_one_destroys_zero_does_nothing_garbage_is_invalid()
    {
        Mount("mtty.json");
        Echo(Uuid, $"{MttyType}/create");
        var remove = $"bus/mdev/devices/{Uuid}/remove";

        StringAssert.EndsWith(Run("cat \"$1\"", remove).Error, "remove: Permission denied\n");
        StringAssert.EndsWith(Echo("yes", remove).Error, "echo: write error: Invalid argument\n");
        Assert.AreEqual(0, Echo("0", remove).ExitCode);
        Assert.AreEqual(Uuid + "\n", Run("ls \"$1\"", "bus/mdev/devices").Output);
        Assert.AreEqual(0, Echo("1", remove).ExitCode);

        StringAssert.EndsWith(Run("ls \"$1\"", $"bus/mdev/devices/{Uuid}").Error, "No such file or directory\n");
        Assert.AreEqual("12\n", Run("cat \"$1\"", $"{MttyType}/available_instances").Output);
    }

    [TestMethod]
    public void A_version_longer_than_a_page_is_refused_whole()
    {
        Mount("vendor-host.json");

        var result = Run("head -c 5000 /dev/zero | tr '\\0' a | dd of=\"$1\" bs=5000 count=1 iflag=fullblock 2>&1", "class/mdev_bus/0000:00:02.0/mdev_supported_types/i915-GVTg_V5_4/migration_version");

        StringAssert.Contains(result.Output, "Argument list too long");
    }

    private void Mount(string scenarioFile) =>
        _mount = TemporaryMount.Of(SimulatedHost.FromScenario(HostFileSystemConformanceTests.LoadScenario(scenarioFile)).FileTree);

    /// <summary>Runs <paramref name="script"/> with /bin/sh, each argument a path relative to the mount.</summary>
    private Shell.Result Run(string script, params string[] relativePaths) =>
        Shell.Run(script, [.. relativePaths.Select(_mount!.PathOf)]);

    /// <summary><c>echo VALUE &gt; PATH</c> in bash, as an operator types it.</summary>
    private Shell.Result Echo(string value, string relativePath) =>
        Shell.Bash("echo \"$1\" > \"$2\"", value, _mount!.PathOf(relativePath));

    private static void AssertLine(string[] lines, string prefix, string suffix) =>
        Assert.IsTrue(
            lines.Any(line => line.StartsWith(prefix, StringComparison.Ordinal) && line.EndsWith(" " + suffix, StringComparison.Ordinal)),
            $"no '{prefix}... {suffix}' in:\n{string.Join('\n', lines)}");
}
