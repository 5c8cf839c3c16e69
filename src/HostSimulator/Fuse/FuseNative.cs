using System.Runtime.InteropServices;

namespace VfioMigration.HostSimulator.Fuse;

/// <summary>
/// Raw imports of libfuse 3's high-level API (<c>fuse.h</c>, <c>fuse_common.h</c>, <c>fuse_opt.h</c>)
/// and the structures it shares with us, laid out for x86-64 as libfuse 3.14 (Debian 12) declares
/// them. Checked against the headers with a C program printing <c>offsetof</c>/<c>sizeof</c>; the
/// sizes are asserted again in the tests. Nothing here throws.
/// </summary>
internal static unsafe partial class FuseNative
{
    /// <summary>The runtime library's soname (package libfuse3-3); the unversioned name exists only with libfuse3-dev.</summary>
    internal const string Library = "libfuse3.so.3";

    private const string LibC = "libc.so.6";

    /// <summary>
    /// <c>fuse_new</c> as of FUSE_USE_VERSION 31+. Bound by its versioned name because plain
    /// <c>fuse_new</c> resolves to whichever ABI the library marks as default.
    /// </summary>
    [LibraryImport(Library, EntryPoint = "fuse_new_31")]
    internal static partial nint fuse_new(FuseArgs* args, FuseOperations* operations, nuint operationsSize, nint privateData);

    [LibraryImport(Library, EntryPoint = "fuse_mount", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int fuse_mount(nint fuse, string mountPoint);

    [LibraryImport(Library, EntryPoint = "fuse_unmount")]
    internal static partial void fuse_unmount(nint fuse);

    [LibraryImport(Library, EntryPoint = "fuse_destroy")]
    internal static partial void fuse_destroy(nint fuse);

    /// <summary>The multi-threaded loop with the 3.12+ opaque configuration.</summary>
    [LibraryImport(Library, EntryPoint = "fuse_loop_mt_312")]
    internal static partial int fuse_loop_mt(nint fuse, nint config);

    [LibraryImport(Library, EntryPoint = "fuse_loop_cfg_create")]
    internal static partial nint fuse_loop_cfg_create();

    [LibraryImport(Library, EntryPoint = "fuse_loop_cfg_destroy")]
    internal static partial void fuse_loop_cfg_destroy(nint config);

    [LibraryImport(Library, EntryPoint = "fuse_loop_cfg_set_max_threads")]
    internal static partial void fuse_loop_cfg_set_max_threads(nint config, uint maxThreads);

    [LibraryImport(Library, EntryPoint = "fuse_get_context")]
    internal static partial FuseContext* fuse_get_context();

    [LibraryImport(Library, EntryPoint = "fuse_opt_free_args")]
    internal static partial void fuse_opt_free_args(FuseArgs* args);

    /// <summary><c>umount2</c>: used instead of <c>fuse_unmount</c> to stop a running loop, see <see cref="FuseMount"/>.</summary>
    [LibraryImport(LibC, EntryPoint = "umount2", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int umount2(string target, int flags);

    internal const int MNT_DETACH = 2;

    /// <summary><c>struct fuse_args</c> (24 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct FuseArgs
    {
        public int Argc;
        public byte** Argv;
        public int Allocated;
    }

    /// <summary><c>struct fuse_context</c> (40 bytes); only <c>private_data</c> (offset 24) is read.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct FuseContext
    {
        public nint Fuse;
        public uint Uid;
        public uint Gid;
        public int Pid;
        public nint PrivateData;
        public uint Umask;
    }

    /// <summary>
    /// <c>struct fuse_file_info</c> (40 bytes). The C bitfields <c>writepage:1, direct_io:1,
    /// keep_cache:1, flush:1, nonseekable:1, flock_release:1, cache_readdir:1, noflush:1,
    /// padding:24</c> share the 32-bit word at offset 4, least significant bit first (x86-64 GCC);
    /// <c>padding2:32</c> is the next word.
    /// </summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct FuseFileInfo
    {
        public const uint DirectIoBit = 1u << 1;
        public const uint KeepCacheBit = 1u << 2;

        public int Flags;
        public uint BitFields;
        public uint BitFields2;
        public ulong FileHandle;
        public ulong LockOwner;
        public uint PollEvents;
    }

    /// <summary><c>struct stat</c> for x86-64 glibc (144 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct Stat
    {
        public ulong Device;
        public ulong Inode;
        public ulong LinkCount;
        public uint Mode;
        public uint Uid;
        public uint Gid;
        public int Padding0;
        public ulong SpecialDevice;
        public long Size;
        public long BlockSize;
        public long Blocks;
        public long AccessSeconds;
        public long AccessNanoseconds;
        public long ModifySeconds;
        public long ModifyNanoseconds;
        public long ChangeSeconds;
        public long ChangeNanoseconds;
        public long Reserved0;
        public long Reserved1;
        public long Reserved2;
    }

    /// <summary>
    /// <c>struct fuse_operations</c> of libfuse 3.14: 42 function pointers in header order
    /// (336 bytes). Unused entries stay null, which libfuse answers with ENOSYS (or a default).
    /// </summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct FuseOperations
    {
        public delegate* unmanaged<byte*, Stat*, FuseFileInfo*, int> GetAttr;
        public delegate* unmanaged<byte*, byte*, nuint, int> ReadLink;
        public delegate* unmanaged<byte*, uint, ulong, int> MkNod;
        public delegate* unmanaged<byte*, uint, int> MkDir;
        public delegate* unmanaged<byte*, int> Unlink;
        public delegate* unmanaged<byte*, int> RmDir;
        public delegate* unmanaged<byte*, byte*, int> Symlink;
        public delegate* unmanaged<byte*, byte*, uint, int> Rename;
        public delegate* unmanaged<byte*, byte*, int> Link;
        public nint ChMod;
        public nint ChOwn;
        public delegate* unmanaged<byte*, long, FuseFileInfo*, int> Truncate;
        public delegate* unmanaged<byte*, FuseFileInfo*, int> Open;
        public delegate* unmanaged<byte*, byte*, nuint, long, FuseFileInfo*, int> Read;
        public delegate* unmanaged<byte*, byte*, nuint, long, FuseFileInfo*, int> Write;
        public nint StatFs;
        public nint Flush;
        public delegate* unmanaged<byte*, FuseFileInfo*, int> Release;
        public nint FSync;
        public nint SetXAttr;
        public nint GetXAttr;
        public nint ListXAttr;
        public nint RemoveXAttr;
        public nint OpenDir;
        public delegate* unmanaged<byte*, void*, delegate* unmanaged<void*, byte*, Stat*, long, int, int>, long, FuseFileInfo*, int, int> ReadDir;
        public nint ReleaseDir;
        public nint FSyncDir;
        public delegate* unmanaged<void*, void*, nint> Init;
        public nint Destroy;
        public nint Access;
        public delegate* unmanaged<byte*, uint, FuseFileInfo*, int> Create;
        public nint Lock;
        public nint UTimeNs;
        public nint BMap;
        public nint IoCtl;
        public nint Poll;
        public nint WriteBuf;
        public nint ReadBuf;
        public nint FLock;
        public nint FAllocate;
        public nint CopyFileRange;
        public nint LSeek;
    }
}
