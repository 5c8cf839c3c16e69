using VfioMigration.Planner.Sysfs;

namespace VfioMigration.Planner.Planning;

/// <summary>One VF an assignment configures, for the source device at <paramref name="Index"/>; <paramref name="Order"/> is its place among the plan's creates.</summary>
internal sealed record PendingVf(int Index, int Order, SourceDevice Source, VfOption Vf);

/// <summary>
/// What configuring one VF came to: the confirmed VF (<paramref name="Made"/>) or the rejection.
/// <paramref name="DeviceRefused"/>: the configured VF refused the version (it was reset); otherwise
/// nothing could be configured (the type left its list, the driver refused), and the PF is closed for the type.
/// </summary>
internal sealed record VfResult(PendingVf Pending, ConfiguredVfOption? Made, Rejection? Refusal, bool DeviceRefused);

/// <summary>
/// Configures and confirms the VFs of one plan on one host (docs/nvidia-vf.md): different GPUs at
/// once, the VFs of one GPU one after the other (they share its capacity, and each re-reads its
/// creatable list after the one before). Only I/O: the planner applies the results in device order.
/// </summary>
internal sealed class VfProvisioner(PlanOptions options, ProvisioningJournal journal, ProbeRunner probes, CandidateEvaluator evaluator, IVfVgpuControl control)
{
    /// <summary>Configures every pending VF, one task per PF; a PF's configures stop at its first failure. Throws after every PF has stopped, so the rollback sees every configured VF.</summary>
    public async Task<IReadOnlyList<VfResult>> ConfigureAllAsync(IReadOnlyList<PendingVf> pending, CancellationToken cancellationToken)
    {
        return pending.Count == 0
            ? []
            : await InOrderGroups.RunAsync(pending.GroupBy(p => p.Vf.Pf), ConfigureAndConfirmAsync, r => r.Made is not null, cancellationToken).ConfigureAwait(false);
    }

    private async Task<VfResult> ConfigureAndConfirmAsync(PendingVf pending, CancellationToken cancellationToken)
    {
        var (source, vf) = (pending.Source, pending.Vf);
        var address = vf.Vf.Address;

        // The creatable list is the capacity: re-read it right before writing, after the GPU's previous configure.
        var creatable = await control.CreatableAsync(address, cancellationToken).ConfigureAwait(false);
        if (!creatable.Succeeded || !creatable.Value!.Any(t => t.Matches(vf.Type)))
        {
            return NotMade(pending, RejectionCode.NoCapacity, creatable.Succeeded
                ? $"VF {address} no longer lists {vf.Type.Display} in creatable_vgpu_types (GPU {vf.Pf} is full, or another plan took its last vGPU of that size); nothing was written."
                : $"Reading {NvidiaSysfsVfControl.CreatablePath(address)} failed with {creatable.Error}; nothing was written.", creatable.Succeeded ? null : creatable.Error);
        }

        await journal.IntendVfAsync(address, vf.Type, pending.Order).ConfigureAwait(false);
        SysfsResult written;
        try
        {
            written = await control.SetTypeAsync(address, vf.Type.Id, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception error) when (error is OperationCanceledException or IOException)
        {
            // The write may have reached the driver: journal the VF so the rollback resets it (0 on an unconfigured VF changes nothing).
            await journal.RecordVfAsync(address, vf.Type, pending.Order).ConfigureAwait(false);
            throw;
        }

        if (!written.Succeeded)
        {
            await journal.NotMadeVfAsync(address, vf.Type, pending.Order).ConfigureAwait(false);
            return NotMade(pending, written.Error is Errno.EINVAL or Errno.ENOSPC or Errno.EUSERS ? RejectionCode.NoCapacity : RejectionCode.CreateFailed, $"Writing {vf.Type.Id} to {NvidiaSysfsVfControl.CurrentPath(address)} failed with {written.Error} (the driver refused the vGPU: the type is no longer creatable there, or the VF is busy); the VF is as it was.", written.Error);
        }

        await journal.RecordVfAsync(address, vf.Type, pending.Order).ConfigureAwait(false);
        var readBack = await control.CurrentAsync(address, cancellationToken).ConfigureAwait(false);
        if (!readBack.Succeeded || readBack.Value != vf.Type.Id)
        {
            return await RefusedAsync(pending, new Rejection(source.Info.Id, vf.Candidate, RejectionCode.CreateFailed, $"VF {address} reads back {(readBack.Succeeded ? readBack.Value.ToString(System.Globalization.CultureInfo.InvariantCulture) : readBack.Error.ToString())} from current_vgpu_type after {vf.Type.Id} was written; it was reset.")).ConfigureAwait(false);
        }

        ConfiguredVfOption Made(Verification verification, ProbeRecord? probe, string? note) => new(vf, verification, probe, note);
        if (source.Version.Value is not { } version)
        {
            return Confirmed(pending, Made(Verification.Unverified, null, $"not verified: {source.Version.Reason}"));
        }

        var probe = await probes.ProbeCreatedAsync(SysfsPath.PciAttribute(address, "vfio_migration_version"), version, cancellationToken, ProbePoint.PciDevice).ConfigureAwait(false);
        return probe.Outcome switch
        {
            ProbeOutcome.Accepted => Confirmed(pending, Made(Verification.Verified, probe.Record, null)),
            ProbeOutcome.Absent when options.VerificationPolicy == VerificationPolicy.AllowTypeMatch =>
                Confirmed(pending, Made(Verification.Unverified, null, $"not verified: the configured VF {address} has no vfio_migration_version")),
            ProbeOutcome.Absent =>
                await RefusedAsync(pending, new Rejection(source.Info.Id, vf.Candidate, RejectionCode.Unverifiable, $"The VF {address}, configured with {vf.Type.Display}, has no vfio_migration_version attribute, so nothing can verify it, {CandidateEvaluator.RequireVerifiedRefusal}; it was reset.")).ConfigureAwait(false),
            _ => await RefusedAsync(pending, evaluator.ProbeRejection(source, vf.Candidate, probe, $"the VF {address} just configured with {vf.Type.Display}")).ConfigureAwait(false),
        };
    }

    private static VfResult Confirmed(PendingVf pending, ConfiguredVfOption made) => new(pending, made, null, DeviceRefused: false);

    private static VfResult NotMade(PendingVf pending, RejectionCode code, string message, Errno? errno) =>
        new(pending, null, new Rejection(pending.Source.Info.Id, pending.Vf.Candidate, code, message, errno), DeviceRefused: false);

    /// <summary>Resets a configured VF the confirmation refused (a failed reset stays in the journal's failures).</summary>
    private async Task<VfResult> RefusedAsync(PendingVf pending, Rejection rejection)
    {
        await journal.ResetVfAsync(pending.Vf.Vf.Address).ConfigureAwait(false);
        return new(pending, null, rejection, DeviceRefused: true);
    }
}
