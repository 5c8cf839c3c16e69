using System.Text.Json;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Hypervisor;
using VfioMigration.Planner.Json;
using VfioMigration.Planner.Planning;
using VfioMigration.Planner.Tests.Fakes;

namespace VfioMigration.Planner.Tests.Planning;

/// <summary>
/// The preflight: each check on its facts (<see cref="PreflightChecks.Evaluate"/> is pure), and the
/// planner stopping on a failed one before it creates anything.
/// </summary>
[TestClass]
public sealed class PreflightTests
{
    private static readonly HypervisorVersions Qemu10 = new("QEMU", new Version(11, 3, 0), new Version(10, 0, 2));
    private static readonly HypervisorVersions TestDriver = new("Test", new Version(9, 0, 0), new Version(0, 0, 2));

    private const string Override = """
        <qemu:override>
          <qemu:device alias='hostdev0'>
            <qemu:frontend>
              <qemu:property name='x-device-dirty-page-tracking' type='string' value='off'/>
              <qemu:property name='enable-migration' type='string' value='on'/>
            </qemu:frontend>
          </qemu:device>
        </qemu:override>
        """;

    [TestMethod]
    [DataRow("8.5.9", "10.0.2", PreflightOutcome.Failed, PreflightOutcome.Passed)]
    [DataRow("8.6.0", "8.0.9", PreflightOutcome.Passed, PreflightOutcome.Failed)]
    [DataRow("8.6.0", "8.1.0", PreflightOutcome.Passed, PreflightOutcome.Passed)]
    public void Versions_AreGatedAtLibvirt86AndQemu81(string libvirt, string qemu, PreflightOutcome libvirtOutcome, PreflightOutcome qemuOutcome)
    {
        var old = new HostFacts("b", new HypervisorVersions("QEMU", Version.Parse(libvirt), Version.Parse(qemu)), true);

        var checks = PreflightChecks.Evaluate(new HostFacts("a", Qemu10, true), old, [Mdev("mtty-1")], Guest());

        Assert.AreEqual(libvirtOutcome, checks.Single(c => c.Host == "b" && c.Check == "LIBVIRT_VERSION").Outcome);
        Assert.AreEqual(qemuOutcome, checks.Single(c => c.Host == "b" && c.Check == "QEMU_VERSION").Outcome);
        if (qemuOutcome == PreflightOutcome.Failed)
        {
            StringAssert.Contains(checks.Single(c => c.Host == "b" && c.Check == "QEMU_VERSION").Message, $"QEMU {qemu} on b is older than 8.1.0");
        }
    }

    [TestMethod]
    public void TheTestDriver_IsNotQemu_SoOnlyTheLibvirtVersionIsChecked()
    {
        var checks = PreflightChecks.Evaluate(new HostFacts("a", TestDriver, null), new HostFacts("b", TestDriver, null), [Mdev("mtty-1")], Guest());

        CollectionAssert.AreEqual(
            new[] { ("a", "LIBVIRT_VERSION", PreflightOutcome.Passed), ("a", "QEMU_VERSION", PreflightOutcome.NotApplicable), ("b", "LIBVIRT_VERSION", PreflightOutcome.Passed), ("b", "QEMU_VERSION", PreflightOutcome.NotApplicable) },
            checks.Select(c => (c.Host, c.Check, c.Outcome)).ToArray());
    }

    [TestMethod]
    public void HostsThatReportNoVersions_GetNoChecks() =>
        Assert.IsEmpty(PreflightChecks.Evaluate(new HostFacts("a", null, null), new HostFacts("b", null, null), [Mdev("mtty-1")], Guest()));

    [TestMethod]
    [DataRow("mdpy-vga", PreflightOutcome.Failed)]
    [DataRow("i915-GVTg_V5_4", PreflightOutcome.Failed)]
    [DataRow("mtty-2", PreflightOutcome.Passed)]
    [DataRow("nvidia-63", PreflightOutcome.Passed)]
    public void DeviceMigration_FailsForDriversWithoutVfioMigration(string type, PreflightOutcome expected)
    {
        var checks = PreflightChecks.Evaluate(new HostFacts("a", Qemu10, true), new HostFacts("b", Qemu10, true), [Mdev(type)], Guest());

        var check = checks.Single(c => c.Check == "DEVICE_MIGRATION");
        Assert.AreEqual(("a", expected), (check.Host, check.Outcome));
    }

