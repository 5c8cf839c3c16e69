using System.Runtime.InteropServices;

namespace VfioMigration.Libvirt.Interop;

/// <summary>A <c>virConnectPtr</c>; releasing it calls <c>virConnectClose</c>.</summary>
/// <remarks>
/// libvirt reference-counts connections: every domain or node device object holds its own
/// reference, so closing the connection first is safe (the last object to go frees it).
/// </remarks>
internal sealed class LibvirtConnectionHandle : SafeHandle
{
    /// <summary>Creates an invalid handle; the marshaller fills it in with a call's result.</summary>
    public LibvirtConnectionHandle()
        : base(nint.Zero, ownsHandle: true)
    {
    }

    /// <inheritdoc />
    public override bool IsInvalid => handle == nint.Zero;

    /// <inheritdoc />
    protected override bool ReleaseHandle() => LiveHandles.Release(NativeMethods.virConnectClose(handle) >= 0);
}

/// <summary>A <c>virDomainPtr</c>; releasing it calls <c>virDomainFree</c>.</summary>
internal sealed class LibvirtDomainHandle : SafeHandle
{
    /// <summary>Creates an invalid handle; the marshaller fills it in with a call's result.</summary>
    public LibvirtDomainHandle()
        : base(nint.Zero, ownsHandle: true)
    {
    }

    /// <inheritdoc />
    public override bool IsInvalid => handle == nint.Zero;

    /// <inheritdoc />
    protected override bool ReleaseHandle() => LiveHandles.Release(NativeMethods.virDomainFree(handle) == 0);
}

/// <summary>A <c>virNodeDevicePtr</c>; releasing it calls <c>virNodeDeviceFree</c>.</summary>
internal sealed class LibvirtNodeDeviceHandle : SafeHandle
{
    /// <summary>Creates an invalid handle; the marshaller fills it in with a call's result.</summary>
    public LibvirtNodeDeviceHandle()
        : base(nint.Zero, ownsHandle: true)
    {
    }

    /// <inheritdoc />
    public override bool IsInvalid => handle == nint.Zero;

    /// <inheritdoc />
    protected override bool ReleaseHandle() => LiveHandles.Release(NativeMethods.virNodeDeviceFree(handle) == 0);
}

/// <summary>
/// Counts the libvirt objects this process holds (connections, domains, node devices), so tests
/// can check that every handle was released.
/// </summary>
internal static class LiveHandles
{
    private static long count;

    /// <summary>The number of adopted handles not yet released.</summary>
    internal static long Count => Interlocked.Read(ref count);

    /// <summary>Records that the checked layer took ownership of a valid handle.</summary>
    internal static void Adopted() => Interlocked.Increment(ref count);

    /// <summary>Records a release and passes its outcome through, for <c>ReleaseHandle</c>.</summary>
    internal static bool Release(bool succeeded)
    {
        Interlocked.Decrement(ref count);
        return succeeded;
    }
}
