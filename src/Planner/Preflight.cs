namespace VfioMigration.Planner;

/// <summary>What a preflight check found.</summary>
public enum PreflightOutcome
{
    /// <summary>The check passed.</summary>
    Passed,

    /// <summary>The check could not rule the failure out; the plan goes on, with the warning in it.</summary>
    Warning,

    /// <summary>The migration would fail: the plan for that destination fails before anything is created.</summary>
    Failed,

    /// <summary>The check does not apply here (not a QEMU host, e.g. libvirt's test driver).</summary>
    NotApplicable,
}

/// <summary>
/// One preflight check on one host: a fact that, when wrong, makes the migration fail late (at
/// migration start or in the stream) and that the planner can see before it promises a plan.
/// </summary>
/// <param name="Host">The host the check is about.</param>
/// <param name="Check">Which check, as a stable code: <c>LIBVIRT_VERSION</c>, <c>QEMU_VERSION</c>, <c>DEVICE_MIGRATION</c>, <c>DIRTY_TRACKING</c>.</param>
/// <param name="Outcome">What it found.</param>
/// <param name="Message">What it found, in a sentence; for a warning or a failure also what to do.</param>
/// <param name="Device">The source device it is about (UUID or address); null for a host-wide check.</param>
public sealed record PreflightCheck(string Host, string Check, PreflightOutcome Outcome, string Message, string? Device = null);