    [TestMethod]
    public void DirtyTracking_WithoutIommufd_AndAnMttyDeviceWithoutTheOverride_FailsOnBothHosts_SayingWhatToAdd()
    {
        var checks = PreflightChecks.Evaluate(new HostFacts("a", Qemu10, false), new HostFacts("b", Qemu10, false), [Mdev("mtty-1")], Guest());

        var dirty = checks.Where(c => c.Check == "DIRTY_TRACKING").ToList();
        Assert.AreEqual(2, dirty.Count(c => c.Outcome == PreflightOutcome.Failed));
        StringAssert.Contains(dirty[0].Message, "The kernel on a has no IOMMUFD (no sysfs module/iommufd)");
        StringAssert.Contains(dirty[0].Message, "the migration fails at its start (ram_save_setup: Operation not supported)");
        StringAssert.Contains(dirty[0].Message, "<qemu:override> on alias hostdev0 setting x-device-dirty-page-tracking=off and enable-migration=on");
        Assert.AreEqual(Uuid, dirty[0].Device);
    }

    [TestMethod]
    public void DirtyTracking_WithTheOverride_Passes_EvenWithoutIommufd()
    {
        var checks = PreflightChecks.Evaluate(new HostFacts("a", Qemu10, false), new HostFacts("b", Qemu10, false), [Mdev("mtty-1")], Guest(Override));

        Assert.IsTrue(checks.Where(c => c.Check == "DIRTY_TRACKING").All(c => c.Outcome == PreflightOutcome.Passed));
    }

    [TestMethod]
    public void DirtyTracking_TheOverrideOnLibvirtsOwnAlias_IsMatchedToAHostdevTheMigratableXmlNamesNoAliasFor()
    {
        // The migratable XML leaves libvirt's hostdevN out: the device has no alias, the override names hostdev1 (the second hostdev).
        var guest = Guest(Hostdevs(null, null) + Override.Replace("hostdev0", "hostdev1", StringComparison.Ordinal));

        var checks = PreflightChecks.Evaluate(new HostFacts("a", Qemu10, false), new HostFacts("b", Qemu10, false), [Mdev("mtty-1", ordinal: 0, alias: null), Mdev("mtty-1", ordinal: 1, alias: null)], guest);

        var dirty = checks.Where(c => c.Check == "DIRTY_TRACKING").ToList();
        CollectionAssert.AreEqual(new[] { PreflightOutcome.Failed, PreflightOutcome.Passed, PreflightOutcome.Failed, PreflightOutcome.Passed }, dirty.Select(c => c.Outcome).ToArray());
        StringAssert.Contains(dirty[0].Message, "<qemu:override> on alias hostdev0 setting");
        StringAssert.Contains(dirty[1].Message, "The guest turns device dirty tracking off for hostdev1");
    }

    [TestMethod]
    public void DirtyTracking_TheOverrideOnAUserAlias_IsMatched()
    {
        var guest = Guest(Hostdevs("ua-mdev0") + Override.Replace("hostdev0", "ua-mdev0", StringComparison.Ordinal));

        var checks = PreflightChecks.Evaluate(new HostFacts("a", Qemu10, false), new HostFacts("b", Qemu10, false), [Mdev("mtty-1", ordinal: 0, alias: "ua-mdev0")], guest);

        var dirty = checks.Where(c => c.Check == "DIRTY_TRACKING").ToList();
        Assert.HasCount(2, dirty);
        Assert.IsTrue(dirty.All(c => c.Outcome == PreflightOutcome.Passed), string.Join("\n", dirty));
        StringAssert.Contains(dirty[0].Message, "for ua-mdev0 (");
    }

