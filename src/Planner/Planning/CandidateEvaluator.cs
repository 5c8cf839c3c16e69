using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Diagnostics;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.Planner.Planning;

/// <summary>The rejections of one plan, each (source, candidate, code) once, in the order they happened.</summary>
internal sealed class RejectionLog(string hostName, ILogger logger)
{
    private readonly List<Rejection> _items = [];
    private readonly HashSet<(string, string?, RejectionCode)> _seen = [];
    private readonly Lock _gate = new();

    public IReadOnlyList<Rejection> Items
    {
        get
        {
            lock (_gate)
            {
                return [.. _items];
            }
        }
    }

    public void Add(Rejection rejection)
    {
        lock (_gate)
        {
            if (!_seen.Add((rejection.Source, rejection.Candidate, rejection.Code)))
            {
                return;
            }

            _items.Add(rejection);
        }

        Log.CandidateRejected(logger, rejection.Candidate ?? "(none)", rejection.Source, hostName, rejection.Code, rejection.Message);
    }

    public int CountFor(string source)
    {
        lock (_gate)
        {
            return _items.Count(r => r.Source == source);
        }
    }
}

/// <summary>
/// Lists a source device's candidates on one destination, cheapest facts first, and evaluates
/// them: the type filter and the in-use facts come from the inventory at no cost; a PCI
/// function's migration type costs one read; only then is a version written.
/// </summary>
internal sealed class CandidateEvaluator(MigrationHost host, PlanOptions options, DestinationInventory inventory, ProbeRunner probes, RejectionLog rejections, PlanCounters counters)
{
    /// <summary>
    /// How a refusal under <see cref="VerificationPolicy.RequireVerified"/> ends: what the policy
    /// demands and what the other policy would do (in the console's spelling of the policies).
    /// </summary>
    internal const string RequireVerifiedRefusal = "and the require-verified policy accepts only verified targets (allow-type-match would accept a target of the same type, marked unverified)";

    private const string MigrationVersion = "migration_version";
    private const string MigrationQuery = "migration_query";
    private ConcurrentDictionary<SysfsPath, Lazy<Task<SourceVersion>>> _pciTypes = new();
    private bool _prefetch;

    public DestinationInventory Inventory => inventory;

    public RejectionLog Rejections => rejections;

    /// <summary>
    /// An evaluator for prefetching: the same reads and probes, made once per plan and shared with this
    /// one (which then finds them done), its rejections going to <paramref name="scratch"/>. Safe to run
    /// on many candidates at once.
    /// </summary>
    public CandidateEvaluator ForPrefetch(RejectionLog scratch) =>
        new(host, options, inventory, probes, scratch, counters) { _pciTypes = _pciTypes, _prefetch = true };

    /// <summary>
    /// Whether <paramref name="source"/> can be planned at all; when it cannot, the reason is logged
    /// and no destination fact is even looked at.
    /// </summary>
    public static bool IsPlannable(SourceDevice source, PlanOptions options, RejectionLog rejections)
    {
        if (source.Problem is { } problem)
        {
            rejections.Add(problem);
            return false;
        }

        switch (source.Version.State)
        {
            case VersionState.Invalid:
                rejections.Add(new Rejection(source.Info.Id, null, RejectionCode.NotMigratable, $"The source device {source.Info.Id} cannot migrate: {source.Version.Reason}."));
                return false;
            case VersionState.Absent when options.VerificationPolicy == VerificationPolicy.RequireVerified:
                rejections.Add(new Rejection(source.Info.Id, null, RejectionCode.NotMigratable, $"The source device {source.Info.Id} has no version to verify a target with ({source.Version.Reason}), {RequireVerifiedRefusal}."));
                return false;
            default:
                return true;
        }
    }

    /// <summary>Every candidate the cheap facts allow, in preference order: reuse, then create, then opt-in kinds.</summary>
    public IReadOnlyList<TargetOption> ListCandidates(SourceDevice source)
    {
        var candidates = source.Info.Kind switch
        {
            SourceDeviceKind.Mdev => MdevCandidates(source),
            SourceDeviceKind.VfVgpu => VfCandidates(source),
            _ => PciCandidates(source),
        };
        return [.. candidates.Where(option => IsFree(source, option))];
    }

