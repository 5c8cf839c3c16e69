using System.Diagnostics;
using System.Text;
using VfioMigration.Planner.Sysfs;
using VfioMigration.RemoteHosts;

namespace VfioMigration.Remote.Tests;

/// <summary>The remote protocol's pieces, without a network: quoting, framing, errno texts, known_hosts, URIs.</summary>
[TestClass]
public sealed class ProtocolTests
{
    private readonly List<string> _homes = [];

    [TestCleanup]
    public void DeleteHomes()
    {
        foreach (var home in _homes)
        {
            Directory.Delete(home, recursive: true);
        }
    }

    [TestMethod]
    [DataRow("plain")]
    [DataRow("it's")]
    [DataRow("$(id) `id` \"x\" \\ ; | & * ?")]
    [DataRow("''")]
    public void A_quoted_string_reaches_the_shell_unchanged(string text)
    {
        var info = new ProcessStartInfo("/bin/sh") { RedirectStandardOutput = true };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add("printf %s " + RemoteShell.Quote(text));
        using var shell = Process.Start(info)!;
        var printed = shell.StandardOutput.ReadToEnd();
        shell.WaitForExit();

        Assert.AreEqual(text, printed);
    }

    [TestMethod]
    public void Records_carry_any_bytes_including_newlines_fake_headers_and_fake_trailers()
    {
        var tricky = "D 3\nabc\n\0E 9\nZ secret 1\n"u8.ToArray();
        var unknownText = "cat: /sys/x: No such file or directory\n0123456789"u8.ToArray();
        var answer = Record('D', tricky).Concat(Record('E', unknownText)).Concat(Record('D', [])).Concat("Z secret 1\n"u8.ToArray()).ToArray();

        var records = RemoteShell.ParseBatch(answer, 3, "Z secret 1");

        CollectionAssert.AreEqual(tricky, records[0].Bytes);
        Assert.AreEqual(Errno.None, records[0].Error);
        Assert.IsFalse(records[1].Succeeded);
        Assert.AreEqual(Errno.EIO, records[1].Error, "the text ends in digits, not a known strerror text");
        Assert.IsEmpty(records[2].Bytes);
    }

    [TestMethod]
    public void A_truncated_short_or_misplaced_answer_is_refused()
    {
        Assert.ThrowsExactly<EndOfStreamException>(() => RemoteShell.ParseBatch("D 10\nabc"u8, 1, "Z s 1"));
        Assert.ThrowsExactly<EndOfStreamException>(() => RemoteShell.ParseBatch("D 3\nabc"u8, 2, "Z s 1"));
        Assert.ThrowsExactly<FormatException>(() => RemoteShell.ParseBatch("hello from .bashrc\nD 3\nabcZ s 1\n"u8, 1, "Z s 1"));
        Assert.ThrowsExactly<FormatException>(() => RemoteShell.ParseBatch("D 3\nabcZ s 1\n"u8, 1, "Z s 2"), "the trailer of another batch");
        Assert.ThrowsExactly<FormatException>(() => RemoteShell.ParseBatch("D 3\nabcZ s 1\nD 0\n"u8, 1, "Z s 1"), "bytes after the trailer");
        Assert.ThrowsExactly<FormatException>(() => RemoteShell.ParseBatch("D 99999999999\n"u8, 1, "Z s 1"), "a length beyond any record");
    }

    [TestMethod]
    [DataRow("dd: error writing '/sys/class/mdev_bus/0000:3b:00.0/mdev_supported_types/nvidia-63/create': Too many users", Errno.EUSERS)]
    [DataRow("dd: failed to open '/sys/x': No such file or directory", Errno.ENOENT)]
    [DataRow("readlink: /sys/class: Invalid argument\n", Errno.EINVAL)]
    [DataRow("cat: /sys/class: Is a directory", Errno.EISDIR)]
    [DataRow("bash: line 3: printf: write error: Invalid argument\n", Errno.EINVAL)]
    [DataRow("bash: line 1: /sys/class/mdev_bus/p/create: Permission denied\n", Errno.EACCES)]
    [DataRow("bash: line 9: read: read error: 0: Input/output error\n", Errno.EIO)]
    public void Coreutils_messages_map_to_the_errno(string message, Errno errno) =>
        Assert.AreEqual(errno, StrerrorTable.FromMessage(message));

    [TestMethod]
    public void A_batch_holds_quoted_paths_and_octal_escapes_never_the_value_as_text()
    {
        var script = RemoteShell.BatchScript("/sys", [
            new RemoteRequest(RemoteOperation.Read, SysfsPath.Parse("class/mdev_bus")),
            new RemoteRequest(RemoteOperation.Write, SysfsPath.Parse("bus/mdev/devices/x/remove"), "1"u8.ToArray()),
            new RemoteRequest(RemoteOperation.Exchange, SysfsPath.Parse("class/mdev_bus/p/migration_query"), "a'$(id)%s\\"u8.ToArray()),
        ], "Z n 7");

        Assert.AreEqual(
            "r '/sys/class/mdev_bus'\n" +
            "w '/sys/bus/mdev/devices/x/remove' 1 '\\061'\n" +
            "x '/sys/class/mdev_bus/p/migration_query' 10 '\\141\\047\\044\\050\\151\\144\\051\\045\\163\\134'\n" +
            "Q=; echo 'Z n 7'\n",
            script);
    }