    [TestMethod]
    [DataRow("x-device-dirty-page-tracking", "type='string' value='off'", "type='bool' value='false'", "sets x-device-dirty-page-tracking with type='bool' value='false', which QEMU does not take (the property is on, off or auto, passed as a string): write <qemu:property name='x-device-dirty-page-tracking' type='string' value='off'/>.")]
    [DataRow("enable-migration", "type='string' value='on'", "type='bool' value='true'", "sets enable-migration with type='bool' value='true', which QEMU does not take (the property is on, off or auto, passed as a string): write <qemu:property name='enable-migration' type='string' value='on'/>.")]
    [DataRow("x-device-dirty-page-tracking", "type='string' value='off'", "type='string' value='false'", "sets x-device-dirty-page-tracking with type='string' value='false', which QEMU does not take")]
    public void DirtyTracking_AValueQemuDoesNotTake_FailsSayingTheFormItTakes(string property, string good, string bad, string expected)
    {
        var written = Override.Replace($"name='{property}' {good}", $"name='{property}' {bad}", StringComparison.Ordinal);
        Assert.AreNotEqual(Override, written);

        var checks = PreflightChecks.Evaluate(new HostFacts("a", Qemu10, true), new HostFacts("b", Qemu10, true), [Mdev("mtty-1")], Guest(written));

        var dirty = checks.Where(c => c.Check == "DIRTY_TRACKING").ToList();
        Assert.IsTrue(dirty.All(c => c.Outcome == PreflightOutcome.Failed), string.Join("\n", dirty));
        StringAssert.StartsWith(dirty[0].Message, "The guest's <qemu:override> for hostdev0 (" + Uuid + ") " + expected);
    }

    [TestMethod]
    public void DirtyTracking_OffWithoutEnableMigration_FailsForTheBlockerQemuAdds()
    {
        var checks = PreflightChecks.Evaluate(new HostFacts("a", Qemu10, true), new HostFacts("b", Qemu10, true), [Mdev("mtty-1")], Guest(Override.Replace("enable-migration", "x-other", StringComparison.Ordinal)));

        var failed = checks.First(c => c.Check == "DIRTY_TRACKING");
        Assert.AreEqual(PreflightOutcome.Failed, failed.Outcome);
        StringAssert.Contains(failed.Message, "without enable-migration=on, so QEMU adds a migration blocker");
    }

    [TestMethod]
    [DataRow(true, "nvidia-63", PreflightOutcome.Passed)]
    [DataRow(false, "nvidia-63", PreflightOutcome.Warning)]
    [DataRow(null, "mtty-1", PreflightOutcome.Warning)]
    public void DirtyTracking_OtherwiseDependsOnIommufdAndTheDriver(bool? iommufd, string type, PreflightOutcome expected)
    {
        var checks = PreflightChecks.Evaluate(new HostFacts("a", Qemu10, iommufd), new HostFacts("b", Qemu10, iommufd), [Mdev(type)], Guest());

        Assert.IsTrue(checks.Where(c => c.Check == "DIRTY_TRACKING").All(c => c.Outcome == expected));
    }

    [TestMethod]
    public async Task Planner_StopsOnAFailedCheck_BeforeListingOrCreatingAnythingOnTheDestination()
    {
        var scenario = MttyScenario(iommufd: false);

        await using var result = await scenario.PlanAsync();

        Assert.IsFalse(result.Succeeded);
        StringAssert.StartsWith(result.Best.Reasons[0], "Preflight on source: The kernel on source has no IOMMUFD");
        Assert.IsTrue(result.Best.Reasons.Any(r => r.StartsWith("Preflight on dest:", StringComparison.Ordinal)));
        Assert.IsFalse(scenario.Destination.Operations.Any(o => o.StartsWith("hv:Inventory", StringComparison.Ordinal)), string.Join("\n", scenario.Destination.Operations));
        Assert.IsEmpty(scenario.DestinationWrites("create"));
        Assert.AreEqual(2, result.Best.Preflight.Count(c => c.Outcome == PreflightOutcome.Failed));
    }

