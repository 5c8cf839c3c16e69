using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Diagnostics;
using VfioMigration.Planner.Hypervisor;
using VfioMigration.Planner.State;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.Planner.Planning;

/// <summary>
/// One mdev an assignment needs, with everything the planner decided before creating it: the source
/// device (and its <paramref name="Index"/> in the plan), the (parent, type), the type-level verdict,
/// the UUID. <paramref name="Order"/> is where the planner scheduled it among the plan's creates; the
/// journal lists devices in that order.
/// </summary>
internal sealed record PendingCreate(int Index, int Order, SourceDevice Source, CreateOption Create, OptionVerdict TypeVerdict, MdevUuid Uuid, DeviceAction Action, string? Note);

/// <summary>
/// What creating one mdev came to: the confirmed device (<paramref name="Made"/>), or the rejection
/// (<paramref name="Refusal"/>). <paramref name="DeviceRefused"/> tells a created device that refused
/// the version (it was removed; a failed removal stays in the journal) from a device that could not
/// be made (no capacity, create failed).
/// </summary>
internal sealed record CreateResult(PendingCreate Pending, ProvisionedOption? Made, Rejection? Refusal, bool DeviceRefused);

/// <summary>
/// Creates and confirms the mdevs of one plan on one host. It does only I/O and returns what
/// happened; the planner applies the results. It works in phases, each one round trip on a remote
/// host: creates, then confirmations; creates on different parents run concurrently, the creates on
/// one parent one after the other (see <see cref="CreateAllAsync"/>). What it touches
/// while creates run is safe to share: the journal, the claim registry, the counters and the probe
/// runner lock or use interlocked updates.
/// </summary>
internal sealed class MdevProvisioner(MigrationHost host, PlanOptions options, IPlannerStateStore claims, Guid planId, ProvisioningJournal journal, PlanCounters counters, ProbeRunner probes, CandidateEvaluator evaluator, ILogger logger)
{
    private const string MigrationVersion = "migration_version";

    /// <summary>The creates of the current batch whose intent is durable and which have not been issued yet.</summary>
    private readonly ConcurrentDictionary<MdevUuid, PendingCreate> _intended = new();

    /// <summary>The physical functions of parents read in this plan (see <see cref="CapacityDomainsAsync"/>).</summary>
    private readonly ConcurrentDictionary<PciAddress, Lazy<Task<PciAddress?>>> _physicalFunctions = new();

    /// <summary>
    /// Creates every pending device, then confirms every device made, in phases (one round trip each on
    /// a remote host): first the creates libvirt makes, one task per parent (parents that are VFs of one
    /// GPU count as one, see <see cref="CapacityDomainsAsync"/>), each parent's creates in the order
    /// given and stopping at its first failure; then every create libvirt cannot make (a parent it does
    /// not list, a driver that cannot create) written to sysfs in one batch, in the order given, each
    /// write's errno apart (no capacity left is the write's own ENOSPC or EUSERS: nothing is re-read
    /// before); then every created device's probe at once. When a phase throws (cancellation, the host
    /// lost), every create in flight is awaited (not cut off: a create interrupted mid-write may exist
    /// unrecorded) and journaled when it may exist before the exception leaves, so whatever was made is
    /// journaled before anyone rolls back.
    /// </summary>
    /// <returns>The result of every create attempted; the caller orders them.</returns>
    /// <exception cref="StateStoreException">The intents could not be recorded: nothing was created.</exception>
    public async Task<IReadOnlyList<CreateResult>> CreateAllAsync(IReadOnlyList<PendingCreate> pending, CancellationToken cancellationToken)
    {
        await IntendAllAsync(pending).ConfigureAwait(false);
        try
        {
            var viaLibvirt = pending.Where(p => !evaluator.Inventory.IsSysfsOnly(p.Create.Parent)).ToList();
            var domains = await CapacityDomainsAsync([.. pending.Select(p => p.Create.Parent).DistinctBy(p => p.Name)], cancellationToken).ConfigureAwait(false);
            var tried = await InOrderGroups.RunAsync(viaLibvirt.GroupBy(p => domains[p.Create.Parent.Name]), CreateThroughLibvirtAsync, a => a.Failure is null, cancellationToken).ConfigureAwait(false);
            var attempts = pending
                .Select(p => tried.FirstOrDefault(a => a.Pending == p) ?? (viaLibvirt.Contains(p) ? null : new Attempt(p, p.Uuid, p.Action, p.Note, ViaSysfs: true)))
                .OfType<Attempt>()
                .ToList();

            // One batch per capacity domain, the domains at once (a local write blocks in the driver; remote batches made together share a round trip).
            var bySysfs = await Task.WhenAll(attempts.GroupBy(a => domains[a.Pending.Create.Parent.Name]).Select(g => Task.Run(() => CreateThroughSysfsAsync([.. g], cancellationToken), CancellationToken.None))).ConfigureAwait(false);
            attempts = [.. bySysfs.SelectMany(g => g)];
            return await Task.WhenAll(attempts.Select(a => a.Failure is { } failure
                ? Task.FromResult(NotMade(a.Pending, failure.Code, failure.Message, failure.Errno))
                : ConfirmAsync(a, cancellationToken))).ConfigureAwait(false);
        }
        finally
        {
            // A parent that stopped at a failure, or a cancellation, leaves creates that were never issued.
            foreach (var unissued in _intended.Values)
            {
                await CloseIntentAsync(unissued, unissued.Uuid, TargetKeys.Mdev(unissued.Uuid)).ConfigureAwait(false);
            }

            _intended.Clear();
        }
    }

