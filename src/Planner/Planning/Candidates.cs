using Microsoft.Extensions.Logging;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Hypervisor;

namespace VfioMigration.Planner.Planning;

/// <summary>How a candidate relates to the source device's type.</summary>
internal enum MatchKind
{
    /// <summary>Same mdev type and device API, or same PCI migration type (ids).</summary>
    SameType,

    /// <summary>An mdev of another type with the same device API (opt-in; device-level verdict required).</summary>
    CrossType,

    /// <summary>mdev to physical or physical to mdev (opt-in; device-level verdict required).</summary>
    Hybrid,
}

/// <summary>A way to give a source device a target on the destination.</summary>
internal abstract record TargetOption
{
    /// <summary>The candidate as rejections name it.</summary>
    public abstract string Candidate { get; }

    /// <summary>The key in the claim registry; null for options that name no existing device.</summary>
    public abstract string? ClaimKey { get; }
}

/// <summary>An idle mdev that exists on the destination.</summary>
internal sealed record ExistingMdevOption(MediatedDevice Mdev, string? DeviceApi, MatchKind Match) : TargetOption
{
    public override string Candidate => Mdev.Uuid.Value;

    public override string? ClaimKey => TargetKeys.Mdev(Mdev.Uuid);
}

/// <summary>A free PCI function on the destination.</summary>
internal sealed record PciOption(PciDevice Device, MatchKind Match) : TargetOption
{
    public override string Candidate => Device.Address.ToString();

    public override string? ClaimKey => TargetKeys.Pci(Device.Address);
}

/// <summary>
/// A VF for a VF vGPU source (docs/nvidia-vf.md): already configured with the source's type
/// (<paramref name="Configured"/>, reused) or unconfigured and listing the type (configured by the plan).
/// </summary>
internal sealed record VfOption(PciDevice Vf, VfState State, VgpuType Type, bool Configured) : TargetOption
{
    public override string Candidate => Vf.Address.ToString();

    public override string? ClaimKey => TargetKeys.Pci(Vf.Address);

    /// <summary>The GPU whose capacity the VF shares (its PF).</summary>
    public PciAddress Pf => State.CapacityDomain;
}

/// <summary>A VF this plan configured and confirmed for one source device.</summary>
internal sealed record ConfiguredVfOption(VfOption Vf, Verification Verification, ProbeRecord? Probe, string? Note) : TargetOption
{
    public override string Candidate => Vf.Candidate;

    public override string? ClaimKey => Vf.ClaimKey;
}

/// <summary>A new mdev of <paramref name="Type"/> on <paramref name="Parent"/>.</summary>
internal sealed record CreateOption(MdevParent Parent, MdevTypeInfo Type) : TargetOption
{
    public override string Candidate => $"{Parent.Name}/{Type.Id}";

    public override string? ClaimKey => null;

    public (DeviceName Parent, MdevTypeId Type) Slot => (Parent.Name, Type.Id);
}

/// <summary>An mdev this plan created and confirmed for one source device.</summary>
internal sealed record ProvisionedOption(MdevUuid Uuid, MdevParent Parent, MdevTypeId Type, DeviceAction Action, Verification Verification, ProbeRecord? Probe, string? Note) : TargetOption
{
    public override string Candidate => Uuid.Value;

    public override string? ClaimKey => TargetKeys.Mdev(Uuid);
}

/// <summary>What evaluating a candidate concluded.</summary>
internal enum VerdictKind
{
    /// <summary>A probe accepted the source version (at the device, or at the type before creation).</summary>
    Verified,

    /// <summary>The type cannot say; only a created device can (confirmation after creation).</summary>
    NeedsCreation,

    /// <summary>Same type, but nothing can verify; acceptable only under <see cref="VerificationPolicy.AllowTypeMatch"/>.</summary>
    Unverified,

    /// <summary>Refused; the reason is in the plan's rejections.</summary>
    Rejected,
}

/// <summary>A candidate's verdict, and the probe that decided it (also for a rejection a probe decided).</summary>
internal sealed record OptionVerdict(VerdictKind Kind, ProbeRecord? Probe, string? Note)
{
    public static OptionVerdict Rejected { get; } = new(VerdictKind.Rejected, null, null);
}

/// <summary>The destination's devices, and which of them guests defined there already use.</summary>
/// <param name="Inventory">libvirt's inventory, with the parents only sysfs shows added (see <see cref="SysfsOnlyParents"/>).</param>
/// <param name="Owners">Which guest defined on the destination uses which device.</param>
/// <param name="SysfsOnly">The parents found in sysfs that libvirt does not list: creation there goes through sysfs.</param>
internal sealed record DestinationInventory(HostInventory Inventory, DeviceOwners Owners, IReadOnlySet<DeviceName> SysfsOnly)
{
    /// <summary>The NVIDIA functions with the vGPU interface, read only when the guest has a VF vGPU (docs/nvidia-vf.md).</summary>
    public IReadOnlyList<VfState> Vfs { get; init; } = [];

    /// <summary>
    /// The node devices planning <paramref name="devices"/> needs: mdev parents and mdevs for mdev
    /// sources; for PCI sources (and hybrid plans) the PCI functions too, with the parents and mdevs
    /// that tell which functions serve mediated devices. A host lists every PCI function it has
    /// (a server: hundreds), each one XML call more, so an mdev-only plan leaves them out.
    /// </summary>
    public static InventoryScope ScopeFor(IEnumerable<SourceDevice> devices, PlanOptions options) =>
        options.AllowHybrid || devices.Any(d => d.Device is PciHostDevice) ? InventoryScope.All : InventoryScope.MdevParents | InventoryScope.Mdevs;

