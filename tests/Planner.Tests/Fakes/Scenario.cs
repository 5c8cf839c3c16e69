using VfioMigration.Planner.Devices;

namespace VfioMigration.Planner.Tests.Fakes;

/// <summary>Builds the usual source/destination pair and runs the planner against it.</summary>
internal sealed class Scenario
{
    public const string Version = "nvidia-vgpu-v1";

    public FakeHost Source { get; } = new("source");

    public FakeHost Destination { get; } = new("dest");

    public FakeParent SourceParent { get; }

    public TargetClaimRegistry Claims { get; } = new();

    public Scenario()
    {
        SourceParent = Source.AddParent("0000:01:00.0");
    }

    /// <summary>A source type whose mdevs have <paramref name="version"/> (none when null).</summary>
    public FakeType SourceType(string id = "nvidia-63", string? version = Version, string api = "vfio-pci") =>
        SourceParent.Types.FirstOrDefault(t => t.Id.Value == id)
        ?? SourceParent.AddType(id, api, 8, deviceVersion: version is null ? null : new FakeVersion(version));

    /// <summary>Defines guest "vm1" on the source owning one mdev per type given.</summary>
    public string Guest(params string[] types)
    {
        var devices = new List<HostDevice>();
        foreach (var type in types.Length == 0 ? ["nvidia-63"] : types)
        {
            devices.Add(FakeHost.MdevDevice(devices.Count, Source.AddMdev(SourceType(type))));
        }

        return Source.DefineGuest("vm1", [.. devices]);
    }

    /// <summary>Defines guest "vm1" on the source owning one PCI function with a migration type and version.</summary>
    public FakePci PciGuest(string address, string vendorId, string productId, string migrationType, string version)
    {
        var pci = Source.AddPci(address, vendorId, productId, migrationType, new FakeVersion(version));
        Source.DefineGuest("vm1", FakeHost.PciDevice(0, pci));
        return pci;
    }

    /// <summary>A destination parent with one type whose type-level and device-level attributes accept <see cref="Version"/>.</summary>
    public FakeType DestinationType(string parent = "0000:41:00.0", string id = "nvidia-63", int max = 4, bool typeAttribute = true, bool deviceAttribute = true, bool oneTypeAtATime = false, string api = "vfio-pci")
    {
        var fakeParent = Destination.Parents.FirstOrDefault(p => p.SysfsName.Value == parent) ?? Destination.AddParent(parent, oneTypeAtATime: oneTypeAtATime);
        return fakeParent.AddType(id, api, max, typeAttribute ? new FakeVersion(Version) : null, deviceAttribute ? new FakeVersion(Version) : null);
    }

    public MigrationPlanner Planner(TimeProvider? time = null, IVerdictCache? cache = null) =>
        new(claims: Claims, timeProvider: time, verdictCache: cache);

    public PlanRequest Request(PlanOptions? options = null, params FakeHost[] destinations) =>
        new(Source.ToHost(), DomainSelector.Parse("vm1"), destinations.Length == 0 ? [Destination.ToHost()] : [.. destinations.Select(d => d.ToHost())], options ?? new PlanOptions());

    public Task<PlanResult> PlanAsync(PlanOptions? options = null, CancellationToken cancellationToken = default) =>
        Planner().PlanAsync(Request(options), cancellationToken);

    /// <summary>Writes made on the destination to attributes whose path contains <paramref name="fragment"/>.</summary>
    public IReadOnlyList<string> DestinationWrites(string fragment) =>
        [.. Destination.Writes().Where(w => w.Contains(fragment, StringComparison.Ordinal))];
}
