using System.Diagnostics;
using Microsoft.Extensions.Logging;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Diagnostics;
using VfioMigration.Planner.Hypervisor;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.Planner.Planning;

/// <summary>Rewrites the source domain XML so each host device's source names its destination target (keyed by <see cref="HostDevice.Ordinal"/>).</summary>
internal delegate string DestinationXmlRewrite(string sourceDomainXml, IReadOnlyDictionary<int, DeviceTarget> targetsByOrdinal);

/// <summary>What every destination plan shares: the planner's services.</summary>
internal sealed record PlannerServices(IVerdictCache VerdictCache, TimeProvider Time, TargetClaimRegistry Claims, ILogger Logger, DestinationXmlRewrite RewriteXml);

/// <summary>
/// Plans one guest onto one destination: candidates, verdicts, an assignment of distinct targets,
/// provisioning with confirmation, and rollback of everything it created when it does not finish.
/// Not thread-safe: one instance per (plan, destination).
/// </summary>
internal sealed class DestinationPlanner
{
    private const string MigrationVersion = "migration_version";

    private readonly SourceFacts _facts;
    private readonly MigrationHost _source;
    private readonly MigrationHost _host;
    private readonly PlanOptions _options;
    private readonly PlannerServices _services;
    private readonly Guid _planId = Guid.NewGuid();
    private readonly PlanCounters _counters = new();
    private readonly ProvisioningJournal _journal;
    private readonly RejectionLog _rejections;
    private readonly HashSet<string> _heldClaims = [];
    private readonly List<RemovalFailure> _removalFailures = [];

    private SourceDevice[] _devices = [];
    private IReadOnlyList<TargetOption>[] _candidates = [];
    private ProvisionedOption?[] _pinned = [];
    private readonly Dictionary<(int Device, TargetOption Option), OptionVerdict> _verdicts = [];
    private readonly HashSet<(DeviceName, MdevTypeId)> _closedSlots = [];
    private readonly Dictionary<(DeviceName, MdevTypeId), int> _keptOnSlot = [];
    private CandidateEvaluator? _evaluator;
    private ProbeRunner? _probes;

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

    public DestinationPlanner(SourceFacts facts, MigrationHost source, MigrationHost destination, PlanOptions options, PlannerServices services)
    {
        _facts = facts;
        _source = source;
        _host = destination;
        _options = options;
        _services = services;
        _counters.Add(facts.Cost);
        _journal = new ProvisioningJournal(destination, services.Claims, _planId, _counters, services.Logger);
        _rejections = new RejectionLog(destination.Name, services.Logger);
    }

    private CandidateEvaluator Evaluator => _evaluator ?? throw new InvalidOperationException("The destination inventory has not been loaded.");

