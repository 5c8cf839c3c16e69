using System.Runtime.InteropServices;
using System.Text;
using VfioMigration.Planner.Devices;

namespace VfioMigration.Planner.Sysfs;

/// <summary>
/// The sysfs of the machine this process runs on (or any directory laid out like it, such as a
/// FUSE-mounted simulated host), through real system calls so that every result carries the exact
/// errno the kernel returned: <c>openat2</c>/<c>read</c>/<c>close</c> for reads, one
/// <c>write()</c> for writes, <c>fdopendir</c>/<c>readdir</c> for listings and <c>readlinkat</c>.
/// </summary>
/// <remarks>
/// <para>
/// Every path resolves beneath the root, whatever links the tree holds: <c>openat2</c> with
/// <c>RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS</c> from a descriptor of the root (on kernels before
/// 5.6, a component walk with <c>O_NOFOLLOW</c> that resolves each link by hand). An absolute link
/// target starts again at the root and <c>..</c> stops at the root, as after a <c>chroot</c>; sysfs
/// links such as <c>../../devices/...</c> stay inside <c>/sys</c>, so real sysfs resolves as before.
/// </para>
/// <para>
/// Bounded: files are opened with <c>O_NONBLOCK | O_NOCTTY</c> and anything but a regular file (a
/// FIFO, a device node, a socket) is refused with <see cref="Errno.ENXIO"/> before any read or write;
/// a read returns at most one page and a longer file fails with <see cref="Errno.EFBIG"/>; a listing of
/// more than <see cref="MaxListingEntries"/> entries fails with <see cref="Errno.EFBIG"/>.
/// </para>
/// <para>
/// sysfs is memory-backed, so the system calls run synchronously on the caller's thread; the
/// asynchronous methods honour cancellation before starting and complete synchronously.
/// Safe for concurrent use: no state beyond the root.
/// </para>
/// </remarks>
public sealed class LocalHostFileSystem : IHostFileSystem
{
    /// <summary>The most a sysfs attribute holds, and accepts in one write: one page.</summary>
    public const int MaxWriteLength = 4096;

    /// <summary>Where a per-open attribute keeps the reason of a refusal (the reference driver migref).</summary>
    private const long ReasonOffset = 4096;

    /// <summary>The most entries a listing returns; a directory with more fails with <see cref="Errno.EFBIG"/>.</summary>
    public const int MaxListingEntries = 65536;

    private const int FileFlags = LibC.O_NONBLOCK | LibC.O_NOCTTY | LibC.O_CLOEXEC;

    private readonly string _root;
    private readonly bool _componentWalk;

    /// <summary>Creates an instance over <paramref name="root"/>.</summary>
    /// <param name="root">The sysfs root, an absolute path; <c>/sys</c> by default.</param>
    /// <exception cref="ArgumentException"><paramref name="root"/> is not an absolute path or contains a NUL character.</exception>
    public LocalHostFileSystem(string root = "/sys")
        : this(root, componentWalk: false)
    {
    }

    /// <summary>Creates an instance that may be told to use the component walk even where <c>openat2</c> exists.</summary>
    internal LocalHostFileSystem(string root, bool componentWalk)
    {
        ArgumentNullException.ThrowIfNull(root);
        if (!root.StartsWith('/') || root.Contains('\0', StringComparison.Ordinal))
        {
            throw new ArgumentException($"The sysfs root '{MdevUuid.Shorten(root)}' must be an absolute path such as /sys (no NUL characters).", nameof(root));
        }

        var trimmed = root.TrimEnd('/');
        _root = trimmed.Length == 0 ? "/" : trimmed;
        _componentWalk = componentWalk;
    }

    /// <summary>The root directory, as given (without a trailing <c>/</c>).</summary>
    public string Root => _root;

    /// <inheritdoc />
    public string Description => $"local {_root}";

    /// <inheritdoc />
    public ValueTask<SysfsResult<string>> ReadAsync(SysfsPath path, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(Read(path));
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentException"><paramref name="value"/> is not ASCII or is longer than <see cref="MaxWriteLength"/> bytes; no system call is made.</exception>
    public ValueTask<SysfsResult> WriteAsync(SysfsPath path, string value, CancellationToken cancellationToken = default)
    {
        var data = CheckedValue(path, value);
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(Write(path, data));
    }

    /// <inheritdoc />
    /// <remarks>An attribute that cannot be opened for reading and writing (EACCES) gets a plain write and no reply.</remarks>
    /// <exception cref="ArgumentException"><paramref name="value"/> is not ASCII or is longer than <see cref="MaxWriteLength"/> bytes; no system call is made.</exception>
    public ValueTask<SysfsExchange> ExchangeAsync(SysfsPath path, string value, CancellationToken cancellationToken = default)
    {
        var data = CheckedValue(path, value);
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(Exchange(path, data));
    }

    /// <summary>The bytes of a value one write may carry, or the <see cref="ArgumentException"/>.</summary>
    private static byte[] CheckedValue(SysfsPath path, string value)
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
        return ValueTask.FromResult(List(path));
    }

    /// <inheritdoc />
    public ValueTask<SysfsResult<string>> ReadLinkAsync(SysfsPath path, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(ReadLink(path));
    }

    private static Errno LastErrno() => (Errno)Marshal.GetLastPInvokeError();

