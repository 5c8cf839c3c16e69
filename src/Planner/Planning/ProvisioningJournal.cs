using Microsoft.Extensions.Logging;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Diagnostics;
using VfioMigration.Planner.Hypervisor;
using VfioMigration.Planner.State;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.Planner.Planning;

/// <summary>
/// Every mdev a plan created on one host, and how: the record rollback works from. Each change is
/// written through to the state store: the intent before the create is issued (<see cref="IntendAsync"/>),
/// the device as soon as it exists (or might exist, after an interrupted create), each removal, and
/// the commit. Creates on different parents record concurrently; the journal lists devices in the
/// order the planner scheduled them, whatever order they finished in.
/// </summary>
internal sealed class ProvisioningJournal(MigrationHost host, IPlannerStateStore store, Guid planId, PlanCounters counters, ILogger logger)
{
    private readonly List<Entry> _entries = [];
    private readonly Lock _gate = new();

    public MigrationHost Host => host;

    public IReadOnlyList<CreatedDevice> Devices
    {
        get
        {
            lock (_gate)
            {
                return [.. _entries.OrderBy(e => e.Order).Select(e => e.ToPublic(host.Name))];
            }
        }
    }

    /// <summary>
    /// Claims the UUIDs of devices about to be created and makes their intents durable, in one write
    /// where the store can; no create may be issued before this returns, and none for a device whose
    /// result is not null (another plan holds its UUID).
    /// </summary>
    /// <exception cref="StateStoreException">The store cannot record them: no create may be issued.</exception>
    public Task<IReadOnlyList<ClaimHolder?>> IntendAsync(IReadOnlyList<PlannedMdev> devices) =>
        store.ClaimAndIntendAsync([.. devices.Select(d => new JournalEntry(planId, host.Key, host.Name, d.Uuid, d.Parent.Name.Value, d.Type, d.Method, d.Persistent, d.Order, JournalState.Intent))]);

    /// <summary>Closes the intent of a create that made nothing.</summary>
    public Task NotMadeAsync(MdevUuid uuid, MdevParent parent, MdevTypeId type, int order) =>
        store.JournalAsync(new JournalEntry(planId, host.Key, host.Name, uuid, parent.Name.Value, type, CreationMethod.Sysfs, false, order, JournalState.Removed));

    /// <summary>Makes the intent to configure a VF durable (docs/nvidia-vf.md: keyed by <see cref="NvidiaSysfsVfControl.JournalKey"/>, parent the VF, type the id).</summary>
    /// <exception cref="StateStoreException">The store cannot record it: the VF must not be written.</exception>
    public Task IntendVfAsync(PciAddress vf, VgpuType type, int order) =>
        store.JournalAsync(new JournalEntry(planId, host.Key, host.Name, NvidiaSysfsVfControl.JournalKey(vf), vf.ToString(), TypeKey(type), CreationMethod.Vf, false, order, JournalState.Intent));

    /// <summary>Closes the intent of a VF configuration that changed nothing.</summary>
    public Task NotMadeVfAsync(PciAddress vf, VgpuType type, int order) =>
        store.JournalAsync(new JournalEntry(planId, host.Key, host.Name, NvidiaSysfsVfControl.JournalKey(vf), vf.ToString(), TypeKey(type), CreationMethod.Vf, false, order, JournalState.Removed));

    /// <summary>Journals a VF the plan configured (or may have); rollback writes 0 to it.</summary>
    public Task RecordVfAsync(PciAddress vf, VgpuType type, int order)
    {
        var entry = new Entry(NvidiaSysfsVfControl.JournalKey(vf), vf.ToString(), TypeKey(type), CreationMethod.Vf, false, order);
        Add(entry);
        Log.VfConfigured(logger, vf, entry.Type, host.Name, entry.Uuid);
        return WriteAsync(entry);
    }

    /// <summary>Resets a VF this plan configured (writes 0); returns the failure, or null when it is reset.</summary>
    public Task<RemovalFailure?> ResetVfAsync(PciAddress vf) => RemoveAsync(NvidiaSysfsVfControl.JournalKey(vf));

