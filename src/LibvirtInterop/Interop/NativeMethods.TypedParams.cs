using System.Runtime.InteropServices;

namespace VfioMigration.Libvirt.Interop;

// libvirt-common.h: typed parameter lists (migration parameters). The list is an opaque
// virTypedParameterPtr that libvirt grows; we only ever pass it back to libvirt.
internal static unsafe partial class NativeMethods
{
    /// <summary>
    /// <c>int virTypedParamsAddString(virTypedParameterPtr *params, int *nparams, int *maxparams,
    /// const char *name, const char *value)</c>
    /// </summary>
    [LibraryImport(LibraryName, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int virTypedParamsAddString(nint* @params, int* nparams, int* maxparams, string name, string value);

    /// <summary>
    /// <c>int virTypedParamsAddULLong(virTypedParameterPtr *params, int *nparams, int *maxparams,
    /// const char *name, unsigned long long value)</c>
    /// </summary>
    [LibraryImport(LibraryName, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int virTypedParamsAddULLong(nint* @params, int* nparams, int* maxparams, string name, ulong value);

    /// <summary><c>void virTypedParamsFree(virTypedParameterPtr params, int nparams)</c></summary>
    [LibraryImport(LibraryName)]
    internal static partial void virTypedParamsFree(nint @params, int nparams);
}
