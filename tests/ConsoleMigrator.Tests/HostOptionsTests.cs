namespace VfioMigration.ConsoleMigrator.Tests;

/// <summary>How the console names hosts and reaches their sysfs: operator-given names and SSH endpoints, refusals that name the flags to type.</summary>
[TestClass]
public sealed class HostOptionsTests
{
    private string _emptySysfs = null!;

    [TestInitialize]
    public void MakeSysfs() => _emptySysfs = Directory.CreateTempSubdirectory("host-options-").FullName;

    [TestCleanup]
    public void RemoveSysfs() => Directory.Delete(_emptySysfs, recursive: true);

    private static string Scenario(string name) => Path.Combine(AppContext.BaseDirectory, "scenarios", name);

    [TestMethod]
    [DataRow("--source", "qemu+tcp://127.0.0.1:16510/system", "--source-ssh [USER@]HOST[:PORT]")]
    [DataRow("--dest", "qemu+tcp://127.0.0.1:16511/system", "--dest-ssh [USER@]HOST[:PORT] (one per --dest, in order)")]
    public async Task A_forwarded_tcp_uri_without_an_ssh_endpoint_is_refused_naming_the_flag(string option, string uri, string flag)
    {
        string[] hosts = option == "--source"
            ? ["--source", uri, "--dest-scenario", Scenario("demo-dest-a.json")]
            : ["--source-scenario", Scenario("demo-source.json"), "--dest", uri];

        var run = await ConsoleRun.RunAsync(["plan", "--domain", "render-1", .. hosts]);

        Assert.AreEqual(2, run.ExitCode, run.Error);
        StringAssert.Contains(run.Error, $"Give the host's SSH endpoint with {flag}.");
        StringAssert.Contains(run.Error, "through this machine's loopback address 127.0.0.1");
        Assert.IsFalse(run.Error.Contains("(Parameter", StringComparison.Ordinal), run.Error);
        Assert.IsFalse(run.Error.Contains("HostDescription", StringComparison.Ordinal), run.Error);
    }

    [TestMethod]
    [DataRow("--dest-ssh", "root@@node", "--dest-ssh: 'root@@node' is not an SSH endpoint of the form [user@]host[:port].")]
    [DataRow("--dest-ssh-key", "/keys/b", "--dest-ssh-key names the key for --dest-ssh; give both.")]
    [DataRow("--dest-name", "host b", "--dest-name: a host name is 1 to 64 letters, digits, '.', '-' or '_'.")]
    [DataRow("--remote-sysfs-root", "sys", "--remote-sysfs-root 'sys': give an absolute directory")]
    [DataRow("--remote-sysfs-root", "/srv/../sys", "--remote-sysfs-root '/srv/../sys': give an absolute directory")]
    [DataRow("--remote-sysfs-root", "/srv/./sys", "--remote-sysfs-root '/srv/./sys': give an absolute directory")]
    [DataRow("--remote-sysfs-root", "/srv//sys", "--remote-sysfs-root '/srv//sys': give an absolute directory")]
    [DataRow("--remote-sysfs-root", "/srv/sys/", "--remote-sysfs-root '/srv/sys/': give an absolute directory")]
    [DataRow("--remote-sysfs-root", "/srv/a sys", "--remote-sysfs-root '/srv/a sys': give an absolute directory")]
    [DataRow("--remote-sysfs-root", "/", "--remote-sysfs-root '/': give an absolute directory")]
    public async Task Malformed_host_options_are_usage_errors(string option, string value, string message)
    {
        var run = await ConsoleRun.RunAsync("plan", "--domain", "render-1", "--source-scenario", Scenario("demo-source.json"), "--dest", "qemu+tcp://node8/system", option, value);

        Assert.AreEqual(2, run.ExitCode, run.Error);
        StringAssert.Contains(run.Error, message);
    }

    [TestMethod]
    public async Task More_ssh_endpoints_than_hosts_for_recover_are_a_usage_error()
    {
        var state = Path.Combine(_emptySysfs, "state");
        var run = await ConsoleRun.RunAsync("recover", "--state-dir", state, "--host", "qemu+tcp://node8/system", "--host-ssh", "root@node8", "--host-ssh", "root@node9");

        Assert.AreEqual(2, run.ExitCode, run.Error);
        StringAssert.Contains(run.Error, "2 --host-ssh given for 1 --host: give at most one per --host, in the same order.");
    }

    [TestMethod]
    public async Task A_local_sysfs_and_an_ssh_endpoint_for_one_host_are_refused()
    {
        var run = await ConsoleRun.RunAsync("plan", "--domain", "render-1", "--source-scenario", Scenario("demo-source.json"), "--dest", "test:///default", "--dest-sysfs", _emptySysfs, "--dest-ssh", "root@node8");

        Assert.AreEqual(2, run.ExitCode, run.Error);
        StringAssert.Contains(run.Error, "destination 1: --dest-sysfs reads a local directory, --dest-ssh the host over SSH; give one.");
    }

