using Microsoft.Extensions.Logging;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Diagnostics;
using VfioMigration.Planner.Hypervisor;
using VfioMigration.Planner.Planning;

namespace VfioMigration.Planner.State;

/// <summary>What recovery did to one journaled device.</summary>
public enum RecoveryAction
{
    /// <summary>No defined guest used it: it was removed (or was already gone).</summary>
    Removed,

    /// <summary>Removing it failed: it is still on the host, and stays journaled for the next recovery.</summary>
    RemoveFailed,

    /// <summary>A defined guest uses it: it was left alone and its entry marked committed.</summary>
    UsedByGuest,
}

/// <summary>One device recovery looked at.</summary>
/// <param name="Plan">The plan that journaled it.</param>
/// <param name="Guest">The guest that plan was for.</param>
/// <param name="Uuid">The device.</param>
/// <param name="Action">What was done.</param>
/// <param name="Detail">The guest using it, or why its removal failed.</param>
public sealed record RecoveredDevice(Guid Plan, string Guest, MdevUuid Uuid, RecoveryAction Action, string? Detail);

/// <summary>What recovery did on one host.</summary>
/// <param name="Host">The host's name.</param>
/// <param name="Devices">Each device looked at, by plan and schedule order; empty when nothing was pending.</param>
public sealed record RecoveryReport(string Host, IReadOnlyList<RecoveredDevice> Devices);

/// <summary>Acts on the journal entries of dead plans on one host (see <see cref="MigrationPlanner.RecoverAsync"/>), and releases kept plans.</summary>
internal static class Recovery
{
    public static async Task<RecoveryReport> RunAsync(MigrationHost host, IPlannerStateStore store, bool includeCommitted, ILogger logger)
    {
        var plans = await store.PlansToRecoverAsync(host.Key, includeCommitted).ConfigureAwait(false);
        if (plans.Count == 0)
        {
            return new RecoveryReport(host.Name, []);
        }

        var devices = await HostDevicesAsync(host, plans).ConfigureAwait(false);
        var report = new List<RecoveredDevice>();
        foreach (var plan in plans)
        {
            var entries = plan.Entries.Where(e => e.HostKey == host.Key).ToList();
            if (plan.Owner == PlanOwnerState.Committed)
            {
                // A kept plan is forgotten once guests use every device it created: they are the guests' now.
                var committed = entries.Where(e => e.State == JournalState.Committed).ToList();
                if (committed.Count > 0 && committed.All(e => OwnerOf(devices.Owners, e) is not null) && !entries.Any(e => e.IsOpen))
                {
                    report.AddRange(committed.Select(e => new RecoveredDevice(plan.Id, plan.Guest, e.Uuid, RecoveryAction.UsedByGuest, OwnerOf(devices.Owners, e))));
                    await store.ForgetPlanAsync(plan.Id).ConfigureAwait(false);
                }

                continue;
            }

            await ResolveAsync(host, store, plan, [.. entries.Where(e => e.IsOpen)], devices, logger, report).ConfigureAwait(false);
        }

        return new RecoveryReport(host.Name, report);
    }

    /// <summary>Removes what a kept (committed) plan created on <paramref name="host"/>, except devices a defined guest uses, and forgets the plan when nothing of it is left.</summary>
    public static async Task<RecoveryReport> ReleaseAsync(MigrationHost host, IPlannerStateStore store, Guid planId, ILogger logger)
    {
        var plan = (await store.ListPlansAsync().ConfigureAwait(false)).FirstOrDefault(p => p.Id == planId)
            ?? throw new InvalidOperationException($"The state store {store.Location} holds no plan {planId}.");
        if (plan.Owner == PlanOwnerState.Alive)
        {
            throw new InvalidOperationException($"Plan {planId} (guest {plan.Guest}) is running, {plan.Where}; it is not released from outside.");
        }

        var entries = plan.Entries.Where(e => e.HostKey == host.Key && (e.IsOpen || e.State == JournalState.Committed)).ToList();
        var report = new List<RecoveredDevice>();
        await ResolveAsync(host, store, plan, entries, await HostDevicesAsync(host, [plan]).ConfigureAwait(false), logger, report).ConfigureAwait(false);
        return new RecoveryReport(host.Name, report);
    }

