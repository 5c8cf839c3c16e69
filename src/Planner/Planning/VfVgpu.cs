using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.Planner.Planning;

/// <summary>An NVIDIA vGPU type as a VF's <c>creatable_vgpu_types</c> names it (docs/nvidia-vf.md).</summary>
/// <param name="Id">The driver's numeric type id (never 0).</param>
/// <param name="Name">The profile name (<c>NVIDIA H200X-1-18C</c>), when a list named it.</param>
internal sealed record VgpuType(uint Id, string? Name)
{
    /// <summary>The type as plans show it: <c>vgpu 1414 (NVIDIA H200X-1-18C)</c>.</summary>
    public string Display => Name is null ? $"vgpu {Id}" : $"vgpu {Id} ({Name})";

    /// <summary>Rule 0: the same id, and the same name where both sides say one.</summary>
    public bool Matches(VgpuType other) => Id == other.Id && (Name is null || other.Name is null || Name == other.Name);
}

/// <summary>One VF's vGPU state: its PF, its current type id (0: none), what it can make now.</summary>
/// <param name="Vf">The virtual function.</param>
/// <param name="Pf">Its physical function (the <c>physfn</c> link), when the link names one.</param>
/// <param name="Current">The <c>current_vgpu_type</c> id; 0 when unconfigured.</param>
/// <param name="Creatable">The <c>creatable_vgpu_types</c> entries, in the driver's order.</param>
internal sealed record VfState(PciAddress Vf, PciAddress? Pf, uint Current, IReadOnlyList<VgpuType> Creatable)
{
    /// <summary>The current type with its name when the VF's own list names it; null when unconfigured.</summary>
    public VgpuType? CurrentType => Current == 0 ? null : new VgpuType(Current, Creatable.FirstOrDefault(t => t.Id == Current)?.Name);

    /// <summary>The capacity domain: the PF, or the VF itself when no PF is known.</summary>
    public PciAddress CapacityDomain => Pf ?? Vf;
}

/// <summary>
/// The operations on a VF's vGPU, behind one seam (docs/nvidia-vf.md): NVIDIA's sysfs files today
/// (<see cref="NvidiaSysfsVfControl"/>); a nova-core back end (firmware control) can implement the same.
/// </summary>
internal interface IVfVgpuControl
{
    /// <summary>The state of each function that has the vGPU interface, in one batch; functions without it are left out.</summary>
    Task<IReadOnlyList<VfState>> ReadAsync(IReadOnlyList<PciAddress> functions, CancellationToken cancellationToken);

    /// <summary>What the VF can make now.</summary>
    Task<SysfsResult<IReadOnlyList<VgpuType>>> CreatableAsync(PciAddress vf, CancellationToken cancellationToken);

    /// <summary>The VF's current type id.</summary>
    Task<SysfsResult<uint>> CurrentAsync(PciAddress vf, CancellationToken cancellationToken);

    /// <summary>Gives the VF a vGPU of type <paramref name="id"/>; 0 destroys its vGPU.</summary>
    Task<SysfsResult> SetTypeAsync(PciAddress vf, uint id, CancellationToken cancellationToken);
}

/// <summary>NVIDIA's vendor-specific VFIO interface: <c>bus/pci/devices/&lt;VF&gt;/nvidia/{current_vgpu_type,creatable_vgpu_types}</c> and <c>physfn</c>.</summary>
internal sealed class NvidiaSysfsVfControl(IHostFileSystem fileSystem, PlanCounters counters) : IVfVgpuControl
{
    /// <summary>NVIDIA's PCI vendor id: only its functions are asked.</summary>
    public const string VendorId = VfVgpuInfo.NvidiaVendorId;

    public static SysfsPath CurrentPath(PciAddress vf) => SysfsPath.PciAttribute(vf, "nvidia").Append("current_vgpu_type");

    public static SysfsPath CreatablePath(PciAddress vf) => SysfsPath.PciAttribute(vf, "nvidia").Append("creatable_vgpu_types");

    public async Task<IReadOnlyList<VfState>> ReadAsync(IReadOnlyList<PciAddress> functions, CancellationToken cancellationToken)
    {
        if (functions.Count == 0)
        {
            return [];
        }

        // Every function's physfn link goes with the reads (one round trip on a remote host): the link of a function that turns out to have no vGPU state is not used.
        var paths = functions.SelectMany(f => new[] { CurrentPath(f), CreatablePath(f) }).ToList();
        var readsTask = fileSystem.ReadManyAsync(paths, cancellationToken).AsTask();
        var pfsTask = Task.WhenAll(functions.Select(f => PhysicalFunctionAsync(fileSystem, f, cancellationToken)));
        await Task.WhenAll(readsTask, pfsTask).ConfigureAwait(false);
        var (reads, pfs) = (await readsTask.ConfigureAwait(false), await pfsTask.ConfigureAwait(false));
        counters.SysfsReads(paths.Count + functions.Count);
        var states = new List<VfState>();
        for (var i = 0; i < functions.Count; i++)
        {
            if (ParseCurrent(reads[2 * i]) is { } current)
            {
                states.Add(new VfState(functions[i], pfs[i], current, reads[(2 * i) + 1].Succeeded ? ParseCreatable(reads[(2 * i) + 1].Value!) : []));
            }
        }

        return states;
    }

