using System.Globalization;
using VfioMigration.ConsoleMigrator.Cli;
using VfioMigration.HostSimulator;

namespace VfioMigration.Adversarial.Tests;

/// <summary>
/// Whole plans (the console, in-process) against plain-directory sysfs trees made from the demo
/// scenarios, each with one attribute replaced by something hostile: a link out of the root (absolute,
/// relative <c>..</c>, to a directory outside), a link to <c>/dev/zero</c>, a FIFO, a 64 MiB file, a
/// link loop. Source and destination trees are both attacked. For every case: the command ends (bounded),
/// with a documented exit code (never 1), prints only printable text, and an inotify watch on the
/// directory next to the roots (holding the canary and a decoy tree) sees nothing opened, read or
/// written. 32 cases by default; <c>VFIO_ADVERSARIAL_TREE_CASES=N</c> for more.
/// </summary>
[TestClass]
public sealed class HostilePlanTests
{
    private static readonly string[] Attacked =
    [
        "migration_version", "available_instances", "create", "remove", "device_api", "name", "vendor", "device", "vfio_migration_version", "mdev_type",
    ];

    private static readonly string[] Kinds = ["absolute", "relative", "outside-dir", "dev-zero", "fifo", "huge", "loop"];

    private static readonly int[] DocumentedExitCodes = [ExitCodes.Success, ExitCodes.NoValidPlan, ExitCodes.Libvirt, ExitCodes.HostData];

    private string _work = null!;

    public TestContext TestContext { get; set; } = null!;

    [TestInitialize]
    public void CreateWork() => _work = Directory.CreateTempSubdirectory("hostile-plans-").FullName;

    [TestCleanup]
    public void DeleteWork() => Directory.Delete(_work, recursive: true);

    [TestMethod]
    public async Task No_plan_over_a_hostile_tree_touches_anything_outside_its_roots()
    {
        var cases = int.TryParse(Environment.GetEnvironmentVariable("VFIO_ADVERSARIAL_TREE_CASES"), NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : 32;
        var outside = Directory.CreateDirectory(Path.Combine(_work, "outside")).FullName;
        var canary = Path.Combine(outside, "secret");
        await File.WriteAllTextAsync(canary, HostileTree.Secret);
        var pristine = new Dictionary<string, string>
        {
            ["source"] = await MaterializeAsync("demo-source.json", "source"),
            ["dest"] = await MaterializeAsync("demo-dest-a.json", "dest"),
        };
        await MaterializeAsync("demo-dest-a.json", Path.Combine("outside", "decoy"));
        var targets = pristine.SelectMany(p => Walk(p.Value)
            .Where(path => Attacked.Contains(Path.GetFileName(path)))
            .Select(path => (Side: p.Key, Relative: Path.GetRelativePath(p.Value, path))))
            .OrderBy(t => t.Side, StringComparer.Ordinal).ThenBy(t => t.Relative, StringComparer.Ordinal).ToList();
        Assert.IsGreaterThan(20, targets.Count);

        var outcomes = new Dictionary<int, int>();
        for (var i = 0; i < cases; i++)
        {
            var random = new Random(i);
            var (side, relative) = targets[random.Next(targets.Count)];
            var kind = Kinds[random.Next(Kinds.Length)];
            var roots = pristine.ToDictionary(p => p.Key, p => CopyTree(p.Value, $"case-{i}-{p.Key}"));
            var victim = Path.Combine(roots[side], relative);
            Attack(victim, kind, roots[side], outside);

            await using var witness = await InotifyWitness.StartAsync(outside);
            var (code, output) = await PlanAsync(roots["source"], roots["dest"]);
            var events = await witness.StopAsync();

            var label = $"case {i}: {kind} at {side}/{relative}: exit {code}";
            Assert.IsEmpty(events, $"{label}; outside touched: {string.Join("; ", events)}");
            CollectionAssert.Contains(DocumentedExitCodes, code, $"{label}\n{output}");
            Assert.IsFalse(output.Any(c => (c < ' ' && c is not '\n' and not '\t') || c is >= '\x7f' and <= '\x9f'), $"{label}: a control character was printed");
            outcomes[code] = outcomes.GetValueOrDefault(code) + 1;
            Directory.Delete(roots["source"], recursive: true);
            Directory.Delete(roots["dest"], recursive: true);
        }

        var summary = $"{cases} hostile plans, exit codes: {string.Join(", ", outcomes.OrderBy(o => o.Key).Select(o => $"{o.Key}: {o.Value}"))}; 0 touched outside";
        TestContext.WriteLine(summary);
        Assert.AreEqual(HostileTree.Secret, await File.ReadAllTextAsync(canary));
        Assert.IsTrue(outcomes.Keys.Any(code => code is ExitCodes.Success or ExitCodes.NoValidPlan), $"no plan got as far as a result: {summary}");
    }

    private async Task<(int Code, string Output)> PlanAsync(string sourceRoot, string destRoot)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var code = await ConsoleApp.RunAsync(
            [
                "plan", "--domain", "render-1", "--probe-timeout", "2",
                "--source", $"test://{Path.Combine(_work, "source.xml")}", "--source-sysfs", sourceRoot, "--source-name", "source",
                "--dest", $"test://{Path.Combine(_work, "dest.xml")}", "--dest-sysfs", destRoot, "--dest-name", "dest",
            ],
            stdout,
            stderr,
            bound.Token);
        return (code, stdout + "\n" + stderr);
    }

