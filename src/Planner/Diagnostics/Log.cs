using Microsoft.Extensions.Logging;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.Planner.Diagnostics;

/// <summary>Every log message of the planner, with stable event ids (1000-1099).</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1000, Level = LogLevel.Information, Message = "Planning migration of guest {Guest} from {Source} to {DestinationCount} destination(s)")]
    public static partial void PlanStarted(ILogger logger, string guest, string source, int destinationCount);

    [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "Plan for {Guest} on {Destination}: complete={Complete}, {Devices} device(s), {Probes} probe(s), {Creates} create(s), {ElapsedMs} ms")]
    public static partial void PlanFinished(ILogger logger, string guest, string destination, bool complete, int devices, int probes, int creates, long elapsedMs);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Debug, Message = "Source device {Device}: type {Type}, version {VersionState}")]
    public static partial void SourceDevice(ILogger logger, string device, string type, Planning.VersionState versionState);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Debug, Message = "Probe {Path} on {Host}: {Errno}")]
    public static partial void Probe(ILogger logger, SysfsPath path, string host, Errno errno);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Warning, Message = "Probe {Path} on {Host} did not answer within {Timeout}; counted as unknown")]
    public static partial void ProbeTimedOut(ILogger logger, SysfsPath path, string host, TimeSpan timeout);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Debug, Message = "Candidate {Candidate} for {Device} on {Host} rejected: {Code} {Message}")]
    public static partial void CandidateRejected(ILogger logger, string candidate, string device, string host, RejectionCode code, string message);

    [LoggerMessage(EventId = 1006, Level = LogLevel.Information, Message = "Created mdev {Uuid} of type {Type} on {Parent} ({Host}) through {Method}")]
    public static partial void MdevCreated(ILogger logger, MdevUuid uuid, MdevTypeId type, string parent, string host, CreationMethod method);

    [LoggerMessage(EventId = 1007, Level = LogLevel.Information, Message = "Removed mdev {Uuid} on {Host}")]
    public static partial void MdevRemoved(ILogger logger, MdevUuid uuid, string host);

    [LoggerMessage(EventId = 1008, Level = LogLevel.Error, Message = "Could not remove mdev {Uuid} on {Host}: {Error}")]
    public static partial void MdevRemoveFailed(ILogger logger, MdevUuid uuid, string host, string error);

    [LoggerMessage(EventId = 1009, Level = LogLevel.Debug, Message = "libvirt cannot create mdevs on {Host} ({Reason}); falling back to sysfs")]
    public static partial void CreateFallsBackToSysfs(ILogger logger, string host, string reason);

    [LoggerMessage(EventId = 1010, Level = LogLevel.Warning, Message = "libvirt reported a failed create of mdev {Uuid} on {Host}, but the device exists: keeping it ({Error})")]
    public static partial void CreateReportedFailureButExists(ILogger logger, MdevUuid uuid, string host, string error);

    [LoggerMessage(EventId = 1011, Level = LogLevel.Information, Message = "Rolling back {Count} device(s) created on {Host}")]
    public static partial void RollingBack(ILogger logger, int count, string host);

    [LoggerMessage(EventId = 1012, Level = LogLevel.Information, Message = "Best destination for {Guest}: {Destination}")]
    public static partial void BestDestination(ILogger logger, string guest, string destination);

    [LoggerMessage(EventId = 1013, Level = LogLevel.Information, Message = "Plan for {Guest} on {Destination} failed: {Reasons}")]
    public static partial void PlanFailed(ILogger logger, string guest, string destination, IEnumerable<string> reasons);

    [LoggerMessage(EventId = 1014, Level = LogLevel.Information, Message = "Migrating {Guest} to {Destination}")]
    public static partial void Migrating(ILogger logger, string guest, string destination);

    [LoggerMessage(EventId = 1015, Level = LogLevel.Information, Message = "Parent {Parent} on {Host} was found in sysfs (class/mdev_bus), not listed by libvirt: {TypeCount} type(s) read from sysfs; mdevs are created there through sysfs")]
    public static partial void ParentFoundInSysfsOnly(ILogger logger, string parent, string host, int typeCount);

    [LoggerMessage(EventId = 1016, Level = LogLevel.Warning, Message = "Skipped {Entry} in {Path} on {Host}: {Reason}")]
    public static partial void SysfsEntrySkipped(ILogger logger, SysfsPath path, string host, string entry, string reason);

    [LoggerMessage(EventId = 1018, Level = LogLevel.Warning, Message = "Skipped {Count} entries in {Path} on {Host} that are not a valid {What}: {Named}")]
    public static partial void SysfsEntriesSkipped(ILogger logger, SysfsPath path, string host, int count, string what, string named);

    [LoggerMessage(EventId = 1017, Level = LogLevel.Warning, Message = "Could not list {Path} on {Host} ({Errno}); parents libvirt does not list are not looked for there")]
    public static partial void SysfsListFailed(ILogger logger, SysfsPath path, string host, Errno errno);

    [LoggerMessage(EventId = 1018, Level = LogLevel.Warning, Message = "Could not record in the state store that mdev {Uuid} on {Host} was removed (recovery will find it gone): {Reason}")]
    public static partial void StateStoreWriteFailed(ILogger logger, MdevUuid uuid, string host, string reason);

    [LoggerMessage(EventId = 1019, Level = LogLevel.Warning, Message = "Recovery on {Host}: mdev {Uuid} of plan {Plan} (guest {Guest}, {Where}): {Outcome}")]
    public static partial void Recovered(ILogger logger, string host, MdevUuid uuid, Guid plan, string guest, string where, string outcome);

    [LoggerMessage(EventId = 1020, Level = LogLevel.Warning, Message = "Removing {Count} mdev(s) on {Host} in one batch failed ({Reason}); removing them one by one")]
    public static partial void RemovalBatchFailed(ILogger logger, int count, string host, string reason);

    [LoggerMessage(EventId = 1021, Level = LogLevel.Information, Message = "Configured VF {Vf} with vGPU type {Type} on {Host} (journal key {Uuid})")]
    public static partial void VfConfigured(ILogger logger, PciAddress vf, MdevTypeId type, string host, MdevUuid uuid);
}
