using System.Diagnostics;
using Microsoft.Extensions.Logging;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Diagnostics;
using VfioMigration.Planner.Hypervisor;
using VfioMigration.Planner.State;

namespace VfioMigration.Planner.Planning;

/// <summary>Rewrites the source domain XML so each host device's source names its destination target (keyed by <see cref="HostDevice.Ordinal"/>).</summary>
internal delegate string DestinationXmlRewrite(string sourceDomainXml, IReadOnlyDictionary<int, DeviceTarget> targetsByOrdinal);

/// <summary>What every destination plan shares: the planner's services.</summary>
internal sealed record PlannerServices(IVerdictCache VerdictCache, TimeProvider Time, IPlannerStateStore Claims, ILogger Logger, DestinationXmlRewrite RewriteXml);

/// <summary>
/// Plans one guest onto one destination: candidates, verdicts, an assignment of distinct targets,
/// provisioning with confirmation, and rollback of everything it created when it does not finish.
/// Not thread-safe: one instance per (plan, destination).
/// </summary>
internal sealed class DestinationPlanner
{
    private readonly SourceFacts _facts;
    private readonly MigrationHost _source;
    private readonly MigrationHost _host;
    private readonly PlanOptions _options;
    private readonly PlannerServices _services;
    private readonly Guid _planId = Guid.NewGuid();
    private readonly PlanCounters _counters = new();
    private readonly ProvisioningJournal _journal;
    private RejectionLog _rejections;
    private readonly HashSet<string> _heldClaims = [];
    private readonly long _roundTripsBefore;

    private SourceDevice[] _devices = [];
    private IReadOnlyList<TargetOption>[] _candidates = [];
    private TargetOption?[] _pinned = [];
    private readonly Dictionary<(int Device, TargetOption Option), OptionVerdict> _verdicts = [];
    private readonly Dictionary<(int Device, TargetOption Option), OptionVerdict> _prefetched = [];
    private readonly HashSet<(DeviceName, MdevTypeId)> _closedSlots = [];
    private readonly Dictionary<(DeviceName, MdevTypeId), int> _keptOnSlot = [];
    private CandidateEvaluator? _evaluator;
    private MdevProvisioner? _provisioner;
    private VfProvisioner? _vfProvisioner;
    private int _scheduledCreates;
    private IReadOnlyList<PreflightCheck> _preflight = [];

    // State of one assignment search.
    private TargetOption?[] _assignment = [];
    private TargetOption?[] _deepestPartial = [];
    private readonly Dictionary<(DeviceName, MdevTypeId), int> _planned = [];
    private readonly Dictionary<DeviceName, (MdevTypeId Type, int Count)> _parentTypes = [];
    private readonly HashSet<string> _taken = [];
    private bool _mixTypes;
    private int _steps;
    private int _deepest;
    private int? _unplaceable;
    private bool _stepLimitHit;

    /// <summary>Set during a dry search (see <see cref="PrefetchAsync"/>): the candidates it reached whose verdict is not known yet.</summary>
    private HashSet<(int Device, TargetOption Option)>? _wanted;

    // Claims other plans hold on this host: read once per plan (IPlannerStateStore.ClaimsOnAsync), then added to as claims are lost to racers.
    private Dictionary<string, ClaimHolder>? _othersClaims;

    public DestinationPlanner(SourceFacts facts, MigrationHost source, MigrationHost destination, PlanOptions options, PlannerServices services)
    {
        _facts = facts;
        _source = source;
        _host = destination;
        _options = options;
        _services = services;
        _counters.Add(facts.Cost);
        _roundTripsBefore = destination.FileSystem.RoundTrips;
        _journal = new ProvisioningJournal(destination, services.Claims, _planId, _counters, services.Logger);
        services.Claims.BeginPlan(_planId, facts.Guest.Devices.Name);
        _rejections = new RejectionLog(destination.Name, services.Logger);
    }

    private CandidateEvaluator Evaluator => _evaluator ?? throw new InvalidOperationException("The destination inventory has not been loaded.");

    private Dictionary<string, ClaimHolder> OthersClaims => _othersClaims ?? throw new InvalidOperationException("The host's claims have not been read.");

    private MdevProvisioner Provisioner => _provisioner ?? throw new InvalidOperationException("The destination inventory has not been loaded.");

