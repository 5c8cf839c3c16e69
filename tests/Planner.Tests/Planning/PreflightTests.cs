using System.Text.Json;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Hypervisor;
using VfioMigration.Planner.Json;
using VfioMigration.Planner.Planning;
using VfioMigration.Planner.Sysfs;
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
    public void DirtyTracking_TheDevicesOwnAlias_GoesBeforeTheOneWorkedOutFromTheXml()
    {
        // The XML names no alias (worked out: hostdev0); the device says hostdev3, as the live guest numbered it after a hot-plug.
        var guest = Guest(Hostdevs((string?)null) + Override.Replace("hostdev0", "hostdev3", StringComparison.Ordinal));

        var checks = PreflightChecks.Evaluate(new HostFacts("a", Qemu10, false), new HostFacts("b", Qemu10, false), [Mdev("mtty-1", ordinal: 0, alias: "hostdev3")], guest);

        Assert.AreEqual(
            $"a Passed The guest turns device dirty tracking off for hostdev3 ({Uuid}) and keeps migration on, so the kernel's dirty-page report is not used.",
            checks.Where(c => c.Check == "DIRTY_TRACKING").Select(c => $"{c.Host} {c.Outcome} {c.Message}").First());
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

    [TestMethod]
    [DataRow(true, true)]
    [DataRow(false, false)]
    [DataRow(null, null)]
    public async Task ReadAsync_OnAQemuHost_ListsModuleIommufd_AbsentIsNo_AnotherErrorIsUnknown(bool? present, bool? expected)
    {
        var host = new FakeHost("dest");
        host.Hypervisor.Versions = Qemu10;
        if (present == true)
        {
            host.FileSystem.ExtraEntries["module/iommufd"] = ["parameters"];
        }
        else if (present is null)
        {
            host.FileSystem.FailingLists["module/iommufd"] = Errno.EACCES;
        }

        var counters = new PlanCounters();
        var facts = await PreflightChecks.ReadAsync(host.ToHost(), counters, CancellationToken.None);

        Assert.AreEqual(new HostFacts("dest", Qemu10, expected), facts);
        CollectionAssert.AreEqual(new[] { "hv:Versions", "list module/iommufd" }, host.Operations);
        Assert.AreEqual((1, 1), (counters.Snapshot().LibvirtCalls, counters.Snapshot().SysfsReads));
    }

    [TestMethod]
    public async Task ReadAsync_OnAnotherDriver_ReadsNoSysfs_AndWithoutVersionsCountsNoCall()
    {
        var test = new FakeHost("t");
        test.Hypervisor.Versions = TestDriver;
        var silent = new FakeHost("s");
        var (testCounters, silentCounters) = (new PlanCounters(), new PlanCounters());

        Assert.AreEqual(new HostFacts("t", TestDriver, null), await PreflightChecks.ReadAsync(test.ToHost(), testCounters, CancellationToken.None));
        Assert.AreEqual(new HostFacts("s", null, null), await PreflightChecks.ReadAsync(silent.ToHost(), silentCounters, CancellationToken.None));

        CollectionAssert.AreEqual(new[] { "hv:Versions" }, test.Operations);
        Assert.AreEqual((1, 0), (testCounters.Snapshot().LibvirtCalls, testCounters.Snapshot().SysfsReads));
        Assert.AreEqual((0, 0), (silentCounters.Snapshot().LibvirtCalls, silentCounters.Snapshot().SysfsReads));
    }

    [TestMethod]
    public void Versions_SayWhatTheyFound_AndWhatToUpgrade()
    {
        var old = new HostFacts("b", new HypervisorVersions("QEMU", new Version(8, 5, 9), new Version(8, 0, 9)), true);

        var checks = PreflightChecks.Evaluate(new HostFacts("a", Qemu10, true), old, [], Guest());

        CollectionAssert.AreEqual(
            new[]
            {
                "a LIBVIRT_VERSION Passed libvirt 11.3.0 on a is at least 8.6.0.",
                "a QEMU_VERSION Passed QEMU 10.0.2 on a is at least 8.1.0.",
                "b LIBVIRT_VERSION Failed libvirt 8.5.9 on b is older than 8.6.0, the first that migrates VFIO devices; upgrade libvirt there.",
                "b QEMU_VERSION Failed QEMU 8.0.9 on b is older than 8.1.0, the first that migrates VFIO devices reliably; upgrade QEMU there.",
            },
            checks.Select(c => $"{c.Host} {c.Check} {c.Outcome} {c.Message}").ToArray());
        Assert.IsTrue(checks.All(c => c.Device is null));
    }

    [TestMethod]
    [DataRow("Test", "Test")]
    [DataRow("qemu ", "(5-character)")]
    [DataRow("Abcdefghijklmnopqrstuvwxyz012345", "Abcdefghijklmnopqrstuvwxyz012345")]
    [DataRow("Abcdefghijklmnopqrstuvwxyz0123456", "(33-character)")]
    public void AnotherDriver_IsNamed_WhenItIsAShortPlainName(string driver, string named)
    {
        var other = new HostFacts("a", TestDriver with { Driver = driver }, null);

        var check = PreflightChecks.Evaluate(other, other, [Mdev("mtty-1")], Guest()).First(c => c.Check == "QEMU_VERSION");

        Assert.AreEqual((PreflightOutcome.NotApplicable, $"a runs libvirt's {named} driver, not QEMU."), (check.Outcome, check.Message));
    }

    [TestMethod]
    [DataRow("mdpy-vga", "mdpy")]
    [DataRow("mbochs-4", "mbochs")]
    [DataRow("i915-GVTg_V5_4", "i915")]
    [DataRow("mdpy", "mdpy")]
    public void DeviceMigration_ADriverWithoutVfioMigration_IsNamedInTheRefusal(string type, string driver)
    {
        var check = PreflightChecks.Evaluate(new HostFacts("a", Qemu10, true), new HostFacts("b", Qemu10, true), [Mdev(type)], Guest()).Single(c => c.Check == "DEVICE_MIGRATION");

        Assert.AreEqual(
            new PreflightCheck("a", "DEVICE_MIGRATION", PreflightOutcome.Failed, $"The mdev {Uuid} is of type {type} from the {driver} driver, which implements no VFIO migration: QEMU refuses to migrate the guest.", Uuid),
            check);
    }

    [TestMethod]
    [DataRow("mtty-1", "mtty")]
    [DataRow("-mdpy", "-mdpy")]
    [DataRow("mdpyx-1", "mdpyx")]
    public void DeviceMigration_AnotherDriver_Passes_Named(string type, string driver)
    {
        var check = PreflightChecks.Evaluate(new HostFacts("a", Qemu10, true), new HostFacts("b", Qemu10, true), [Mdev(type)], Guest()).Single(c => c.Check == "DEVICE_MIGRATION");

        Assert.AreEqual(
            new PreflightCheck("a", "DEVICE_MIGRATION", PreflightOutcome.Passed, $"The {driver} driver of mdev {Uuid} is not one known to lack VFIO migration.", Uuid),
            check);
    }

    [TestMethod]
    public void APciFunction_HasNoDeviceMigrationCheck_AndOnlyAWarningWithoutIommufd()
    {
        var checks = PreflightChecks.Evaluate(new HostFacts("a", Qemu10, false), new HostFacts("b", Qemu10, false), [Pci()], Guest());

        CollectionAssert.AreEqual(
            new[] { ("a", "DIRTY_TRACKING", PreflightOutcome.Warning), ("b", "DIRTY_TRACKING", PreflightOutcome.Warning) },
            checks.Where(c => c.Check is not "LIBVIRT_VERSION" and not "QEMU_VERSION").Select(c => (c.Host, c.Check, c.Outcome)).ToArray());
    }

    [TestMethod]
    public void DirtyTracking_EachKernelAndDriver_HasItsWholeMessage()
    {
        const string Remedy = "give the guest a <qemu:override> on alias hostdev0 setting x-device-dirty-page-tracking=off and enable-migration=on, as strings (<qemu:property name='x-device-dirty-page-tracking' type='string' value='off'/> and <qemu:property name='enable-migration' type='string' value='on'/>; docs/operations.md)";
        const string AtSource = "the migration fails at its start (ram_save_setup: Operation not supported)";
        const string OnFromThere = "the guest cannot migrate on from there: that migration fails at its start (ram_save_setup: Operation not supported)";

        Assert.AreEqual(
            $"a Failed The kernel on a has no IOMMUFD (no sysfs module/iommufd), so it cannot report device dirty pages, and the mtty driver of {Uuid} offers DMA logging, which QEMU then uses: {AtSource}. To migrate, {Remedy}. | "
            + $"b Failed The kernel on b has no IOMMUFD (no sysfs module/iommufd), so it cannot report device dirty pages, and the mtty driver of {Uuid} offers DMA logging, which QEMU then uses: {OnFromThere}. To migrate, {Remedy}.",
            Dirty(new HostFacts("a", Qemu10, false), new HostFacts("b", Qemu10, false), Mdev("mtty-1"), Guest()));
        Assert.AreEqual(
            $"a Warning The kernel on a has no IOMMUFD (no sysfs module/iommufd), so it cannot report device dirty pages; should the driver of {Uuid} offer DMA logging, {AtSource}. To be safe, {Remedy}. | "
            + $"b Passed The kernel on b has IOMMUFD, so device dirty tracking for {Uuid} can be reported.",
            Dirty(new HostFacts("a", Qemu10, false), new HostFacts("b", Qemu10, true), Mdev("nvidia-63"), Guest()));
        Assert.AreEqual(
            $"a Warning Whether the kernel on a has IOMMUFD could not be read; without it, and a driver of {Uuid} that offers DMA logging, {AtSource}. | "
            + $"b Warning Whether the kernel on b has IOMMUFD could not be read; without it, and a driver of {Uuid} that offers DMA logging, {OnFromThere}.",
            Dirty(new HostFacts("a", Qemu10, null), new HostFacts("b", Qemu10, null), Mdev("mtty-1"), Guest()));
    }

    [TestMethod]
    public void DirtyTracking_OffWithMigrationOn_Passes_WithItsMessage()
    {
        Assert.AreEqual(
            $"a Passed The guest turns device dirty tracking off for hostdev0 ({Uuid}) and keeps migration on, so the kernel's dirty-page report is not used. | "
            + $"b Passed The guest turns device dirty tracking off for hostdev0 ({Uuid}) and keeps migration on, so the kernel's dirty-page report is not used.",
            Dirty(new HostFacts("a", Qemu10, false), new HostFacts("b", Qemu10, false), Mdev("mtty-1"), Guest(Override)));
    }

    [TestMethod]
    [DataRow("auto")]
    [DataRow(null)]
    public void DirtyTracking_OffWithMigrationAutoOrUnset_FailsForTheBlocker_WithItsMessage(string? enable)
    {
        var written = enable is null
            ? Override.Replace("<qemu:property name='enable-migration' type='string' value='on'/>", string.Empty, StringComparison.Ordinal)
            : Override.Replace("name='enable-migration' type='string' value='on'", $"name='enable-migration' type='string' value='{enable}'", StringComparison.Ordinal);
        Assert.AreNotEqual(Override, written);

        var check = PreflightChecks.Evaluate(new HostFacts("a", Qemu10, true), new HostFacts("b", Qemu10, true), [Mdev("mtty-1")], Guest(written)).First(c => c.Check == "DIRTY_TRACKING");

        Assert.AreEqual(
            new PreflightCheck("a", "DIRTY_TRACKING", PreflightOutcome.Failed, $"The guest turns device dirty tracking off for hostdev0 ({Uuid}) without enable-migration=on, so QEMU adds a migration blocker; add <qemu:property name='enable-migration' type='string' value='on'/> to that <qemu:device>.", Uuid),
            check);
    }

    [TestMethod]
    [DataRow("on")]
    [DataRow("auto")]
    public void DirtyTracking_LeftOnOrAuto_DependsOnTheKernel(string tracking)
    {
        var written = Override.Replace("name='x-device-dirty-page-tracking' type='string' value='off'", $"name='x-device-dirty-page-tracking' type='string' value='{tracking}'", StringComparison.Ordinal);
        Assert.AreNotEqual(Override, written);

        var checks = PreflightChecks.Evaluate(new HostFacts("a", Qemu10, true), new HostFacts("b", Qemu10, false), [Mdev("mtty-1")], Guest(written));

        CollectionAssert.AreEqual(new[] { PreflightOutcome.Passed, PreflightOutcome.Failed }, checks.Where(c => c.Check == "DIRTY_TRACKING").Select(c => c.Outcome).ToArray());
    }

    [TestMethod]
    [DataRow("type='string' value='of f'", "sets x-device-dirty-page-tracking with type='string' value='(4-character)', which QEMU does not take")]
    [DataRow("type='String' value='off'", "sets x-device-dirty-page-tracking with type='String' value='off', which QEMU does not take")]
    [DataRow("value='off'", "sets x-device-dirty-page-tracking with type='(none)' value='off', which QEMU does not take")]
    public void DirtyTracking_AFormQemuDoesNotTake_IsQuotedOnlyWhenPlain(string bad, string expected)
    {
        var written = Override.Replace("name='x-device-dirty-page-tracking' type='string' value='off'", $"name='x-device-dirty-page-tracking' {bad}", StringComparison.Ordinal);
        Assert.AreNotEqual(Override, written);

        var check = PreflightChecks.Evaluate(new HostFacts("a", Qemu10, true), new HostFacts("b", Qemu10, true), [Mdev("mtty-1")], Guest(written)).First(c => c.Check == "DIRTY_TRACKING");

        Assert.AreEqual(PreflightOutcome.Failed, check.Outcome);
        Assert.AreEqual(Uuid, check.Device);
        StringAssert.StartsWith(check.Message, $"The guest's <qemu:override> for hostdev0 ({Uuid}) {expected}");
    }

    [TestMethod]
    public void DirtyTracking_BothPropertiesInAFormQemuDoesNotTake_TheTrackingOneIsNamed()
    {
        var written = Override.Replace("type='string' value='off'", "type='bool' value='false'", StringComparison.Ordinal).Replace("type='string' value='on'", "type='bool' value='true'", StringComparison.Ordinal);

        var check = PreflightChecks.Evaluate(new HostFacts("a", Qemu10, true), new HostFacts("b", Qemu10, true), [Mdev("mtty-1")], Guest(written)).First(c => c.Check == "DIRTY_TRACKING");

        StringAssert.StartsWith(check.Message, $"The guest's <qemu:override> for hostdev0 ({Uuid}) sets x-device-dirty-page-tracking with type='bool'");
    }

    [TestMethod]
    [DataRow("ua-m_d.v0", true)]
    [DataRow("ua-0123456789012345678901234567890123456789012345678901234567890", true)]
    [DataRow("ua-01234567890123456789012345678901234567890123456789012345678901", false)]
    [DataRow("ua mdev", false)]
    [DataRow("ua-mdev'", false)]
    public void DirtyTracking_TheOverridesAlias_IsMatchedOnlyWhenItIsAPlainNameOfAtMost64Characters(string alias, bool matched)
    {
        var xmlAlias = alias.Replace("'", "&apos;", StringComparison.Ordinal);
        var guest = Guest(Override.Replace("alias='hostdev0'", $"alias='{xmlAlias}'", StringComparison.Ordinal));

        var check = PreflightChecks.Evaluate(new HostFacts("a", Qemu10, false), new HostFacts("b", Qemu10, false), [Mdev("mtty-1", alias: alias)], guest).First(c => c.Check == "DIRTY_TRACKING");

        Assert.AreEqual(matched ? PreflightOutcome.Passed : PreflightOutcome.Failed, check.Outcome, check.Message);
        StringAssert.Contains(check.Message, matched ? $"off for {alias} ({Uuid})" : "<qemu:override> on alias (the hostdev's alias) setting");
    }

    [TestMethod]
    public void DirtyTracking_AGuestXmlThatCannotBeRead_HasNoOverrides_TheDevicesOwnAliasIsNamed()
    {
        var checks = PreflightChecks.Evaluate(new HostFacts("a", Qemu10, false), new HostFacts("b", Qemu10, false), [Mdev("mtty-1", ordinal: 0, alias: "ua-gpu")], "<domain><qemu:override>");

        var dirty = checks.Where(c => c.Check == "DIRTY_TRACKING").ToList();
        Assert.HasCount(2, dirty);
        Assert.IsTrue(dirty.All(c => c.Outcome == PreflightOutcome.Failed && c.Message.Contains("<qemu:override> on alias ua-gpu setting", StringComparison.Ordinal)), string.Join("\n", dirty));
    }

    /// <summary>Each DIRTY_TRACKING check of one device as "host outcome message", joined by " | ".</summary>
    private static string Dirty(HostFacts source, HostFacts destination, SourceDevice device, string guest) =>
        string.Join(" | ", PreflightChecks.Evaluate(source, destination, [device], guest).Where(c => c.Check == "DIRTY_TRACKING").Select(c => $"{c.Host} {c.Outcome} {c.Message}"));

    private static SourceDevice Pci()
    {
        var address = PciAddress.Parse("0000:03:00.1");
        var device = new PciHostDevice(0, "hostdev0", null, address, true, "vfio", PciHostDeviceForm.Hostdev);
        var info = new SourceDeviceInfo(SourceDeviceKind.Pci, 0, "hostdev0", null, address, "mlx5-vf-v1", "vfio-pci", null);
        return new SourceDevice(device, info, null, "0x15b3", "0x101e", "mlx5-vf-v1", SourceVersion.Absent("none"), null);
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
