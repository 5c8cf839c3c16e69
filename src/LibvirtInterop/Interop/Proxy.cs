using System.Runtime.InteropServices;

namespace VfioMigration.Libvirt.Interop;

/// <summary>
/// The checked layer: one method per C call, named after it. Each calls the raw import, reads
/// libvirt's thread-local error right after a failure (same thread, no await in between), and
/// wraps results (handles adopted and counted, strings copied). This is the only place that turns
/// libvirt failures into exceptions.
/// </summary>
internal static partial class Proxy
{
    /// <summary>Throws the thread's libvirt error when <paramref name="result"/> is negative.</summary>
    private static int Check(int result, string function) =>
        result >= 0 ? result : throw LibvirtErrors.TakeLastError(function);

    /// <summary>Throws the thread's libvirt error when a string-returning call returned NULL.</summary>
    private static string Check(string? result, string function) =>
        result ?? throw LibvirtErrors.TakeLastError(function);

    /// <summary>
    /// Hands <paramref name="read"/> a <c>char *</c> result that the caller owns (libvirt's UTF-8 text,
    /// e.g. an XML description) as a read-only, seekable stream over the native buffer, with no managed
    /// copy, then frees the buffer with C <c>free()</c>; NULL throws the thread's libvirt error.
    /// </summary>
    private static unsafe T ReadOwnedText<T>(byte* text, string function, Func<Stream, T> read)
    {
        if (text is null)
        {
            throw LibvirtErrors.TakeLastError(function);
        }

        try
        {
            var length = MemoryMarshal.CreateReadOnlySpanFromNullTerminated(text).Length;
            using var stream = new UnmanagedMemoryStream(text, length);
            return read(stream);
        }
        finally
        {
            NativeMemory.Free(text);
        }
    }

    /// <summary>Takes ownership of a handle a call returned, or throws its error when it is NULL.</summary>
    private static THandle Adopt<THandle>(THandle handle, string function, string? subject = null)
        where THandle : SafeHandle
    {
        if (handle.IsInvalid)
        {
            var error = LibvirtErrors.TakeLastError(function, subject);
            handle.Dispose();
            throw error;
        }

        LiveHandles.Adopted();
        return handle;
    }

    /// <summary>
    /// Splits a <c>ListAll*</c> result (a malloc'd array of <paramref name="count"/> object
    /// pointers) into handles, then frees the array with C <c>free()</c>. The objects themselves now
    /// belong to the handles.
    /// </summary>
    private static unsafe THandle[] AdoptArray<THandle>(nint array, int count)
        where THandle : SafeHandle, new()
    {
        try
        {
            var handles = new THandle[count];
            var elements = (nint*)array;
            for (var i = 0; i < count; i++)
            {
                handles[i] = new THandle();
            }

            // Pointers change owner only once every wrapper exists: a failure to allocate the
            // wrappers leaks the listed objects, but can never leave one owned twice or half-counted.
            for (var i = 0; i < count; i++)
            {
                Marshal.InitHandle(handles[i], elements[i]);
                LiveHandles.Adopted();
            }

            return handles;
        }
        finally
        {
            NativeMemory.Free((void*)array);
        }
    }
}
