using System.Diagnostics;

namespace VfioMigration.Adversarial.Tests;

/// <summary>
/// A sysfs-like tree under <see cref="Root"/> full of hostile entries, next to an <see cref="Outside"/>
/// directory holding a canary file that nothing may read or write: links out of the root (absolute,
/// relative <c>..</c>, deep <c>..</c>, through a linked directory, to <c>/proc</c> and <c>/dev</c>),
/// a link loop, a FIFO, and a well-behaved sysfs link for contrast.
/// </summary>
internal sealed class HostileTree
{
    public const string Secret = "outside-secret\n";

    /// <summary>Paths (relative to the root) whose resolution leaves the root when links are followed naively.</summary>
    public static readonly string[] Escapes =
    [
        "absolute", "relative", "devices/parent/deep-relative", "absolute-dir/secret", "up/outside/secret", "procfs", "zero", "null",
    ];

    private readonly string _parent;

    public HostileTree()
    {
        _parent = Directory.CreateTempSubdirectory("hostile-tree-").FullName;
        Root = Directory.CreateDirectory(Path.Combine(_parent, "root")).FullName;
        Outside = Directory.CreateDirectory(Path.Combine(_parent, "outside")).FullName;
        File.WriteAllText(Canary, Secret);
        Directory.CreateDirectory(Path.Combine(Root, "devices", "parent"));
        Directory.CreateDirectory(Path.Combine(Root, "class", "mdev_bus"));
        File.WriteAllText(Path.Combine(Root, "devices", "parent", "name"), "inside\n");
        Link("class/mdev_bus/parent", "../../devices/parent");
        Link("absolute", Canary);
        Link("absolute-dir", Outside);
        Link("relative", "../outside/secret");
        Link("devices/parent/deep-relative", "../../../../../../../.." + Canary);
        Link("up", "../../../../..");
        Link("loop-a", "loop-b");
        Link("loop-b", "loop-a");
        Link("procfs", "/proc/self/environ");
        Link("zero", "/dev/zero");
        Link("null", "/dev/null");
        Run("mkfifo", Path.Combine(Root, "fifo"));
    }

    /// <summary>The root given to the file system.</summary>
    public string Root { get; }

    /// <summary>A directory next to the root that must stay untouched.</summary>
    public string Outside { get; }

    /// <summary>The canary file in <see cref="Outside"/>.</summary>
    public string Canary => Path.Combine(Outside, "secret");

    /// <summary>Adds a link at <paramref name="relative"/> under the root.</summary>
    public void Link(string relative, string target) => File.CreateSymbolicLink(Path.Combine(Root, relative), target);

    /// <summary>Adds a character device node (major, minor) at <paramref name="relative"/> under the root.</summary>
    public void DeviceNode(string relative, int major, int minor) =>
        Run("mknod", Path.Combine(Root, relative), "c", major.ToString(System.Globalization.CultureInfo.InvariantCulture), minor.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>Deletes the tree and the outside directory.</summary>
    public void Delete() => Directory.Delete(_parent, recursive: true);

    /// <summary>Runs a short tool, bounded to 10 s, and asserts it succeeded.</summary>
    public static void Run(string program, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(program, arguments) { RedirectStandardError = true })!;
        if (!process.WaitForExit(10_000))
        {
            process.Kill();
            Assert.Fail($"{program} did not finish within 10 s");
        }

        Assert.AreEqual(0, process.ExitCode, $"{program} failed: {process.StandardError.ReadToEnd()}");
    }
}
