namespace VfioMigration.Libvirt.Interop;

// Checked calls of the typed-parameter helpers (libvirt-common.h).
internal static unsafe partial class Proxy
{
    /// <inheritdoc cref="NativeMethods.virTypedParamsAddString"/>
    internal static void virTypedParamsAddString(nint* parameters, int* count, int* capacity, string name, string value)
    {
        LibvirtRuntime.EnsureInitialized();
        Check(NativeMethods.virTypedParamsAddString(parameters, count, capacity, name, value), nameof(NativeMethods.virTypedParamsAddString));
    }

    /// <inheritdoc cref="NativeMethods.virTypedParamsAddULLong"/>
    internal static void virTypedParamsAddULLong(nint* parameters, int* count, int* capacity, string name, ulong value)
    {
        LibvirtRuntime.EnsureInitialized();
        Check(NativeMethods.virTypedParamsAddULLong(parameters, count, capacity, name, value), nameof(NativeMethods.virTypedParamsAddULLong));
    }
}