    [TestMethod]
    public async Task A_state_directory_that_cannot_be_used_stops_the_plan_with_its_own_exit_code()
    {
        var notADirectory = Path.Combine(_emptySysfs, "state-file");
        await File.WriteAllTextAsync(notADirectory, "a file, not a directory");

        var run = await ConsoleRun.RunAsync("plan", "--domain", "render-1", "--source-scenario", Scenario("demo-source.json"), "--dest", "test:///default", "--dest-sysfs", _emptySysfs, "--state-dir", notADirectory);

        Assert.AreEqual(6, run.ExitCode, run.Error);
        StringAssert.StartsWith(run.Error, $"error: Cannot open the planner's state store in {notADirectory}: ");
    }

    [TestMethod]
    public async Task An_etcd_store_that_cannot_be_reached_stops_the_plan_with_the_state_store_exit_code()
    {
        // Port 1 on loopback: nothing listens, every connection is refused at once; the store retries within its 10 s call timeout.
        var run = await ConsoleRun.RunAsync("plan", "--domain", "render-1", "--source-scenario", Scenario("demo-source.json"), "--dest", "test:///default", "--dest-sysfs", _emptySysfs, "--state-store", "etcd", "--etcd-endpoints", "http://127.0.0.1:1");

        Assert.AreEqual(6, run.ExitCode, run.Error);
        StringAssert.StartsWith(run.Error, "error: The planner's state store, etcd at http://127.0.0.1:1, ");
        StringAssert.Contains(run.Error, "; nothing more is created.");
    }

    [TestMethod]
    [DataRow("--state-store", "zookeeper", "--state-store takes sqlite or etcd, not 'zookeeper'.")]
    [DataRow("--state-store", "etcd", "--state-store etcd needs --etcd-endpoints URLS.")]
    [DataRow("--etcd-lease-ttl", "1", "--etcd-lease-ttl takes whole seconds from 2 to 3600, not '1'.")]
    [DataRow("--etcd-timeout", "0", "--etcd-timeout takes whole seconds from 1 to 3600, not '0'.", true)]
    [DataRow("--etcd-timeout", "10", "--etcd-timeout is for --state-store etcd; the store is sqlite.")]
    [DataRow("--etcd-user", "root", "--etcd-user is for --state-store etcd; the store is sqlite.")]
    [DataRow("--etcd-user", "root", "--etcd-user needs a password: the first line of --etcd-password-file FILE, or $VFIO_MIGRATOR_ETCD_PASSWORD.", true)]
    [DataRow("--etcd-password-file", "/nonexistent/password", "--etcd-password-file is the password of --etcd-user; give both.", true)]
    public async Task A_state_store_option_out_of_range_is_a_usage_error(string option, string value, string message, bool etcd = false)
    {
        string[] store = etcd || option == "--etcd-lease-ttl" ? ["--state-store", "etcd", "--etcd-endpoints", "http://127.0.0.1:1"] : [];
        var run = await ConsoleRun.RunAsync(["plan", "--domain", "render-1", "--source-scenario", Scenario("demo-source.json"), "--dest", "test:///default", "--dest-sysfs", _emptySysfs, .. store, option, value]);

        Assert.AreEqual(2, run.ExitCode, run.Error);
        StringAssert.Contains(run.Error, message);
    }

    [TestMethod]
    public async Task A_given_name_is_the_hosts_name_in_every_line()
    {
        var run = await ConsoleRun.RunAsync("plan", "--domain", "render-1", "--source-scenario", Scenario("demo-source.json"), "--dest", "test:///default", "--dest-sysfs", _emptySysfs, "--dest-name", "host-b");

        Assert.AreEqual(3, run.ExitCode, run.Error);
        StringAssert.Contains(run.Out, "No valid plan: the best destination, host-b, cannot take every device.");
    }

    [TestMethod]
    public async Task Two_hosts_that_call_themselves_the_same_are_refused_until_named()
    {
        string[] twice = ["plan", "--domain", "render-1", "--source-scenario", Scenario("demo-source.json"), "--dest", "test:///default", "--dest-sysfs", _emptySysfs, "--dest", "test:///default", "--dest-sysfs", _emptySysfs];

        var unnamed = await ConsoleRun.RunAsync(twice);
        var named = await ConsoleRun.RunAsync([.. twice, "--dest-name", "host-b", "--dest-name", "host-c"]);

        Assert.AreEqual(2, unnamed.ExitCode, unnamed.Error);
        StringAssert.Contains(unnamed.Error, "2 hosts are named");
        StringAssert.Contains(unnamed.Error, "name them with --source-name / --dest-name.");
        Assert.AreEqual(3, named.ExitCode, named.Error);
        StringAssert.Contains(named.Out, "host-b");
        StringAssert.Contains(named.Out, "host-c");
    }
}