    /// <summary>
    /// Starts reading the capacity domains of <paramref name="parents"/> now, so that the creates find
    /// them read: the planner calls it while it probes, and the reads share that round trip.
    /// </summary>
    public void PrefetchCapacityDomains(IEnumerable<MdevParent> parents, CancellationToken cancellationToken)
    {
        var pci = parents.Where(p => p.Address is not null && !evaluator.Inventory.IsSysfsOnly(p)).DistinctBy(p => p.Name).ToList();
        if (pci.Count >= 2)
        {
            foreach (var parent in pci)
            {
                _ = PhysicalFunctionAsync(parent.Address!.Value, cancellationToken);
            }
        }
    }

    /// <summary>
    /// Claims the UUID of every pending create and makes its intent durable, in one write to the
    /// store: one wait for the disk for the whole batch. A UUID another plan holds is left to the
    /// create itself, which reports it claimed.
    /// </summary>
    private async Task IntendAllAsync(IReadOnlyList<PendingCreate> pending)
    {
        var holders = await journal.IntendAsync([.. pending.Select(p => Planned(p, p.Uuid))]).ConfigureAwait(false);
        for (var i = 0; i < pending.Count; i++)
        {
            if (holders[i] is null)
            {
                _intended[pending[i].Uuid] = pending[i];
            }
        }
    }

    private PlannedMdev Planned(PendingCreate pending, MdevUuid uuid)
    {
        var method = evaluator.Inventory.IsSysfsOnly(pending.Create.Parent) ? CreationMethod.Sysfs : CreationMethod.Libvirt;
        return new PlannedMdev(uuid, pending.Create.Parent, pending.Create.Type.Id, method, method == CreationMethod.Libvirt && options.PersistentMdevs, pending.Order);
    }

    /// <summary>
    /// The capacity each parent shares: parents that are VFs of one GPU (mdev types on SR-IOV VFs)
    /// share the PF's, so their creates must wait for each other like one parent's. One
    /// <c>physfn</c> readlink per PCI parent, only when two or more PCI parents create at once.
    /// </summary>
    private async Task<Dictionary<DeviceName, string>> CapacityDomainsAsync(IReadOnlyList<MdevParent> parents, CancellationToken cancellationToken)
    {
        var domains = parents.ToDictionary(p => p.Name, p => p.Name.Value);
        var pci = parents.Where(p => p.Address is not null).ToList();
        if (pci.Count < 2)
        {
            return domains;
        }

        var pfs = await Task.WhenAll(pci.Select(p => PhysicalFunctionAsync(p.Address!.Value, cancellationToken))).ConfigureAwait(false);
        for (var i = 0; i < pci.Count; i++)
        {
            if (pfs[i] is { } pf)
            {
                domains[pci[i].Name] = $"pf:{pf}";
            }
        }

        return domains;
    }

    /// <summary>The physical function of a parent's PCI function, read once per plan (and counted then).</summary>
    private Task<PciAddress?> PhysicalFunctionAsync(PciAddress address, CancellationToken cancellationToken) =>
        _physicalFunctions.GetOrAdd(address, a => new Lazy<Task<PciAddress?>>(() =>
        {
            counters.SysfsReads(1);
            return NvidiaSysfsVfControl.PhysicalFunctionAsync(host.FileSystem, a, cancellationToken);
        })).Value;

