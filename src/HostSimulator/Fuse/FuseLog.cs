using Microsoft.Extensions.Logging;

namespace VfioMigration.HostSimulator.Fuse;

/// <summary>The FUSE front end's log messages, with stable event ids.</summary>
internal static partial class FuseLog
{
    [LoggerMessage(EventId = 3001, Level = LogLevel.Error, Message = "FUSE {Operation} of '{Path}' failed inside the simulator; answered EIO.")]
    internal static partial void CallbackFailed(ILogger logger, string operation, string path, Exception exception);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Warning, Message = "{MountPoint} was a dead FUSE mount (transport endpoint not connected), left by a process that died; cleared it with fusermount3 -u -z.")]
    internal static partial void StaleMountCleared(ILogger logger, string mountPoint);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Information, Message = "Mounted the simulated host at {MountPoint} in {ElapsedMilliseconds} ms.")]
    internal static partial void Mounted(ILogger logger, string mountPoint, long elapsedMilliseconds);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Warning, Message = "{MountPoint} was busy (a file or directory under it is still open); detached it lazily: the FUSE loop keeps serving the open files and ends when the last one is closed.")]
    internal static partial void DetachedBusyMount(ILogger logger, string mountPoint);

    [LoggerMessage(EventId = 3005, Level = LogLevel.Information, Message = "Unmounted the simulated host from {MountPoint}.")]
    internal static partial void Unmounted(ILogger logger, string mountPoint);
}
