using System.Runtime.InteropServices;
using System.Text;

namespace VfioMigration.Planner.Sysfs;

/// <summary>
/// Reads a file named by the operator (a scenario, a host file) without letting it block or exhaust
/// memory: opened with <c>O_NONBLOCK | O_NOCTTY</c>, refused unless it is a regular file (a directory,
/// a FIFO, a device node such as <c>/dev/zero</c>, a socket), and refused when it holds more than a
/// given number of bytes. Symbolic links are followed: the operator names the file.
/// </summary>
public static class BoundedFile
{
    /// <summary>Reads the whole of <paramref name="path"/> as UTF-8 text, at most <paramref name="maxBytes"/> bytes.</summary>
    /// <param name="path">The file, absolute or relative to the working directory.</param>
    /// <param name="maxBytes">The most bytes the file may hold.</param>
    /// <returns>The file's text.</returns>
    /// <exception cref="FileNotFoundException">Nothing exists at <paramref name="path"/>.</exception>
    /// <exception cref="IOException">The path is a directory or not a regular file, holds more than <paramref name="maxBytes"/> bytes, or cannot be read; the message names the path.</exception>
    public static string ReadAllText(string path, int maxBytes)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBytes);
        if (path.Length == 0 || path.Contains('\0', StringComparison.Ordinal))
        {
            throw new FileNotFoundException("The file name is empty or contains a NUL character.", path);
        }

        int fd;
        do
        {
            fd = LibC.Open(path, LibC.O_RDONLY | LibC.O_NONBLOCK | LibC.O_NOCTTY | LibC.O_CLOEXEC);
        }
        while (fd < 0 && Marshal.GetLastPInvokeError() == LibC.EINTR);

        if (fd < 0)
        {
            var error = (Errno)Marshal.GetLastPInvokeError();
            throw error == Errno.ENOENT
                ? new FileNotFoundException($"'{path}' does not exist.", path)
                : new IOException($"'{path}' cannot be opened ({error}).");
        }

        try
        {
            CheckRegular(fd, path);
            return Encoding.UTF8.GetString(ReadAtMost(fd, path, maxBytes));
        }
        finally
        {
            _ = LibC.Close(fd);
        }
    }

    private static unsafe void CheckRegular(int fd, string path)
    {
        LibC.StatxBuffer status;
        if (LibC.Statx(fd, string.Empty, LibC.AT_EMPTY_PATH, LibC.STATX_TYPE, &status) < 0)
        {
            throw new IOException($"'{path}' cannot be examined ({(Errno)Marshal.GetLastPInvokeError()}).");
        }

        switch (status.Mode & LibC.S_IFMT)
        {
            case LibC.S_IFREG:
                return;
            case LibC.S_IFDIR:
                throw new IOException($"'{path}' is a directory, not a file.");
            default:
                throw new IOException($"'{path}' is not a regular file (a FIFO, device node or socket); it is not read.");
        }
    }

    private static unsafe byte[] ReadAtMost(int fd, string path, int maxBytes)
    {
        using var content = new MemoryStream();
        var buffer = new byte[64 * 1024];
        while (true)
        {
            nint count;
            fixed (byte* start = buffer)
            {
                count = LibC.Read(fd, start, (nuint)buffer.Length);
            }

            if (count < 0)
            {
                if (Marshal.GetLastPInvokeError() == LibC.EINTR)
                {
                    continue;
                }

                throw new IOException($"'{path}' cannot be read ({(Errno)Marshal.GetLastPInvokeError()}).");
            }

            if (count == 0)
            {
                return content.ToArray();
            }

            if (content.Length + count > maxBytes)
            {
                throw new IOException($"'{path}' holds more than {maxBytes} bytes; it is not read.");
            }

            content.Write(buffer, 0, (int)count);
        }
    }
}