    /// <summary>Every entry under <paramref name="directory"/>, without following links (sysfs trees are full of cycles through links).</summary>
    private static IEnumerable<string> Walk(string directory)
    {
        foreach (var entry in Directory.EnumerateFileSystemEntries(directory))
        {
            yield return entry;
            if (Directory.Exists(entry) && new FileInfo(entry).LinkTarget is null)
            {
                foreach (var below in Walk(entry))
                {
                    yield return below;
                }
            }
        }
    }

    private static void Attack(string victim, string kind, string root, string outside)
    {
        if (Directory.Exists(victim) && !File.Exists(victim) && new FileInfo(victim).LinkTarget is null)
        {
            Directory.Delete(victim, recursive: true);
        }
        else
        {
            File.Delete(victim);
        }

        var depth = Path.GetRelativePath(root, victim).Count(c => c == '/');
        switch (kind)
        {
            case "absolute":
                File.CreateSymbolicLink(victim, Path.Combine(outside, "secret"));
                break;
            case "relative":
                File.CreateSymbolicLink(victim, string.Concat(Enumerable.Repeat("../", depth + 1)) + "outside/secret");
                break;
            case "outside-dir":
                File.CreateSymbolicLink(victim, Path.Combine(outside, "decoy", Path.GetRelativePath(root, victim)));
                break;
            case "dev-zero":
                File.CreateSymbolicLink(victim, "/dev/zero");
                break;
            case "fifo":
                HostileTree.Run("mkfifo", victim);
                break;
            case "huge":
                using (var file = File.Create(victim))
                {
                    file.SetLength(64L << 20);
                }

                break;
            default:
                File.CreateSymbolicLink(victim, Path.GetFileName(victim));
                break;
        }
    }

    private string CopyTree(string from, string name)
    {
        var to = Path.Combine(_work, name);
        HostileTree.Run("cp", "-a", from, to);
        return to;
    }

    /// <summary>Writes the scenario's libvirt host file next to the work directory and its sysfs as a plain directory tree.</summary>
    private async Task<string> MaterializeAsync(string scenario, string name)
    {
        var host = SimulatedHost.Load(Path.Combine(AppContext.BaseDirectory, "scenarios", scenario));
        if (!name.Contains('/', StringComparison.Ordinal))
        {
            host.WriteLibvirtXml(Path.Combine(_work, name + ".xml"));
        }

        var root = Directory.CreateDirectory(Path.Combine(_work, name)).FullName;
        await CopyAsync(host.FileTree, string.Empty, root);
        return root;
    }

    private static async Task CopyAsync(ISimulatedFileTree tree, string path, string directory)
    {
        Assert.AreEqual(Planner.Sysfs.Errno.None, tree.ListDirectory(path, out var entries));
        foreach (var entry in entries)
        {
            var child = path.Length == 0 ? entry : $"{path}/{entry}";
            var target = Path.Combine(directory, entry);
            Assert.AreEqual(Planner.Sysfs.Errno.None, tree.GetAttributes(child, out var stat));
            switch (stat.Kind)
            {
                case SimulatedNodeKind.Directory:
                    Directory.CreateDirectory(target);
                    await CopyAsync(tree, child, target);
                    break;
                case SimulatedNodeKind.Symlink:
                    _ = tree.ReadLink(child, out var link);
                    File.CreateSymbolicLink(target, link);
                    break;
                default:
                    var content = await tree.ReadAsync(child);
                    await File.WriteAllBytesAsync(target, content.Succeeded ? content.Value! : []);
                    break;
            }
        }
    }
}
