using System.Diagnostics;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using static VfioMigration.HostSimulator.Fuse.FuseNative;

namespace VfioMigration.HostSimulator.Fuse;

/// <summary>
/// A simulated host mounted through FUSE (libfuse 3's high-level API, multi-threaded loop), so that
/// ordinary programs (<c>cat</c>, <c>echo &gt;</c>, <c>ls -l</c>, <c>readlink</c>, .NET's file APIs,
/// <see cref="Planner.Sysfs.LocalHostFileSystem"/>) see the simulated sysfs with the errno a kernel
/// would return. No attribute, entry or page caching: every operation reaches the tree.
/// </summary>
/// <remarks>
/// Needs the Debian packages <c>fuse3</c> and <c>libfuse3-3</c>, <c>/dev/fuse</c>, and root (or
/// <c>fusermount3</c>'s set-uid helper). Only the mounting user can see the mount.
/// Disposing unmounts and waits for the loop thread.
/// </remarks>
public sealed class FuseMount : IDisposable
{
    private const int EPERM = 1;
    private const int EBUSY = 16;
    private const int ENOTCONN = 107;
    private const uint MaxLoopThreads = 16;
    private static readonly TimeSpan InitTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan ToolTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan LazyUnmountWait = TimeSpan.FromSeconds(2);

    private readonly nint _fuse;
    private readonly nint _loopConfig;
    private readonly GCHandle<FuseTreeAdapter> _adapterHandle;
    private readonly Thread _loopThread;
    private readonly TaskCompletionSource<int> _loopExited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ILogger _logger;
    private int _disposed;

    /// <summary>The loop thread and <see cref="Dispose"/>: the last of the two to finish frees the native session.</summary>
    private int _nativeOwners = 2;

    private FuseMount(string mountPoint, nint fuse, nint loopConfig, GCHandle<FuseTreeAdapter> adapterHandle, ILogger logger)
    {
        MountPoint = mountPoint;
        _fuse = fuse;
        _loopConfig = loopConfig;
        _adapterHandle = adapterHandle;
        _logger = logger;
        _loopThread = new Thread(RunLoop) { IsBackground = true, Name = "FUSE loop " + mountPoint };
    }

    /// <summary>The directory the simulated sysfs root is mounted on (absolute).</summary>
    public string MountPoint { get; }

    /// <summary>
    /// Completes when the FUSE loop has ended: after <see cref="Dispose"/>, or when the mount was
    /// removed from outside (<c>fusermount3 -u</c>, <c>umount</c>).
    /// </summary>
    public Task Completion => _loopExited.Task;

    /// <summary>
    /// Mounts <paramref name="tree"/> at <paramref name="mountPoint"/> and returns once the kernel's
    /// INIT handshake is done, so the mount answers immediately. A dead FUSE mount left at
    /// <paramref name="mountPoint"/> by a crashed process is cleared first (with a warning).
    /// </summary>
    /// <param name="tree">The simulated host's file tree; its root becomes the mount's root.</param>
    /// <param name="mountPoint">An existing directory that is not already a mount point (what it holds is hidden while mounted).</param>
    /// <param name="logger">Receives the warning about a cleared stale mount and failures inside the simulator.</param>
    /// <exception cref="FuseUnavailableException">libfuse3.so.3 or /dev/fuse is missing.</exception>
    /// <exception cref="DirectoryNotFoundException"><paramref name="mountPoint"/> is not an existing directory.</exception>
    /// <exception cref="InvalidOperationException"><paramref name="mountPoint"/> is already a live mount point, holds a dead mount that fusermount3 could not clear, or libfuse refused the mount or ended before INIT.</exception>
    /// <exception cref="TimeoutException">The kernel's INIT request did not arrive within 10 s (nothing is left mounted).</exception>
    public static unsafe FuseMount Mount(ISimulatedFileTree tree, string mountPoint, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(tree);
        ArgumentException.ThrowIfNullOrEmpty(mountPoint);
        logger ??= NullLogger.Instance;
        var started = Stopwatch.StartNew();
        EnsureFuseAvailable();
        var fullMountPoint = PrepareMountPoint(mountPoint, logger);

        var adapterHandle = new GCHandle<FuseTreeAdapter>(new FuseTreeAdapter(tree, logger));
        var fuse = CreateSession(adapterHandle);
        if (fuse == 0)
        {
            adapterHandle.Dispose();
            throw new InvalidOperationException($"libfuse refused to create a session for {fullMountPoint} (its reason is on standard error).");
        }

        if (fuse_mount(fuse, fullMountPoint) != 0)
        {
            fuse_destroy(fuse);
            adapterHandle.Dispose();
            throw new InvalidOperationException($"Could not mount FUSE at {fullMountPoint} (libfuse's reason is on standard error); mounting needs root or the set-uid fusermount3 from the fuse3 package.");
        }

        var loopConfig = fuse_loop_cfg_create();
        fuse_loop_cfg_set_max_threads(loopConfig, MaxLoopThreads);
        var mount = new FuseMount(fullMountPoint, fuse, loopConfig, adapterHandle, logger);
        mount._loopThread.Start();

        // The loop's first request is the kernel's INIT; the mount answers once it is processed.
        var ready = Task.WhenAny(adapterHandle.Target.Initialized, mount.Completion);
        if (!ready.Wait(InitTimeout) || !adapterHandle.Target.Initialized.IsCompleted)
        {
            var loopEnded = mount.Completion.IsCompleted;
            mount.Dispose();
            throw loopEnded
                ? new InvalidOperationException($"The FUSE loop for {fullMountPoint} ended before the kernel's INIT handshake (libfuse's reason is on standard error); nothing is left mounted.")
                : new TimeoutException($"The FUSE mount at {fullMountPoint} did not complete the kernel's INIT handshake within {InitTimeout.TotalSeconds:0} s; it has been unmounted.");
        }

        FuseLog.Mounted(logger, fullMountPoint, started.ElapsedMilliseconds);
        return mount;
    }

