using VfioMigration.Planner.Sysfs;

namespace VfioMigration.RemoteHosts;

/// <summary>
/// Maps the C-locale <c>strerror</c> text that coreutils prints (<c>cat: x: No such file or directory</c>)
/// back to the errno. The remote commands run with <c>LC_ALL=C</c>, so the texts are glibc's English ones.
/// </summary>
internal static class StrerrorTable
{
    private static readonly Dictionary<string, Errno> ByText = new(StringComparer.Ordinal)
    {
        ["Operation not permitted"] = Errno.EPERM,
        ["No such file or directory"] = Errno.ENOENT,
        ["Input/output error"] = Errno.EIO,
        ["No such device or address"] = Errno.ENXIO,
        ["Resource temporarily unavailable"] = Errno.EAGAIN,
        ["Cannot allocate memory"] = Errno.ENOMEM,
        ["Permission denied"] = Errno.EACCES,
        ["Device or resource busy"] = Errno.EBUSY,
        ["File exists"] = Errno.EEXIST,
        ["No such device"] = Errno.ENODEV,
        ["Not a directory"] = Errno.ENOTDIR,
        ["Is a directory"] = Errno.EISDIR,
        ["Invalid argument"] = Errno.EINVAL,
        ["File too large"] = Errno.EFBIG,
        ["No space left on device"] = Errno.ENOSPC,
        ["Read-only file system"] = Errno.EROFS,
        ["Numerical result out of range"] = Errno.ERANGE,
        ["File name too long"] = Errno.ENAMETOOLONG,
        ["Function not implemented"] = Errno.ENOSYS,
        ["Too many levels of symbolic links"] = Errno.ELOOP,
        ["No data available"] = Errno.ENODATA,
        ["Too many users"] = Errno.EUSERS,
        ["Operation not supported"] = Errno.EOPNOTSUPP,
        ["Connection timed out"] = Errno.ETIMEDOUT,
        ["Operation canceled"] = Errno.ECANCELED,
    };

    /// <summary>
    /// The errno named by the last line of a coreutils error message (<c>tool: context: strerror text</c>);
    /// null when the text is not one of the known errno texts.
    /// </summary>
    public static Errno? FromMessage(string message)
    {
        var line = message.TrimEnd('\n', '\r');
        var lastLine = line[(line.LastIndexOf('\n') + 1)..];

        // Validated sysfs paths contain no spaces, so ": " only separates the tool, its context and the text.
        var text = lastLine[(lastLine.LastIndexOf(": ", StringComparison.Ordinal) + 1)..].Trim();
        return ByText.TryGetValue(text, out var errno) ? errno : null;
    }
}
