using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace VfioMigration.Libvirt.Interop;

/// <summary>
/// Process-wide set-up done once, before the first libvirt call: load <c>libvirt.so.0</c> (or
/// explain which package is missing), initialise libvirt, and install a no-op error handler so
/// libvirt's default handler does not print every error to stderr (we report them as exceptions).
/// </summary>
internal static unsafe class LibvirtRuntime
{
    private static readonly Lock Gate = new();
    private static volatile bool initialized;

    /// <summary>Does the set-up on first use; cheap afterwards. A failed set-up is retried next time.</summary>
    /// <exception cref="LibvirtLibraryNotFoundException">libvirt.so.0 is not installed.</exception>
    /// <exception cref="LibvirtException">virInitialize failed.</exception>
    internal static void EnsureInitialized()
    {
        if (initialized)
        {
            return;
        }

        lock (Gate)
        {
            if (initialized)
            {
                return;
            }

            ProbeLibrary(NativeMethods.LibraryName);
            try
            {
                NativeMethods.virSetErrorFunc(null, &IgnoreError);
                if (NativeMethods.virInitialize() < 0)
                {
                    throw LibvirtErrors.TakeLastError(nameof(NativeMethods.virInitialize));
                }
            }
            catch (DllNotFoundException e)
            {
                throw new LibvirtLibraryNotFoundException(NativeMethods.LibraryName, NativeMethods.DebianPackage, e);
            }

            initialized = true;
        }
    }

    /// <summary>
    /// Loads <paramref name="libraryName"/> the way the imports will, and turns a failure into the
    /// one exception that names the package. Separate from <see cref="EnsureInitialized"/> so tests
    /// can probe a name that does not exist without unloading the real library.
    /// </summary>
    internal static void ProbeLibrary(string libraryName)
    {
        // The handle stays loaded for the life of the process: the imports bind to it.
        if (!NativeLibrary.TryLoad(libraryName, typeof(LibvirtRuntime).Assembly, searchPath: null, out _))
        {
            throw new LibvirtLibraryNotFoundException(libraryName, NativeMethods.DebianPackage, innerException: null);
        }
    }

    /// <summary>
    /// The global error handler: does nothing. libvirt still records the error as the thread's last
    /// error, which the checked layer reads. A static unmanaged-callers-only function, so there is no
    /// delegate for the GC to collect while libvirt holds the pointer.
    /// </summary>
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void IgnoreError(void* userData, VirError* error)
    {
    }
}

/// <summary>Reads and clears the calling thread's libvirt error.</summary>
internal static unsafe class LibvirtErrors
{
    /// <summary>
    /// Copies this thread's last libvirt error into an exception of the matching type, then clears
    /// it. Must run on the failing thread right after the failing call (libvirt's error is
    /// thread-local and the next API call resets it).
    /// </summary>
    /// <param name="function">The C function that failed.</param>
    /// <param name="subject">What it was called on (a name, UUID or URI), for the message; null when nothing short identifies it.</param>
    internal static LibvirtException TakeLastError(string function, string? subject = null)
    {
        VirError* error = NativeMethods.virGetLastError();
        if (error is null)
        {
            return LibvirtException.WithoutError(function, subject);
        }

        var info = new LibvirtErrorInfo(
            function,
            subject,
            (LibvirtErrorCode)error->Code,
            (LibvirtErrorDomain)error->Domain,
            (LibvirtErrorLevel)error->Level,
            Marshal.PtrToStringUTF8((nint)error->Message),
            Marshal.PtrToStringUTF8((nint)error->Str1),
            Marshal.PtrToStringUTF8((nint)error->Str2),
            Marshal.PtrToStringUTF8((nint)error->Str3),
            error->Int1,
            error->Int2);
        NativeMethods.virResetLastError();
        return LibvirtException.FromError(info);
    }
}