    /// <summary>
    /// Mounts <paramref name="tree"/>, calls <paramref name="onReady"/> once the mount answers, and
    /// serves until SIGINT or SIGTERM, <paramref name="cancellationToken"/>, or an outside unmount;
    /// then unmounts. Returns normally in all three cases.
    /// </summary>
    /// <param name="tree">The simulated host's file tree.</param>
    /// <param name="mountPoint">As for <see cref="Mount"/>.</param>
    /// <param name="onReady">Called once, when the mount is ready (e.g. to print one line).</param>
    /// <param name="logger">As for <see cref="Mount"/>.</param>
    /// <param name="cancellationToken">Stops serving.</param>
    /// <exception cref="FuseUnavailableException">libfuse3.so.3 or /dev/fuse is missing.</exception>
    public static async Task ServeUntilSignalledAsync(ISimulatedFileTree tree, string mountPoint, Action onReady, ILogger? logger = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(onReady);
        var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnSignal(PosixSignalContext context)
        {
            // Keep the process alive until the mount is gone: disposing the mount below unmounts.
            context.Cancel = true;
            stop.TrySetResult();
        }

        // Registered before mounting, so a signal during the mount still ends in a clean unmount.
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        using var cancellation = cancellationToken.Register(() => stop.TrySetResult());
        using var mount = Mount(tree, mountPoint, logger);
        onReady();
        await Task.WhenAny(stop.Task, mount.Completion).ConfigureAwait(false);
    }

    /// <summary>
    /// Unmounts and waits for the loop thread to end. When something under the mount point is still
    /// open (a shell's working directory, an open file), the mount is detached lazily instead: it
    /// disappears from the namespace at once, the open files keep being served, and the loop ends
    /// (and frees its native resources) when the last one is closed, so this never hangs on them.
    /// </summary>
    /// <exception cref="InvalidOperationException">Not root, and fusermount3 could not unmount; the message says how to finish by hand.</exception>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        // No fuse_exit: it would end the loop at its next request even while a lazily detached mount
        // still serves open files. The loop ends by itself once the kernel connection is gone.
        if (_loopThread.IsAlive)
        {
            var lazy = UnmountUnderRunningLoop();
            if (!_loopThread.Join(lazy ? LazyUnmountWait : Timeout.InfiniteTimeSpan))
            {
                FuseLog.DetachedBusyMount(_logger, MountPoint);
            }
        }