    /// <summary>Plans; on an exception (cancellation included) removes what it created first.</summary>
    /// <exception cref="RollbackFailedException">Planning stopped and a created device could not be removed.</exception>
    public async Task<MigrationPlan> PlanAsync(CancellationToken cancellationToken)
    {
        using var activity = PlannerTelemetry.ActivitySource.StartActivity("PlanDestination");
        activity?.SetTag("vfio_migration.destination", _host.Name);
        var started = Stopwatch.GetTimestamp();
        try
        {
            var content = await BuildAsync(cancellationToken).ConfigureAwait(false);
            activity?.SetTag("vfio_migration.complete", content.IsComplete);
            Log.PlanFinished(_services.Logger, content.GuestName, _host.Name, content.IsComplete, content.Devices.Count, content.Statistics.Probes, content.Statistics.Creates, content.Statistics.ElapsedMs);
            return new MigrationPlan(content, new PlanResources(_journal, _source, _services.Logger));
        }
        catch (Exception error) when (error is HypervisorException or IOException)
        {
            // This destination cannot be planned (unreachable, libvirt refusing): it becomes a failed plan with the reason, so the other destinations still count.
            activity?.SetStatus(ActivityStatusCode.Error, error.Message);
            var content = await FailAsync([$"Planning on {_host.Name} stopped: {error.Message}"]).ConfigureAwait(false);
            return new MigrationPlan(content, new PlanResources(_journal, _source, _services.Logger));
        }
        catch (Exception error)
        {
            activity?.SetStatus(ActivityStatusCode.Error, error.Message);
            await _journal.RollbackAsync().ConfigureAwait(false);
            await EndPlanAsync().ConfigureAwait(false);

            // Every removal that failed in this plan, the rollback's and those of devices refused before it.
            var failures = _journal.Failures;
            if (failures.Count > 0)
            {
                throw new RollbackFailedException(failures, error);
            }

            throw;
        }
        finally
        {
            PlannerTelemetry.PlanDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds);
        }
    }

    private async Task<PlanContent> BuildAsync(CancellationToken cancellationToken)
    {
        var plannable = _facts.Devices.Where(d => CandidateEvaluator.IsPlannable(d, _options, _rejections)).ToList();
        if (plannable.Count != _facts.Devices.Count)
        {
            // A device that cannot migrate anywhere makes the plan fail before any destination fact is read.
            return await FailAsync([.. _rejections.Items.Select(r => r.Message)]).ConfigureAwait(false);
        }

        // Preflight: facts that would make the migration fail late, before anything is created here.
        var destinationFacts = await PreflightChecks.ReadAsync(_host, _counters, cancellationToken).ConfigureAwait(false);
        _preflight = PreflightChecks.Evaluate(_facts.Host, destinationFacts, plannable, _facts.Guest.MigratableXml);
        if (_preflight.Where(c => c.Outcome == PreflightOutcome.Failed).Select(c => $"Preflight on {c.Host}: {c.Message}").ToList() is { Count: > 0 } failed)
        {
            return await FailAsync(failed).ConfigureAwait(false);
        }

        // An orphan of a dead plan is removed before the inventory is read, so it is never taken as reuse.
        await Recovery.RunAsync(_host, _services.Claims, includeCommitted: false, _services.Logger).ConfigureAwait(false);
        var inventory = await DestinationInventory.LoadAsync(_host, DestinationInventory.ScopeFor(plannable, _options), _options.Inventory, _facts.Guest.Devices.Uuid, plannable.Any(d => d.Vgpu is not null), _counters, _services.Logger, cancellationToken).ConfigureAwait(false);
        var probes = new ProbeRunner(_host, _options, _services.VerdictCache, _services.Time, _counters, _services.Logger);
        _evaluator = new CandidateEvaluator(_host, _options, inventory, probes, _rejections, _counters);
        _provisioner = new MdevProvisioner(_host, _options, _services.Claims, _planId, _journal, _counters, probes, _evaluator, _services.Logger);
        _vfProvisioner = new VfProvisioner(_options, _journal, probes, _evaluator, new NvidiaSysfsVfControl(_host.FileSystem, _counters));
        _devices = [.. plannable];
        _candidates = [.. _devices.Select(Evaluator.ListCandidates)];
        _pinned = new TargetOption?[_devices.Length];

        // The host's claims, read once: every search (dry or real) checks candidates against them, and claims only what it chose.
        _othersClaims = new Dictionary<string, ClaimHolder>(await _services.Claims.ClaimsOnAsync(_host.Key, _planId, cancellationToken).ConfigureAwait(false), StringComparer.Ordinal);

        // Passes, most preferred first: verified before unverified; one mdev type per parent before
        // mixing types on a parent. Cards that allow one type at a time (NVIDIA) cannot mix, and
        // nothing in sysfs says which cards those are; pools that mix (GVT-g, mtty) can. A mixing
        // pass is safe on both: such a card refuses the create of a second type, that (parent,
        // type) is closed for the plan, and the search moves on.
        var verification = _options.VerificationPolicy == VerificationPolicy.AllowTypeMatch ? new[] { false, true } : [false];
        foreach (var allowUnverified in verification)
        {
            foreach (var mixTypes in (bool[])[false, true])
            {
                _mixTypes = mixTypes;
                while (await PrefetchAsync(allowUnverified, cancellationToken).ConfigureAwait(false)
                    && await SearchAsync(allowUnverified, cancellationToken).ConfigureAwait(false))
                {
                    if (await ProvisionAsync(cancellationToken).ConfigureAwait(false))
                    {
                        return Complete();
                    }
                }
            }
        }

        return await FailAsync(UnplacedReasons()).ConfigureAwait(false);
    }

    // ---- assignment search -------------------------------------------------------------------

    /// <summary>
    /// Evaluates the candidates the next search will reach before it runs, in waves, each wave's reads
    /// and probes made at once (one round trip per step on a remote host, instead of one per candidate):
    /// a dry search, which takes each candidate not evaluated yet as accepted, lists the candidates it
    /// reaches (it claims nothing: no search does, see <see cref="SearchAsync"/>); they are evaluated
    /// together (rejections aside); the next dry search sees those verdicts, until one reaches nothing
    /// new. The real search that follows then finds its probes made and records verdicts and rejections
    /// in its own order, as if it had probed one candidate at a time. When every first choice accepts,
    /// the probes are exactly the ones a one-at-a-time search makes; after a refusal a wave may have
    /// probed a candidate it then does not use.
    /// </summary>
    /// <returns>Always true (so it chains with the search). Nothing to do when the destination's file system does not batch calls (<see cref="Sysfs.IHostFileSystem.BatchesCalls"/>): the search then probes one candidate at a time.</returns>
    private async Task<bool> PrefetchAsync(bool allowUnverified, CancellationToken cancellationToken)
    {
        if (!_host.FileSystem.BatchesCalls)
        {
            return true;
        }

        _taken.Clear();
        var rejections = _rejections;
        var scratch = new RejectionLog(_host.Name, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        var evaluator = Evaluator.ForPrefetch(scratch);
        try
        {
            _rejections = scratch;
            while (true)
            {
                _wanted = [];
                await FindAssignmentAsync(allowUnverified, cancellationToken).ConfigureAwait(false);
                var wave = _wanted.ToList();
                _wanted = null;
                if (wave.Count == 0)
                {
                    return true;
                }

                Provisioner.PrefetchCapacityDomains(wave.Select(w => w.Option).OfType<CreateOption>().Select(c => c.Parent), cancellationToken);
                var verdicts = await Task.WhenAll(wave.Select(w => evaluator.EvaluateAsync(_devices[w.Device], w.Option, cancellationToken))).ConfigureAwait(false);
                for (var i = 0; i < wave.Count; i++)
                {
                    _prefetched[wave[i]] = verdicts[i];
                }
            }
        }
        finally
        {
            _wanted = null;
            _rejections = rejections;
            _taken.Clear();
        }
    }

    /// <summary>
    /// Finds an assignment against the host's claims as read once for the plan, then claims its
    /// existing devices in one call (<see cref="ClaimAssignmentAsync"/>); a device a racing plan claimed
    /// first is then known held and the search runs again. Bounded: each such round adds a device to
    /// <see cref="_othersClaims"/> for good, and the host has finitely many.
    /// </summary>
    private async Task<bool> SearchAsync(bool allowUnverified, CancellationToken cancellationToken)
    {
        while (await FindAssignmentAsync(allowUnverified, cancellationToken).ConfigureAwait(false))
        {
            if (await ClaimAssignmentAsync(cancellationToken).ConfigureAwait(false))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Depth-first search for distinct targets, in preference order, evaluating a candidate only
    /// when the search reaches it (verdicts are memoised, so backtracking never probes twice).
    /// It asks the store nothing: claims come from <see cref="_othersClaims"/>.
    /// </summary>
    private async Task<bool> FindAssignmentAsync(bool allowUnverified, CancellationToken cancellationToken)
    {
        _assignment = new TargetOption?[_devices.Length];
        _deepestPartial = new TargetOption?[_devices.Length];
        _planned.Clear();
        _parentTypes.Clear();
        _taken.Clear();
        _steps = 0;
        _deepest = -1;
        _unplaceable = null;
        _stepLimitHit = false;
        foreach (var pinned in _pinned.OfType<TargetOption>())
        {
            _taken.Add(pinned.ClaimKey!);
            var (parent, type) = pinned switch
            {
                ProvisionedOption made => (made.Parent.Name, made.Type),
                ConfiguredVfOption vf => Slot(vf.Vf),
                _ => throw new InvalidOperationException("Only created mdevs and configured VFs are pinned."),
            };
            AddParentType(parent, type);
        }

        return await AssignAsync(0, allowUnverified, cancellationToken).ConfigureAwait(false);
    }

    private async Task<bool> AssignAsync(int index, bool allowUnverified, CancellationToken cancellationToken)
    {
        if (index == _devices.Length)
        {
            return true;
        }

        if (_pinned[index] is { } pinned)
        {
            _assignment[index] = pinned;
            if (await AssignAsync(index + 1, allowUnverified, cancellationToken).ConfigureAwait(false))
            {
                return true;
            }

            _assignment[index] = null;
            return false;
        }

        var anyAccepted = false;
        var anyBlocked = false;
        foreach (var option in Ordered(index))
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (++_steps > _options.MaxSearchSteps)
            {
                _stepLimitHit = true;
                return false;
            }

            if (!Fits(index, option))
            {
                anyBlocked = true;
                continue;
            }

            var verdict = await VerdictAsync(index, option, cancellationToken).ConfigureAwait(false);
            if (!(verdict.Kind is VerdictKind.Verified or VerdictKind.NeedsCreation || (verdict.Kind == VerdictKind.Unverified && allowUnverified)))
            {
                continue;
            }

            anyAccepted = true;
            Take(index, option);

            if (await AssignAsync(index + 1, allowUnverified, cancellationToken).ConfigureAwait(false))
            {
                return true;
            }

            Undo(index, option);
            if (_unplaceable is not null || _stepLimitHit)
            {
                return false;
            }
        }

        if (index > _deepest)
        {
            _deepest = index;
            Array.Copy(_assignment, _deepestPartial, _assignment.Length);
        }

        if (!anyAccepted && !anyBlocked)
        {
            // Nothing on this host accepts the device whatever the others take: backtracking cannot help.
            _unplaceable = index;
        }

        return false;
    }

    private async Task<OptionVerdict> VerdictAsync(int index, TargetOption option, CancellationToken cancellationToken)
    {
        if (_wanted is not null && !_verdicts.ContainsKey((index, option)))
        {
            // A dry search takes a candidate not evaluated yet as accepted, and notes it for the next wave.
            if (_prefetched.TryGetValue((index, option), out var early))
            {
                return early;
            }

            _wanted.Add((index, option));
            return new OptionVerdict(VerdictKind.Verified, null, null);
        }

        if (!_verdicts.TryGetValue((index, option), out var verdict))
        {
            verdict = await Evaluator.EvaluateAsync(_devices[index], option, cancellationToken).ConfigureAwait(false);
            _verdicts[(index, option)] = verdict;
        }

        return verdict;
    }

    /// <summary>The candidates of a device in preference order; new mdevs are ordered by the placement preference given what the search has placed so far.</summary>
    private IEnumerable<TargetOption> Ordered(int index)
    {
        var candidates = _candidates[index];
        var firstCreate = candidates.TakeWhile(o => !IsNew(o)).Count();
        var creates = candidates.Where(IsNew).Select(o => (Option: o, Slot: NewSlot(o)));
        var ordered = _options.Placement == PlacementPreference.Pack
            ? creates.OrderBy(c => _parentTypes.ContainsKey(c.Slot.Parent) ? 0 : 1).ThenBy(c => Remaining(index, c.Option)).ThenBy(c => c.Slot.Parent.Value, StringComparer.Ordinal)
            : creates.OrderBy(c => _parentTypes.ContainsKey(c.Slot.Parent) ? 1 : 0).ThenByDescending(c => Remaining(index, c.Option)).ThenBy(c => c.Slot.Parent.Value, StringComparer.Ordinal);
        return [.. candidates.Take(firstCreate), .. ordered.Select(c => c.Option), .. candidates.Skip(firstCreate).Where(o => !IsNew(o))];
    }

    /// <summary>Whether the option makes a device (a new mdev, or a vGPU on an unconfigured VF).</summary>
    private static bool IsNew(TargetOption option) => option is CreateOption or VfOption { Configured: false };

    /// <summary>The capacity slot a new device takes: (parent, type), or for a VF (its PF, the type id).</summary>
    private static (DeviceName Parent, MdevTypeId Type) NewSlot(TargetOption option) => option switch
    {
        CreateOption create => create.Slot,
        VfOption vf => Slot(vf),
        _ => throw new ArgumentOutOfRangeException(nameof(option), option, "Only new devices take a slot."),
    };

    /// <summary>A VF's capacity slot: its GPU (PF) and the vGPU type id, in the keys mdev slots use.</summary>
    private static (DeviceName Parent, MdevTypeId Type) Slot(VfOption vf) => (DeviceName.Parse(vf.Pf.ToString()), ProvisioningJournal.TypeKey(vf.Type));

    private int Remaining(CreateOption option) =>
        _closedSlots.Contains(option.Slot)
            ? 0
            : option.Type.AvailableInstances - _keptOnSlot.GetValueOrDefault(option.Slot) - _planned.GetValueOrDefault(option.Slot);

    /// <summary>
    /// What a new device's slot has left. A GPU has no count in sysfs (docs/nvidia-vf.md): its bound
    /// is the unconfigured VFs that list the type, less those this search has given out.
    /// </summary>
    private int Remaining(int index, TargetOption option) => option switch
    {
        CreateOption create => Remaining(create),
        VfOption vf when _closedSlots.Contains(Slot(vf)) => 0,
        VfOption vf => _candidates[index].OfType<VfOption>().Count(o => !o.Configured && o.Pf == vf.Pf && !_taken.Contains(o.ClaimKey!)),
        _ => 0,
    };

    private bool Fits(int index, TargetOption option)
    {
        switch (option)
        {
            case CreateOption create:
                // One type per parent within a plan unless this pass mixes types (see BuildAsync);
                // never on a function this plan, or another one in this process, passes through whole.
                return Remaining(create) > 0
                    && OneTypePerParent(create.Slot)
                    && !(create.Parent.Address is { } address && PassedThrough(index, create, address));
            case VfOption { Configured: false } vf when _closedSlots.Contains(Slot(vf)) || !OneTypePerParent(Slot(vf)):
                return false;
            default:
                var key = option.ClaimKey!;
                if (_taken.Contains(key) || (option is PciOption pci && GetsNewMdevs(pci.Device.Address)))
                {
                    return false;
                }

                if (OthersClaims.TryGetValue(key, out var holder))
                {
                    _rejections.Add(InUse(index, option.Candidate, holder));
                    return false;
                }

                return true;
        }
    }

    /// <summary>One type per parent (or GPU) within a plan, unless this pass mixes types (see <see cref="BuildAsync"/>).</summary>
    private bool OneTypePerParent((DeviceName Parent, MdevTypeId Type) slot) =>
        _mixTypes || !_parentTypes.TryGetValue(slot.Parent, out var existing) || existing.Type == slot.Type;

    /// <summary>Whether the function at <paramref name="address"/> is going to a guest whole: in this plan, or claimed so by another plan in this process (its guest is not defined here yet, so the inventory cannot show it).</summary>
    private bool PassedThrough(int index, CreateOption create, PciAddress address)
    {
        var key = TargetKeys.Pci(address);
        if (_taken.Contains(key))
        {
            return true;
        }

        if (OthersClaims.TryGetValue(key, out var holder))
        {
            _rejections.Add(new Rejection(_devices[index].Info.Id, create.Candidate, RejectionCode.InUse, $"PCI function {address} ({create.Parent.Name}) is being passed through whole by another plan ({holder}), so no mdev is created on it."));
            return true;
        }

        return false;
    }

    /// <summary>Whether this plan's assignment creates mdevs on the function at <paramref name="address"/> (so it cannot also pass it through whole).</summary>
    private bool GetsNewMdevs(PciAddress address) =>
        _assignment.Any(assigned => assigned switch
        {
            CreateOption create => create.Parent.Address == address,
            ProvisionedOption made => made.Parent.Address == address,
            _ => false,
        });

    private void Take(int index, TargetOption option)
    {
        if (option is CreateOption create)
        {
            _planned[create.Slot] = _planned.GetValueOrDefault(create.Slot) + 1;
            AddParentType(create.Parent.Name, create.Type.Id);
        }
        else
        {
            // Claimed with the whole assignment (ClaimAssignmentAsync); taken here so the search gives it to no other device.
            _taken.Add(option.ClaimKey!);
            if (option is VfOption { Configured: false } vf)
            {
                var slot = Slot(vf);
                AddParentType(slot.Parent, slot.Type);
            }
        }

        _assignment[index] = option;
    }

    /// <summary>
    /// Claims the existing devices of the assignment this plan does not hold yet, in one call, and
    /// once it holds them all releases (in one call) those an earlier search claimed and this one no
    /// longer takes. False when a racing plan claimed one first: it is held from now on, rejected as
    /// in use, and the search must run again.
    /// </summary>
    private async Task<bool> ClaimAssignmentAsync(CancellationToken cancellationToken)
    {
        var wanted = Enumerable.Range(0, _devices.Length)
            .Where(i => _pinned[i] is null && _assignment[i] is not CreateOption)
            .Select(i => (Index: i, Option: _assignment[i]!, Key: _assignment[i]!.ClaimKey!))
            .ToList();
        var toClaim = wanted.Where(w => !_heldClaims.Contains(w.Key)).ToList();
        var holders = toClaim.Count == 0 ? [] : await _services.Claims.TryClaimManyAsync(_host.Key, [.. toClaim.Select(w => w.Key)], _planId, cancellationToken).ConfigureAwait(false);
        var lost = false;
        foreach (var (claim, holder) in toClaim.Zip(holders))
        {
            if (holder is null)
            {
                _heldClaims.Add(claim.Key);
            }
            else
            {
                OthersClaims[claim.Key] = holder;
                _rejections.Add(InUse(claim.Index, claim.Option.Candidate, holder));
                lost = true;
            }
        }

        if (lost)
        {
            return false;
        }

        var pinned = _pinned.Select(p => p?.ClaimKey).OfType<string>().ToHashSet(StringComparer.Ordinal);
        var unused = _heldClaims.Where(k => !pinned.Contains(k) && wanted.All(w => w.Key != k)).ToList();
        if (unused.Count > 0)
        {
            await _services.Claims.ReleaseManyAsync(_host.Key, unused, _planId, CancellationToken.None).ConfigureAwait(false);
            _heldClaims.ExceptWith(unused);
        }

        return true;
    }

    private Rejection InUse(int index, string candidate, ClaimHolder holder) =>
        new(_devices[index].Info.Id, candidate, RejectionCode.InUse, $"{candidate} is claimed by another plan ({holder}).");

    private void Undo(int index, TargetOption option)
    {
        _assignment[index] = null;
        if (option is CreateOption create)
        {
            _planned[create.Slot]--;
            RemoveParentType(create.Parent.Name);
        }
        else
        {
            _taken.Remove(option.ClaimKey!);
            if (option is VfOption { Configured: false } vf)
            {
                RemoveParentType(Slot(vf).Parent);
            }
        }
    }

    private void AddParentType(DeviceName parent, MdevTypeId type) =>
        _parentTypes[parent] = _parentTypes.TryGetValue(parent, out var held) ? (held.Type, held.Count + 1) : (type, 1);

    private void RemoveParentType(DeviceName parent)
    {
        var held = _parentTypes[parent];
        if (held.Count == 1)
        {
            _parentTypes.Remove(parent);
        }
        else
        {
            _parentTypes[parent] = (held.Type, held.Count - 1);
        }
    }

    /// <summary>Ends the plan in the store: every claim goes except those of devices that could not be removed.</summary>
    private async Task EndPlanAsync()
    {
        await _journal.EndAsync().ConfigureAwait(false);
        _heldClaims.Clear();
    }

    // ---- provisioning ------------------------------------------------------------------------

    /// <summary>
    /// Creates the new mdevs the assignment needs (different parents at once, see
    /// <see cref="MdevProvisioner.CreateAllAsync"/>), then applies the results in device order, so
    /// the plan does not depend on which create finished first. False when one failed: what was made
    /// stays pinned, and the search runs again without the failed slot.
    /// </summary>
    private async Task<bool> ProvisionAsync(CancellationToken cancellationToken)
    {
        var pending = new List<PendingCreate>();
        for (var i = 0; i < _devices.Length; i++)
        {
            if (_pinned[i] is null && _assignment[i] is CreateOption create)
            {
                var (uuid, action, note) = ChooseUuid(_devices[i]);
                pending.Add(new PendingCreate(i, _scheduledCreates++, _devices[i], create, _verdicts[(i, create)], uuid, action, note));
            }
        }

        var pendingVfs = new List<PendingVf>();
        for (var i = 0; i < _devices.Length; i++)
        {
            if (_pinned[i] is null && _assignment[i] is VfOption { Configured: false } vf)
            {
                pendingVfs.Add(new PendingVf(i, _scheduledCreates++, _devices[i], vf));
            }
        }

        var results = await Provisioner.CreateAllAsync(pending, cancellationToken).ConfigureAwait(false);
        var vfResults = await _vfProvisioner!.ConfigureAllAsync(pendingVfs, cancellationToken).ConfigureAwait(false);
        foreach (var result in results.Select(r => (r.Pending.Index, Result: (object)r)).Concat(vfResults.Select(r => (r.Pending.Index, Result: (object)r))).OrderBy(r => r.Index))
        {
            if (result.Result is CreateResult created)
            {
                Apply(created);
            }
            else
            {
                Apply((VfResult)result.Result);
            }
        }

        return results.Count == pending.Count && results.All(r => r.Made is not null)
            && vfResults.Count == pendingVfs.Count && vfResults.All(r => r.Made is not null);
    }

    private void Apply(VfResult result)
    {
        var (index, vf) = (result.Pending.Index, result.Pending.Vf);
        if (result.Made is { } made)
        {
            Pin(index, made);
            return;
        }

        _rejections.Add(result.Refusal!);
        if (result.DeviceRefused)
        {
            // The configured VF refused the version (it was reset): like a refused new mdev's (parent, type), the
            // GPU's unconfigured VFs of that type are out for every device with the same version (they would
            // answer the same; configuring each to hear it would waste a configuration); the search tries the next GPU.
            RuleOut(result.Pending.Source, o => o is VfOption { Configured: false } other && other.Pf == vf.Pf && other.Type.Id == vf.Type.Id);
        }
        else
        {
            // Nothing could be configured there: the GPU is closed for this type in this plan.
            _closedSlots.Add(Slot(vf));
        }
    }

    private void Pin(int index, TargetOption made)
    {
        _heldClaims.Add(made.ClaimKey!);
        _pinned[index] = made;
        _assignment[index] = made;
    }

    /// <summary>Rules the candidates <paramref name="which"/> picks out for every device with the version of <paramref name="refused"/>.</summary>
    private void RuleOut(SourceDevice refused, Func<TargetOption, bool> which)
    {
        for (var j = 0; j < _devices.Length; j++)
        {
            if (_devices[j].Version.Value == refused.Version.Value)
            {
                foreach (var option in _candidates[j].Where(which))
                {
                    _verdicts[(j, option)] = OptionVerdict.Rejected;
                }
            }
        }
    }

    private void Apply(CreateResult result)
    {
        var (index, create) = (result.Pending.Index, result.Pending.Create);
        if (result.Made is { } made)
        {
            Pin(index, made);
            _keptOnSlot[create.Slot] = _keptOnSlot.GetValueOrDefault(create.Slot) + 1;
            return;
        }

        _rejections.Add(result.Refusal!);

        if (result.DeviceRefused)
        {
            // The created device refused the version: the (parent, type) is out for every device with the same version.
            RuleOut(result.Pending.Source, o => o == create);
        }
        else
        {
            // No device could be made there: the (parent, type) is closed for this plan.
            _closedSlots.Add(create.Slot);
        }
    }

    private (MdevUuid Uuid, DeviceAction Action, string? Note) ChooseUuid(SourceDevice source)
    {
        if (_options.UuidStrategy == UuidStrategy.Preserve && source.Info.Uuid is { } own)
        {
            if (Evaluator.Inventory.Inventory.Mdevs.Any(m => m.Uuid == own) || OthersClaims.ContainsKey(TargetKeys.Mdev(own)) || _heldClaims.Contains(TargetKeys.Mdev(own)))
            {
                return (MdevUuid.NewRandom(), DeviceAction.Create, $"the source UUID {own} is taken on {_host.Name}, so a new UUID is used");
            }

            return (own, DeviceAction.PreserveUuid, null);
        }

        return (MdevUuid.NewRandom(), DeviceAction.Create, null);
    }

    // ---- the plan ----------------------------------------------------------------------------

    private PlanContent Complete()
    {
        var devices = new List<PlannedDevice>(_devices.Length);
        for (var i = 0; i < _devices.Length; i++)
        {
            devices.Add(ToPlanned(i, _assignment[i]!));
        }

        var xml = _services.RewriteXml(_facts.Guest.MigratableXml, devices.ToDictionary(d => d.Source.Ordinal, d => d.Target.Target));
        return Content(isComplete: true, devices, [], xml, null);
    }

    private async Task<PlanContent> FailAsync(IReadOnlyList<string> reasons)
    {
        await _journal.RollbackAsync().ConfigureAwait(false);
        await EndPlanAsync().ConfigureAwait(false);
        var partial = new List<PlannedDevice>();
        for (var i = 0; i < _deepestPartial.Length; i++)
        {
            if (_deepestPartial[i] is { } option and not CreateOption and not ProvisionedOption and not ConfiguredVfOption and not VfOption { Configured: false })
            {
                partial.Add(ToPlanned(i, option));
            }
        }

        var allReasons = reasons.Concat(_journal.Failures.Select(f => $"Could not remove mdev {f.Uuid} on {f.Host}: {f.Message}.")).ToList();
        Log.PlanFailed(_services.Logger, _facts.Guest.Devices.Name, _host.Name, allReasons);
        return Content(isComplete: false, partial, allReasons, null, "the plan is not complete");
    }

    private PlanContent Content(bool isComplete, IReadOnlyList<PlannedDevice> devices, IReadOnlyList<string> reasons, string? xml, string? xmlNote) =>
        new(_facts.Guest.Devices.Name, _facts.Guest.Devices.Uuid, isComplete, devices, _rejections.Items, reasons, xml, xmlNote, _counters.Snapshot() with { ConnectMs = (long)(_source.ConnectTime + _host.ConnectTime).TotalMilliseconds, DestinationRoundTrips = _host.FileSystem.RoundTrips - _roundTripsBefore }, _preflight);

    private List<string> UnplacedReasons()
    {
        var reasons = new List<string>();
        if (_stepLimitHit)
        {
            reasons.Add($"The assignment search gave up after {_options.MaxSearchSteps} steps (PlanOptions.MaxSearchSteps).");
        }

        // The search stops at the first device it cannot place; the devices after it were not examined.
        var i = _unplaceable ?? Math.Max(_deepest, 0);
        if (i < _devices.Length)
        {
            var source = _devices[i].Info;
            // A candidate is out when its probe said no, or when creating it failed (its slot closed).
            var ruledOut = _candidates[i].Count(option =>
                (_verdicts.TryGetValue((i, option), out var verdict) && !Acceptable(verdict))
                || (IsNew(option) && _closedSlots.Contains(NewSlot(option))));
            var open = _candidates[i].Count - ruledOut;
            var message = _candidates[i].Count == 0
                ? $"The {Describe(source)} could not be placed on {_host.Name}: the host has no free device of that type and no parent that can create one ({_rejections.CountFor(source.Id)} rejected; see the rejections)."
                : open == 0
                ? $"The {Describe(source)} could not be placed on {_host.Name}: no candidate accepts it ({_rejections.CountFor(source.Id)} rejected; see the rejections)."
                : $"The {Describe(source)} could not be placed on {_host.Name}: its {open} remaining candidate(s) are needed by other devices of this guest, or their parents lack the capacity for all of them.";
            _rejections.Add(new Rejection(source.Id, null, RejectionCode.NotPlaced, message));
            reasons.Add(message);
        }

        return reasons;
    }

    private PlannedDevice ToPlanned(int index, TargetOption option)
    {
        var source = _devices[index];
        switch (option)
        {
            case ConfiguredVfOption configured:
                return new PlannedDevice(source.Info, VfTarget(configured.Vf), DeviceAction.Create, configured.Verification, configured.Probe, configured.Note);
            case ProvisionedOption made:
                return new PlannedDevice(source.Info, new TargetDeviceInfo(new MdevTarget(made.Uuid), made.Parent.Name.Value, made.Type.Value), made.Action, made.Verification, made.Probe, MdevProvisioner.Join(made.Note, Evaluator.Inventory.NoteFor(made.Parent.Name)));
            default:
                var verdict = _verdicts[(index, option)];
                var target = option switch
                {
                    ExistingMdevOption mdev => new TargetDeviceInfo(new MdevTarget(mdev.Mdev.Uuid), mdev.Mdev.Parent?.Value, mdev.Mdev.Type.Value),
                    VfOption vf => VfTarget(vf),
                    PciOption pci => new TargetDeviceInfo(new PciTarget(pci.Device.Address), null, pci.Match == MatchKind.SameType ? source.Info.Type : SourceReader.PciIdsType(pci.Device.VendorId, pci.Device.ProductId)),
                    _ => throw new ArgumentOutOfRangeException(nameof(option), option, "A new mdev is planned only once created."),
                };
                var verified = verdict.Kind == VerdictKind.Verified;
                var note = MdevProvisioner.Join(verified ? null : verdict.Note, Evaluator.Inventory.NoteFor((option as ExistingMdevOption)?.Mdev.Parent));
                return new PlannedDevice(source.Info, target, DeviceAction.Reuse, verified ? Verification.Verified : Verification.Unverified, verified ? verdict.Probe : null, note);
        }
    }

    private static TargetDeviceInfo VfTarget(VfOption vf) => new(new PciTarget(vf.Vf.Address), vf.Pf.ToString(), vf.Type.Display);

    private bool Acceptable(OptionVerdict verdict) =>
        verdict.Kind is VerdictKind.Verified or VerdictKind.NeedsCreation
        || (verdict.Kind == VerdictKind.Unverified && _options.VerificationPolicy == VerificationPolicy.AllowTypeMatch);

    private static string Describe(SourceDeviceInfo source) => source.Kind switch
    {
        SourceDeviceKind.Mdev => $"mdev {source.Id} (type {source.Type})",
        SourceDeviceKind.VfVgpu => $"VF vGPU {source.Id} ({source.Type})",
        _ => $"PCI function {source.Id} ({source.Type})",
    };
}