    /// <summary>Confirms a created device: the created device has the last word when it has the attribute (a type-level yes is a prediction).</summary>
    private async Task<CreateResult> ConfirmAsync(Attempt attempt, CancellationToken cancellationToken)
    {
        var (pending, uuid, action, note) = (attempt.Pending, attempt.Uuid, attempt.Action, attempt.Note);
        var (source, create) = (pending.Source, pending.Create);
        ProvisionedOption Made(Verification verification, ProbeRecord? probe, string? why) => new(uuid, create.Parent, create.Type.Id, action, verification, probe, why);

        if (source.Version.Value is not { } version)
        {
            return Confirmed(pending, Made(Verification.Unverified, null, Join(pending.TypeVerdict.Note, note)));
        }

        var probe = await probes.ProbeCreatedAsync(SysfsPath.MdevAttribute(uuid, MigrationVersion), version, cancellationToken).ConfigureAwait(false);
        return probe.Outcome switch
        {
            ProbeOutcome.Accepted => Confirmed(pending, Made(Verification.Verified, probe.Record, note)),
            ProbeOutcome.Absent when pending.TypeVerdict.Kind == VerdictKind.Verified =>
                Confirmed(pending, Made(Verification.Verified, pending.TypeVerdict.Probe, Join("the created device has no migration_version; verified at the type level before creating", note))),
            ProbeOutcome.Absent when options.VerificationPolicy == VerificationPolicy.AllowTypeMatch =>
                Confirmed(pending, Made(Verification.Unverified, null, Join($"not verified: neither type {create.Type.Id} on {create.Parent.Name} nor the created device has migration_version", note))),
            ProbeOutcome.Absent =>
                await RefusedAsync(pending, uuid, new Rejection(source.Info.Id, create.Candidate, RejectionCode.Unverifiable, $"Neither type {create.Type.Id} on {create.Parent.Name} nor the mdev {uuid} created there has a migration_version attribute, so nothing can verify it, {CandidateEvaluator.RequireVerifiedRefusal}.")).ConfigureAwait(false),
            _ => await RefusedAsync(pending, uuid, evaluator.ProbeRejection(source, create.Candidate, probe, $"the mdev {uuid} just created from type {create.Type.Id} on {create.Parent.Name}")).ConfigureAwait(false),
        };
    }

    private static CreateResult Confirmed(PendingCreate pending, ProvisionedOption made) => new(pending, made, null, DeviceRefused: false);

    private static CreateResult NotMade(PendingCreate pending, RejectionCode code, string message, Errno? errno) =>
        new(pending, null, new Rejection(pending.Source.Info.Id, pending.Create.Candidate, code, message, errno), DeviceRefused: false);

    /// <summary>Removes a created device the confirmation refused (a failed removal stays in the journal's <see cref="ProvisioningJournal.Failures"/>).</summary>
    private async Task<CreateResult> RefusedAsync(PendingCreate pending, MdevUuid uuid, Rejection rejection)
    {
        await journal.RemoveAsync(uuid).ConfigureAwait(false);
        return new(pending, null, rejection, DeviceRefused: true);
    }

    private sealed record CreateFailure(RejectionCode Code, string Message, Errno? Errno);

    /// <summary>
    /// One create before its confirmation: the UUID made (or to be made) and how the device is planned;
    /// <paramref name="Failure"/> when nothing was made; <paramref name="ViaSysfs"/> while it waits for the sysfs batch.
    /// </summary>
    private sealed record Attempt(PendingCreate Pending, MdevUuid Uuid, DeviceAction Action, string? Note, CreateFailure? Failure = null, bool ViaSysfs = false);

    /// <summary>
    /// Takes <paramref name="uuid"/> for its create: its intent was made durable for the batch by
    /// <see cref="IntendAllAsync"/>, or is made here for a UUID chosen since. Null when the create may go ahead.
    /// </summary>
    /// <exception cref="StateStoreException">The intent could not be recorded: nothing was created.</exception>
    private async Task<CreateFailure?> IssueAsync(PendingCreate pending, MdevUuid uuid) =>
        !_intended.TryRemove(uuid, out _) && (await journal.IntendAsync([Planned(pending, uuid)]).ConfigureAwait(false))[0] is { } holder
            ? new CreateFailure(RejectionCode.CreateFailed, $"The UUID {uuid} is claimed by another plan ({holder}).", Errno.EEXIST)
            : null;

    /// <summary>A create that made nothing: its intent is closed and its claim released (unless the journal already owns it).</summary>
    private async Task<Attempt> FailedAsync(Attempt attempt, CreateFailure failure)
    {
        if (!journal.Holds(attempt.Uuid))
        {
            await CloseIntentAsync(attempt.Pending, attempt.Uuid, TargetKeys.Mdev(attempt.Uuid)).ConfigureAwait(false);
        }

        return attempt with { Failure = failure, ViaSysfs = false };
    }