    private List<TargetOption> MdevCandidates(SourceDevice source)
    {
        var sameType = new List<TargetOption>();
        var creatable = new List<TargetOption>();
        var opted = new List<TargetOption>();
        foreach (var mdev in inventory.Inventory.Mdevs)
        {
            if (options.UuidStrategy == UuidStrategy.Preserve && mdev.Uuid != source.Info.Uuid)
            {
                // Under Preserve the target has the source's UUID: only an idle mdev with that UUID is reused.
                continue;
            }

            var parent = inventory.ParentOf(mdev);
            var api = DestinationInventory.TypeOf(parent, mdev.Type)?.DeviceApi;
            if (mdev.Type == source.MdevType && (api is null || api == source.Info.DeviceApi))
            {
                sameType.Add(new ExistingMdevOption(mdev, api, MatchKind.SameType));
            }
            else if (options.AllowCrossType && api == source.Info.DeviceApi && SameVendor(source.VendorId, parent?.VendorId))
            {
                opted.Add(new ExistingMdevOption(mdev, api, MatchKind.CrossType));
            }
        }

        foreach (var parent in inventory.Inventory.Parents)
        {
            var type = DestinationInventory.TypeOf(parent, source.MdevType);
            if (type is null)
            {
                rejections.Add(new Rejection(source.Info.Id, parent.Name.Value, RejectionCode.TypeMismatch, $"Parent {parent.Name} does not offer type {source.Info.Type} (it offers {string.Join(", ", parent.Types.Select(t => t.Id.Value))})."));
            }
            else if (type.DeviceApi != source.Info.DeviceApi)
            {
                rejections.Add(new Rejection(source.Info.Id, $"{parent.Name}/{type.Id}", RejectionCode.TypeMismatch, $"Type {type.Id} on {parent.Name} has device API {type.DeviceApi}, the source has {source.Info.DeviceApi}; rule 0 requires both to match."));
            }
            else if (type.AvailableInstances <= 0)
            {
                rejections.Add(new Rejection(source.Info.Id, $"{parent.Name}/{type.Id}", RejectionCode.NoCapacity, $"Parent {parent.Name} can create no more {type.Id} instances (available_instances is {type.AvailableInstances})."));
            }
            else
            {
                creatable.Add(new CreateOption(parent, type));
            }
        }

        if (options.AllowHybrid)
        {
            opted.AddRange(inventory.Inventory.PciDevices
                .Where(d => d.Driver == "vfio-pci" && source.VendorId is not null && SameVendor(source.VendorId, d.VendorId))
                .Select(d => new PciOption(d, MatchKind.Hybrid)));
        }

        return [.. sameType, .. creatable, .. opted];
    }

    /// <summary>
    /// A VF vGPU's candidates (docs/nvidia-vf.md): idle VFs configured with the same type first, then
    /// unconfigured VFs whose creatable list has it, each group by address. A PF none of whose
    /// unconfigured VFs lists the type is one rejection, not one per VF.
    /// </summary>
    private List<TargetOption> VfCandidates(SourceDevice source)
    {
        var wanted = source.Vgpu!.CurrentType!;
        var functions = inventory.Inventory.PciDevices.ToDictionary(d => d.Address);
        var configured = new List<TargetOption>();
        var creatable = new List<TargetOption>();
        foreach (var pf in inventory.Vfs.Where(vf => functions.ContainsKey(vf.Vf)).GroupBy(vf => vf.CapacityDomain).OrderBy(g => g.Key.ToString(), StringComparer.Ordinal))
        {
            var unconfigured = 0;
            foreach (var vf in pf.OrderBy(vf => vf.Vf.ToString(), StringComparer.Ordinal))
            {
                if (vf.CurrentType is { } current)
                {
                    if (current.Id != wanted.Id)
                    {
                        continue;
                    }

                    if (!current.Matches(wanted))
                    {
                        rejections.Add(new Rejection(source.Info.Id, vf.Vf.ToString(), RejectionCode.TypeMismatch, $"VF {vf.Vf} has vGPU type id {current.Id} but names it '{current.Name}', the source '{wanted.Name}'; rule 0 requires the same profile."));
                        continue;
                    }

                    configured.Add(new VfOption(functions[vf.Vf], vf, current, Configured: true));
                    continue;
                }

                unconfigured++;
                if (vf.Creatable.FirstOrDefault(t => t.Id == wanted.Id) is { } offered)
                {
                    if (offered.Matches(wanted))
                    {
                        creatable.Add(new VfOption(functions[vf.Vf], vf, offered, Configured: false));
                    }
                    else
                    {
                        rejections.Add(new Rejection(source.Info.Id, vf.Vf.ToString(), RejectionCode.TypeMismatch, $"VF {vf.Vf} offers vGPU type id {offered.Id} as '{offered.Name}', the source is '{wanted.Name}'; rule 0 requires the same profile."));
                    }
                }
            }

            if (unconfigured > 0 && !creatable.OfType<VfOption>().Any(o => o.Pf == pf.Key))
            {
                var listed = pf.Where(vf => vf.Current == 0).SelectMany(vf => vf.Creatable).Select(t => t.Name ?? t.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)).Distinct().ToList();
                var offers = listed.Count == 0 ? "they list nothing: the GPU is full" : $"they list {string.Join(", ", listed.Take(4))}{(listed.Count > 4 ? ", ..." : string.Empty)}: another GPU model, or vGPUs of another size are there";
                rejections.Add(new Rejection(source.Info.Id, pf.Key.ToString(), RejectionCode.NoCapacity, $"None of the {unconfigured} unconfigured VF(s) of GPU {pf.Key} lists {wanted.Display} in creatable_vgpu_types now ({offers})."));
            }
        }

