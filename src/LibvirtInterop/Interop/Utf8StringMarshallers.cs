using System.Runtime.InteropServices;
using System.Runtime.InteropServices.Marshalling;

namespace VfioMigration.Libvirt.Interop;

/// <summary>
/// Marshals a <c>char *</c> result that the caller owns: copies it into a managed string, then
/// releases it with C <c>free()</c>, as libvirt documents for GetXMLDesc, GetHostname, GetURI.
/// </summary>
[CustomMarshaller(typeof(string), MarshalMode.ManagedToUnmanagedOut, typeof(OwnedUtf8StringMarshaller))]
internal static unsafe class OwnedUtf8StringMarshaller
{
    /// <summary>Copies the native UTF-8 text; a null pointer stays null (the call failed).</summary>
    public static string? ConvertToManaged(byte* unmanaged) => Marshal.PtrToStringUTF8((nint)unmanaged);

    /// <summary>Frees the native text with C <c>free()</c>; <c>free(NULL)</c> is a no-op.</summary>
    public static void Free(byte* unmanaged) => NativeMemory.Free(unmanaged);
}

/// <summary>
/// Marshals a <c>const char *</c> result that libvirt keeps (GetName, GetParent): copies it into a
/// managed string and never frees it.
/// </summary>
[CustomMarshaller(typeof(string), MarshalMode.ManagedToUnmanagedOut, typeof(BorrowedUtf8StringMarshaller))]
internal static unsafe class BorrowedUtf8StringMarshaller
{
    /// <summary>Copies the native UTF-8 text; a null pointer stays null.</summary>
    public static string? ConvertToManaged(byte* unmanaged) => Marshal.PtrToStringUTF8((nint)unmanaged);
}