    private ProbeRunner Probes => _probes ?? throw new InvalidOperationException("The destination inventory has not been loaded.");

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
            return new MigrationPlan(content, new PlanResources(_journal, _services.Claims, _planId, _heldClaims, _source, _services.Logger));
        }
        catch (Exception error) when (error is HypervisorException or IOException)
        {
            // This destination cannot be planned (unreachable, libvirt refusing): it becomes a failed plan with the reason, so the other destinations still count.
            activity?.SetStatus(ActivityStatusCode.Error, error.Message);
            var content = await FailAsync([$"Planning on {_host.Name} stopped: {error.Message}"]).ConfigureAwait(false);
            return new MigrationPlan(content, new PlanResources(_journal, _services.Claims, _planId, _heldClaims, _source, _services.Logger));
        }
        catch (Exception error)
        {
            activity?.SetStatus(ActivityStatusCode.Error, error.Message);
            var failures = await _journal.RollbackAsync().ConfigureAwait(false);
            ReleaseClaims();
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

        var inventory = await DestinationInventory.LoadAsync(_host, _counters, _services.Logger, cancellationToken).ConfigureAwait(false);
        _probes = new ProbeRunner(_host, _options, _services.VerdictCache, _services.Time, _counters, _services.Logger);
        _evaluator = new CandidateEvaluator(_host, _options, inventory, _probes, _rejections, _counters);
        _devices = [.. plannable];
        _candidates = [.. _devices.Select(Evaluator.ListCandidates)];
        _pinned = new ProvisionedOption?[_devices.Length];

        // Passes, most preferred first: verified before unverified; one mdev type per parent before
        // mixing types on a parent. Cards that allow one type at a time (NVIDIA) cannot mix, and
        // nothing in sysfs says which cards those are; pools that mix (GVT-g, mtty) can. A mixing
        // pass is safe on both: before each create the planner re-reads available_instances, which
        // such a card shows as 0 once another type exists there, and the search moves on.
        var verification = _options.VerificationPolicy == VerificationPolicy.AllowTypeMatch ? new[] { false, true } : [false];
        foreach (var allowUnverified in verification)
        {
            foreach (var mixTypes in (bool[])[false, true])
            {
                _mixTypes = mixTypes;
                while (await SearchAsync(allowUnverified, cancellationToken).ConfigureAwait(false))
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
    /// Depth-first search for distinct targets, in preference order, evaluating a candidate only
    /// when the search reaches it (verdicts are memoised, so backtracking never probes twice).
    /// </summary>
    private async Task<bool> SearchAsync(bool allowUnverified, CancellationToken cancellationToken)
    {
        ReleaseSearchClaims();
        _assignment = new TargetOption?[_devices.Length];
        _deepestPartial = new TargetOption?[_devices.Length];
        _planned.Clear();
        _parentTypes.Clear();
        _taken.Clear();
        _steps = 0;
        _deepest = -1;
        _unplaceable = null;
        _stepLimitHit = false;
        foreach (var pinned in _pinned.OfType<ProvisionedOption>())
        {
            _taken.Add(pinned.ClaimKey!);
            AddParentType(pinned.Parent.Name, pinned.Type);
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
            if (!TryApply(index, option))
            {
                anyBlocked = true;
                continue;
            }

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
        var firstCreate = candidates.TakeWhile(o => o is not CreateOption).Count();
        var creates = candidates.OfType<CreateOption>();
        var ordered = _options.Placement == PlacementPreference.Pack
            ? creates.OrderBy(c => _parentTypes.ContainsKey(c.Parent.Name) ? 0 : 1).ThenBy(Remaining).ThenBy(c => c.Parent.Name.Value, StringComparer.Ordinal)
            : creates.OrderBy(c => _parentTypes.ContainsKey(c.Parent.Name) ? 1 : 0).ThenByDescending(Remaining).ThenBy(c => c.Parent.Name.Value, StringComparer.Ordinal);
        return [.. candidates.Take(firstCreate), .. ordered, .. candidates.Skip(firstCreate).Where(o => o is not CreateOption)];
    }

    private int Remaining(CreateOption option) =>
        _closedSlots.Contains(option.Slot)
            ? 0
            : option.Type.AvailableInstances - _keptOnSlot.GetValueOrDefault(option.Slot) - _planned.GetValueOrDefault(option.Slot);

    private bool Fits(int index, TargetOption option)
    {
        switch (option)
        {
            case CreateOption create:
                // One type per parent within a plan unless this pass mixes types (see BuildAsync).
                return Remaining(create) > 0 && (_mixTypes || !_parentTypes.TryGetValue(create.Parent.Name, out var existing) || existing.Type == create.Type.Id);
            default:
                var key = option.ClaimKey!;
                if (_taken.Contains(key))
                {
                    return false;
                }

                if (_services.Claims.IsClaimedByOther(_host.Key, key, _planId))
                {
                    _rejections.Add(new Rejection(_devices[index].Info.Id, option.Candidate, RejectionCode.InUse, $"{option.Candidate} is claimed by another plan running in this process."));
                    return false;
                }

                return true;
        }
    }

    private bool TryApply(int index, TargetOption option)
    {
        if (option is CreateOption create)
        {
            _planned[create.Slot] = _planned.GetValueOrDefault(create.Slot) + 1;
            AddParentType(create.Parent.Name, create.Type.Id);
        }
        else
        {
            var key = option.ClaimKey!;
            if (!_services.Claims.TryClaim(_host.Key, key, _planId))
            {
                _rejections.Add(new Rejection(_devices[index].Info.Id, option.Candidate, RejectionCode.InUse, $"{option.Candidate} is claimed by another plan running in this process."));
                return false;
            }

            _heldClaims.Add(key);
            _taken.Add(key);
        }

        _assignment[index] = option;
        return true;
    }

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
            var key = option.ClaimKey!;
            _taken.Remove(key);
            _heldClaims.Remove(key);
            _services.Claims.Release(_host.Key, key, _planId);
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

    /// <summary>Releases the claims of existing devices taken by an earlier search; created devices keep theirs.</summary>
    private void ReleaseSearchClaims()
    {
        foreach (var key in _taken.Where(k => _pinned.All(p => p?.ClaimKey != k)).ToList())
        {
            _heldClaims.Remove(key);
            _services.Claims.Release(_host.Key, key, _planId);
        }
    }

    /// <summary>Releases every claim except those of devices that could not be removed.</summary>
    private void ReleaseClaims()
    {
        var stuck = _journal.Stuck;
        foreach (var key in _heldClaims.Where(k => !stuck.Contains(k)))
        {
            _services.Claims.Release(_host.Key, key, _planId);
        }

        _heldClaims.Clear();
    }

    // ---- provisioning ------------------------------------------------------------------------

    /// <summary>Creates the new mdevs the assignment needs; false when one failed (the search then runs again without it).</summary>
    private async Task<bool> ProvisionAsync(CancellationToken cancellationToken)
    {
        for (var i = 0; i < _devices.Length; i++)
        {
            if (_pinned[i] is null && _assignment[i] is CreateOption create)
            {
                var made = await CreateAndConfirmAsync(i, create, cancellationToken).ConfigureAwait(false);
                if (made is null)
                {
                    return false;
                }

                _pinned[i] = made;
                _assignment[i] = made;
                _keptOnSlot[create.Slot] = _keptOnSlot.GetValueOrDefault(create.Slot) + 1;
            }
        }

        return true;
    }

    private async Task<ProvisionedOption?> CreateAndConfirmAsync(int index, CreateOption create, CancellationToken cancellationToken)
    {
        var source = _devices[index];

        // available_instances is advisory and may have changed since the inventory: one cheap read before creating.
        var availablePath = SysfsPath.TypeAttribute(create.Parent.SysfsName, create.Type.Id, "available_instances");
        var available = await _host.FileSystem.ReadAsync(availablePath, cancellationToken).ConfigureAwait(false);
        _counters.SysfsReads(1);
        if (available.Succeeded && int.TryParse(available.Value?.Trim(), System.Globalization.CultureInfo.InvariantCulture, out var now) && now <= 0)
        {
            return CloseSlot(source, create, RejectionCode.NoCapacity, $"Parent {create.Parent.Name} can create no more {create.Type.Id} instances now (available_instances is {now}; the inventory said {create.Type.AvailableInstances}).", null);
        }

        var (uuid, action, note) = ChooseUuid(source);
        var outcome = await CreateDeviceAsync(create, uuid, cancellationToken).ConfigureAwait(false);
        if (outcome.Errno == Errno.EEXIST && action == DeviceAction.PreserveUuid)
        {
            (uuid, action, note) = (MdevUuid.NewRandom(), DeviceAction.Create, $"the source UUID {source.Info.Uuid} already exists on {_host.Name}, so a new UUID is used");
            outcome = await CreateDeviceAsync(create, uuid, cancellationToken).ConfigureAwait(false);
        }

        if (outcome.Failure is { } failure)
        {
            return CloseSlot(source, create, failure.Code, failure.Message, failure.Errno);
        }

        var typeVerdict = _verdicts[(index, create)];
        if (source.Version.Value is not { } version)
        {
            return new ProvisionedOption(uuid, create.Parent, create.Type.Id, action, Verification.Unverified, null, Join(typeVerdict.Note, note));
        }

        // A type-level yes is a prediction: the created device has the last word when it has the attribute.
        var probe = await Probes.ProbeAsync(ProbePoint.MdevDevice, SysfsPath.MdevAttribute(uuid, MigrationVersion), version, cancellationToken).ConfigureAwait(false);
        switch (probe.Outcome)
        {
            case ProbeOutcome.Accepted:
                return new ProvisionedOption(uuid, create.Parent, create.Type.Id, action, Verification.Verified, probe.Record, note);
            case ProbeOutcome.Absent when typeVerdict.Kind == VerdictKind.Verified:
                return new ProvisionedOption(uuid, create.Parent, create.Type.Id, action, Verification.Verified, typeVerdict.Probe, Join("the created device has no migration_version; verified at the type level before creating", note));
            case ProbeOutcome.Absent when _options.VerificationPolicy == VerificationPolicy.AllowTypeMatch:
                return new ProvisionedOption(uuid, create.Parent, create.Type.Id, action, Verification.Unverified, null, Join($"not verified: neither type {create.Type.Id} on {create.Parent.Name} nor the created device has migration_version", note));
            case ProbeOutcome.Absent:
                await RejectCreatedAsync(create, uuid, version, new Rejection(source.Info.Id, create.Candidate, RejectionCode.Unverifiable, $"Neither type {create.Type.Id} on {create.Parent.Name} nor the mdev {uuid} created there has a migration_version attribute, so nothing can verify it, and the policy RequireVerified accepts only verified targets.")).ConfigureAwait(false);
                return null;
            default:
                await RejectCreatedAsync(create, uuid, version, Evaluator.ProbeRejection(source, create.Candidate, probe, $"the mdev {uuid} just created from type {create.Type.Id} on {create.Parent.Name}")).ConfigureAwait(false);
                return null;
        }
    }

    /// <summary>Removes a created device the confirmation refused, and rules the (parent, type) out for every device with the same version.</summary>
    private async Task RejectCreatedAsync(CreateOption create, MdevUuid uuid, string version, Rejection rejection)
    {
        _rejections.Add(rejection);
        if (await _journal.RemoveAsync(uuid).ConfigureAwait(false) is { } failure)
        {
            _removalFailures.Add(failure);
        }

        for (var j = 0; j < _devices.Length; j++)
        {
            if (_devices[j].Version.Value == version && _candidates[j].Contains(create))
            {
                _verdicts[(j, create)] = OptionVerdict.Rejected;
            }
        }
    }

    /// <summary>Records a failed create and closes the (parent, type) for this plan.</summary>
    private ProvisionedOption? CloseSlot(SourceDevice source, CreateOption create, RejectionCode code, string message, Errno? errno)
    {
        _rejections.Add(new Rejection(source.Info.Id, create.Candidate, code, message, errno));
        _closedSlots.Add(create.Slot);
        return null;
    }

    private (MdevUuid Uuid, DeviceAction Action, string? Note) ChooseUuid(SourceDevice source)
    {
        if (_options.UuidStrategy == UuidStrategy.Preserve && source.Info.Uuid is { } own)
        {
            if (Evaluator.Inventory.Inventory.Mdevs.Any(m => m.Uuid == own) || _services.Claims.IsClaimedByOther(_host.Key, TargetKeys.Mdev(own), _planId) || _heldClaims.Contains(TargetKeys.Mdev(own)))
            {
                return (MdevUuid.NewRandom(), DeviceAction.Create, $"the source UUID {own} is taken on {_host.Name}, so a new UUID is used");
            }

            return (own, DeviceAction.PreserveUuid, null);
        }

        return (MdevUuid.NewRandom(), DeviceAction.Create, null);
    }

    private sealed record CreateFailure(RejectionCode Code, string Message, Errno? Errno);

    private sealed record CreateOutcome(CreateFailure? Failure)
    {
        public Errno? Errno => Failure?.Errno;
    }

    /// <summary>Creates the mdev through libvirt, or through sysfs where libvirt cannot; journals it as soon as it exists.</summary>
    private async Task<CreateOutcome> CreateDeviceAsync(CreateOption create, MdevUuid uuid, CancellationToken cancellationToken)
    {
        var key = TargetKeys.Mdev(uuid);
        if (!_services.Claims.TryClaim(_host.Key, key, _planId))
        {
            return new CreateOutcome(new CreateFailure(RejectionCode.CreateFailed, $"The UUID {uuid} is claimed by another plan running in this process.", Errno.EEXIST));
        }

        _heldClaims.Add(key);
        var created = await CreateClaimedAsync(create, uuid, cancellationToken).ConfigureAwait(false);
        if (created.Failure is not null)
        {
            _heldClaims.Remove(key);
            _services.Claims.Release(_host.Key, key, _planId);
        }

        return created;
    }

    private async Task<CreateOutcome> CreateClaimedAsync(CreateOption create, MdevUuid uuid, CancellationToken cancellationToken)
    {
        if (Evaluator.Inventory.IsSysfsOnly(create.Parent))
        {
            // libvirt has no node device for this parent, so its node-device API cannot name it.
            return await CreateThroughSysfsAsync(create, uuid, cancellationToken).ConfigureAwait(false);
        }

        var request = new MdevCreation(create.Parent.Name, create.Type.Id, uuid, _options.PersistentMdevs);
        try
        {
            _counters.HypervisorCall();
            await _host.Hypervisor.CreateMdevAsync(request, cancellationToken).ConfigureAwait(false);
            _journal.Record(uuid, create.Parent, create.Type.Id, CreationMethod.Libvirt, _options.PersistentMdevs);
            return new CreateOutcome(null);
        }
        catch (HypervisorNotSupportedException unsupported)
        {
            Log.CreateFallsBackToSysfs(_services.Logger, _host.Name, unsupported.Message);
        }
        catch (HypervisorException error)
        {
            // libvirt waits for mdevctl and can give up while the device is being made: look before concluding.
            if (await ListedByLibvirtAsync(uuid, CancellationToken.None).ConfigureAwait(false))
            {
                Log.CreateReportedFailureButExists(_services.Logger, uuid, _host.Name, error.Message);
                _journal.Record(uuid, create.Parent, create.Type.Id, CreationMethod.Libvirt, _options.PersistentMdevs);
                return new CreateOutcome(null);
            }

            return new CreateOutcome(new CreateFailure(RejectionCode.CreateFailed, $"libvirt could not create a {create.Type.Id} mdev on {create.Parent.Name}: {error.Message}", null));
        }
        catch (OperationCanceledException)
        {
            if (await ListedByLibvirtAsync(uuid, CancellationToken.None).ConfigureAwait(false))
            {
                _journal.Record(uuid, create.Parent, create.Type.Id, CreationMethod.Libvirt, _options.PersistentMdevs);
            }

            throw;
        }

        return await CreateThroughSysfsAsync(create, uuid, cancellationToken).ConfigureAwait(false);
    }

    private async Task<CreateOutcome> CreateThroughSysfsAsync(CreateOption create, MdevUuid uuid, CancellationToken cancellationToken)
    {
        var path = SysfsPath.TypeAttribute(create.Parent.SysfsName, create.Type.Id, "create");
        SysfsResult written;
        try
        {
            written = await _host.FileSystem.WriteAsync(path, uuid.Value, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The write may have reached the kernel before the wait was cancelled.
            var link = await _host.FileSystem.ReadLinkAsync(SysfsPath.MdevAttribute(uuid, "mdev_type"), CancellationToken.None).ConfigureAwait(false);
            if (link.Succeeded)
            {
                _journal.Record(uuid, create.Parent, create.Type.Id, CreationMethod.Sysfs, persistent: false);
            }

            throw;
        }
        catch (IOException)
        {
            // The host went away mid-write (a remote sysfs): the kernel may have created the device.
            // Journal it, so the rollback removes it or reports it left behind; a device that was
            // never made answers the removal with ENOENT, which counts as removed.
            _journal.Record(uuid, create.Parent, create.Type.Id, CreationMethod.Sysfs, persistent: false);
            throw;
        }

        if (written.Succeeded)
        {
            _journal.Record(uuid, create.Parent, create.Type.Id, CreationMethod.Sysfs, persistent: false);
            return new CreateOutcome(null);
        }

        // EUSERS is the mdev core's "no instances left"; ENOSPC is mtty's own; EPERM older vfio-ccw/ap.
        return written.Error is Errno.EUSERS or Errno.ENOSPC or Errno.EPERM
            ? new CreateOutcome(new CreateFailure(RejectionCode.NoCapacity, $"Parent {create.Parent.Name} refused another {create.Type.Id} instance: writing the UUID to {path} failed with {written.Error} (no instances left).", written.Error))
            : new CreateOutcome(new CreateFailure(RejectionCode.CreateFailed, $"Creating a {create.Type.Id} mdev on {create.Parent.Name} failed: writing the UUID to {path} failed with {written.Error}.", written.Error));
    }

    private async Task<bool> ListedByLibvirtAsync(MdevUuid uuid, CancellationToken cancellationToken)
    {
        try
        {
            _counters.HypervisorCall();
            var listed = await _host.Hypervisor.GetInventoryAsync(InventoryScope.Mdevs, cancellationToken).ConfigureAwait(false);
            return listed.Mdevs.Any(m => m.Uuid == uuid);
        }
        catch (HypervisorException)
        {
            // Cannot tell: journal nothing, so rollback does not report a device that was never made.
            return false;
        }
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
        var failures = await _journal.RollbackAsync().ConfigureAwait(false);
        _removalFailures.AddRange(failures);
        ReleaseClaims();
        var partial = new List<PlannedDevice>();
        for (var i = 0; i < _deepestPartial.Length; i++)
        {
            if (_deepestPartial[i] is { } option and not CreateOption and not ProvisionedOption)
            {
                partial.Add(ToPlanned(i, option));
            }
        }

        var allReasons = reasons.Concat(_removalFailures.Select(f => $"Could not remove mdev {f.Uuid} on {f.Host}: {f.Message}.")).ToList();
        Log.PlanFailed(_services.Logger, _facts.Guest.Devices.Name, _host.Name, allReasons);
        return Content(isComplete: false, partial, allReasons, null, "the plan is not complete");
    }

    private PlanContent Content(bool isComplete, IReadOnlyList<PlannedDevice> devices, IReadOnlyList<string> reasons, string? xml, string? xmlNote) =>
        new(_facts.Guest.Devices.Name, _facts.Guest.Devices.Uuid, isComplete, devices, _rejections.Items, reasons, xml, xmlNote, _counters.Snapshot(), [.. _removalFailures]);

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
                || (option is CreateOption create && _closedSlots.Contains(create.Slot)));
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
            case ProvisionedOption made:
                return new PlannedDevice(source.Info, new TargetDeviceInfo(new MdevTarget(made.Uuid), made.Parent.Name.Value, made.Type.Value), made.Action, made.Verification, made.Probe, Join(made.Note, Evaluator.Inventory.NoteFor(made.Parent.Name)));
            default:
                var verdict = _verdicts[(index, option)];
                var target = option switch
                {
                    ExistingMdevOption mdev => new TargetDeviceInfo(new MdevTarget(mdev.Mdev.Uuid), mdev.Mdev.Parent?.Value, mdev.Mdev.Type.Value),
                    PciOption pci => new TargetDeviceInfo(new PciTarget(pci.Device.Address), null, pci.Match == MatchKind.SameType ? source.Info.Type : SourceReader.PciIdsType(pci.Device.VendorId, pci.Device.ProductId)),
                    _ => throw new ArgumentOutOfRangeException(nameof(option), option, "A new mdev is planned only once created."),
                };
                var verified = verdict.Kind == VerdictKind.Verified;
                var note = Join(verified ? null : verdict.Note, Evaluator.Inventory.NoteFor((option as ExistingMdevOption)?.Mdev.Parent));
                return new PlannedDevice(source.Info, target, DeviceAction.Reuse, verified ? Verification.Verified : Verification.Unverified, verified ? verdict.Probe : null, note);
        }
    }

    private bool Acceptable(OptionVerdict verdict) =>
        verdict.Kind is VerdictKind.Verified or VerdictKind.NeedsCreation
        || (verdict.Kind == VerdictKind.Unverified && _options.VerificationPolicy == VerificationPolicy.AllowTypeMatch);

    private static string Describe(SourceDeviceInfo source) =>
        source.Kind == SourceDeviceKind.Mdev ? $"mdev {source.Id} (type {source.Type})" : $"PCI function {source.Id} ({source.Type})";

    private static string? Join(string? first, string? second) =>
        (first, second) switch
        {
            (null, _) => second,
            (_, null) => first,
            _ => $"{first}; {second}",
        };
}
