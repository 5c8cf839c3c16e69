using System.Collections.Concurrent;
using System.Globalization;
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
/// happened; the planner applies the results. Creates on different parents run concurrently, the
/// creates on one parent one after the other (see <see cref="CreateAllAsync"/>). What it touches
/// while creates run is safe to share: the journal, the claim registry, the counters and the probe
/// runner lock or use interlocked updates.
/// </summary>
internal sealed class MdevProvisioner(MigrationHost host, PlanOptions options, IPlannerStateStore claims, Guid planId, ProvisioningJournal journal, PlanCounters counters, ProbeRunner probes, CandidateEvaluator evaluator, ILogger logger)
{
    private const string MigrationVersion = "migration_version";

    /// <summary>The creates of the current batch whose intent is durable and which have not been issued yet.</summary>
    private readonly ConcurrentDictionary<MdevUuid, PendingCreate> _intended = new();

    /// <summary>
    /// Creates every pending device, one task per parent (parents that are VFs of one GPU count as
    /// one, see <see cref="CapacityDomainsAsync"/>), each parent's creates in the order given
    /// and stopping at its first failure. A parent's creates wait for each other because the kernel
    /// serialises creates on a parent anyway, and each must re-read <c>available_instances</c> after
    /// the one before it; other parents do not wait. When a parent's creates throw (cancellation, the host
    /// lost) the other parents start no further create, and every create in flight is awaited (not
    /// cut off: a create interrupted mid-write may exist unrecorded) before the exception leaves, so
    /// whatever was made is journaled before anyone rolls back.
    /// </summary>
    /// <returns>The result of every create attempted, grouped by parent; the caller orders them.</returns>
    /// <exception cref="StateStoreException">The intents could not be recorded: nothing was created.</exception>
    public async Task<IReadOnlyList<CreateResult>> CreateAllAsync(IReadOnlyList<PendingCreate> pending, CancellationToken cancellationToken)
    {
        IntendAll(pending);
        try
        {
            var domains = await CapacityDomainsAsync([.. pending.Select(p => p.Create.Parent).DistinctBy(p => p.Name)], cancellationToken).ConfigureAwait(false);
            return await InOrderGroups.RunAsync(pending.GroupBy(p => domains[p.Create.Parent.Name]), CreateAndConfirmAsync, r => r.Made is not null, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            // A parent that stopped at a failure, or a cancellation, leaves creates that were never issued.
            foreach (var unissued in _intended.Values)
            {
                CloseIntent(unissued, unissued.Uuid, TargetKeys.Mdev(unissued.Uuid));
            }

            _intended.Clear();
        }
    }

    /// <summary>
    /// Claims the UUID of every pending create and makes its intent durable, in one write to the
    /// store: one wait for the disk for the whole batch. A UUID another plan holds is left to the
    /// create itself, which reports it claimed.
    /// </summary>
    private void IntendAll(IReadOnlyList<PendingCreate> pending)
    {
        var holders = journal.Intend([.. pending.Select(p => Planned(p, p.Uuid))]);
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

        var pfs = await Task.WhenAll(pci.Select(p => NvidiaSysfsVfControl.PhysicalFunctionAsync(host.FileSystem, p.Address!.Value, cancellationToken))).ConfigureAwait(false);
        counters.SysfsReads(pci.Count);
        for (var i = 0; i < pci.Count; i++)
        {
            if (pfs[i] is { } pf)
            {
                domains[pci[i].Name] = $"pf:{pf}";
            }
        }

        return domains;
    }

    private async Task<CreateResult> CreateAndConfirmAsync(PendingCreate pending, CancellationToken cancellationToken)
    {
        var (source, create) = (pending.Source, pending.Create);

        // available_instances is advisory and may have changed since the inventory: one cheap read before creating.
        var availablePath = SysfsPath.TypeAttribute(create.Parent.SysfsName, create.Type.Id, "available_instances");
        var available = await host.FileSystem.ReadAsync(availablePath, cancellationToken).ConfigureAwait(false);
        counters.SysfsReads(1);
        if (available.Succeeded && int.TryParse(available.Value?.Trim(), CultureInfo.InvariantCulture, out var now) && now <= 0)
        {
            return NotMade(pending, RejectionCode.NoCapacity, $"Parent {create.Parent.Name} can create no more {create.Type.Id} instances now (available_instances is {now}; the inventory said {create.Type.AvailableInstances}).", null);
        }

        var (uuid, action, note) = (pending.Uuid, pending.Action, pending.Note);
        var failure = await CreateDeviceAsync(pending, uuid, cancellationToken).ConfigureAwait(false);
        if (failure?.Errno == Errno.EEXIST && action == DeviceAction.PreserveUuid)
        {
            (uuid, action, note) = (MdevUuid.NewRandom(), DeviceAction.Create, $"the source UUID {source.Info.Uuid} already exists on {host.Name}, so a new UUID is used");
            failure = await CreateDeviceAsync(pending, uuid, cancellationToken).ConfigureAwait(false);
        }

        if (failure is not null)
        {
            return NotMade(pending, failure.Code, failure.Message, failure.Errno);
        }

        ProvisionedOption Made(Verification verification, ProbeRecord? probe, string? why) => new(uuid, create.Parent, create.Type.Id, action, verification, probe, why);

        if (source.Version.Value is not { } version)
        {
            return Confirmed(pending, Made(Verification.Unverified, null, Join(pending.TypeVerdict.Note, note)));
        }

        // A type-level yes is a prediction: the created device has the last word when it has the attribute.
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
    /// Creates the mdev through libvirt, or through sysfs where libvirt cannot, once its UUID is
    /// claimed and its intent durable (done for the batch by <see cref="IntendAll"/>, here for a UUID
    /// chosen since); journals it as soon as it exists. Null when it exists.
    /// </summary>
    /// <exception cref="StateStoreException">The intent could not be recorded: nothing was created.</exception>
    private async Task<CreateFailure?> CreateDeviceAsync(PendingCreate pending, MdevUuid uuid, CancellationToken cancellationToken)
    {
        var key = TargetKeys.Mdev(uuid);
        if (!_intended.TryRemove(uuid, out _) && journal.Intend([Planned(pending, uuid)])[0] is { } holder)
        {
            return new CreateFailure(RejectionCode.CreateFailed, $"The UUID {uuid} is claimed by another plan ({holder}).", Errno.EEXIST);
        }

        var made = false;
        try
        {
            var failure = await CreateClaimedAsync(pending, uuid, cancellationToken).ConfigureAwait(false);
            made = failure is null;
            return failure;
        }
        finally
        {
            // Once the device is journaled the journal owns its claim: removing it releases the claim, failing to keeps it.
            if (!made && !journal.Holds(uuid))
            {
                CloseIntent(pending, uuid, key);
            }
        }
    }

    /// <summary>A create that made nothing: its intent is closed and its claim released. A store failure here leaves the intent for recovery, which finds nothing to remove.</summary>
    private void CloseIntent(PendingCreate pending, MdevUuid uuid, string key)
    {
        try
        {
            journal.NotMade(uuid, pending.Create.Parent, pending.Create.Type.Id, pending.Order);
        }
        catch (StateStoreException error)
        {
            Log.StateStoreWriteFailed(logger, uuid, host.Name, error.Message);
        }

        claims.Release(host.Key, key, planId);
    }

    private async Task<CreateFailure?> CreateClaimedAsync(PendingCreate pending, MdevUuid uuid, CancellationToken cancellationToken)
    {
        var create = pending.Create;
        if (evaluator.Inventory.IsSysfsOnly(create.Parent))
        {
            // libvirt has no node device for this parent, so its node-device API cannot name it.
            return await CreateThroughSysfsAsync(pending, uuid, cancellationToken).ConfigureAwait(false);
        }

        var request = new MdevCreation(create.Parent.Name, create.Type.Id, uuid, options.PersistentMdevs);
        try
        {
            counters.HypervisorCall();
            await host.Hypervisor.CreateMdevAsync(request, cancellationToken).ConfigureAwait(false);
            Journal(pending, uuid, CreationMethod.Libvirt);
            return null;
        }
        catch (HypervisorNotSupportedException unsupported)
        {
            Log.CreateFallsBackToSysfs(logger, host.Name, unsupported.Message);
        }
        catch (HypervisorException error)
        {
            // libvirt waits for mdevctl and can give up while the device is being made: look before concluding.
            if (await ListedByLibvirtAsync(uuid, CancellationToken.None).ConfigureAwait(false))
            {
                Log.CreateReportedFailureButExists(logger, uuid, host.Name, error.Message);
                Journal(pending, uuid, CreationMethod.Libvirt);
                return null;
            }

            return new CreateFailure(RejectionCode.CreateFailed, $"libvirt could not create a {create.Type.Id} mdev on {create.Parent.Name}: {error.Message}", null);
        }
        catch (OperationCanceledException)
        {
            if (await ListedByLibvirtAsync(uuid, CancellationToken.None).ConfigureAwait(false))
            {
                Journal(pending, uuid, CreationMethod.Libvirt);
            }

            throw;
        }

        return await CreateThroughSysfsAsync(pending, uuid, cancellationToken).ConfigureAwait(false);
    }

    private async Task<CreateFailure?> CreateThroughSysfsAsync(PendingCreate pending, MdevUuid uuid, CancellationToken cancellationToken)
    {
        var create = pending.Create;
        var path = SysfsPath.TypeAttribute(create.Parent.SysfsName, create.Type.Id, "create");
        SysfsResult written;
        try
        {
            written = await host.FileSystem.WriteAsync(path, uuid.Value, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The write may have reached the kernel before the wait was cancelled.
            var link = await host.FileSystem.ReadLinkAsync(SysfsPath.MdevAttribute(uuid, "mdev_type"), CancellationToken.None).ConfigureAwait(false);
            if (link.Succeeded)
            {
                Journal(pending, uuid, CreationMethod.Sysfs);
            }

            throw;
        }
        catch (IOException)
        {
            // The host went away mid-write (a remote sysfs): the kernel may have created the device.
            // Journal it, so the rollback removes it or reports it left behind; a device that was
            // never made answers the removal with ENOENT, which counts as removed.
            Journal(pending, uuid, CreationMethod.Sysfs);
            throw;
        }

        if (written.Succeeded)
        {
            Journal(pending, uuid, CreationMethod.Sysfs);
            return null;
        }

        // EUSERS is the mdev core's "no instances left"; ENOSPC is mtty's own; EPERM older vfio-ccw/ap.
        return written.Error is Errno.EUSERS or Errno.ENOSPC or Errno.EPERM
            ? new CreateFailure(RejectionCode.NoCapacity, $"Parent {create.Parent.Name} refused another {create.Type.Id} instance: writing the UUID to {path} failed with {written.Error} (no instances left).", written.Error)
            : new CreateFailure(RejectionCode.CreateFailed, $"Creating a {create.Type.Id} mdev on {create.Parent.Name} failed: writing the UUID to {path} failed with {written.Error}.", written.Error);
    }

    private void Journal(PendingCreate pending, MdevUuid uuid, CreationMethod method) =>
        journal.Record(uuid, pending.Create.Parent, pending.Create.Type.Id, method, persistent: method == CreationMethod.Libvirt && options.PersistentMdevs, pending.Order);

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