    [TestMethod]
    public async Task Planner_WithTheOverride_Plans_AndTheJsonCarriesEveryCheck()
    {
        var scenario = MttyScenario(iommufd: false);
        scenario.Source.GuestXml["vm1"] = Guest(Override, scenario.Source.GuestXml["vm1"]);

        await using var result = await scenario.PlanAsync(new PlanOptions { VerificationPolicy = VerificationPolicy.AllowTypeMatch });
        using var json = JsonDocument.Parse(PlanJson.Serialize(result));

        Assert.IsTrue(result.Succeeded, string.Join("; ", result.Best.Reasons));
        var preflight = json.RootElement.GetProperty("preflight").EnumerateArray().ToList();
        Assert.HasCount(result.Best.Preflight.Count, preflight);
        Assert.IsTrue(preflight.All(c => c.GetProperty("outcome").GetString() == "passed"), json.RootElement.GetProperty("preflight").ToString());
        CollectionAssert.AreEquivalent(new[] { "LIBVIRT_VERSION", "QEMU_VERSION", "DEVICE_MIGRATION", "DIRTY_TRACKING" }, preflight.Select(c => c.GetProperty("check").GetString()).Distinct().ToArray());
        Assert.AreEqual(0, json.RootElement.GetProperty("stats").GetProperty("connectMs").GetInt64());
    }

    [TestMethod]
    public async Task Planner_ReadsIommufdOnlyOnQemuHosts()
    {
        var scenario = MttyScenario(iommufd: true);
        scenario.Destination.Hypervisor.Versions = TestDriver;

        await using var result = await scenario.PlanAsync(new PlanOptions { VerificationPolicy = VerificationPolicy.AllowTypeMatch });

        Assert.IsTrue(scenario.Source.Operations.Contains("list module/iommufd"), string.Join("\n", scenario.Source.Operations));
        Assert.IsFalse(scenario.Destination.Operations.Contains("list module/iommufd"));
        Assert.IsTrue(result.Succeeded, string.Join("; ", result.Best.Reasons));
    }

    private const string Uuid = "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001";

    private static SourceDevice Mdev(string type, int ordinal = 0, string? alias = "hostdev0")
    {
        var device = new MdevHostDevice(ordinal, alias, null, MdevUuid.Parse(Uuid), "vfio-pci", null, null);
        var info = new SourceDeviceInfo(SourceDeviceKind.Mdev, ordinal, alias, device.Uuid, null, type, "vfio-pci", "mtty");
        return new SourceDevice(device, info, MdevTypeId.Parse(type), null, null, null, SourceVersion.Absent("no migration_version"), null);
    }

    /// <summary>A <c>&lt;devices&gt;</c> with one mdev hostdev per alias (null: none written, as in the migratable XML).</summary>
    private static string Hostdevs(params string?[] aliases) =>
        "<devices>" + string.Concat(aliases.Select(alias =>
            $"<hostdev mode='subsystem' type='mdev' model='vfio-pci'><source><address uuid='{Uuid}'/></source>{(alias is null ? string.Empty : $"<alias name='{alias}'/>")}</hostdev>")) + "</devices>";

    private static string Guest(string extra = "", string? xml = null) =>
        (xml ?? "<domain type='kvm'><name>vm1</name><uuid>4a1c7e0e-8d3b-4f1a-9c2e-6b5d3a2f1e00</uuid></domain>")
            .Replace("<domain type='kvm'>", "<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>", StringComparison.Ordinal)
            .Replace("</domain>", extra + "</domain>", StringComparison.Ordinal);

    /// <summary>An mtty-1 guest between two QEMU hosts, the destination with room for one mtty-1.</summary>
    private static Scenario MttyScenario(bool iommufd)
    {
        var scenario = new Scenario();
        scenario.Guest("mtty-1");
        scenario.DestinationType(id: "mtty-1", typeAttribute: false, deviceAttribute: false);
        foreach (var host in new[] { scenario.Source, scenario.Destination })
        {
            host.Hypervisor.Versions = Qemu10;
            if (iommufd)
            {
                host.FileSystem.ExtraEntries["module/iommufd"] = ["parameters"];
            }
        }

        return scenario;
    }
}