    /// <summary>Opens <paramref name="path"/> beneath the root; a descriptor, or a negated errno.</summary>
    private int OpenBeneath(string path, int flags)
    {
        int root;
        do
        {
            root = LibC.Open(_root, LibC.O_PATH | LibC.O_DIRECTORY | LibC.O_CLOEXEC);
        }
        while (root < 0 && Marshal.GetLastPInvokeError() == LibC.EINTR);

        if (root < 0)
        {
            return -Marshal.GetLastPInvokeError();
        }

        try
        {
            return BeneathRoot.Open(root, path, flags, _componentWalk);
        }
        finally
        {
            _ = LibC.Close(root);
        }
    }

    /// <summary>Opens a regular file beneath the root: a descriptor, or a negated errno (EISDIR for a directory, ENXIO for anything else that is not a regular file).</summary>
    private unsafe int OpenFile(SysfsPath path, int accessMode)
    {
        var fd = OpenBeneath(path.Value, accessMode | FileFlags);
        if (fd < 0)
        {
            return fd;
        }

        LibC.StatxBuffer status;
        var error = LibC.Statx(fd, string.Empty, LibC.AT_EMPTY_PATH, LibC.STATX_TYPE, &status) < 0
            ? -Marshal.GetLastPInvokeError()
            : (status.Mode & LibC.S_IFMT) switch
            {
                LibC.S_IFREG => 0,
                LibC.S_IFDIR => -(int)Errno.EISDIR,
                _ => -(int)Errno.ENXIO,
            };
        if (error == 0)
        {
            return fd;
        }

        _ = LibC.Close(fd);
        return error;
    }

    private unsafe SysfsResult<string> Read(SysfsPath path)
    {
        var fd = OpenFile(path, LibC.O_RDONLY);
        if (fd < 0)
        {
            return SysfsResult.Failed<string>((Errno)(-fd));
        }

        try
        {
            // One page holds every sysfs attribute; the extra byte tells a longer file from a full page.
            // On the stack: an inventory reads thousands of attributes, and only the text is kept.
            const int Capacity = MaxWriteLength + 1;
            var buffer = stackalloc byte[Capacity];
            var length = 0;
            while (length < Capacity)
            {
                var count = LibC.Read(fd, buffer + length, (nuint)(Capacity - length));
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
                    return SysfsResult.Of(Encoding.UTF8.GetString(buffer, length));
                }

                length += (int)count;
            }

            return SysfsResult.Failed<string>(Errno.EFBIG);
        }
        finally
        {
            _ = LibC.Close(fd);
        }
    }

    private unsafe SysfsResult Write(SysfsPath path, byte[] data)
    {
        var fd = OpenFile(path, LibC.O_WRONLY);
        if (fd < 0)
        {
            return new SysfsResult((Errno)(-fd));
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

    private unsafe SysfsExchange Exchange(SysfsPath path, byte[] data)
    {
        var fd = OpenFile(path, LibC.O_RDWR);
        if (fd < 0)
        {
            return fd == -LibC.EACCES ? new SysfsExchange(Write(path, data).Error, null, null) : new SysfsExchange((Errno)(-fd), null, null);
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
        var start = stackalloc byte[MaxWriteLength];
        var length = 0;
        while (length < MaxWriteLength)
        {
            var free = (nuint)(MaxWriteLength - length);
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

        return length == 0 ? null : Encoding.Latin1.GetString(start, length);
    }

    private unsafe SysfsResult<IReadOnlyList<string>> List(SysfsPath path)
    {
        var fd = OpenBeneath(path.Value, LibC.O_RDONLY | LibC.O_DIRECTORY | FileFlags);
        if (fd < 0)
        {
            return SysfsResult.Failed<IReadOnlyList<string>>((Errno)(-fd));
        }

        var directory = LibC.FdOpenDir(fd);
        if (directory == 0)
        {
            var error = LastErrno();
            _ = LibC.Close(fd);
            return SysfsResult.Failed<IReadOnlyList<string>>(error);
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
                if (name is "." or "..")
                {
                    continue;
                }

                if (names.Count == MaxListingEntries)
                {
                    return SysfsResult.Failed<IReadOnlyList<string>>(Errno.EFBIG);
                }

                names.Add(name);
            }
        }
        finally
        {
            _ = LibC.CloseDir(directory);
        }
    }

    private unsafe SysfsResult<string> ReadLink(SysfsPath path)
    {
        if (path.Value.Length == 0)
        {
            return SysfsResult.Failed<string>(Errno.EINVAL); // the root is a directory, never a link
        }

        // The directory holding the link resolves beneath the root; the link itself is read, not followed.
        var slash = path.Value.LastIndexOf('/');
        var directory = OpenBeneath(slash < 0 ? string.Empty : path.Value[..slash], LibC.O_PATH | LibC.O_DIRECTORY | LibC.O_CLOEXEC);
        if (directory < 0)
        {
            return SysfsResult.Failed<string>((Errno)(-directory));
        }

        try
        {
            // A link target is at most PATH_MAX - 1 bytes, so one PATH_MAX buffer always holds it whole.
            const int PathMax = 4096;
            var buffer = stackalloc byte[PathMax];
            var length = LibC.ReadLinkAt(directory, path.Name, buffer, PathMax);
            return length < 0
                ? SysfsResult.Failed<string>(LastErrno())
                : SysfsResult.Of(Encoding.UTF8.GetString(buffer, (int)length));
        }
        finally
        {
            _ = LibC.Close(directory);
        }
    }
}
