using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Hypervisor;
using VfioMigration.Planner.Planning;

namespace VfioMigration.Planner;

/// <content>The administrator's two questions: "which configurations there accept this guest's devices?" and "is this device compatible with that target?".</content>
public sealed partial class MigrationPlanner
{
    /// <summary>
    /// Write and ask for a whole guest: <see cref="FindCompatibleTargetsAsync"/> for each of its host
    /// devices (or the one named by <paramref name="device"/>), in the guest's order. Creates nothing.
    /// </summary>
    /// <param name="source">The host the guest is on.</param>
    /// <param name="guest">The guest.</param>
    /// <param name="destination">The host to ask.</param>
    /// <param name="device">A device of the guest (mdev UUID, PCI address or alias), or null for all of them.</param>
    /// <param name="options">Options; the planner's defaults when null.</param>
    /// <param name="cancellationToken">Cancels the work.</param>
    /// <exception cref="HypervisorNotFoundException">The guest does not exist, or has no host device <paramref name="device"/>.</exception>
    public async Task<IReadOnlyList<CompatibleTargets>> AskAsync(MigrationHost source, DomainSelector guest, MigrationHost destination, string? device = null, PlanOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        var definition = await source.Hypervisor.GetDomainAsync(guest, cancellationToken).ConfigureAwait(false);
        var devices = device is null ? definition.Devices.HostDevices : [Select(definition.Devices, device)];
        var answers = new List<CompatibleTargets>();
        foreach (var hostDevice in devices)
        {
            answers.Add(await FindCompatibleTargetsAsync(source, hostDevice, destination, options, cancellationToken).ConfigureAwait(false));
        }

        return answers;
    }

    /// <summary>
    /// Is one source device compatible with one target on the destination? Looks at the cheap facts
    /// (type, device API, use by a guest) and then makes at most one probe: writes the source's
    /// migration version into the target's attribute (an idle mdev's or PCI function's, or the type's
    /// for a <c>PARENT/TYPE</c> target). Creates nothing, claims nothing.
    /// </summary>
    /// <param name="source">The host the guest is on.</param>
    /// <param name="guest">The guest.</param>
    /// <param name="device">The guest's device: mdev UUID, PCI address or alias.</param>
    /// <param name="destination">The host of the target.</param>
    /// <param name="target">An mdev UUID, a PCI address, or <c>PARENT/TYPE</c> (parent as libvirt names it, <c>pci_0000_3b_00_0</c>, or by PCI address).</param>
    /// <param name="options">Options; the planner's defaults when null. The verification policy does not matter: an unverifiable target is <see cref="CompatibilityOutcome.Unknown"/>.</param>
    /// <param name="cancellationToken">Cancels the work.</param>
    /// <exception cref="HypervisorNotFoundException">The guest, its device, or the target does not exist.</exception>
    public async Task<CompatibilityCheck> CheckCompatibilityAsync(MigrationHost source, DomainSelector guest, string device, MigrationHost destination, string target, PlanOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(target);
        source.Validate(nameof(source));
        destination.Validate(nameof(destination));
        var effective = OptionsFor(options);
        effective.VerificationPolicy = VerificationPolicy.AllowTypeMatch;
        var definition = await source.Hypervisor.GetDomainAsync(guest, cancellationToken).ConfigureAwait(false);
        var counters = new PlanCounters();
        var roundTrips = destination.FileSystem.RoundTrips;
        var described = (await SourceReader.DescribeAsync(source, [Select(definition.Devices, device)], counters, cancellationToken).ConfigureAwait(false))[0];
        var rejections = new RejectionLog(destination.Name, _logger);
        CompatibilityCheck Answer(CompatibilityOutcome outcome, ProbeRecord? probe, string reason) =>
            new(described.Info, target, outcome, probe, reason, counters.Snapshot() with { DestinationRoundTrips = destination.FileSystem.RoundTrips - roundTrips });

        if (!CandidateEvaluator.IsPlannable(described, effective, rejections))
        {
            var problem = rejections.Items[0];
            return Answer(problem.Code == RejectionCode.NotMigratable ? CompatibilityOutcome.Incompatible : CompatibilityOutcome.Unknown, null, problem.Message);
        }

        var inventory = await DestinationInventory.LoadAsync(destination, DestinationInventory.ScopeFor([described], effective), effective.Inventory, definition.Devices.Uuid, described.Vgpu is not null, counters, _logger, cancellationToken).ConfigureAwait(false);
        var probes = new ProbeRunner(destination, effective, _verdictCache, _time, counters, _logger);
        var evaluator = new CandidateEvaluator(destination, effective, inventory, probes, rejections, counters);
        var wanted = CandidateName(target, inventory.Inventory);
        var candidate = evaluator.ListCandidates(described).FirstOrDefault(c => c.Candidate == wanted);
        var capacityNote = string.Empty;
        if (candidate is null)
        {
            var parent = wanted.Split('/')[0];
            var refused = rejections.Items.FirstOrDefault(r => r.Candidate == wanted || (r.Code == RejectionCode.TypeMismatch && r.Candidate == parent));
            if (refused is { Code: RejectionCode.NoCapacity })
            {
                // Capacity says nothing about compatibility: the type's attribute can still answer.
                var full = inventory.Inventory.Parents.First(p => p.Name.Value == parent);
                candidate = new CreateOption(full, full.Types.First(t => $"{full.Name}/{t.Id}" == wanted));
                capacityNote = $" No instance can be created there now, though: {refused.Message}";
            }
            else if (refused is not null)
            {
                return Answer(refused.Code == RejectionCode.TypeMismatch ? CompatibilityOutcome.Incompatible : CompatibilityOutcome.Unknown, null, refused.Message);
            }
            else
            {
                var otherType = OtherTypeOf(wanted, inventory.Inventory)
                    ?? throw new HypervisorNotFoundException($"{destination.Name} has no device or (parent, type) '{MdevUuid.Shorten(target)}' that could take {described.Info.Id} (a {described.Info.Kind} device of type {described.Info.Type}).");
                return Answer(CompatibilityOutcome.Incompatible, null, $"{wanted} on {destination.Name} is of type {otherType}, the source {described.Info.Id} is of type {described.Info.Type}; only the same type can take it (or another type whose device accepts the version, with AllowCrossType).");
            }
        }

        if (candidate.ClaimKey is { } key && await _claims.HolderOfAsync(destination.Key, key, Guid.Empty, cancellationToken).ConfigureAwait(false) is { } holder)
        {
            return Answer(CompatibilityOutcome.Unknown, null, $"{candidate.Candidate} is claimed by a plan ({holder}); not probed.");
        }

        var before = rejections.Items.Count;
        var verdict = await evaluator.EvaluateAsync(described, candidate, cancellationToken).ConfigureAwait(false);
        var added = rejections.Items.Skip(before).FirstOrDefault();
        return verdict.Kind switch
        {
            VerdictKind.Verified => Answer(CompatibilityOutcome.Compatible, verdict.Probe, $"Writing the source version to {verdict.Probe!.Path} succeeded: the vendor driver accepts {described.Info.Id}'s state there.{capacityNote}"),
            VerdictKind.Rejected when added is { Code: RejectionCode.VersionRejected } => Answer(CompatibilityOutcome.Incompatible, verdict.Probe, added.Message),
            VerdictKind.Rejected when added?.Code == RejectionCode.TypeMismatch => Answer(CompatibilityOutcome.Incompatible, null, added.Message),
            VerdictKind.Rejected => Answer(CompatibilityOutcome.Unknown, verdict.Probe, added?.Message ?? "the target was refused without a reason (a bug)."),
            _ => Answer(CompatibilityOutcome.Unknown, verdict.Probe, verdict.Note ?? "nothing can verify this target without creating a device."),
        };
    }

