using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Hypervisor;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.Planner.Tests.Fakes;

/// <summary>How the fake's node-device create behaves.</summary>
internal enum CreateBehaviour
{
    /// <summary>Refuses as libvirt's test driver does: the planner must fall back to sysfs.</summary>
    NotSupported,

    /// <summary>Creates the device.</summary>
    Works,

    /// <summary>Creates the device and then reports a failure (libvirt timing out on mdevctl).</summary>
    ReportsFailureButCreates,

    /// <summary>Fails without creating anything.</summary>
    Fails,
}

/// <summary>An in-memory <see cref="IHypervisor"/> over a <see cref="FakeHost"/>.</summary>
internal sealed class FakeHypervisor(FakeHost host) : IHypervisor
{
    private long _calls;

    public string Uri => $"test:///{host.Name}";

    public string HostName => host.Name;

    public long LibvirtCalls => Interlocked.Read(ref _calls);

    public CreateBehaviour Create { get; set; } = CreateBehaviour.NotSupported;

    /// <summary>When set, destroying a device fails with this message.</summary>
    public string? DestroyFailure { get; set; }

    public List<MigrationCall> Migrations { get; } = [];

    /// <summary>When set, a migration is recorded and then ends with this exception (an abort, an outcome unknown).</summary>
    public Exception? MigrationFailure { get; set; }

    /// <summary>mdevs libvirt does not list (a test-driver host file that lacks them, or a lagging node-device cache).</summary>
    public HashSet<MdevUuid> UnlistedMdevs { get; } = [];

    /// <summary>mdevs libvirt has defined and not started: the only answer to <see cref="InventoryScope.DefinedInactiveMdevs"/>.</summary>
    public List<MediatedDevice> DefinedMdevs { get; } = [];

    /// <summary>When set, every call fails with this message (an unreachable host).</summary>
    public string? Unreachable { get; set; }

    public Task<GuestDefinition> GetDomainAsync(DomainSelector guest, CancellationToken cancellationToken = default)
    {
        Call($"hv:GetDomain {guest}", cancellationToken);
        lock (host.Gate)
        {
            var domain = host.Domains.FirstOrDefault(d => guest.IsUuid ? d.Uuid == guest.Value : d.Name == guest.Value)
                ?? throw new HypervisorException($"Domain '{guest}' not found on {host.Name}.");
            return Task.FromResult(new GuestDefinition(host.GuestXml[domain.Name], domain));
        }
    }

    public Task<IReadOnlyList<DomainHostDevices>> ListDomainsAsync(CancellationToken cancellationToken = default)
    {
        Call("hv:ListDomains", cancellationToken);
        lock (host.Gate)
        {
            return Task.FromResult<IReadOnlyList<DomainHostDevices>>([.. host.Domains]);
        }
    }

    public Task<HostInventory> GetInventoryAsync(InventoryScope scope, CancellationToken cancellationToken = default)
    {
        Call($"hv:Inventory {scope}", cancellationToken);
        if (scope == InventoryScope.DefinedInactiveMdevs)
        {
            return Task.FromResult(new HostInventory([], [.. DefinedMdevs], []));
        }

        lock (host.Gate)
        {
            var parents = scope.HasFlag(InventoryScope.MdevParents)
                ? host.Parents.Where(p => p.ListedByLibvirt).Select(p => new MdevParent(p.Name, p.SysfsName, PciAddress.Parse(p.SysfsName.Value), p.VendorId, "0x1eb8", "nvidia", [.. p.Types.Select(t => new MdevTypeInfo(t.Id, t.Id.Value, t.DeviceApi, host.Available(t)))])).ToList()
                : [];
            var mdevs = scope.HasFlag(InventoryScope.Mdevs)
                ? host.Mdevs.Where(m => !UnlistedMdevs.Contains(m.Uuid)).Select(Listed).ToList()
                : [];
            var pcis = scope.HasFlag(InventoryScope.PciDevices)
                ? host.Pcis.Select(p => new PciDevice(DeviceName.Parse(p.Address.ToNodeDeviceName()), p.Address, "vfio-pci", p.VendorId, p.ProductId)).ToList()
                : [];
            return Task.FromResult(new HostInventory(parents, mdevs, pcis));
        }
    }

    public async Task CreateMdevAsync(MdevCreation request, CancellationToken cancellationToken = default)
    {
        Call($"hv:CreateMdev {request.Uuid}", cancellationToken);
        switch (Create)
        {
            case CreateBehaviour.NotSupported:
                throw new HypervisorNotSupportedException("Device is not a fibre channel HBA");
            case CreateBehaviour.Fails:
                throw new HypervisorException("internal error: mdevctl failed");
        }

        var type = host.FindType(host.Parents.First(p => p.Name == request.Parent).SysfsName.Value, request.Type.Value)!;
        await host.WhileCreatingAsync(type, cancellationToken);
        var created = host.Create(type, request.Uuid);
        if (created != Errno.None)
        {
            throw new HypervisorException($"internal error: Unable to create mediated device: {created}");
        }

        if (Create == CreateBehaviour.ReportsFailureButCreates)
        {
            throw new HypervisorException("internal error: Unable to create mediated device: cause unknown");
        }
    }

    public Task DestroyMdevAsync(MdevUuid uuid, bool persistent, CancellationToken cancellationToken = default)
    {
        Call($"hv:DestroyMdev {uuid}", cancellationToken);
        if (DestroyFailure is { } failure)
        {
            throw new HypervisorException(failure);
        }

        if (host.Remove(uuid) != Errno.None)
        {
            throw new HypervisorException($"Node device for mdev {uuid} not found.");
        }

        return Task.CompletedTask;
    }

    /// <summary>What the host reports as its driver and versions; null (the default) reports nothing, as a hypervisor without the call.</summary>
    public HypervisorVersions? Versions { get; set; }

    public Task<HypervisorVersions?> GetVersionsAsync(CancellationToken cancellationToken = default)
    {
        if (Versions is not null)
        {
            Call("hv:Versions", cancellationToken);
        }

        return Task.FromResult(Versions);
    }

    public Task MigrateAsync(MigrationCall migration, CancellationToken cancellationToken = default)
    {
        Call($"hv:Migrate {migration.Guest}", cancellationToken);
        lock (host.Gate)
        {
            Migrations.Add(migration);
        }

        return MigrationFailure is { } failure ? Task.FromException(failure) : Task.CompletedTask;
    }

    /// <summary>An mdev as libvirt lists it: under a virtual parent, which has no node device, its parent is <c>computer</c>.</summary>
    private static MediatedDevice Listed(FakeMdev mdev)
    {
        var parent = mdev.Type.Parent;
        var parentName = parent.ListedByLibvirt ? parent.Name : DeviceName.Parse("computer");
        return new MediatedDevice(DeviceName.Parse($"mdev_{mdev.Uuid.Value.Replace('-', '_')}_{parent.SysfsName.Value.Replace(':', '_').Replace('.', '_')}"), mdev.Uuid, mdev.Type.Id, parentName, null, []);
    }

    private void Call(string operation, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _calls);
        host.Record(operation);
        cancellationToken.ThrowIfCancellationRequested();
        if (Unreachable is { } failure)
        {
            throw new HypervisorException(failure);
        }
    }
}