        return [.. configured, .. creatable];
    }

    private List<TargetOption> PciCandidates(SourceDevice source)
    {
        var sameType = new List<TargetOption>();
        var opted = new List<TargetOption>();
        foreach (var device in inventory.Inventory.PciDevices)
        {
            // The vendor is the namespace of both ids and migration types: another vendor's function is never a candidate.
            if (!SameVendor(source.VendorId, device.VendorId))
            {
                continue;
            }

            if (source.PciMigrationType is null && !string.Equals(device.ProductId, source.ProductId, StringComparison.OrdinalIgnoreCase))
            {
                rejections.Add(new Rejection(source.Info.Id, device.Address.ToString(), RejectionCode.TypeMismatch, $"PCI function {device.Address} is {SourceReader.PciIdsType(device.VendorId, device.ProductId)}, the source is {source.Info.Type}."));
                continue;
            }

            sameType.Add(new PciOption(device, MatchKind.SameType));
        }

        // An <interface type='hostdev'> is a network VF: libvirt has no mdev form of it.
        if (options.AllowHybrid && source.Device is PciHostDevice { Form: PciHostDeviceForm.Hostdev })
        {
            foreach (var mdev in inventory.Inventory.Mdevs)
            {
                var parent = inventory.ParentOf(mdev);
                if (parent?.VendorId is not null && SameVendor(source.VendorId, parent.VendorId))
                {
                    opted.Add(new ExistingMdevOption(mdev, DestinationInventory.TypeOf(parent, mdev.Type)?.DeviceApi, MatchKind.Hybrid));
                }
            }
        }

        return [.. sameType, .. opted];
    }

    private bool IsFree(SourceDevice source, TargetOption option)
    {
        if (inventory.OwnerOf(option) is { } owner)
        {
            rejections.Add(new Rejection(source.Info.Id, option.Candidate, RejectionCode.InUse, $"{option.Candidate} is assigned to guest '{owner}' defined on {host.Name}."));
            return false;
        }

        if (option is PciOption pci && inventory.MdevsOn(pci.Device.Address) is { Count: > 0 } mdevs)
        {
            // Binding the function to vfio-pci would unbind the driver that serves these mdevs.
            rejections.Add(new Rejection(source.Info.Id, option.Candidate, RejectionCode.InUse, $"PCI function {pci.Candidate} is the parent of {mdevs.Count} mediated device(s) on {host.Name} (e.g. {mdevs[0].Uuid}); assigning the whole function would take them away."));
            return false;
        }

        return true;
    }

    /// <summary>Evaluates one candidate: reads and probes only what the cheaper facts have not ruled out.</summary>
    public async Task<OptionVerdict> EvaluateAsync(SourceDevice source, TargetOption option, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        switch (option)
        {
            case ExistingMdevOption mdev:
                if (mdev.Match == MatchKind.SameType && inventory.ParentOf(mdev.Mdev) is { } parent
                    && await AskAsync(source, parent.SysfsName, cancellationToken).ConfigureAwait(false) is { } answer
                    && !answer.Mdevs.Contains(mdev.Mdev.Uuid))
                {
                    // The parent answered for all its idle devices at once: no probe for one it left out.
                    rejections.Add(QueryRejection(source, option.Candidate, answer, $"device {mdev.Mdev.Uuid}"));
                    return OptionVerdict.Rejected;
                }

                return await DeviceLevelAsync(source, option, ProbePoint.MdevDevice, SysfsPath.MdevAttribute(mdev.Mdev.Uuid, MigrationVersion), mdev.Match, cancellationToken).ConfigureAwait(false);
            case PciOption pci:
                if (pci.Match == MatchKind.SameType && source.PciMigrationType is { } wanted)
                {
                    var theirs = await PciMigrationTypeAsync(pci, cancellationToken).ConfigureAwait(false);
                    if (theirs.Value != wanted)
                    {
                        rejections.Add(new Rejection(source.Info.Id, option.Candidate, RejectionCode.TypeMismatch, theirs.State == VersionState.Present
                            ? $"PCI function {pci.Candidate} has vfio_migration_type '{theirs.Value}', the source has '{wanted}'."
                            : $"PCI function {pci.Candidate} has no usable vfio_migration_type ({theirs.Reason}); the source has '{wanted}'."));
                        return OptionVerdict.Rejected;
                    }
                }

                return await DeviceLevelAsync(source, option, ProbePoint.PciDevice, SysfsPath.PciAttribute(pci.Device.Address, "vfio_migration_version"), pci.Match, cancellationToken).ConfigureAwait(false);
            case CreateOption create:
                return await TypeLevelAsync(source, create, cancellationToken).ConfigureAwait(false);
            case VfOption { Configured: true } vf:
                return await DeviceLevelAsync(source, option, ProbePoint.PciDevice, SysfsPath.PciAttribute(vf.Vf.Address, "vfio_migration_version"), MatchKind.SameType, cancellationToken).ConfigureAwait(false);
            case VfOption vf:
                // A VF without a vGPU cannot answer for one: the confirmation follows the configuration.
                return source.Version.Value is null
                    ? new OptionVerdict(VerdictKind.Unverified, null, $"not verified: {source.Version.Reason}")
                    : new OptionVerdict(VerdictKind.NeedsCreation, null, $"VF {vf.Vf.Address} has no vGPU yet: only the configured VF can say");
            default:
                throw new ArgumentOutOfRangeException(nameof(option), option, "Only existing, PCI and create options are evaluated.");
        }
    }

    private async Task<OptionVerdict> DeviceLevelAsync(SourceDevice source, TargetOption option, ProbePoint point, SysfsPath path, MatchKind match, CancellationToken cancellationToken)
    {
        if (source.Version.Value is not { } version)
        {
            return match == MatchKind.SameType
                ? new OptionVerdict(VerdictKind.Unverified, null, $"not verified: {source.Version.Reason}")
                : RejectUnverifiable(source, option, match, "the source device has no version to write");
        }

        var probe = await probes.ProbeAsync(point, path, version, cancellationToken, _prefetch).ConfigureAwait(false);
        switch (probe.Outcome)
        {
            case ProbeOutcome.Accepted:
                return new OptionVerdict(VerdictKind.Verified, probe.Record, null);
            case ProbeOutcome.Absent when match == MatchKind.SameType:
                var note = $"not verified: {path} does not exist on {host.Name}, so the target cannot say whether it accepts the source version";
                if (options.VerificationPolicy == VerificationPolicy.RequireVerified)
                {
                    rejections.Add(new Rejection(source.Info.Id, option.Candidate, RejectionCode.Unverifiable, $"{option.Candidate} is of the right type but has no {path.Name} attribute, so nothing can verify it, {RequireVerifiedRefusal}."));
                }

                return new OptionVerdict(VerdictKind.Unverified, probe.Record, note);
            case ProbeOutcome.Absent:
                return RejectUnverifiable(source, option, match, $"{path} does not exist");
            default:
                rejections.Add(ProbeRejection(source, option.Candidate, probe, "the target"));
                return new OptionVerdict(VerdictKind.Rejected, probe.Record, null);
        }
    }

    private async Task<OptionVerdict> TypeLevelAsync(SourceDevice source, CreateOption create, CancellationToken cancellationToken)
    {
        if (source.Version.Value is not { } version)
        {
            return new OptionVerdict(VerdictKind.Unverified, null, $"not verified: {source.Version.Reason}");
        }

        if (await AskAsync(source, create.Parent.SysfsName, cancellationToken).ConfigureAwait(false) is { } answer)
        {
            // Write and ask stands in for the type-level probe; the created device confirms, as after a type-level yes.
            if (answer.Types.Contains(create.Type.Id))
            {
                return new OptionVerdict(VerdictKind.Verified, answer.Record, null);
            }

            rejections.Add(QueryRejection(source, create.Candidate, answer, $"type {create.Type.Id}"));
            return OptionVerdict.Rejected;
        }

        var path = SysfsPath.TypeAttribute(create.Parent.SysfsName, create.Type.Id, MigrationVersion);
        var probe = await probes.ProbeAsync(ProbePoint.MdevType, path, version, cancellationToken, _prefetch).ConfigureAwait(false);
        switch (probe.Outcome)
        {
            case ProbeOutcome.Accepted:
                return new OptionVerdict(VerdictKind.Verified, probe.Record, null);
            case ProbeOutcome.Absent:
                return new OptionVerdict(VerdictKind.NeedsCreation, null, $"{path} does not exist: only a created device can say");
            default:
                rejections.Add(ProbeRejection(source, create.Candidate, probe, $"type {create.Type.Id} on {create.Parent.Name}"));
                return new OptionVerdict(VerdictKind.Rejected, probe.Record, null);
        }
    }

    /// <summary>The answer of the parent's write and ask for the source's version; null when the parent has none (or the source no version).</summary>
    private async Task<QueryAnswer?> AskAsync(SourceDevice source, DeviceName parent, CancellationToken cancellationToken) =>
        source.Version.Value is { } version
            ? await probes.AskAsync(SysfsPath.Parent(parent).Append(MigrationQuery), version, cancellationToken).ConfigureAwait(false)
            : null;

    /// <summary>The rejection of a candidate the parent's write and ask left out.</summary>
    private static Rejection QueryRejection(SourceDevice source, string candidate, QueryAnswer answer, string what) => new(
        source.Info.Id,
        candidate,
        RejectionCode.VersionRejected,
        answer.Record.Errno == Errno.None
            ? $"Asked which configurations accept the source's migration version, {answer.Record.Path} did not list {what}, so the vendor driver says this device's state cannot be loaded there{DriverSays(answer.Reason)}."
            : $"Asking {answer.Record.Path} which configurations accept the source's migration version failed with {answer.Record.Errno}, so nothing on that parent accepts it{DriverSays(answer.Reason)}.",
        answer.Record.Errno == Errno.None ? null : answer.Record.Errno);

    private static string DriverSays(string? reason) => reason is null ? string.Empty : $" (the driver says: \"{reason}\")";

    /// <summary>The rejection for a probe that refused, timed out or failed.</summary>
    public Rejection ProbeRejection(SourceDevice source, string candidate, ProbeResult probe, string what) => probe.Outcome switch
    {
        ProbeOutcome.Rejected => new Rejection(source.Info.Id, candidate, RejectionCode.VersionRejected, $"{Capitalise(what)} refused the source's migration version: writing it to {probe.Record.Path} failed with {probe.Record.Errno}{DriverSays(probe.Reason)}, so the vendor driver says this device's state cannot be loaded there.", probe.Record.Errno),
        ProbeOutcome.TimedOut => new Rejection(source.Info.Id, candidate, RejectionCode.ProbeTimeout, $"Writing the source version to {probe.Record.Path} got {probe.Error}; the answer is unknown, so {what} is not used.", Errno.ETIMEDOUT),
        _ => new Rejection(source.Info.Id, candidate, RejectionCode.ProbeFailed, $"Writing the source version to {probe.Record.Path} on {host.Name} failed: {probe.Error}."),
    };

    private OptionVerdict RejectUnverifiable(SourceDevice source, TargetOption option, MatchKind match, string why)
    {
        var kind = match == MatchKind.CrossType ? "A cross-type target" : "A hybrid (mdev/physical) target";
        rejections.Add(new Rejection(source.Info.Id, option.Candidate, RejectionCode.Unverifiable, $"{kind} is accepted only when the target's own migration version attribute accepts the source version, and {why}."));
        return OptionVerdict.Rejected;
    }

    /// <summary>A PCI function's <c>vfio_migration_type</c>, read once per plan.</summary>
    private Task<SourceVersion> PciMigrationTypeAsync(PciOption pci, CancellationToken cancellationToken) =>
        _pciTypes.GetOrAdd(SysfsPath.PciAttribute(pci.Device.Address, "vfio_migration_type"), path => new Lazy<Task<SourceVersion>>(() => ReadTypeAsync(path, cancellationToken))).Value;

    private async Task<SourceVersion> ReadTypeAsync(SysfsPath path, CancellationToken cancellationToken)
    {
        var read = await host.FileSystem.ReadAsync(path, cancellationToken).ConfigureAwait(false);
        counters.SysfsReads(1);
        return VersionText.FromRead(read, path);
    }

    private static bool SameVendor(string? a, string? b) =>
        a is null || b is null || string.Equals(a, b, StringComparison.OrdinalIgnoreCase);

    private static string Capitalise(string text) => text.Length == 0 ? text : char.ToUpperInvariant(text[0]) + text[1..];
}
