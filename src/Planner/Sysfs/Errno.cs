namespace VfioMigration.Planner.Sysfs;

/// <summary>Linux errno values (x86-64 and the generic ABI) that sysfs and mdev drivers return.</summary>
/// <remarks>Values are the kernel's numbers so that an errno crossing a process or network boundary keeps its meaning.</remarks>
#pragma warning disable CA1707 // The C names are the point.
public enum Errno
{
    /// <summary>Success.</summary>
    None = 0,

    /// <summary>Operation not permitted.</summary>
    EPERM = 1,

    /// <summary>No such file or directory (an absent attribute: "does not support migration").</summary>
    ENOENT = 2,

    /// <summary>I/O error.</summary>
    EIO = 5,

    /// <summary>No such device or address.</summary>
    ENXIO = 6,

    /// <summary>Try again.</summary>
    EAGAIN = 11,

    /// <summary>Out of memory.</summary>
    ENOMEM = 12,

    /// <summary>Permission denied (a read-only attribute opened for writing, or the reverse).</summary>
    EACCES = 13,

    /// <summary>Device or resource busy.</summary>
    EBUSY = 16,

    /// <summary>File exists (an mdev UUID already in use on the host).</summary>
    EEXIST = 17,

    /// <summary>No such device (the i915 sample's "migration not supported"; a parent going away).</summary>
    ENODEV = 19,

    /// <summary>Not a directory.</summary>
    ENOTDIR = 20,

    /// <summary>Is a directory.</summary>
    EISDIR = 21,

    /// <summary>Invalid argument (not a UUID; the i915 sample's "version mismatch").</summary>
    EINVAL = 22,

    /// <summary>File too large.</summary>
    EFBIG = 27,

    /// <summary>No space left on device (mtty's own exhaustion errno).</summary>
    ENOSPC = 28,

    /// <summary>Read-only file system.</summary>
    EROFS = 30,

    /// <summary>Result out of range.</summary>
    ERANGE = 34,

    /// <summary>File name too long.</summary>
    ENAMETOOLONG = 36,

    /// <summary>Function not implemented.</summary>
    ENOSYS = 38,

    /// <summary>Too many levels of symbolic links (a link loop).</summary>
    ELOOP = 40,

    /// <summary>No data available.</summary>
    ENODATA = 61,

    /// <summary>Too many users (the mdev core's exhaustion errno, kernels 6.1+).</summary>
    EUSERS = 87,

    /// <summary>Operation not supported.</summary>
    EOPNOTSUPP = 95,

    /// <summary>Connection timed out (used for a probe cut off by the planner's bound).</summary>
    ETIMEDOUT = 110,

    /// <summary>Operation cancelled.</summary>
    ECANCELED = 125,
}
#pragma warning restore CA1707