    /// <summary>Whether the plan holds a configuration of <paramref name="vf"/> (kept, or its reset failed).</summary>
    public bool HoldsVf(PciAddress vf) => Holds(NvidiaSysfsVfControl.JournalKey(vf));

    /// <summary>A vGPU type id as the journal's type column keeps it.</summary>
    public static MdevTypeId TypeKey(VgpuType type) => MdevTypeId.Parse(type.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>Journals a device that exists, or may; <see cref="Devices"/> lists it at <paramref name="order"/>, where the planner scheduled its create.</summary>
    public Task RecordAsync(MdevUuid uuid, MdevParent parent, MdevTypeId type, CreationMethod method, bool persistent, int order)
    {
        var entry = new Entry(uuid, parent.Name.Value, type, method, persistent, order);
        Add(entry);
        Log.MdevCreated(logger, uuid, type, parent.Name.Value, host.Name, method);

        // In memory first: should the store fail here, the rollback still knows the device.
        return WriteAsync(entry);
    }

    private void Add(Entry entry)
    {
        lock (_gate)
        {
            _entries.Add(entry);
        }

        counters.Create();
        PlannerTelemetry.Creates.Add(1);
    }

    /// <summary>True while a device with this UUID is journaled and not removed (kept, or its removal failed).</summary>
    public bool Holds(MdevUuid uuid)
    {
        lock (_gate)
        {
            return _entries.Any(e => e.Uuid == uuid && e.State != CreatedDeviceState.Removed);
        }
    }

    /// <summary>Every device whose removal failed, in the order the planner scheduled their creates: each is still on the host.</summary>
    public IReadOnlyList<RemovalFailure> Failures
    {
        get
        {
            lock (_gate)
            {
                return [.. _entries.Where(e => e.State == CreatedDeviceState.RemoveFailed).OrderBy(e => e.Order).Select(e => new RemovalFailure(host.Name, e.Uuid, e.Error!))];
            }
        }
    }

    /// <summary>Removes one device this plan created; returns the failure, or null when it is gone.</summary>
    public async Task<RemovalFailure?> RemoveAsync(MdevUuid uuid)
    {
        Entry? entry;
        lock (_gate)
        {
            entry = _entries.FirstOrDefault(e => e.Uuid == uuid && e.State == CreatedDeviceState.Kept);
        }

        return entry is null ? null : await RemoveAsync(entry, releaseClaim: true).ConfigureAwait(false);
    }

    /// <summary>
    /// Removes every device still kept, last scheduled first. Never cancelled: a half-done rollback
    /// leaks devices. Their claims stay for <see cref="EndAsync"/>, which always follows and releases every
    /// claim of the plan in one write.
    /// </summary>
    public Task<IReadOnlyList<RemovalFailure>> RollbackAsync() => RemoveEachAsync(CreatedDeviceState.Kept, descending: true, releaseClaims: false);

    /// <summary>Tries again to remove every device whose removal failed, in schedule order.</summary>
    public Task<IReadOnlyList<RemovalFailure>> RetryFailedAsync() => RemoveEachAsync(CreatedDeviceState.RemoveFailed, descending: false, releaseClaims: true);

    private async Task<IReadOnlyList<RemovalFailure>> RemoveEachAsync(CreatedDeviceState state, bool descending, bool releaseClaims)
    {
        List<Entry> entries;
        lock (_gate)
        {
            // By schedule, not by finish: creates on different parents finish in any order, a rollback must not.
            var matching = _entries.Where(e => e.State == state);
            entries = [.. descending ? matching.OrderByDescending(e => e.Order) : matching.OrderBy(e => e.Order)];
        }

        if (entries.Count > 0)
        {
            Log.RollingBack(logger, entries.Count, host.Name);
        }

        // Devices made through sysfs go in one batch of writes, still in this order (one round trip to a remote host).
        if (entries.Count > 1 && entries.All(e => e.Method == CreationMethod.Sysfs))
        {
            var paths = entries.Select(e => MdevRemoval.RemovePath(e.Uuid)).ToList();
            try
            {
                var written = await host.FileSystem.WriteManyAsync([.. paths.Select(path => (path, "1"))], CancellationToken.None).ConfigureAwait(false);
                var settled = new List<RemovalFailure>();
                for (var i = 0; i < entries.Count; i++)
                {
                    if (await SettleAsync(entries[i], MdevRemoval.Outcome(paths[i], written[i]), releaseClaims).ConfigureAwait(false) is { } failure)
                    {
                        settled.Add(failure);
                    }
                }

                return settled;
            }
            catch (Exception exception) when (exception is IOException or InvalidOperationException)
            {
                // The batch failed as a whole (the host unreachable, or one write of a one-by-one default):
                // each device once more on its own below, where ENOENT shows one already gone.
                Log.RemovalBatchFailed(logger, entries.Count, host.Name, exception.Message);
            }
        }

        var failures = new List<RemovalFailure>();
        foreach (var entry in entries)
        {
            if (await RemoveAsync(entry, releaseClaims).ConfigureAwait(false) is { } failure)
            {
                failures.Add(failure);
            }
        }

        return failures;
    }

    /// <summary>Hands the kept devices over to the caller (they are no longer the plan's to remove) and records the commit.</summary>
    /// <param name="migrated">The guest migrated with them (a defined guest now uses them), rather than the caller keeping them.</param>
    /// <param name="cancellationToken">Checked before the commit is written.</param>
    public Task CommitAsync(bool migrated, CancellationToken cancellationToken) =>
        migrated ? store.CommitMigratedPlanAsync(planId, cancellationToken) : store.CommitPlanAsync(planId, cancellationToken);

    /// <summary>Ends the plan in the store: its claims and closed entries go, a device whose removal failed keeps both.</summary>
    public Task EndAsync() => store.EndPlanAsync(planId);

    private async Task<RemovalFailure?> RemoveAsync(Entry entry, bool releaseClaim)
    {
        if (entry.Method == CreationMethod.Libvirt)
        {
            counters.HypervisorCall();
        }

        return await SettleAsync(entry, await MdevRemoval.RemoveAsync(host, entry.Uuid, entry.Parent, entry.Method, entry.Persistent).ConfigureAwait(false), releaseClaim).ConfigureAwait(false);
    }

    /// <summary>Records how a removal ended: the entry's state, the store, the claim and the counters; the failure, or null when the device is gone.</summary>
    private async Task<RemovalFailure?> SettleAsync(Entry entry, string? error, bool releaseClaim)
    {
        lock (_gate)
        {
            entry.State = error is null ? CreatedDeviceState.Removed : CreatedDeviceState.RemoveFailed;
            entry.Error = error;
        }

        await WriteDuringRemovalAsync(entry).ConfigureAwait(false);
        if (error is null)
        {
            if (releaseClaim)
            {
                await store.ReleaseAsync(host.Key, entry.ClaimKey, planId).ConfigureAwait(false);
            }

            counters.Remove();
            PlannerTelemetry.Removes.Add(1);
            Log.MdevRemoved(logger, entry.Uuid, host.Name);
            return null;
        }

        // The device stays claimed: it still exists, and no other plan should be handed it.
        Log.MdevRemoveFailed(logger, entry.Uuid, host.Name, error);
        return new RemovalFailure(host.Name, entry.Uuid, error);
    }

    private Task WriteAsync(Entry entry) =>
        store.JournalAsync(new JournalEntry(planId, host.Key, host.Name, entry.Uuid, entry.Parent, entry.Type, entry.Method, entry.Persistent, entry.Order, entry.JournalState, entry.Error));

    /// <summary>A removal is recorded if the store allows; a store failure must not stop a rollback (recovery later finds the device gone).</summary>
    private async Task WriteDuringRemovalAsync(Entry entry)
    {
        try
        {
            await WriteAsync(entry).ConfigureAwait(false);
        }
        catch (StateStoreException error)
        {
            Log.StateStoreWriteFailed(logger, entry.Uuid, host.Name, error.Message);
        }
    }

    private sealed class Entry(MdevUuid uuid, string parent, MdevTypeId type, CreationMethod method, bool persistent, int order)
    {
        public MdevUuid Uuid => uuid;

        public string Parent => parent;

        public MdevTypeId Type => type;

        /// <summary>The claim the device holds: its UUID, or for a VF its address.</summary>
        public string ClaimKey => method == CreationMethod.Vf ? TargetKeys.Pci(PciAddress.Parse(parent)) : TargetKeys.Mdev(uuid);

        public JournalState JournalState => State switch
        {
            CreatedDeviceState.Kept => JournalState.Created,
            CreatedDeviceState.Removed => JournalState.Removed,
            _ => JournalState.RemoveFailed,
        };

        public int Order => order;

        public CreationMethod Method => method;

        public bool Persistent => persistent;

        public CreatedDeviceState State { get; set; } = CreatedDeviceState.Kept;

        public string? Error { get; set; }

        public CreatedDevice ToPublic(string hostName) => new(hostName, uuid, parent, type, method, persistent, State, Error);
    }
}

/// <summary>An mdev a plan is about to create, as its intent records it.</summary>
internal sealed record PlannedMdev(MdevUuid Uuid, MdevParent Parent, MdevTypeId Type, CreationMethod Method, bool Persistent, int Order);

/// <summary>Removes one planner-created mdev (or resets a configured VF) the way it was made.</summary>
internal static class MdevRemoval
{
    /// <summary>
    /// Removes the device through libvirt or its sysfs <c>remove</c> attribute, or for a VF
    /// (<paramref name="parent"/> its address, from the journal: validated here) writes 0 to its
    /// <c>current_vgpu_type</c>; returns the error, or null when it is gone (ENOENT counts as gone). Never cancelled.
    /// </summary>
    public static async Task<string?> RemoveAsync(MigrationHost host, MdevUuid uuid, string parent, CreationMethod method, bool persistent)
    {
        try
        {
            if (method == CreationMethod.Vf)
            {
                if (!PciAddress.TryParse(parent, out var vf))
                {
                    return $"the journal names no VF address ('{MdevUuid.Shorten(parent)}')";
                }

                var reset = await new NvidiaSysfsVfControl(host.FileSystem, new PlanCounters()).SetTypeAsync(vf, 0, CancellationToken.None).ConfigureAwait(false);
                return reset.Succeeded || reset.Error == Errno.ENOENT ? null : $"writing 0 to {NvidiaSysfsVfControl.CurrentPath(vf)} failed with {reset.Error}";
            }

            if (method == CreationMethod.Libvirt)
            {
                await host.Hypervisor.DestroyMdevAsync(uuid, persistent, CancellationToken.None).ConfigureAwait(false);
                return null;
            }

            var path = RemovePath(uuid);
            return Outcome(path, await host.FileSystem.WriteAsync(path, "1", CancellationToken.None).ConfigureAwait(false));
        }
        catch (Exception exception) when (exception is HypervisorException or IOException or InvalidOperationException)
        {
            return exception.Message;
        }
    }

    /// <summary>The sysfs attribute that removes <paramref name="uuid"/>.</summary>
    public static SysfsPath RemovePath(MdevUuid uuid) => SysfsPath.MdevAttribute(uuid, "remove");

    /// <summary>The error of a write of <c>1</c> to <paramref name="path"/>, or null when the device is gone.</summary>
    public static string? Outcome(SysfsPath path, SysfsResult written) =>
        // ENOENT: the device is already gone (or a create cut off mid-write never made it).
        written.Succeeded || written.Error == Errno.ENOENT ? null : $"writing 1 to {path} failed with {written.Error}";
}

/// <summary>The keys of destination devices in the claim registry.</summary>
internal static class TargetKeys
{
    public static string Mdev(MdevUuid uuid) => $"mdev:{uuid.Value}";

    public static string Pci(PciAddress address) => $"pci:{address}";
}
