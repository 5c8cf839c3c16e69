namespace VfioMigration.Planner.Devices;

/// <summary>The destination device a source host device is mapped to; what the destination XML's <c>&lt;source&gt;</c> will name.</summary>
public abstract record DeviceTarget;

/// <summary>A mediated device on the destination, named by its UUID.</summary>
/// <param name="Uuid">The destination mdev's UUID.</param>
public sealed record MdevTarget(MdevUuid Uuid) : DeviceTarget;

/// <summary>A whole PCI function on the destination.</summary>
/// <param name="Address">The destination function's PCI address.</param>
public sealed record PciTarget(PciAddress Address) : DeviceTarget;
