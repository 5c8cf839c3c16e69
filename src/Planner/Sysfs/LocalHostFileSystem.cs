using System.Runtime.InteropServices;
using System.Text;
using VfioMigration.Planner.Devices;

namespace VfioMigration.Planner.Sysfs;

/// <summary>
/// The sysfs of the machine this process runs on (or any directory laid out like it, such as a
/// FUSE-mounted simulated host), through real system calls so that every result carries the exact
/// errno the kernel returned: <c>open</c>/<c>read</c>/<c>close</c> for reads, one
/// <c>write()</c> for writes, <c>opendir</c>/<c>readdir</c> for listings and <c>readlink</c>.
/// </summary>
/// <remarks>
/// sysfs is memory-backed, so the system calls run synchronously on the caller's thread; the
/// asynchronous methods honour cancellation before starting and complete synchronously.
/// Symbolic links inside the root (sysfs links such as <c>../../devices/...</c>) are followed by the
/// kernel as usual. Safe for concurrent use: no state beyond the root.
/// </remarks>
public sealed class LocalHostFileSystem : IHostFileSystem
{
    /// <summary>The most a sysfs attribute accepts in one write: one page.</summary>
    public const int MaxWriteLength = 4096;

    /// <summary>Where a per-open attribute keeps the reason of a refusal (the reference driver migref).</summary>
    private const long ReasonOffset = 4096;

    private readonly string _root;

    /// <summary>Creates an instance over <paramref name="root"/>.</summary>
    /// <param name="root">The sysfs root, an absolute path; <c>/sys</c> by default.</param>
    /// <exception cref="ArgumentException"><paramref name="root"/> is not an absolute path or contains a NUL character.</exception>
    public LocalHostFileSystem(string root = "/sys")
    {
        ArgumentNullException.ThrowIfNull(root);
        if (!root.StartsWith('/') || root.Contains('\0', StringComparison.Ordinal))
        {
            throw new ArgumentException($"The sysfs root '{MdevUuid.Shorten(root)}' must be an absolute path such as /sys (no NUL characters).", nameof(root));
        }

        var trimmed = root.TrimEnd('/');
        _root = trimmed.Length == 0 ? "/" : trimmed;
    }

    /// <summary>The root directory, as given (without a trailing <c>/</c>).</summary>
    public string Root => _root;

    /// <inheritdoc />
    public string Description => $"local {_root}";

