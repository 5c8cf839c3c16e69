using System.Diagnostics;
using VfioMigration.Bench;
using VfioMigration.ConsoleMigrator.Tests;
using VfioMigration.Planner.State;

namespace VfioMigration.Etcd.Tests;

/// <summary>
/// etcd as a fleet runs it: clients over mutual TLS (etcd's <c>--client-cert-auth</c>, a throwaway CA
/// made by <see cref="TestCertificates"/>) and etcd's user authentication, with the built
/// <c>vfio-migrator</c> against a FUSE-mounted destination: the right certificates and password plan;
/// a wrong CA, a client certificate etcd does not trust, or a wrong password stop the plan with the
/// state store's exit code (6) and a message naming the cause, having created nothing. See docs/state.md.
/// </summary>
[TestClass]
[DoNotParallelize]
public sealed class EtcdSecurityTests
{
    private const string Etcdctl = "/usr/bin/etcdctl";

    public TestContext TestContext { get; set; } = null!;

    [TestInitialize]
    public async Task RequireFuse() => StateScenarios.RequireFuse();

    [TestMethod]
    public async Task A_plan_over_mutual_tls_with_the_right_certificates_creates_and_releases()
    {
        using var pki = new TestCertificates();
        using var etcd = TestEtcd.Start(1, pki);
        using var bed = new StateBed(StateScenarios.SlowDestination(createMs: 0), StateScenarios.Source(devices: 2));
        bed.StateArguments = Tls(etcd, pki.Authority, pki.ClientCertificate, pki.ClientKey);
        var before = bed.Destination.Snapshot().State;

        var kept = await bed.RunAsync("plan", "--domain", "vm1", "--keep");

        Assert.AreEqual(0, kept.Code, kept.Error);
        Assert.HasCount(2, bed.Destination.Snapshot().State.Mdevs);
        using var observer = etcd.Open(EtcdStateStoreOptions.DefaultPrefix);
        var plan = (await observer.ListPlansAsync()).Single();
        Assert.AreEqual(PlanOwnerState.Committed, plan.Owner);
        await bed.RemoveEverythingAsync(before, 2, "plans", "release", plan.Id.ToString());
    }

    /// <param name="wrong">ca: the other CA as --etcd-ca (etcd's certificate is refused here); client: a client certificate the other CA signed (refused by etcd).</param>
    [TestMethod]
    [DataRow("ca")]
    [DataRow("client")]
    public async Task A_wrong_ca_or_client_certificate_stops_the_plan_with_the_state_store_error_and_creates_nothing(string wrong)
    {
        using var pki = new TestCertificates();
        using var etcd = TestEtcd.Start(1, pki);
        using var bed = new StateBed(StateScenarios.SlowDestination(createMs: 0), StateScenarios.Source(devices: 2));
        var before = bed.Destination.Snapshot().State;
        var store = wrong == "ca" ? Tls(etcd, pki.OtherAuthority, pki.ClientCertificate, pki.ClientKey) : Tls(etcd, pki.Authority, pki.OtherClientCertificate, pki.OtherClientKey);

        var run = await bed.RunWithAsync(store, "plan", "--domain", "vm1", "--keep");

        TestContext.WriteLine(run.Error);
        Assert.AreEqual(6, run.Code, run.Error);
        StringAssert.Contains(run.Error, wrong == "ca"
            ? $"TLS with etcd at {etcd.Endpoints} failed: the etcd member's certificate (CN=127.0.0.1) is not signed by the CA in {pki.OtherAuthority} (PartialChain); nothing is created."
            : $"The planner's state store, etcd at {etcd.Endpoints}, cannot be reached or refused the request");
        Assert.AreEqual(before, bed.Destination.Snapshot().State);
        Assert.AreEqual(0, bed.CreatesStarted);
    }

    /// <summary>etcd's authentication on (user root, role root, <c>etcdctl auth enable</c>): the password from a file or the environment plans; a wrong one stops the plan.</summary>
    [TestMethod]
    public async Task With_etcd_authentication_the_right_password_plans_and_a_wrong_one_stops_the_plan()
    {
        if (!File.Exists(Etcdctl))
        {
            Assert.Inconclusive($"{Etcdctl} is missing: install Debian's etcd-client.");
        }

        using var etcd = TestEtcd.Start(1);
        await EtcdctlAsync(etcd, "user", "add", "root:right-password");
        await EtcdctlAsync(etcd, "auth", "enable");
        using var bed = new StateBed(StateScenarios.SlowDestination(createMs: 0), StateScenarios.Source(devices: 2));
        var before = bed.Destination.Snapshot().State;
        var wrongFile = Path.Combine(bed.StateDirectory + "-password");
        await File.WriteAllTextAsync(wrongFile, "wrong-password\n", TestContext.CancellationToken);
        string[] store = ["--state-dir", bed.StateDirectory, "--state-store", "etcd", "--etcd-endpoints", etcd.Endpoints, "--etcd-user", "root"];

        var wrong = await bed.RunWithAsync([.. store, "--etcd-password-file", wrongFile], "plan", "--domain", "vm1", "--keep");

        TestContext.WriteLine(wrong.Error);
        Assert.AreEqual(6, wrong.Code, wrong.Error);
        StringAssert.Contains(wrong.Error, "authentication failed, invalid user ID or password");
        Assert.AreEqual(before, bed.Destination.Snapshot().State);
        Assert.AreEqual(0, bed.CreatesStarted);

        bed.StateArguments = store;
        using var planner = bed.Start(("VFIO_MIGRATOR_ETCD_PASSWORD", "right-password"), "plan", "--domain", "vm1");
        var right = await ConsoleProcess.WaitAsync(planner, ["plan"]);
        Assert.AreEqual(0, right.Code, right.Error);
        Assert.AreEqual(before, bed.Destination.Snapshot().State, "a plan that is not kept removes what it created");
    }

    [TestMethod]
    public async Task A_certificate_without_its_key_is_refused_before_anything_is_sent()
    {
        var error = Assert.ThrowsExactly<StateStoreException>(() => new EtcdStateStore(new EtcdStateStoreOptions { Endpoints = "https://127.0.0.1:1", ClientCertificateFile = "/nonexistent/client.pem" }));
        Assert.AreEqual("A client certificate for etcd needs its key, and a key its certificate: give both or neither.", error.Message);
    }

    /// <summary>The console's options for the etcd store of <paramref name="etcd"/> over TLS with these files.</summary>
    private static string[] Tls(EtcdCluster etcd, string authority, string certificate, string key) =>
        ["--state-store", "etcd", "--etcd-endpoints", etcd.Endpoints, "--etcd-ca", authority, "--etcd-cert", certificate, "--etcd-key", key];

    private static async Task EtcdctlAsync(EtcdCluster etcd, params string[] args)
    {
        var start = new ProcessStartInfo(Etcdctl) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.Environment["ETCDCTL_API"] = "3";
        start.ArgumentList.Add("--endpoints");
        start.ArgumentList.Add(etcd.Endpoints);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var result = await ConsoleProcess.WaitAsync(process, ["etcdctl", .. args]);
        Assert.AreEqual(0, result.Code, $"etcdctl {string.Join(' ', args)}: {result.Error}");
    }
}