    /// <summary>A create that made nothing: its intent is closed and its claim released. A store failure here leaves the intent for recovery, which finds nothing to remove.</summary>
    private async Task CloseIntentAsync(PendingCreate pending, MdevUuid uuid, string key)
    {
        try
        {
            await journal.NotMadeAsync(uuid, pending.Create.Parent, pending.Create.Type.Id, pending.Order).ConfigureAwait(false);
        }
        catch (StateStoreException error)
        {
            Log.StateStoreWriteFailed(logger, uuid, host.Name, error.Message);
        }

        await claims.ReleaseAsync(host.Key, key, planId).ConfigureAwait(false);
    }

    /// <summary>
    /// Creates the mdev through libvirt once its UUID is claimed and its intent durable; journals it as
    /// soon as it exists. A driver that cannot create mdevs leaves it to the sysfs batch (its intent stays open).
    /// </summary>
    private async Task<Attempt> CreateThroughLibvirtAsync(PendingCreate pending, CancellationToken cancellationToken)
    {
        var attempt = new Attempt(pending, pending.Uuid, pending.Action, pending.Note);
        if (await IssueAsync(pending, pending.Uuid).ConfigureAwait(false) is { } claimed)
        {
            return await FailedAsync(attempt, claimed).ConfigureAwait(false);
        }

        var create = pending.Create;
        var request = new MdevCreation(create.Parent.Name, create.Type.Id, pending.Uuid, options.PersistentMdevs);
        try
        {
            counters.HypervisorCall();
            await host.Hypervisor.CreateMdevAsync(request, cancellationToken).ConfigureAwait(false);
            await JournalAsync(pending, pending.Uuid, CreationMethod.Libvirt).ConfigureAwait(false);
            return attempt;
        }
        catch (HypervisorNotSupportedException unsupported)
        {
            Log.CreateFallsBackToSysfs(logger, host.Name, unsupported.Message);
            _intended[pending.Uuid] = pending;
            return attempt with { ViaSysfs = true };
        }
        catch (HypervisorException error)
        {
            // libvirt waits for mdevctl and can give up while the device is being made: look before concluding.
            if (await ListedByLibvirtAsync(pending.Uuid, CancellationToken.None).ConfigureAwait(false))
            {
                Log.CreateReportedFailureButExists(logger, pending.Uuid, host.Name, error.Message);
                await JournalAsync(pending, pending.Uuid, CreationMethod.Libvirt).ConfigureAwait(false);
                return attempt;
            }

            return await FailedAsync(attempt, new CreateFailure(RejectionCode.CreateFailed, $"libvirt could not create a {create.Type.Id} mdev on {create.Parent.Name}: {error.Message}", null)).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            if (await ListedByLibvirtAsync(pending.Uuid, CancellationToken.None).ConfigureAwait(false))
            {
                await JournalAsync(pending, pending.Uuid, CreationMethod.Libvirt).ConfigureAwait(false);
            }
            else
            {
                await FailedAsync(attempt, new CreateFailure(RejectionCode.CreateFailed, "cancelled", null)).ConfigureAwait(false);
            }

            throw;
        }
    }