    public async Task<SysfsResult<IReadOnlyList<VgpuType>>> CreatableAsync(PciAddress vf, CancellationToken cancellationToken)
    {
        var read = await fileSystem.ReadAsync(CreatablePath(vf), cancellationToken).ConfigureAwait(false);
        counters.SysfsReads(1);
        return read.Succeeded ? SysfsResult.Of(ParseCreatable(read.Value!)) : SysfsResult.Failed<IReadOnlyList<VgpuType>>(read.Error);
    }

    public async Task<SysfsResult<uint>> CurrentAsync(PciAddress vf, CancellationToken cancellationToken)
    {
        var read = await fileSystem.ReadAsync(CurrentPath(vf), cancellationToken).ConfigureAwait(false);
        counters.SysfsReads(1);
        return ParseCurrent(read) is { } id ? SysfsResult.Of(id) : SysfsResult.Failed<uint>(read.Succeeded ? Errno.EINVAL : read.Error);
    }

    public async Task<SysfsResult> SetTypeAsync(PciAddress vf, uint id, CancellationToken cancellationToken) =>
        await fileSystem.WriteAsync(CurrentPath(vf), id.ToString(CultureInfo.InvariantCulture), cancellationToken).ConfigureAwait(false);

    /// <summary>The physical function of <paramref name="function"/> (its <c>physfn</c> link), or null when it is not a VF. One readlink, not counted here.</summary>
    internal static async Task<PciAddress?> PhysicalFunctionAsync(IHostFileSystem fileSystem, PciAddress function, CancellationToken cancellationToken)
    {
        var link = await fileSystem.ReadLinkAsync(SysfsPath.PciAttribute(function, "physfn"), cancellationToken).ConfigureAwait(false);
        return link.Succeeded && link.Value is { } target && PciAddress.TryParse(target[(target.LastIndexOf('/') + 1)..], out var pf) ? pf : null;
    }

    /// <summary>A <c>current_vgpu_type</c> read: the id (0 for none); null when absent, unreadable or not a number.</summary>
    public static uint? ParseCurrent(SysfsResult<string> read) =>
        read.Succeeded && uint.TryParse(read.Value!.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var id) ? id : null;

    /// <summary>
    /// A <c>creatable_vgpu_types</c> listing: lines <c>1414 : NVIDIA H200X-1-18C</c>. A line whose id is
    /// not a positive decimal number, or whose name is not printable ASCII of at most 100 characters,
    /// is skipped (host text never reaches a message unchecked); a header line such as
    /// <c>ID    : vGPU Name</c> is skipped the same way.
    /// </summary>
    public static IReadOnlyList<VgpuType> ParseCreatable(string text)
    {
        var types = new List<VgpuType>();
        foreach (var line in text.Split('\n'))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0
                || !uint.TryParse(line[..colon].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var id)
                || id == 0)
            {
                continue;
            }

            var name = line[(colon + 1)..].Trim();
            if (name.Length is > 0 and <= 100 && name.All(c => c is >= ' ' and <= '~') && types.All(t => t.Id != id))
            {
                types.Add(new VgpuType(id, name));
            }
        }

        return types;
    }

    /// <summary>
    /// The key a VF configuration is journaled under (the journal is keyed by UUID): a name-based
    /// UUID (the first 16 bytes of SHA-256, RFC 9562 version 8) of <c>nvidia-vf:&lt;address&gt;</c>, the same for one VF every time.
    /// </summary>
    public static MdevUuid JournalKey(PciAddress vf)
    {
        var hash = SHA256.HashData(Encoding.ASCII.GetBytes($"nvidia-vf:{vf}"));
        hash[6] = (byte)((hash[6] & 0x0f) | 0x80);
        hash[8] = (byte)((hash[8] & 0x3f) | 0x80);
        var hex = Convert.ToHexStringLower(hash.AsSpan(0, 16));
        return MdevUuid.Parse($"{hex[..8]}-{hex[8..12]}-{hex[12..16]}-{hex[16..20]}-{hex[20..32]}");
    }
}
