using System.Runtime.InteropServices;
using System.Text;

namespace VfioMigration.Planner.Sysfs;

/// <summary>
/// Opens a relative path so that it resolves beneath a root directory, whatever symbolic links it
/// meets: <c>openat2</c> with <c>RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS</c> (Linux 5.6+), and where
/// the kernel lacks <c>openat2</c> a component walk that never lets the kernel follow a link
/// (<c>O_NOFOLLOW</c> at every step) and resolves each link by hand against the same root.
/// </summary>
/// <remarks>
/// Both give the semantics of a <c>chroot</c> to the root: an absolute link target starts again at
/// the root, <c>..</c> at the root stays at the root, so nothing outside it can be named. Real
/// <c>/sys</c> links are relative and stay inside <c>/sys</c>, so they resolve exactly as before.
/// </remarks>
internal static unsafe class BeneathRoot
{
    /// <summary>The kernel's limit on links followed in one resolution (<c>MAXSYMLINKS</c>).</summary>
    private const int MaxLinks = 40;

    private const int PathMax = 4096;
    private const int ELOOP = 40;

    private static volatile bool s_openat2Missing;

    /// <summary>Opens <paramref name="relative"/> beneath <paramref name="rootFd"/> with <paramref name="flags"/>.</summary>
    /// <param name="rootFd">A directory descriptor for the root (not closed).</param>
    /// <param name="relative">A relative path; empty for the root itself.</param>
    /// <param name="flags">The <c>open</c> flags of the final component.</param>
    /// <param name="componentWalk">True to use the walk even where <c>openat2</c> exists (tests).</param>
    /// <returns>The new descriptor, or a negated errno.</returns>
    internal static int Open(int rootFd, string relative, int flags, bool componentWalk)
    {
        if (!componentWalk && !s_openat2Missing)
        {
            var path = relative.Length == 0 ? "." : relative;
            for (var attempt = 0; ; attempt++)
            {
                var fd = LibC.OpenAt2(rootFd, path, (ulong)flags, LibC.RESOLVE_IN_ROOT | LibC.RESOLVE_NO_MAGICLINKS);
                if (fd >= 0)
                {
                    return fd;
                }

                // EAGAIN: a concurrent rename raced the resolution of '..'; the kernel asks for a retry.
                var error = Marshal.GetLastPInvokeError();
                if (error == LibC.EINTR || (error == LibC.EAGAIN && attempt < 16))
                {
                    continue;
                }

                if (error != LibC.ENOSYS)
                {
                    return -error;
                }

                s_openat2Missing = true;
                break;
            }
        }

        return Walk(rootFd, relative, flags);
    }

    private static int Walk(int rootFd, string relative, int flags)
    {
        var directories = new List<int>(); // descriptors below the root, innermost last
        var pending = new Stack<string>();
        PushComponents(pending, relative);
        var links = 0;
        var buffer = stackalloc byte[PathMax];
        try
        {
            while (pending.TryPop(out var name))
            {
                var current = directories.Count == 0 ? rootFd : directories[^1];
                if (name.Length == 0 || name == ".")
                {
                    continue;
                }

                if (name == "..")
                {
                    if (directories.Count > 0)
                    {
                        _ = LibC.Close(directories[^1]);
                        directories.RemoveAt(directories.Count - 1);
                    }

                    continue;
                }

                var length = LibC.ReadLinkAt(current, name, buffer, PathMax);
                if (length >= 0)
                {
                    if (++links > MaxLinks)
                    {
                        return -ELOOP;
                    }

                    var target = Encoding.UTF8.GetString(buffer, (int)length);
                    if (target.StartsWith('/'))
                    {
                        CloseAll(directories);
                    }

                    PushComponents(pending, target);
                    continue;
                }

                var error = Marshal.GetLastPInvokeError();
                if (error != LibC.EINVAL)
                {
                    return -error; // ENOENT, ENOTDIR, EACCES: as the kernel's own resolution would say
                }

                // Not a link. O_NOFOLLOW: a link swapped in since readlinkat fails with ELOOP instead of being followed.
                var isLast = pending.Count == 0;
                var fd = OpenAt(current, name, isLast ? flags | LibC.O_NOFOLLOW : LibC.O_PATH | LibC.O_DIRECTORY | LibC.O_NOFOLLOW | LibC.O_CLOEXEC);
                if (fd < 0 || isLast)
                {
                    return fd;
                }

                directories.Add(fd);
            }

            // The path ended on the root, '.', or '..': open the directory reached.
            return OpenAt(directories.Count == 0 ? rootFd : directories[^1], ".", flags);
        }
        finally
        {
            CloseAll(directories);
        }
    }

    private static int OpenAt(int directoryFd, string name, int flags)
    {
        int fd;
        do
        {
            fd = LibC.OpenAt(directoryFd, name, flags);
        }
        while (fd < 0 && Marshal.GetLastPInvokeError() == LibC.EINTR);

        return fd >= 0 ? fd : -Marshal.GetLastPInvokeError();
    }

    private static void PushComponents(Stack<string> pending, string path)
    {
        var components = path.Split('/');
        for (var i = components.Length - 1; i >= 0; i--)
        {
            pending.Push(components[i]);
        }
    }

    private static void CloseAll(List<int> directories)
    {
        foreach (var fd in directories)
        {
            _ = LibC.Close(fd);
        }

        directories.Clear();
    }
}