    /// <summary>
    /// Writes the UUIDs of every create waiting for sysfs into their parents' <c>create</c>, in one batch
    /// and in order, each write once (a write whose outcome is unknown is journaled, never re-sent). A
    /// preserved UUID that already exists there is tried once more with a new UUID, in a second batch.
    /// </summary>
    private async Task<List<Attempt>> CreateThroughSysfsAsync(List<Attempt> attempts, CancellationToken cancellationToken)
    {
        var writing = new List<int>();
        for (var i = 0; i < attempts.Count; i++)
        {
            if (attempts[i].ViaSysfs)
            {
                if (await IssueAsync(attempts[i].Pending, attempts[i].Uuid).ConfigureAwait(false) is { } claimed)
                {
                    attempts[i] = await FailedAsync(attempts[i], claimed).ConfigureAwait(false);
                }
                else
                {
                    writing.Add(i);
                }
            }
        }

        if (writing.Count == 0)
        {
            return attempts;
        }

        var written = await WriteCreatesAsync([.. writing.Select(i => attempts[i])], cancellationToken).ConfigureAwait(false);
        var again = new List<Attempt>();
        for (var k = 0; k < writing.Count; k++)
        {
            var attempt = attempts[writing[k]];
            var create = attempt.Pending.Create;
            var path = CreatePath(create);
            if (written[k].Succeeded)
            {
                await JournalAsync(attempt.Pending, attempt.Uuid, CreationMethod.Sysfs).ConfigureAwait(false);
                attempts[writing[k]] = attempt with { ViaSysfs = false };
            }
            else if (written[k].Error == Errno.EEXIST && attempt.Action == DeviceAction.PreserveUuid)
            {
                await FailedAsync(attempt, new CreateFailure(RejectionCode.CreateFailed, "exists", Errno.EEXIST)).ConfigureAwait(false);
                attempts[writing[k]] = attempt with { Uuid = MdevUuid.NewRandom(), Action = DeviceAction.Create, Note = $"the source UUID {attempt.Pending.Source.Info.Uuid} already exists on {host.Name}, so a new UUID is used" };
                again.Add(attempts[writing[k]]);
            }
            else
            {
                // EUSERS is the mdev core's "no instances left"; ENOSPC is mtty's own; EPERM older vfio-ccw/ap.
                attempts[writing[k]] = await FailedAsync(attempt, written[k].Error is Errno.EUSERS or Errno.ENOSPC or Errno.EPERM
                    ? new CreateFailure(RejectionCode.NoCapacity, $"Parent {create.Parent.Name} refused another {create.Type.Id} instance: writing the UUID to {path} failed with {written[k].Error} (no instances left).", written[k].Error)
                    : new CreateFailure(RejectionCode.CreateFailed, $"Creating a {create.Type.Id} mdev on {create.Parent.Name} failed: writing the UUID to {path} failed with {written[k].Error}.", written[k].Error)).ConfigureAwait(false);
            }
        }

        if (again.Count > 0)
        {
            var retried = await CreateThroughSysfsAsync(again, cancellationToken).ConfigureAwait(false);
            foreach (var attempt in retried)
            {
                attempts[attempts.FindIndex(a => a.Pending == attempt.Pending)] = attempt;
            }
        }

        return attempts;
    }

    /// <summary>One batch of create writes; when its outcome is unknown, every device it may have made is journaled before the exception leaves.</summary>
    private async Task<IReadOnlyList<SysfsResult>> WriteCreatesAsync(IReadOnlyList<Attempt> attempts, CancellationToken cancellationToken)
    {
        try
        {
            return await host.FileSystem.WriteManyAsync([.. attempts.Select(a => (CreatePath(a.Pending.Create), a.Uuid.Value))], cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The writes may have reached the kernel before the wait was cancelled: journal the devices that exist.
            var links = await Task.WhenAll(attempts.Select(a => host.FileSystem.ReadLinkAsync(SysfsPath.MdevAttribute(a.Uuid, "mdev_type"), CancellationToken.None).AsTask())).ConfigureAwait(false);
            for (var i = 0; i < attempts.Count; i++)
            {
                if (links[i].Succeeded)
                {
                    await JournalAsync(attempts[i].Pending, attempts[i].Uuid, CreationMethod.Sysfs).ConfigureAwait(false);
                }
                else
                {
                    await FailedAsync(attempts[i], new CreateFailure(RejectionCode.CreateFailed, "cancelled", null)).ConfigureAwait(false);
                }
            }

            throw;
        }
        catch (IOException)
        {
            // The host went away mid-batch (a remote sysfs): the kernel may have created the devices.
            // Journal them, so the rollback removes them or reports them left behind; a device that was
            // never made answers the removal with ENOENT, which counts as removed.
            foreach (var attempt in attempts)
            {
                await JournalAsync(attempt.Pending, attempt.Uuid, CreationMethod.Sysfs).ConfigureAwait(false);
            }

            throw;
        }
    }

    private static SysfsPath CreatePath(CreateOption create) => SysfsPath.TypeAttribute(create.Parent.SysfsName, create.Type.Id, "create");

    private Task JournalAsync(PendingCreate pending, MdevUuid uuid, CreationMethod method) =>
        journal.RecordAsync(uuid, pending.Create.Parent, pending.Create.Type.Id, method, persistent: method == CreationMethod.Libvirt && options.PersistentMdevs, pending.Order);

    private async Task<bool> ListedByLibvirtAsync(MdevUuid uuid, CancellationToken cancellationToken)
    {
        try
        {
            counters.HypervisorCall();
            var listed = await host.Hypervisor.GetInventoryAsync(InventoryScope.Mdevs, cancellationToken).ConfigureAwait(false);
            return listed.Mdevs.Any(m => m.Uuid == uuid);
        }
        catch (HypervisorException)
        {
            // Cannot tell: journal nothing, so rollback does not report a device that was never made.
            return false;
        }
    }

    /// <summary>Two notes on a planned device as one, either of them possibly absent.</summary>
    internal static string? Join(string? first, string? second) =>
        (first, second) switch
        {
            (null, _) => second,
            (_, null) => first,
            _ => $"{first}; {second}",
        };
}
