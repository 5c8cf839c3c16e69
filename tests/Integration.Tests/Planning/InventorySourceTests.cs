using Microsoft.Extensions.Logging.Abstractions;
using VfioMigration.HostSimulator;
using VfioMigration.HostSimulator.Generation;
using VfioMigration.HostSimulator.Scenarios;
using VfioMigration.Planner;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Hypervisor;
using VfioMigration.Planner.Planning;

namespace VfioMigration.Integration.Tests.Planning;

/// <summary>
/// The destination inventory read from sysfs (<see cref="InventorySource.Sysfs"/>) is the one
/// libvirt's node devices give (<see cref="InventorySource.Libvirt"/>), on the same hosts, through
/// both hypervisors: libvirt's test driver and the in-process simulated one. The one field sysfs is
/// not asked for, an mdev's IOMMU group, is left out of the comparison, and so are drivers through
/// the test driver, which does not keep a node device's <c>&lt;driver&gt;</c> (real libvirt reads it
/// from sysfs). Records are compared as sets: the simulated hypervisor does not sort its listing.
/// </summary>
[TestClass]
public sealed class InventorySourceTests
{
    public static IEnumerable<object[]> Hosts() =>
    [
        ["generated largest host (16 GPUs, 512 mdevs)"],
        ["generated pre-provisioned pool"],
        ["demo-dest-a.json"],
        ["demo-dest-b.json"],
        ["kernel/mtty-mdpy.json"],
        ["migref.json"],
        ["e2e destination with a virtual parent and PCI functions"],
    ];

    [TestMethod]
    [DynamicData(nameof(Hosts))]
    public async Task SysfsInventory_EqualsLibvirtInventory_ThroughTheTestDriver(string host)
    {
        using var bed = new PlanningTestBed(new InProcessSysfs());
        var endpoint = bed.Add(Scenario(host));
        await AssertSameInventoryAsync(endpoint.Host, keepDrivers: false).ConfigureAwait(false);
    }

    [TestMethod]
    [DynamicData(nameof(Hosts))]
    public async Task SysfsInventory_EqualsLibvirtInventory_InProcess(string host)
    {
        var simulated = SimulatedHost.FromScenario(Scenario(host));
        await AssertSameInventoryAsync(new MigrationHost(simulated.Name, new SimulatedHypervisor(simulated), simulated.CreateFileSystem()), keepDrivers: true).ConfigureAwait(false);
    }

    [TestMethod]
    public async Task SysfsInventory_OnTheLargestHost_MakesOneLibvirtCallForDevices()
    {
        using var bed = new PlanningTestBed(new InProcessSysfs());
        var scenario = Scenario("generated largest host (16 GPUs, 512 mdevs)");
        var endpoint = bed.Add(scenario);
        var before = endpoint.Hypervisor.LibvirtCalls;
        var counters = new PlanCounters();
        var inventory = await DestinationInventory.LoadAsync(endpoint.Host, InventoryScope.MdevParents | InventoryScope.Mdevs, InventorySource.Sysfs, null, readVfs: false, counters, NullLogger.Instance, CancellationToken.None).ConfigureAwait(false);
        var guests = scenario.Guests!.Count;

        Assert.AreEqual(512, inventory.Inventory.Mdevs.Count);
        Assert.AreEqual(1 + guests + 1, endpoint.Hypervisor.LibvirtCalls - before, "one listing of guests, one XML call per guest, one listing of defined-but-inactive mdevs");
        Assert.AreEqual(2, counters.Snapshot().LibvirtCalls);
    }

    [TestMethod]
    public async Task SysfsInventory_WithoutSysfs_FallsBackToLibvirt()
    {
        using var bed = new PlanningTestBed(new InProcessSysfs());
        var endpoint = bed.Add(Scenario("demo-dest-a.json"));
        var host = endpoint.Host with { FileSystem = new NoSysfs() };
        var fromLibvirt = await DestinationInventory.LoadAsync(endpoint.Host, InventoryScope.All, InventorySource.Libvirt, null, readVfs: false, new PlanCounters(), NullLogger.Instance, CancellationToken.None).ConfigureAwait(false);
        var fallback = await DestinationInventory.LoadAsync(host, InventoryScope.All, InventorySource.Sysfs, null, readVfs: false, new PlanCounters(), NullLogger.Instance, CancellationToken.None).ConfigureAwait(false);

        AssertSameLines(Describe(fromLibvirt.Inventory, keepIommuGroups: true, keepDrivers: true), Describe(fallback.Inventory, keepIommuGroups: true, keepDrivers: true), "fallback");
    }