    /// <summary>Leaves each entry's device to the guest that uses it, or removes it; forgets the plan when none of its devices is left on any host.</summary>
    private static async Task ResolveAsync(MigrationHost host, IPlannerStateStore store, StoredPlan plan, IReadOnlyList<JournalEntry> entries, HostDevices devices, ILogger logger, List<RecoveredDevice> report)
    {
        var stillOpen = false;
        foreach (var entry in entries)
        {
            var done = await ResolveAsync(host, store, entry, devices).ConfigureAwait(false);
            stillOpen |= done.Action == RecoveryAction.RemoveFailed;
            Log.Recovered(logger, host.Name, entry.Uuid, plan.Id, plan.Guest, plan.Where, done.Action == RecoveryAction.RemoveFailed ? $"removal failed: {done.Detail}" : done.Action.ToString());
            report.Add(done with { Plan = plan.Id, Guest = plan.Guest });
        }

        var elsewhere = plan.Entries.Any(e => e.HostKey != host.Key && (e.IsOpen || (plan.Owner == PlanOwnerState.Committed && e.State == JournalState.Committed)));
        if (!stillOpen && !elsewhere)
        {
            await store.ForgetPlanAsync(plan.Id).ConfigureAwait(false);
        }
    }

    private static async Task<RecoveredDevice> ResolveAsync(MigrationHost host, IPlannerStateStore store, JournalEntry entry, HostDevices devices)
    {
        if (OwnerOf(devices.Owners, entry) is { } guest)
        {
            // The migration finished but its commit was not recorded (or a kept device was given to a guest): the device is the guest's.
            await store.JournalAsync(entry with { State = JournalState.Committed, Error = null }).ConfigureAwait(false);
            return new RecoveredDevice(entry.Plan, "", entry.Uuid, RecoveryAction.UsedByGuest, guest);
        }

        // A device libvirt lists goes through libvirt first (it undefines a persistent one). The sysfs
        // remove follows in every case: an intent does not say whether libvirt or the sysfs fallback
        // made the device, and ENOENT there (gone, or never made) counts as removed.
        if (entry.Method == CreationMethod.Libvirt && devices.ListedByLibvirt.Contains(entry.Uuid))
        {
            await MdevRemoval.RemoveAsync(host, entry.Uuid, entry.Parent, CreationMethod.Libvirt, entry.Persistent).ConfigureAwait(false);
        }

        // A VF is reset (0 into current_vgpu_type), an mdev removed through sysfs.
        var error = await MdevRemoval.RemoveAsync(host, entry.Uuid, entry.Parent, entry.Method == CreationMethod.Vf ? CreationMethod.Vf : CreationMethod.Sysfs, persistent: false).ConfigureAwait(false);
        await store.JournalAsync(entry with { State = error is null ? JournalState.Removed : JournalState.RemoveFailed, Error = error }).ConfigureAwait(false);
        return new RecoveredDevice(entry.Plan, "", entry.Uuid, error is null ? RecoveryAction.Removed : RecoveryAction.RemoveFailed, error);
    }

    /// <summary>The guest that names the journaled device: its mdev UUID, or for a VF configuration the VF's address.</summary>
    private static string? OwnerOf(DeviceOwners owners, JournalEntry entry) =>
        entry.Method == CreationMethod.Vf
            ? PciAddress.TryParse(entry.Parent, out var vf) ? owners.OwnerOf(vf) : null
            : owners.OwnerOf(entry.Uuid);

    /// <summary>Which guests use which devices, and which mdevs libvirt lists (read only when an entry was made through libvirt). Never cancelled: a removal cut off mid-write is not safe.</summary>
    private static async Task<HostDevices> HostDevicesAsync(MigrationHost host, IReadOnlyList<StoredPlan> plans)
    {
        var owners = DeviceOwners.FromDomains(await host.Hypervisor.ListDomainsAsync(CancellationToken.None).ConfigureAwait(false));
        if (!plans.SelectMany(p => p.Entries).Any(e => e.HostKey == host.Key && e.Method == CreationMethod.Libvirt))
        {
            return new HostDevices(owners, new HashSet<MdevUuid>());
        }

        var inventory = await host.Hypervisor.GetInventoryAsync(InventoryScope.Mdevs, CancellationToken.None).ConfigureAwait(false);
        return new HostDevices(owners, inventory.Mdevs.Select(m => m.Uuid).ToHashSet());
    }

    private sealed record HostDevices(DeviceOwners Owners, IReadOnlySet<MdevUuid> ListedByLibvirt);
}