    /// <summary>
    /// Reads the destination's devices and which guests use them. A shut-off definition there with
    /// the UUID of <paramref name="guestUuid"/> is the migrating guest's own (left behind by an earlier
    /// migration that kept the source's definition): its devices are not another guest's, so they
    /// count as free for this guest, not as in use. A running one still holds them. With
    /// <c>readVfs</c> (the guest has a VF vGPU) the vGPU state of NVIDIA functions is read too.
    /// </summary>
    /// <param name="host">The destination.</param>
    /// <param name="scope">The kinds of devices to read.</param>
    /// <param name="source">Where the devices are read from; <see cref="InventorySource.Sysfs"/> falls back to libvirt when the host's sysfs cannot be listed.</param>
    /// <param name="guestUuid">The migrating guest's UUID, when known.</param>
    /// <param name="readVfs">Whether to read the vGPU state of NVIDIA functions (the guest has a VF vGPU; docs/nvidia-vf.md).</param>
    /// <param name="counters">The plan's counters.</param>
    /// <param name="logger">Where warnings go.</param>
    /// <param name="cancellationToken">Cancels the reads.</param>
    public static async Task<DestinationInventory> LoadAsync(MigrationHost host, InventoryScope scope, InventorySource source, string? guestUuid, bool readVfs, PlanCounters counters, ILogger logger, CancellationToken cancellationToken)
    {
        counters.HypervisorCall();
        var domainsTask = host.Hypervisor.ListDomainsAsync(cancellationToken);
        var devicesTask = ReadDevicesAsync(host, scope, source, counters, logger, cancellationToken);
        await Task.WhenAll(devicesTask, domainsTask).ConfigureAwait(false);
        var (inventory, sysfsOnly) = await devicesTask.ConfigureAwait(false);
        var domains = await domainsTask.ConfigureAwait(false);

        var others = domains.Where(d => d.IsActive || !string.Equals(d.Uuid, guestUuid, StringComparison.OrdinalIgnoreCase));
        var vfs = readVfs
            ? await new NvidiaSysfsVfControl(host.FileSystem, counters).ReadAsync(
                [.. inventory.PciDevices.Where(d => string.Equals(d.VendorId, NvidiaSysfsVfControl.VendorId, StringComparison.OrdinalIgnoreCase)).Select(d => d.Address)],
                cancellationToken).ConfigureAwait(false)
            : [];
        return new DestinationInventory(inventory, DeviceOwners.FromDomains(others), sysfsOnly) { Vfs = vfs };
    }

    private static async Task<(HostInventory Inventory, IReadOnlySet<DeviceName> SysfsOnly)> ReadDevicesAsync(MigrationHost host, InventoryScope scope, InventorySource source, PlanCounters counters, ILogger logger, CancellationToken cancellationToken)
    {
        if (source == InventorySource.Sysfs && await SysfsInventory.ReadAsync(host, scope, counters, logger, cancellationToken).ConfigureAwait(false) is { } fromSysfs)
        {
            return fromSysfs;
        }

        counters.HypervisorCall();
        var listed = await host.Hypervisor.GetInventoryAsync(scope, cancellationToken).ConfigureAwait(false);
        return await SysfsOnlyParents.AddAsync(host, listed, counters, logger, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Whether <paramref name="parent"/> was found only in sysfs (libvirt cannot create mdevs on it).</summary>
    public bool IsSysfsOnly(MdevParent parent) => SysfsOnly.Contains(parent.Name);

    /// <summary>The remark a planned device on <paramref name="parent"/> carries; null for parents libvirt lists.</summary>
    public string? NoteFor(DeviceName? parent) =>
        parent is { } name && SysfsOnly.Contains(name) ? SysfsOnlyParents.Note(name) : null;

    // The lookups below run once per mdev and candidate (hundreds per plan on a large host): plain loops over the
    // inventory's lists, which allocate nothing, where a LINQ query would allocate a closure and an enumerator each time.
    public MdevParent? ParentOf(MediatedDevice mdev)
    {
        if (mdev.Parent is not { } name)
        {
            return null;
        }

        var parents = Inventory.Parents;
        for (var i = 0; i < parents.Count; i++)
        {
            if (parents[i].Name == name)
            {
                return parents[i];
            }
        }

        return null;
    }

    /// <summary>The first of <paramref name="parent"/>'s types with the id <paramref name="type"/>; null when it offers none.</summary>
    public static MdevTypeInfo? TypeOf(MdevParent? parent, MdevTypeId? type)
    {
        var types = parent?.Types ?? [];
        for (var i = 0; i < types.Count; i++)
        {
            if (types[i].Id == type)
            {
                return types[i];
            }
        }

        return null;
    }

    /// <summary>The mdevs on the mdev parent at <paramref name="address"/>; none when that PCI function is no parent.</summary>
    public IReadOnlyList<MediatedDevice> MdevsOn(PciAddress address) =>
        Inventory.Parents.FirstOrDefault(p => p.Address == address) is { } parent
            ? [.. Inventory.Mdevs.Where(m => m.Parent == parent.Name)]
            : [];

    public string? OwnerOf(TargetOption option) => option switch
    {
        ExistingMdevOption mdev => Owners.OwnerOf(mdev.Mdev.Uuid),
        PciOption pci => Owners.OwnerOf(pci.Device.Address),
        VfOption vf => Owners.OwnerOf(vf.Vf.Address),
        _ => null,
    };
}
