using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Planning;

namespace VfioMigration.Planner;

/// <summary>What kind of configuration accepts a device.</summary>
public enum CompatibleTargetKind
{
    /// <summary>An idle mdev that exists now.</summary>
    ExistingMdev,

    /// <summary>An mdev of this (parent, type) that could be created.</summary>
    NewMdev,

    /// <summary>A free PCI function (for a VF vGPU: an idle VF already configured with its type).</summary>
    PciFunction,

    /// <summary>An unconfigured VF that could be given the source's vGPU type (docs/nvidia-vf.md).</summary>
    NewVfVgpu,
}

/// <summary>One configuration on a host that accepts a source device.</summary>
/// <param name="Kind">Existing mdev, creatable (parent, type), or PCI function.</param>
/// <param name="Existing">The existing device (for <see cref="CompatibleTargetKind.ExistingMdev"/> and <see cref="CompatibleTargetKind.PciFunction"/>).</param>
/// <param name="Parent">The parent (mdevs).</param>
/// <param name="Type">The type: mdev type id, or the PCI function's type.</param>
/// <param name="AvailableInstances">How many instances could be created (for <see cref="CompatibleTargetKind.NewMdev"/>; advisory).</param>
/// <param name="Verification">Verified by a probe, or unverified (listed only under <see cref="VerificationPolicy.AllowTypeMatch"/>).</param>
/// <param name="DecidedBy">The probe that verified it.</param>
/// <param name="Note">Why it is unverified, or what remains to confirm.</param>
public sealed record CompatibleTarget(CompatibleTargetKind Kind, DeviceTarget? Existing, string? Parent, string Type, int? AvailableInstances, Verification Verification, ProbeRecord? DecidedBy, string? Note)
{
    internal static CompatibleTarget? From(TargetOption option, OptionVerdict verdict, VerificationPolicy policy)
    {
        var verification = verdict.Kind switch
        {
            VerdictKind.Verified => Verification.Verified,
            VerdictKind.Unverified or VerdictKind.NeedsCreation when policy == VerificationPolicy.AllowTypeMatch => Verification.Unverified,
            _ => (Verification?)null,
        };
        if (verification is not { } accepted)
        {
            return null;
        }

        var note = verdict.Kind == VerdictKind.NeedsCreation ? $"unverified until created: {verdict.Note}" : verdict.Note;
        var probe = accepted == Verification.Verified ? verdict.Probe : null;
        return option switch
        {
            ExistingMdevOption mdev => new CompatibleTarget(CompatibleTargetKind.ExistingMdev, new MdevTarget(mdev.Mdev.Uuid), mdev.Mdev.Parent?.Value, mdev.Mdev.Type.Value, null, accepted, probe, note),
            PciOption pci => new CompatibleTarget(CompatibleTargetKind.PciFunction, new PciTarget(pci.Device.Address), null, SourceReader.PciIdsType(pci.Device.VendorId, pci.Device.ProductId), null, accepted, probe, note),
            CreateOption create => new CompatibleTarget(CompatibleTargetKind.NewMdev, null, create.Parent.Name.Value, create.Type.Id.Value, create.Type.AvailableInstances, accepted, probe, note),
            VfOption vf => new CompatibleTarget(vf.Configured ? CompatibleTargetKind.PciFunction : CompatibleTargetKind.NewVfVgpu, new PciTarget(vf.Vf.Address), vf.Pf.ToString(), vf.Type.Display, null, accepted, probe, note),
            _ => null,
        };
    }
}

/// <summary>The answer of <see cref="MigrationPlanner.FindCompatibleTargetsAsync"/>.</summary>
/// <param name="Source">The device asked about.</param>
/// <param name="Targets">Every accepting configuration, in preferred order.</param>
/// <param name="Rejections">Every candidate that did not accept, with a reason.</param>
/// <param name="Statistics">What answering cost (no creates, no removes).</param>
public sealed record CompatibleTargets(SourceDeviceInfo Source, IReadOnlyList<CompatibleTarget> Targets, IReadOnlyList<Rejection> Rejections, PlanStatistics Statistics);

/// <summary>The answer of <see cref="MigrationPlanner.CheckCompatibilityAsync"/>.</summary>
public enum CompatibilityOutcome
{
    /// <summary>The target's migration version attribute accepted the source's version.</summary>
    Compatible,

    /// <summary>The target refused: its attribute rejected the source version (the probe and errno say so), its type differs, or the source cannot migrate at all.</summary>
    Incompatible,

    /// <summary>Nothing could verify without creating a device or changing the host: no attribute, the probe failed or timed out, the target is in use.</summary>
    Unknown,
}

/// <summary>Whether one source device is compatible with one target, and what decided it.</summary>
/// <param name="Source">The device asked about.</param>
/// <param name="Target">The target as asked (mdev UUID, PCI address or <c>PARENT/TYPE</c>).</param>
/// <param name="Outcome">Compatible, incompatible or unknown.</param>
/// <param name="DecidedBy">The probe that decided (its path and errno), when one was made.</param>
/// <param name="Reason">Why, in a sentence.</param>
/// <param name="Statistics">What answering cost: at most one probe, no creates.</param>
public sealed record CompatibilityCheck(SourceDeviceInfo Source, string Target, CompatibilityOutcome Outcome, ProbeRecord? DecidedBy, string Reason, PlanStatistics Statistics);
