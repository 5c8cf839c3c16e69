using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using static VfioMigration.HostSimulator.Fuse.FuseNative;

namespace VfioMigration.HostSimulator.Fuse;

/// <summary>
/// The native entry points libfuse calls: static <see cref="UnmanagedCallersOnlyAttribute"/>
/// functions (no delegates to keep alive) that find their mount's <see cref="FuseTreeAdapter"/>
/// through the GCHandle in <c>fuse_get_context()->private_data</c>, convert the arguments and
/// return 0 or a negated errno. No exception may cross back into C: any is logged and answered EIO.
/// </summary>
internal static unsafe class FuseCallbacks
{
    private const int EIO = 5;
    private const int EACCES = 13;
    private const int EPERM = 1;

    /// <summary>The operation table handed to <c>fuse_new</c> (which copies it).</summary>
    internal static FuseOperations Operations => new()
    {
        GetAttr = &GetAttr,
        ReadLink = &ReadLink,
        MkNod = &RefuseMkNod,
        MkDir = &RefuseMkDir,
        Unlink = &RefusePath,
        RmDir = &RefusePath,
        Symlink = &RefuseTwoPaths,
        Rename = &RefuseRename,
        Link = &RefuseTwoPaths,
        Truncate = &Truncate,
        Open = &Open,
        Read = &Read,
        Write = &Write,
        Release = &Release,
        ReadDir = &ReadDir,
        Init = &Init,
        Create = &Create,
    };

    private static FuseTreeAdapter Adapter => GCHandle<FuseTreeAdapter>.FromIntPtr(fuse_get_context()->PrivateData).Target;

    /// <summary>The tree's path for a FUSE path: FUSE passes <c>/a/b</c>, the tree wants <c>a/b</c>.</summary>
    private static string TreePath(byte* path) => Marshal.PtrToStringUTF8((nint)path)![1..];

    /// <summary>Runs one callback body, turning an escaping exception into a logged EIO.</summary>
    private static int Guard<TState>(byte* path, TState state, Func<FuseTreeAdapter, string, TState, int> body, [CallerMemberName] string operation = "")
    {
        var adapter = Adapter;
        var treePath = TreePath(path);
        try
        {
            return body(adapter, treePath, state);
        }
#pragma warning disable CA1031 // Nothing may unwind into libfuse's C frames: every failure becomes EIO.
        catch (Exception exception)
#pragma warning restore CA1031
        {
            adapter.LogCallbackFailure(operation, treePath, exception);
            return -EIO;
        }
    }

    [UnmanagedCallersOnly]
    private static nint Init(void* connection, void* config)
    {
        // libfuse replaces private_data with init's return value: hand the GCHandle back unchanged.
        var privateData = fuse_get_context()->PrivateData;
        GCHandle<FuseTreeAdapter>.FromIntPtr(privateData).Target.MarkInitialized();
        return privateData;
    }

    [UnmanagedCallersOnly]
    private static int GetAttr(byte* path, Stat* stat, FuseFileInfo* file) =>
        Guard(path, (nint)stat, static (adapter, treePath, target) => adapter.GetAttributes(treePath, ref *(Stat*)target));

    [UnmanagedCallersOnly]
    private static int ReadLink(byte* path, byte* buffer, nuint size) =>
        Guard(path, ((nint)buffer, (int)Math.Min(size, int.MaxValue)), static (adapter, treePath, target) =>
            adapter.ReadLink(treePath, new Span<byte>((byte*)target.Item1, target.Item2)));

    [UnmanagedCallersOnly]
    private static int ReadDir(byte* path, void* buffer, delegate* unmanaged<void*, byte*, Stat*, long, int, int> fill, long offset, FuseFileInfo* file, int flags) =>
        Guard(path, ((nint)buffer, (nint)fill), static (adapter, treePath, state) =>
        {
            var error = adapter.ListDirectory(treePath, out var entries);
            if (error != 0)
            {
                return error;
            }

            var filler = (delegate* unmanaged<void*, byte*, Stat*, long, int, int>)state.Item2;
            Span<byte> name = stackalloc byte[1024];
            foreach (var entry in entries.Prepend("..").Prepend("."))
            {
                var length = System.Text.Encoding.UTF8.GetBytes(entry, name);
                name[length] = 0;
                fixed (byte* start = name)
                {
                    // Offset 0: libfuse collects the whole listing and pages it to the kernel itself.
                    if (filler((void*)state.Item1, start, null, 0, 0) != 0)
                    {
                        break;
                    }
                }
            }

            return 0;
        });

    [UnmanagedCallersOnly]
    private static int Open(byte* path, FuseFileInfo* file) =>
        Guard(path, (nint)file, static (adapter, treePath, target) =>
        {
            var info = (FuseFileInfo*)target;
            var error = adapter.Open(treePath, info->Flags, out var handle);
            if (error == 0)
            {
                info->FileHandle = handle;

                // Every read and write must reach the tree: no page cache between the caller and the simulator.
                info->BitFields = (info->BitFields | FuseFileInfo.DirectIoBit) & ~FuseFileInfo.KeepCacheBit;
            }

            return error;
        });

    [UnmanagedCallersOnly]
    private static int Read(byte* path, byte* buffer, nuint size, long offset, FuseFileInfo* file) =>
        Guard(path, ((nint)buffer, (int)Math.Min(size, int.MaxValue), offset, file->FileHandle), static (adapter, treePath, state) =>
            adapter.Read(treePath, state.Item4, new Span<byte>((byte*)state.Item1, state.Item2), state.Item3));

    [UnmanagedCallersOnly]
    private static int Write(byte* path, byte* buffer, nuint size, long offset, FuseFileInfo* file) =>
        Guard(path, ((nint)buffer, (int)Math.Min(size, int.MaxValue), file->FileHandle), static (adapter, treePath, state) =>
            adapter.Write(treePath, state.Item3, new ReadOnlySpan<byte>((byte*)state.Item1, state.Item2)));

    [UnmanagedCallersOnly]
    private static int Truncate(byte* path, long size, FuseFileInfo* file) =>
        Guard(path, 0, static (adapter, treePath, _) => adapter.Truncate(treePath));

    [UnmanagedCallersOnly]
    private static int Release(byte* path, FuseFileInfo* file)
    {
        Adapter.Release(file->FileHandle);
        return 0;
    }

    /// <summary>Creating a new file in a sysfs directory: the VFS answers EACCES (kernfs has no create).</summary>
    [UnmanagedCallersOnly]
    private static int Create(byte* path, uint mode, FuseFileInfo* file) => -EACCES;

    // The namespace operations sysfs does not offer: the VFS (or kernfs) answers EPERM.
    [UnmanagedCallersOnly]
    private static int RefusePath(byte* path) => -EPERM;

    [UnmanagedCallersOnly]
    private static int RefuseTwoPaths(byte* from, byte* to) => -EPERM;

    [UnmanagedCallersOnly]
    private static int RefuseMkDir(byte* path, uint mode) => -EPERM;

    [UnmanagedCallersOnly]
    private static int RefuseMkNod(byte* path, uint mode, ulong device) => -EPERM;

    [UnmanagedCallersOnly]
    private static int RefuseRename(byte* from, byte* to, uint flags) => -EPERM;
}