    /// <summary>The guest's host device named by its mdev UUID, PCI address or alias.</summary>
    private static HostDevice Select(DomainHostDevices guest, string id) =>
        guest.HostDevices.FirstOrDefault(d => d switch
        {
            MdevHostDevice mdev => string.Equals(mdev.Uuid.Value, id, StringComparison.OrdinalIgnoreCase),
            PciHostDevice pci => PciAddress.TryParse(id, out var address) && address == pci.Address,
            _ => false,
        } || (d.Alias is not null && d.Alias == id))
        ?? throw new HypervisorNotFoundException($"Guest '{guest.Name}' has no host device '{MdevUuid.Shorten(id)}' (give an mdev UUID, a PCI address or an alias; it has: {string.Join(", ", guest.HostDevices.Select(Describe))}).");

    private static string Describe(HostDevice device) => device switch
    {
        MdevHostDevice mdev => mdev.Uuid.Value,
        PciHostDevice pci => pci.Address.ToString(),
        _ => $"hostdev #{device.Ordinal}",
    };

    /// <summary>The planner's name of a target: an mdev UUID or PCI address as they print, <c>PARENT/TYPE</c> with the parent's libvirt name.</summary>
    private static string CandidateName(string target, HostInventory inventory)
    {
        if (MdevUuid.TryParse(target, out var uuid))
        {
            return uuid.Value;
        }

        if (PciAddress.TryParse(target, out var address))
        {
            return address.ToString();
        }

        var slash = target.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0)
        {
            return target;
        }

        var parent = target[..slash];
        var named = inventory.Parents.FirstOrDefault(p => p.Name.Value == parent || p.SysfsName.Value == parent || (p.Address is { } a && PciAddress.TryParse(parent, out var given) && a == given));
        return named is null ? target : $"{named.Name}/{target[(slash + 1)..]}";
    }

    /// <summary>The type of a destination device or (parent, type) that is not a candidate for the source, when the inventory has it.</summary>
    private static string? OtherTypeOf(string candidate, HostInventory inventory)
    {
        if (inventory.Mdevs.FirstOrDefault(m => m.Uuid.Value == candidate) is { } mdev)
        {
            return mdev.Type.Value;
        }

        var slash = candidate.IndexOf('/', StringComparison.Ordinal);
        return slash > 0 && inventory.Parents.Any(p => p.Name.Value == candidate[..slash] && p.Types.Any(t => t.Id.Value == candidate[(slash + 1)..]))
            ? candidate[(slash + 1)..]
            : null;
    }
}
