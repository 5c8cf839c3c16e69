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
    internal const int O_NOCTTY = 0x100;
    internal const int O_NONBLOCK = 0x800;
    internal const int O_DIRECTORY = 0x10000;
    internal const int O_NOFOLLOW = 0x20000;
    internal const int O_CLOEXEC = 0x80000;
    internal const int O_PATH = 0x200000;
    internal const int AT_EMPTY_PATH = 0x1000;
    internal const int EINTR = 4;
    internal const int EAGAIN = 11;
    internal const int EINVAL = 22;
    internal const int ENOSYS = 38;

    /// <summary><c>RESOLVE_NO_MAGICLINKS</c>: refuse procfs-style magic links.</summary>
    internal const ulong RESOLVE_NO_MAGICLINKS = 0x02;

    /// <summary><c>RESOLVE_IN_ROOT</c>: resolve as if the directory fd were the root (absolute links and <c>..</c> stay inside).</summary>
    internal const ulong RESOLVE_IN_ROOT = 0x10;

    /// <summary><c>openat2</c>'s number: 437 in the unified syscall table (x86-64, arm64 and the generic ABI).</summary>
    private const nint SysOpenat2 = 437;

    /// <summary><c>STATX_TYPE</c>.</summary>
    internal const uint STATX_TYPE = 0x001;

    internal const int S_IFMT = 0xF000;
    internal const int S_IFREG = 0x8000;
    internal const int S_IFDIR = 0x4000;

    [LibraryImport(Library, EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int Open(string path, int flags);

    [LibraryImport(Library, EntryPoint = "openat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int OpenAt(int directoryFd, string path, int flags);

    /// <summary><c>syscall(SYS_openat2, ...)</c>: glibc 2.36 has no wrapper.</summary>
    [LibraryImport(Library, EntryPoint = "syscall", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial nint Syscall(nint number, int directoryFd, string path, OpenHow* how, nuint size);

    /// <summary><c>openat2(directoryFd, path, &amp;how, sizeof how)</c>; -1 with errno set on failure (ENOSYS before Linux 5.6).</summary>
    internal static int OpenAt2(int directoryFd, string path, ulong flags, ulong resolve)
    {
        var how = new OpenHow { Flags = flags, Resolve = resolve };
        return (int)Syscall(SysOpenat2, directoryFd, path, &how, (nuint)sizeof(OpenHow));
    }

    [LibraryImport(Library, EntryPoint = "read", SetLastError = true)]
    internal static partial nint Read(int fd, byte* buffer, nuint count);

    [LibraryImport(Library, EntryPoint = "write", SetLastError = true)]
    internal static partial nint Write(int fd, byte* buffer, nuint count);

    [LibraryImport(Library, EntryPoint = "close", SetLastError = true)]
    internal static partial int Close(int fd);

    [LibraryImport(Library, EntryPoint = "readlinkat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial nint ReadLinkAt(int directoryFd, string path, byte* buffer, nuint size);

    /// <summary><c>statx</c>, whose layout is the same on every architecture (unlike <c>struct stat</c>).</summary>
    [LibraryImport(Library, EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int Statx(int directoryFd, string path, int flags, uint mask, StatxBuffer* buffer);

    /// <summary><c>fdopendir</c>: the stream owns <paramref name="fd"/> from then on (closed by <c>closedir</c>).</summary>
    [LibraryImport(Library, EntryPoint = "fdopendir", SetLastError = true)]
    internal static partial nint FdOpenDir(int fd);

    /// <summary><c>readdir</c>: NULL with errno 0 at the end, NULL with errno set on failure (the generated stub clears errno first).</summary>
    [LibraryImport(Library, EntryPoint = "readdir", SetLastError = true)]
    internal static partial DirectoryEntry* ReadDir(nint directory);

    [LibraryImport(Library, EntryPoint = "closedir", SetLastError = true)]
    internal static partial int CloseDir(nint directory);

    /// <summary>The kernel's <c>struct open_how</c>.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct OpenHow
    {
        public ulong Flags;
        public ulong Mode;
        public ulong Resolve;
    }

    /// <summary>The kernel's <c>struct statx</c> (256 bytes); only the mode is read.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 256)]
    internal struct StatxBuffer
    {
        [FieldOffset(28)]
        public ushort Mode;
    }

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