        ReleaseNativeIfLast();
        FuseLog.Unmounted(_logger, MountPoint);
    }

    /// <summary>
    /// Unmounting ends the kernel connection (at once, or for a lazy unmount when the last open file
    /// closes), which wakes every loop thread blocked reading /dev/fuse with ENODEV so the loop ends. (fuse_unmount would close that descriptor under the running threads.)
    /// </summary>
    /// <returns>True when the unmount was lazy, so open files may keep the loop running.</returns>
    private bool UnmountUnderRunningLoop()
    {
        if (umount2(MountPoint, 0) == 0)
        {
            return false;
        }

        switch (Marshal.GetLastPInvokeError())
        {
            case EBUSY:
                _ = umount2(MountPoint, MNT_DETACH);
                return true;
            case EPERM:
                // Not root: libfuse mounted through the set-uid fusermount3, which unmounts for the owner too.
                RunFusermountUnmount(MountPoint, "unmount it");
                return true;
            default:
                // EINVAL: no longer a mount point (unmounted from outside just now); the loop is ending anyway.
                return false;
        }
    }

    /// <summary>
    /// Frees libfuse's session and the GCHandle the callbacks use, once both the loop has ended and
    /// Dispose has been called, whichever comes last.
    /// </summary>
    private void ReleaseNativeIfLast()
    {
        if (Interlocked.Decrement(ref _nativeOwners) != 0)
        {
            return;
        }

        // The kernel side is gone: this only closes the device descriptor.
        fuse_unmount(_fuse);
        fuse_destroy(_fuse);
        fuse_loop_cfg_destroy(_loopConfig);
        _adapterHandle.Dispose();
    }

    private void RunLoop()
    {
        try
        {
            _loopExited.TrySetResult(fuse_loop_mt(_fuse, _loopConfig));
        }
#pragma warning disable CA1031 // A background thread must not crash the process; the failure is surfaced through Completion.
        catch (Exception exception)
#pragma warning restore CA1031
        {
            _loopExited.TrySetException(exception);
        }
        finally
        {
            ReleaseNativeIfLast();
        }
    }

    /// <summary>Checks for the FUSE device and the runtime library; parameters exist for tests.</summary>
    /// <exception cref="FuseUnavailableException">Either is missing; the message names the Debian packages.</exception>
    internal static void EnsureFuseAvailable(string devicePath = "/dev/fuse", string libraryName = Library)
    {
        if (!File.Exists(devicePath))
        {
            throw new FuseUnavailableException($"FUSE is not available: {devicePath} does not exist. Install the Debian packages fuse3 and libfuse3-3 and load the fuse module (modprobe fuse); in a container, pass the device (--device /dev/fuse).");
        }

        if (!NativeLibrary.TryLoad(libraryName, typeof(FuseMount).Assembly, null, out _))
        {
            throw new FuseUnavailableException($"FUSE is not available: {libraryName} could not be loaded. Install the Debian packages fuse3 and libfuse3-3 (apt-get install fuse3 libfuse3-3).");
        }
    }

    /// <summary>Checks the mount point and clears a dead FUSE mount left on it by a crashed server.</summary>
    private static string PrepareMountPoint(string mountPoint, ILogger logger)
    {
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(mountPoint));
        if (IsDeadMount(full))
        {
            RunFusermountUnmount(full, "clear the dead FUSE mount there");
            FuseLog.StaleMountCleared(logger, full);
        }

        if (!Directory.Exists(full))
        {
            throw new DirectoryNotFoundException($"The FUSE mount point {full} is not an existing directory; create it first (mkdir -p).");
        }

        if (MountTable.IsMountPoint(full, out var fileSystemType))
        {
            throw new InvalidOperationException($"{full} is already a mount point ({fileSystemType}); unmount it first (fusermount3 -u {full}) or choose another directory.");
        }

        return full;
    }

    private static bool IsDeadMount(string path)
    {
        try
        {
            _ = File.GetAttributes(path);
            return false;
        }
        catch (IOException exception) when (exception.HResult == ENOTCONN)
        {
            return true;
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>Runs <c>fusermount3 -u -z PATH</c>, bounded in time.</summary>
    /// <exception cref="InvalidOperationException">fusermount3 could not be started, failed, or hung; the message says how to finish by hand.</exception>
    private static void RunFusermountUnmount(string path, string purpose)
    {
        var start = new ProcessStartInfo("fusermount3") { RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("-u");
        start.ArgumentList.Add("-z");
        start.ArgumentList.Add(path);
        var byHand = $"run by hand: fusermount3 -u -z {path} (or, as root, umount -l {path})";
        Process? process;
        try
        {
            process = Process.Start(start);
        }
        catch (System.ComponentModel.Win32Exception exception)
        {
            throw new InvalidOperationException($"fusermount3 (package fuse3) could not be started to {purpose} at {path}; {byHand}.", exception);
        }

        using (process)
        {
            var error = process!.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(ToolTimeout))
            {
                process.Kill();
                throw new InvalidOperationException($"fusermount3 -u -z did not finish within {ToolTimeout.TotalSeconds:0} s trying to {purpose} at {path}; {byHand}.");
            }

            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"fusermount3 -u -z failed to {purpose} at {path} ({error.Result.Trim()}); {byHand}.");
            }
        }
    }

    private static unsafe nint CreateSession(GCHandle<FuseTreeAdapter> adapterHandle)
    {
        // Timeouts of 0: the kernel asks again on every lookup and stat, so state changes show at once.
        string[] arguments =
        [
            "vfio-migrator-sim",
            "-o",
            "fsname=vfio-sim,subtype=vfio-sim,attr_timeout=0,entry_timeout=0,negative_timeout=0",
        ];
        var argv = stackalloc byte*[arguments.Length + 1];
        for (var i = 0; i < arguments.Length; i++)
        {
            argv[i] = (byte*)Marshal.StringToCoTaskMemUTF8(arguments[i]);
        }

        argv[arguments.Length] = null;
        var args = new FuseArgs { Argc = arguments.Length, Argv = argv, Allocated = 0 };
        var operations = FuseCallbacks.Operations;
        try
        {
            return fuse_new(&args, &operations, (nuint)sizeof(FuseOperations), GCHandle<FuseTreeAdapter>.ToIntPtr(adapterHandle));
        }
        finally
        {
            // Option parsing replaces argv with copies libfuse owns (Allocated = 1); ours are freed separately.
            fuse_opt_free_args(&args);
            for (var i = 0; i < arguments.Length; i++)
            {
                Marshal.FreeCoTaskMem((nint)argv[i]);
            }
        }
    }
}