    private static async Task AssertSameInventoryAsync(MigrationHost host, bool keepDrivers)
    {
        foreach (var scope in new[] { InventoryScope.All, InventoryScope.MdevParents | InventoryScope.Mdevs })
        {
            var fromLibvirt = await DestinationInventory.LoadAsync(host, scope, InventorySource.Libvirt, null, readVfs: false, new PlanCounters(), NullLogger.Instance, CancellationToken.None).ConfigureAwait(false);
            var fromSysfs = await DestinationInventory.LoadAsync(host, scope, InventorySource.Sysfs, null, readVfs: false, new PlanCounters(), NullLogger.Instance, CancellationToken.None).ConfigureAwait(false);

            var expected = Describe(fromLibvirt.Inventory, keepIommuGroups: false, keepDrivers);
            Assert.IsTrue(expected.Count > 0);
            AssertSameLines(expected, Describe(fromSysfs.Inventory, keepIommuGroups: false, keepDrivers), $"scope {scope}");
            CollectionAssert.AreEquivalent(fromLibvirt.SysfsOnly.ToList(), fromSysfs.SysfsOnly.ToList(), $"scope {scope}");
            AssertSameLines(Owners(fromLibvirt), Owners(fromSysfs), $"scope {scope}");
        }
    }

    /// <summary>Equal line by line; a difference is reported with both lines.</summary>
    private static void AssertSameLines(List<string> expected, List<string> actual, string what)
    {
        for (var i = 0; i < Math.Min(expected.Count, actual.Count); i++)
        {
            Assert.AreEqual(expected[i], actual[i], $"{what}, line {i}: expected {expected[i]} actual {actual[i]}");
        }

        Assert.AreEqual(expected.Count, actual.Count, $"{what}: lines");
    }

    private static List<string> Owners(DestinationInventory inventory) =>
        [.. inventory.Inventory.Mdevs.Select(m => $"{m.Uuid}: {inventory.Owners.OwnerOf(m.Uuid)}").Order(StringComparer.Ordinal)];

    /// <summary>Every field of every record, one line each, so a difference names the device.</summary>
    private static List<string> Describe(HostInventory inventory, bool keepIommuGroups, bool keepDrivers) =>
    [
        .. inventory.Parents.Select(p => $"parent {p.Name} sysfs={p.SysfsName} address={p.Address} vendor={p.VendorId} product={p.ProductId} driver={(keepDrivers ? p.Driver : null)} types=[{string.Join("; ", p.Types.Select(t => $"{t.Id} '{t.Name}' {t.DeviceApi} {t.AvailableInstances}"))}]").Order(StringComparer.Ordinal),
        .. inventory.Mdevs.Select(m => $"mdev {m.Name} {m.Uuid} type={m.Type} parent={m.Parent} iommu={(keepIommuGroups ? m.IommuGroup : null)} attributes=[{string.Join("; ", m.Attributes)}]").Order(StringComparer.Ordinal),
        .. inventory.PciDevices.Select(d => $"pci {d.Name} {d.Address} driver={(keepDrivers ? d.Driver : null)} vendor={d.VendorId} product={d.ProductId}").Order(StringComparer.Ordinal),
    ];

    private static Scenario Scenario(string host) => host switch
    {
        "generated largest host (16 GPUs, 512 mdevs)" => ScenarioGenerator.Host(new GeneratedHostOptions { Name = "largest", Seed = 7 }),
        "generated pre-provisioned pool" => ScenarioGenerator.Host(new GeneratedHostOptions
        {
            Name = "pool",
            Gpus = 4,
            MaxInstancesPerType = 8,
            ExistingMdevs = 4 * 8,
            Layout = MdevLayout.PreProvisionedPool,
            PoolTypes = 2,
            OneTypeAtATimeFraction = 1,
        }),
        "e2e destination with a virtual parent and PCI functions" => PlanningScenarios.Destination(
            [PlanningScenarios.MttyParent(null)],
            pciDevices: PlanningScenarios.Source().PciDevices),
        _ => ScenarioLoader.LoadFile(SimulatedPlanningTests.ScenarioPath(host)),
    };

    private sealed class InProcessSysfs : ISysfsFrontEnd
    {
        public SysfsAttachment Attach(SimulatedHost host, string workDirectory) => new(host.CreateFileSystem(), null);
    }

    /// <summary>A host whose sysfs cannot be read at all.</summary>
    private sealed class NoSysfs : Planner.Sysfs.IHostFileSystem
    {
        public string Description => "no sysfs";

        public ValueTask<Planner.Sysfs.SysfsResult<string>> ReadAsync(Planner.Sysfs.SysfsPath path, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult(Planner.Sysfs.SysfsResult.Failed<string>(Planner.Sysfs.Errno.EACCES));

        public ValueTask<Planner.Sysfs.SysfsResult> WriteAsync(Planner.Sysfs.SysfsPath path, string value, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult(new Planner.Sysfs.SysfsResult(Planner.Sysfs.Errno.EACCES));

        public ValueTask<Planner.Sysfs.SysfsResult<IReadOnlyList<string>>> ListAsync(Planner.Sysfs.SysfsPath path, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult(Planner.Sysfs.SysfsResult.Failed<IReadOnlyList<string>>(Planner.Sysfs.Errno.EACCES));

        public ValueTask<Planner.Sysfs.SysfsResult<string>> ReadLinkAsync(Planner.Sysfs.SysfsPath path, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult(Planner.Sysfs.SysfsResult.Failed<string>(Planner.Sysfs.Errno.EACCES));
    }
}
