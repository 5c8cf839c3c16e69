using Microsoft.Extensions.Logging;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Diagnostics;
using VfioMigration.Planner.Hypervisor;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.Planner.Planning;

/// <summary>
/// Every mdev a plan created on one host, and how: the record rollback works from. An entry is
/// written as soon as the device exists (or might exist, after an interrupted create), before
/// anything else can fail. Creates on different parents record concurrently; the journal lists
/// devices in the order the planner scheduled them, whatever order they finished in.
/// </summary>
internal sealed class ProvisioningJournal(MigrationHost host, TargetClaimRegistry claims, Guid planId, PlanCounters counters, ILogger logger)
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

    /// <summary>Journals a device that exists, or may; <see cref="Devices"/> lists it at <paramref name="order"/>, where the planner scheduled its create.</summary>
    public void Record(MdevUuid uuid, MdevParent parent, MdevTypeId type, CreationMethod method, bool persistent, int order)
    {
        lock (_gate)
        {
            _entries.Add(new Entry(uuid, parent.Name.Value, type, method, persistent, order));
        }

        counters.Create();
        PlannerTelemetry.Creates.Add(1);
        Log.MdevCreated(logger, uuid, type, parent.Name.Value, host.Name, method);
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

        return entry is null ? null : await RemoveAsync(entry).ConfigureAwait(false);
    }

    /// <summary>Removes every device still kept, last scheduled first. Never cancelled: a half-done rollback leaks devices.</summary>
    public Task<IReadOnlyList<RemovalFailure>> RollbackAsync() => RemoveEachAsync(CreatedDeviceState.Kept, descending: true);

    /// <summary>Tries again to remove every device whose removal failed, in schedule order.</summary>
    public Task<IReadOnlyList<RemovalFailure>> RetryFailedAsync() => RemoveEachAsync(CreatedDeviceState.RemoveFailed, descending: false);

    private async Task<IReadOnlyList<RemovalFailure>> RemoveEachAsync(CreatedDeviceState state, bool descending)
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

        var failures = new List<RemovalFailure>();
        foreach (var entry in entries)
        {
            if (await RemoveAsync(entry).ConfigureAwait(false) is { } failure)
            {
                failures.Add(failure);
            }
        }

        return failures;
    }

    /// <summary>The claim keys of devices whose removal failed: they still exist, so their claims must outlive the plan.</summary>
    public IReadOnlySet<string> Stuck
    {
        get
        {
            lock (_gate)
            {
                return _entries.Where(e => e.State == CreatedDeviceState.RemoveFailed).Select(e => TargetKeys.Mdev(e.Uuid)).ToHashSet();
            }
        }
    }

    /// <summary>Hands the kept devices over to the caller: they are no longer the plan's to remove.</summary>
    public IReadOnlyList<MdevUuid> Kept()
    {
        lock (_gate)
        {
            return [.. _entries.Where(e => e.State == CreatedDeviceState.Kept).Select(e => e.Uuid)];
        }
    }

    private async Task<RemovalFailure?> RemoveAsync(Entry entry)
    {
        string? error;
        try
        {
            if (entry.Method == CreationMethod.Libvirt)
            {
                counters.HypervisorCall();
                await host.Hypervisor.DestroyMdevAsync(entry.Uuid, entry.Persistent, CancellationToken.None).ConfigureAwait(false);
                error = null;
            }
            else
            {
                var written = await host.FileSystem.WriteAsync(SysfsPath.MdevAttribute(entry.Uuid, "remove"), "1", CancellationToken.None).ConfigureAwait(false);
                // ENOENT: the device is already gone (or a create cut off mid-write never made it).
                error = written.Succeeded || written.Error == Errno.ENOENT ? null : $"writing 1 to {SysfsPath.MdevAttribute(entry.Uuid, "remove")} failed with {written.Error}";
            }
        }
        catch (Exception exception) when (exception is HypervisorException or IOException or InvalidOperationException)
        {
            error = exception.Message;
        }

        lock (_gate)
        {
            entry.State = error is null ? CreatedDeviceState.Removed : CreatedDeviceState.RemoveFailed;
            entry.Error = error;
        }

        if (error is null)
        {
            claims.Release(host.Key, TargetKeys.Mdev(entry.Uuid), planId);
            counters.Remove();
            PlannerTelemetry.Removes.Add(1);
            Log.MdevRemoved(logger, entry.Uuid, host.Name);
            return null;
        }

        // The device stays claimed: it still exists, and no other plan should be handed it.
        Log.MdevRemoveFailed(logger, entry.Uuid, host.Name, error);
        return new RemovalFailure(host.Name, entry.Uuid, error);
    }

    private sealed class Entry(MdevUuid uuid, string parent, MdevTypeId type, CreationMethod method, bool persistent, int order)
    {
        public MdevUuid Uuid => uuid;

        public int Order => order;

        public CreationMethod Method => method;

        public bool Persistent => persistent;

        public CreatedDeviceState State { get; set; } = CreatedDeviceState.Kept;

        public string? Error { get; set; }

        public CreatedDevice ToPublic(string hostName) => new(hostName, uuid, parent, type, method, persistent, State, Error);
    }
}

/// <summary>The keys of destination devices in the claim registry.</summary>
internal static class TargetKeys
{
    public static string Mdev(MdevUuid uuid) => $"mdev:{uuid.Value}";

    public static string Pci(PciAddress address) => $"pci:{address}";
}