    /// <inheritdoc />
    public ValueTask<SysfsResult<string>> ReadAsync(SysfsPath path, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(Read(FullPath(path)));
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentException"><paramref name="value"/> is not ASCII or is longer than <see cref="MaxWriteLength"/> bytes; no system call is made.</exception>
    public ValueTask<SysfsResult> WriteAsync(SysfsPath path, string value, CancellationToken cancellationToken = default)
    {
        var data = CheckedValue(path, value);
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(Write(FullPath(path), data));
    }

    /// <inheritdoc />
    /// <remarks>An attribute that cannot be opened for reading and writing (EACCES) gets a plain write and no reply.</remarks>
    /// <exception cref="ArgumentException"><paramref name="value"/> is not ASCII or is longer than <see cref="MaxWriteLength"/> bytes; no system call is made.</exception>
    public ValueTask<SysfsExchange> ExchangeAsync(SysfsPath path, string value, CancellationToken cancellationToken = default)
    {
        var data = CheckedValue(path, value);
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(Exchange(FullPath(path), data));
    }

    /// <summary>The bytes of a value one write may carry, or the <see cref="ArgumentException"/> both front ends give.</summary>
    internal static byte[] CheckedValue(SysfsPath path, string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (!Ascii.IsValid(value))
        {
            throw new ArgumentException($"The value written to '{path}' must be ASCII text; it has a character outside ASCII.", nameof(value));
        }

        if (value.Length > MaxWriteLength)
        {
            throw new ArgumentException($"The value written to '{path}' is {value.Length} bytes; sysfs accepts at most {MaxWriteLength} bytes (one page) per write.", nameof(value));
        }

        return Encoding.ASCII.GetBytes(value);
    }

    /// <inheritdoc />
    public ValueTask<SysfsResult<IReadOnlyList<string>>> ListAsync(SysfsPath path, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(List(FullPath(path)));
    }

    /// <inheritdoc />
    public ValueTask<SysfsResult<string>> ReadLinkAsync(SysfsPath path, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(ReadLink(FullPath(path)));
    }

    private string FullPath(SysfsPath path)
    {
        if (path.Value.Length == 0)
        {
            return _root;
        }

        return _root == "/" ? "/" + path.Value : $"{_root}/{path.Value}";
    }

    private static Errno LastErrno() => (Errno)Marshal.GetLastPInvokeError();

    private static unsafe SysfsResult<string> Read(string fullPath)
    {
        int fd;
        do
        {
            fd = LibC.Open(fullPath, LibC.O_RDONLY | LibC.O_CLOEXEC);
        }
        while (fd < 0 && Marshal.GetLastPInvokeError() == LibC.EINTR);

        if (fd < 0)
        {
            return SysfsResult.Failed<string>(LastErrno());
        }

        try
        {
            // One page holds every sysfs attribute; grow only for exotic files under a test root.
            var buffer = new byte[MaxWriteLength];
            var length = 0;
            while (true)
            {
                if (length == buffer.Length)
                {
                    Array.Resize(ref buffer, buffer.Length * 2);
                }

                nint count;
                fixed (byte* start = &buffer[length])
                {
                    count = LibC.Read(fd, start, (nuint)(buffer.Length - length));
                }

                if (count < 0)
                {
                    if (Marshal.GetLastPInvokeError() == LibC.EINTR)
                    {
                        continue;
                    }

                    return SysfsResult.Failed<string>(LastErrno());
                }

                if (count == 0)
                {
                    return SysfsResult.Of(Encoding.UTF8.GetString(buffer, 0, length));
                }

                length += (int)count;
            }
        }
        finally
        {
            _ = LibC.Close(fd);
        }
    }

    private static unsafe SysfsResult Write(string fullPath, byte[] data)
    {
        int fd;
        do
        {
            fd = LibC.Open(fullPath, LibC.O_WRONLY | LibC.O_CLOEXEC);
        }
        while (fd < 0 && Marshal.GetLastPInvokeError() == LibC.EINTR);

        if (fd < 0)
        {
            return new SysfsResult(LastErrno());
        }

        try
        {
            nint written;
            fixed (byte* start = data)
            {
                // EINTR means nothing was written, so repeating keeps the single-write contract.
                do
                {
                    written = LibC.Write(fd, start, (nuint)data.Length);
                }
                while (written < 0 && Marshal.GetLastPInvokeError() == LibC.EINTR);
            }

            return written < 0 ? new SysfsResult(LastErrno()) : SysfsResult.Success;
        }
        finally
        {
            _ = LibC.Close(fd);
        }
    }

    private static unsafe SysfsExchange Exchange(string fullPath, byte[] data)
    {
        int fd;
        do
        {
            fd = LibC.Open(fullPath, LibC.O_RDWR | LibC.O_CLOEXEC);
        }
        while (fd < 0 && Marshal.GetLastPInvokeError() == LibC.EINTR);

        if (fd < 0)
        {
            var errno = LastErrno();
            return errno == (Errno)LibC.EACCES ? new SysfsExchange(Write(fullPath, data).Error, null, null) : new SysfsExchange(errno, null, null);
        }

        try
        {
            nint written;
            fixed (byte* start = data)
            {
                do
                {
                    written = LibC.Write(fd, start, (nuint)data.Length);
                }
                while (written < 0 && Marshal.GetLastPInvokeError() == LibC.EINTR);
            }

            var error = written < 0 ? LastErrno() : Errno.None;
            var reply = error == Errno.None ? ReadFrom(fd, offset: null) : null;
            return new SysfsExchange(error, reply, ReadFrom(fd, ReasonOffset));
        }
        finally
        {
            _ = LibC.Close(fd);
        }
    }

    /// <summary>Up to one page from the file's position (<paramref name="offset"/> null) or from an offset; null when empty or failing.</summary>
    private static unsafe string? ReadFrom(int fd, long? offset)
    {
        var buffer = new byte[MaxWriteLength];
        var length = 0;
        fixed (byte* start = buffer)
        {
            while (length < buffer.Length)
            {
                var free = (nuint)(buffer.Length - length);
                var count = offset is { } at ? LibC.PRead(fd, start + length, free, at + length) : LibC.Read(fd, start + length, free);
                if (count < 0 && Marshal.GetLastPInvokeError() == LibC.EINTR)
                {
                    continue;
                }

                if (count <= 0)
                {
                    break;
                }

                length += (int)count;
            }
        }

        return length == 0 ? null : Encoding.Latin1.GetString(buffer, 0, length);
    }

    private static unsafe SysfsResult<IReadOnlyList<string>> List(string fullPath)
    {
        var directory = LibC.OpenDir(fullPath);
        if (directory == 0)
        {
            return SysfsResult.Failed<IReadOnlyList<string>>(LastErrno());
        }

        try
        {
            var names = new List<string>();
            while (true)
            {
                var entry = LibC.ReadDir(directory);
                if (entry == null)
                {
                    var error = LastErrno();
                    return error == Errno.None ? SysfsResult.Of<IReadOnlyList<string>>(names) : SysfsResult.Failed<IReadOnlyList<string>>(error);
                }

                var name = Marshal.PtrToStringUTF8((nint)entry->Name)!;
                if (name is not "." and not "..")
                {
                    names.Add(name);
                }
            }
        }
        finally
        {
            _ = LibC.CloseDir(directory);
        }
    }

    private static unsafe SysfsResult<string> ReadLink(string fullPath)
    {
        // A link target is at most PATH_MAX - 1 bytes, so one PATH_MAX buffer always holds it whole.
        const int PathMax = 4096;
        var buffer = stackalloc byte[PathMax];
        var length = LibC.ReadLink(fullPath, buffer, PathMax);
        return length < 0
            ? SysfsResult.Failed<string>(LastErrno())
            : SysfsResult.Of(Encoding.UTF8.GetString(buffer, (int)length));
    }
}
