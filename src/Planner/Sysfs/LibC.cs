using System.Runtime.InteropServices;

namespace VfioMigration.Planner.Sysfs;

/// <summary>
/// The few glibc calls <see cref="LocalHostFileSystem"/> makes. Raw imports under their C names:
/// they never throw; callers read <c>errno</c> with <see cref="Marshal.GetLastPInvokeError"/>.
/// </summary>
internal static unsafe partial class LibC
{
    // glibc's soname: "libc" alone would resolve to libc.so, a linker script that exists only with libc6-dev.
    private const string Library = "libc.so.6";

    internal const int O_RDONLY = 0;
    internal const int O_WRONLY = 1;
    internal const int O_RDWR = 2;
    internal const int EACCES = 13;
    internal const int O_CLOEXEC = 0x80000;
    internal const int EINTR = 4;

    [LibraryImport(Library, EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int Open(string path, int flags);

    [LibraryImport(Library, EntryPoint = "read", SetLastError = true)]
    internal static partial nint Read(int fd, byte* buffer, nuint count);

    [LibraryImport(Library, EntryPoint = "write", SetLastError = true)]
    internal static partial nint Write(int fd, byte* buffer, nuint count);

    [LibraryImport(Library, EntryPoint = "pread", SetLastError = true)]
    internal static partial nint PRead(int fd, byte* buffer, nuint count, long offset);

    [LibraryImport(Library, EntryPoint = "close", SetLastError = true)]
    internal static partial int Close(int fd);

    [LibraryImport(Library, EntryPoint = "readlink", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial nint ReadLink(string path, byte* buffer, nuint size);

    [LibraryImport(Library, EntryPoint = "opendir", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial nint OpenDir(string path);

    /// <summary><c>readdir</c>: NULL with errno 0 at the end, NULL with errno set on failure (the generated stub clears errno first).</summary>
    [LibraryImport(Library, EntryPoint = "readdir", SetLastError = true)]
    internal static partial DirectoryEntry* ReadDir(nint directory);

    [LibraryImport(Library, EntryPoint = "closedir", SetLastError = true)]
    internal static partial int CloseDir(nint directory);

    /// <summary>glibc's <c>struct dirent</c> on 64-bit Linux (same as <c>dirent64</c>); only the name is used.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct DirectoryEntry
    {
        public ulong Inode;
        public long Offset;
        public ushort RecordLength;
        public byte Type;
        public fixed byte Name[256];
    }
}