    [TestMethod]
    public void Known_hosts_match_plain_port_and_hashed_entries_and_tell_changed_from_unknown()
    {
        var key = new byte[] { 0, 0, 0, 11, 1, 2, 3 };
        var other = new byte[] { 9, 9, 9 };
        var file = Path.GetTempFileName();
        try
        {
            // The hashed entry is OpenSSH's own for "hashed.example" with this salt (ssh-keygen -H).
            var salt = new byte[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20 };
#pragma warning disable CA5350 // OpenSSH's hashed-host format.
            var hash = System.Security.Cryptography.HMACSHA1.HashData(salt, "hashed.example"u8);
#pragma warning restore CA5350
            File.WriteAllLines(file, [
                "# comment",
                $"host1,10.0.0.1 ssh-ed25519 {Convert.ToBase64String(key)}",
                $"[host2]:2222 ssh-ed25519 {Convert.ToBase64String(key)}",
                $"|1|{Convert.ToBase64String(salt)}|{Convert.ToBase64String(hash)} ssh-ed25519 {Convert.ToBase64String(key)}",
                $"@revoked * ssh-ed25519 {Convert.ToBase64String(other)}",
            ]);
            var knownHosts = KnownHosts.Load(file);

            Assert.AreEqual(KnownHostVerdict.Known, knownHosts.Check("10.0.0.1", 22, key));
            Assert.AreEqual(KnownHostVerdict.Known, knownHosts.Check("host2", 2222, key));
            Assert.AreEqual(KnownHostVerdict.Unknown, knownHosts.Check("host2", 22, key));
            Assert.AreEqual(KnownHostVerdict.Known, knownHosts.Check("hashed.example", 22, key));
            Assert.AreEqual(KnownHostVerdict.Changed, knownHosts.Check("host1", 22, [1, 2, 3]));
            Assert.AreEqual(KnownHostVerdict.Revoked, knownHosts.Check("host1", 22, other));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [TestMethod]
    public void An_ssh_uri_gives_the_same_user_host_and_port_over_ssh()
    {
        var home = Home();
        var host = HostDescription.Parse("qemu+ssh://admin@node7:2222/system", new RemoteHostDefaults { HomeDirectory = home });

        Assert.IsNull(host.Name, "the name is the one libvirt reports, once connected");
        Assert.AreEqual("admin@node7:2222", host.Ssh!.Target);
        Assert.AreEqual(Path.Combine(home, ".ssh", "id_ed25519"), host.Ssh.KeyFile);
        Assert.AreEqual(Path.Combine(home, ".ssh", "known_hosts"), host.Ssh.KnownHostsFile);
        Assert.AreEqual(HostKeyPolicy.Strict, host.Ssh.HostKeyPolicy);
    }

    [TestMethod]
    public void A_tls_uri_uses_the_default_user_on_port_22_and_a_local_uri_the_local_sysfs()
    {
        var defaults = new RemoteHostDefaults { HomeDirectory = Home(), KeyFile = "/keys/planner", SysfsRoot = "/srv/sys" };

        var tls = HostDescription.Parse("qemu+tls://node8:16514/system", defaults);
        var local = HostDescription.Parse("qemu:///system", defaults);

        Assert.AreEqual("root@node8", tls.Ssh!.Target);
        Assert.AreEqual("/keys/planner", tls.Ssh.KeyFile);
        Assert.AreEqual("/srv/sys", tls.Ssh.SysfsRoot);
        Assert.IsNull(local.Ssh);
        Assert.AreEqual("/srv/sys", local.LocalSysfsRoot);
    }

    [TestMethod]
    public void Without_a_key_the_error_says_where_it_looked_and_what_to_set()
    {
        var empty = Directory.CreateTempSubdirectory("remote-home-").FullName;
        try
        {
            var error = Assert.ThrowsExactly<ArgumentException>(() => HostDescription.Parse("qemu+ssh://node9/system", new RemoteHostDefaults { HomeDirectory = empty }));

            StringAssert.Contains(error.Message, "id_ed25519");
            StringAssert.Contains(error.Message, "RemoteHostDefaults.KeyFile");
            var named = Assert.ThrowsExactly<ArgumentException>(() => HostDescription.Parse("qemu+ssh://node9/system", new RemoteHostDefaults { HomeDirectory = empty, SettingNames = new SettingNames { KeyFile = "--ssh-key FILE" } }));
            StringAssert.Contains(named.Message, "Give one with --ssh-key FILE.");
        }
        finally
        {
            Directory.Delete(empty, recursive: true);
        }
    }

    [TestMethod]
    [DataRow("qemu+tcp://127.0.0.1:16510/system", "through this machine's loopback address 127.0.0.1")]
    [DataRow("qemu+tls://localhost/system", "through this machine's loopback address localhost")]
    [DataRow("qemu+tcp://gateway:16600/system", "on port 16600, not libvirt's 16509")]
    [DataRow("qemu://gateway:2000/system", "on port 2000, not libvirt's 16514")]
    public void A_non_ssh_uri_that_may_lead_elsewhere_is_refused_without_an_ssh_endpoint(string uri, string why)
    {
        var defaults = new RemoteHostDefaults { HomeDirectory = Home(), SettingNames = new SettingNames { SshEndpoint = "--dest-ssh" } };

        var error = Assert.ThrowsExactly<ArgumentException>(() => HostDescription.Parse(uri, defaults));

        Assert.AreEqual("sshEndpoint", error.ParamName);
        StringAssert.Contains(error.Message, why);
        StringAssert.Contains(error.Message, "Give the host's SSH endpoint with --dest-ssh.");
    }

    [TestMethod]
    public void An_ssh_endpoint_gives_user_host_port_and_key_of_the_sysfs()
    {
        var defaults = new RemoteHostDefaults { HomeDirectory = Home(), KeyFile = "/keys/everyone" };

        var forwarded = HostDescription.Parse("qemu+tcp://127.0.0.1:16510/system", defaults, SshEndpoint.Parse("admin@127.0.0.1:2222", "/keys/host-b"));
        var plainTcp = HostDescription.Parse("qemu+tcp://node8/system", defaults);
        var standardPort = HostDescription.Parse("qemu+tcp://node8:16509/system", defaults);
        var overSsh = HostDescription.Parse("qemu+ssh://root@127.0.0.1:2201/system", defaults, SshEndpoint.Parse("[::1]:2202"));

        Assert.AreEqual("admin@127.0.0.1:2222", forwarded.Ssh!.Target);
        Assert.AreEqual("/keys/host-b", forwarded.Ssh.KeyFile);
        Assert.AreEqual("root@node8", plainTcp.Ssh!.Target, "a tcp URI on libvirt's own port keeps the documented default");
        Assert.AreEqual("root@node8", standardPort.Ssh!.Target);
        Assert.AreEqual(("root", "::1", 2202), (overSsh.Ssh!.User, overSsh.Ssh.Host, overSsh.Ssh.Port), "the endpoint wins over the URI's host and port; the URI's user stays");
        Assert.AreEqual("/keys/everyone", overSsh.Ssh.KeyFile);
    }

    [TestMethod]
    public void An_ssh_endpoint_for_a_local_uri_is_refused()
    {
        var error = Assert.ThrowsExactly<ArgumentException>(() => HostDescription.Parse("qemu:///system", new RemoteHostDefaults { HomeDirectory = Home() }, new SshEndpoint("node8")));

        Assert.AreEqual("sshEndpoint", error.ParamName);
    }

    [TestMethod]
    [DataRow("node7", "node7", null, null)]
    [DataRow("admin@node7", "node7", null, "admin")]
    [DataRow("admin@node7:2222", "node7", 2222, "admin")]
    [DataRow("[fd00::7]:22", "fd00::7", 22, null)]
    public void Ssh_endpoints_parse(string text, string host, int? port, string? user)
    {
        Assert.AreEqual(new SshEndpoint(host, port, user), SshEndpoint.Parse(text));
    }

    [TestMethod]
    [DataRow("")]
    [DataRow("node7:")]
    [DataRow("node7:99999")]
    [DataRow("node7:22x")]
    [DataRow("@node7")]
    [DataRow("a b@node7")]
    [DataRow("[fd00::7")]
    [DataRow("node7/x")]
    public void Malformed_ssh_endpoints_are_refused(string text)
    {
        var error = Assert.ThrowsExactly<FormatException>(() => SshEndpoint.Parse(text));

        StringAssert.Contains(error.Message, "[user@]host[:port]");
    }

    [TestMethod]
    public void Connected_without_a_given_name_a_host_is_named_as_its_libvirt_reports()
    {
        using var libvirt = VfioMigration.Libvirt.LibvirtConnection.Open("test:///default");
        using var unnamed = HostDescription.Parse("test:///default").Connect(readOnly: true);
        using var named = (HostDescription.Parse("test:///default") with { Name = "host-b" }).Connect(readOnly: true);

        Assert.AreEqual(libvirt.GetHostname(), unnamed.Host.Name);
        Assert.AreEqual("host-b", named.Host.Name);
    }

    private static byte[] Record(char kind, byte[] content) =>
        [.. Encoding.ASCII.GetBytes($"{kind} {content.Length}\n"), .. content];

    private string Home()
    {
        var home = Directory.CreateTempSubdirectory("remote-home-").FullName;
        _homes.Add(home);
        Directory.CreateDirectory(Path.Combine(home, ".ssh"));
        File.WriteAllText(Path.Combine(home, ".ssh", "id_ed25519"), "not read by Parse");
        return home;
    }
}
