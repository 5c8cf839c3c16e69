using System.Diagnostics;
using System.Text;
using VfioMigration.Planner.Sysfs;
using VfioMigration.RemoteHosts;

namespace VfioMigration.Adversarial.Tests;

/// <summary>
/// The commands <see cref="SshHostFileSystem"/> sends, run by a local shell over a
/// <see cref="HostileTree"/> exactly as the remote login would run them: every path is resolved
/// (<c>cd -P</c>, else <c>realpath</c>) and refused outside the root before anything is opened, non-regular files are
/// refused, reads stop after one page and a byte. An inotify watch shows nothing outside is touched.
/// </summary>
[TestClass]
public sealed class RemoteContainmentTests
{
    private HostileTree _tree = null!;

    [TestInitialize]
    public void CreateTree() => _tree = new HostileTree();

    [TestCleanup]
    public void DeleteTree() => _tree.Delete();

    [TestMethod]
    public async Task Links_inside_the_root_resolve_as_in_sysfs()
    {
        var records = await BatchAsync(
            (RemoteOperation.Read, "class/mdev_bus/parent/name"),
            (RemoteOperation.ReadLink, "class/mdev_bus/parent"),
            (RemoteOperation.List, "class/mdev_bus/parent"));

        Assert.AreEqual("inside\n", SshHostFileSystem.AsText(records[0]).Value);
        Assert.AreEqual("../../devices/parent\n", Encoding.UTF8.GetString(records[1].Bytes));
        Assert.AreEqual("deep-relative\nname\n", string.Concat(Encoding.UTF8.GetString(records[2].Bytes).Split('/', StringSplitOptions.RemoveEmptyEntries).Order().Select(n => n + "\n")));
    }

    [TestMethod]
    public async Task Every_escape_is_ENOENT_and_nothing_outside_is_touched()
    {
        await using var witness = await InotifyWitness.StartAsync(_tree.Outside);

        var reads = await BatchAsync([.. HostileTree.Escapes.Select(e => (RemoteOperation.Read, e))]);
        var listing = await BatchAsync((RemoteOperation.List, "absolute-dir"), (RemoteOperation.ReadLink, "absolute-dir/secret"));
        var writes = new List<Errno>();
        foreach (var escape in HostileTree.Escapes)
        {
            writes.Add(await WriteAsync(escape, "written"));
        }

        var events = await witness.StopAsync();

        CollectionAssert.AreEqual(Enumerable.Repeat(Errno.ENOENT, HostileTree.Escapes.Length).ToArray(), reads.Select(r => r.Error).ToArray());
        CollectionAssert.AreEqual(new[] { Errno.ENOENT, Errno.ENOENT }, listing.Select(r => r.Error).ToArray());
        CollectionAssert.AreEqual(Enumerable.Repeat(Errno.ENOENT, HostileTree.Escapes.Length).ToArray(), writes);
        Assert.AreEqual(0, events.Count, string.Join('\n', events));
        Assert.AreEqual(HostileTree.Secret, await File.ReadAllTextAsync(_tree.Canary));
    }

    [TestMethod]
    public async Task Fifos_device_nodes_loops_and_huge_files_are_refused_without_blocking()
    {
        _tree.DeviceNode("zero-node", 1, 5);
        await using (var file = File.Create(Path.Combine(_tree.Root, "huge")))
        {
            file.SetLength(64L << 20);
        }

        var records = await BatchAsync(
            (RemoteOperation.Read, "fifo"),
            (RemoteOperation.Read, "zero-node"),
            (RemoteOperation.Read, "loop-a"),
            (RemoteOperation.Read, "huge"),
            (RemoteOperation.Read, "devices"));

        CollectionAssert.AreEqual(
            new[] { Errno.ENXIO, Errno.ENXIO, Errno.ELOOP, Errno.EFBIG, Errno.EISDIR },
            records.Select(r => SshHostFileSystem.AsText(r).Error).ToArray());
        Assert.AreEqual(LocalHostFileSystem.MaxWriteLength + 1, records[3].Bytes.Length, "the remote side reads one page and a byte, no more");
        Assert.AreEqual(Errno.ENXIO, await WriteAsync("fifo", "1"));
        Assert.AreEqual(Errno.ENXIO, await WriteAsync("zero-node", "1"));
    }

    [TestMethod]
    public async Task A_write_inside_the_root_makes_one_write()
    {
        Assert.AreEqual(Errno.None, await WriteAsync("class/mdev_bus/parent/name", "ab"));

        Assert.AreEqual("abside\n", await File.ReadAllTextAsync(Path.Combine(_tree.Root, "devices", "parent", "name")));
    }

    private Task<IReadOnlyList<RemoteRecord>> BatchAsync(params (RemoteOperation Operation, string Path)[] operations) =>
        BatchAsync(operations.Select(o => (o.Operation, SysfsPath.Parse(o.Path))).ToArray());

    private Task<IReadOnlyList<RemoteRecord>> BatchAsync((RemoteOperation Operation, SysfsPath Path)[] operations) =>
        RunAsync([.. operations.Select(o => new RemoteRequest(o.Operation, o.Path))]);

    private async Task<Errno> WriteAsync(string path, string value)
    {
        var record = (await RunAsync([new RemoteRequest(RemoteOperation.Write, SysfsPath.Parse(path), Encoding.ASCII.GetBytes(value))]))[0];
        return record.Succeeded ? Errno.None : StrerrorTable.FromMessage(Encoding.UTF8.GetString(record.Bytes)) ?? throw new AssertFailedException($"no errno in '{Encoding.UTF8.GetString(record.Bytes)}'");
    }

    /// <summary>The session's prologue and one batch, as the remote shell reads them on standard input.</summary>
    private async Task<IReadOnlyList<RemoteRecord>> RunAsync(RemoteRequest[] requests)
    {
        var trailer = RemoteShell.Trailer("test", 1);
        var (status, output, error) = await ShellAsync(RemoteShell.SessionCommand, RemoteShell.Prologue(_tree.Root) + RemoteShell.BatchScript(_tree.Root, requests, trailer));
        Assert.AreEqual(0, status, error);
        return RemoteShell.ParseBatch(output, requests.Sum(r => r.Records), trailer);
    }

    /// <summary>Runs <paramref name="command"/> as an SSH server would (<c>sh -c</c>), input on standard input; bounded to 30 s.</summary>
    private static async Task<(int Status, byte[] Output, string Error)> ShellAsync(string command, string input)
    {
        var info = new ProcessStartInfo("/bin/sh") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(command);
        using var shell = Process.Start(info)!;
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await shell.StandardInput.WriteAsync(input);
        shell.StandardInput.Close();
        using var output = new MemoryStream();
        var copy = shell.StandardOutput.BaseStream.CopyToAsync(output, bound.Token);
        var error = shell.StandardError.ReadToEndAsync(bound.Token);
        await shell.WaitForExitAsync(bound.Token);
        await copy;
        return (shell.ExitCode, output.ToArray(), await error);
    }
}
