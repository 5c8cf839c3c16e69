using System.Runtime.InteropServices;

namespace VfioMigration.Libvirt.Interop;

// Checked calls of libvirt-host.h.
internal static unsafe partial class Proxy
{
    /// <inheritdoc cref="NativeMethods.virConnectOpen"/>
    internal static LibvirtConnectionHandle virConnectOpen(string? uri)
    {
        LibvirtRuntime.EnsureInitialized();
        return Adopt(NativeMethods.virConnectOpen(uri), nameof(NativeMethods.virConnectOpen), uri);
    }

    /// <inheritdoc cref="NativeMethods.virConnectOpenReadOnly"/>
    internal static LibvirtConnectionHandle virConnectOpenReadOnly(string? uri)
    {
        LibvirtRuntime.EnsureInitialized();
        return Adopt(NativeMethods.virConnectOpenReadOnly(uri), nameof(NativeMethods.virConnectOpenReadOnly), uri);
    }

    /// <inheritdoc cref="NativeMethods.virConnectOpenAuth"/>
    internal static LibvirtConnectionHandle virConnectOpenAuth(string? uri, LibvirtAuthentication authentication, VirConnectFlags flags)
    {
        LibvirtRuntime.EnsureInitialized();
        using var session = new AuthSession(authentication);
        var credentialTypes = authentication.SupportedTypes;
        var nativeTypes = stackalloc int[credentialTypes.Count];
        for (var i = 0; i < credentialTypes.Count; i++)
        {
            nativeTypes[i] = (int)credentialTypes[i];
        }

        var auth = new VirConnectAuth
        {
            CredentialTypes = nativeTypes,
            CredentialTypeCount = (uint)credentialTypes.Count,
            Callback = &AuthSession.Callback,
            CallbackData = (void*)session.CallbackData,
        };

        var handle = NativeMethods.virConnectOpenAuth(uri, &auth, (uint)flags);
        if (session.CallbackFailure is { } failure)
        {
            // The user's callback threw: that, not libvirt's generic "auth failed", is the cause.
            // Should the driver have connected regardless, the connection is closed, and counted
            // so its release balances.
            if (!handle.IsInvalid)
            {
                LiveHandles.Adopted();
            }

            handle.Dispose();
            NativeMethods.virResetLastError();
            throw new LibvirtAuthException($"The authentication callback failed while opening '{uri}': {failure.Message}", failure);
        }

        return Adopt(handle, nameof(NativeMethods.virConnectOpenAuth), uri);
    }

    /// <summary>The library's version, encoded <c>major * 1,000,000 + minor * 1,000 + release</c>.</summary>
    internal static ulong virGetVersion()
    {
        LibvirtRuntime.EnsureInitialized();
        CULong version;
        Check(NativeMethods.virGetVersion(&version, null, null), nameof(NativeMethods.virGetVersion));
        return version.Value;
    }

    /// <inheritdoc cref="NativeMethods.virConnectGetLibVersion"/>
    internal static ulong virConnectGetLibVersion(LibvirtConnectionHandle conn)
    {
        CULong version;
        Check(NativeMethods.virConnectGetLibVersion(conn, &version), nameof(NativeMethods.virConnectGetLibVersion));
        return version.Value;
    }

    /// <inheritdoc cref="NativeMethods.virConnectGetVersion"/>
    internal static ulong virConnectGetVersion(LibvirtConnectionHandle conn)
    {
        CULong version;
        Check(NativeMethods.virConnectGetVersion(conn, &version), nameof(NativeMethods.virConnectGetVersion));
        return version.Value;
    }

    /// <inheritdoc cref="NativeMethods.virConnectGetType"/>
    internal static string virConnectGetType(LibvirtConnectionHandle conn) =>
        Check(NativeMethods.virConnectGetType(conn), nameof(NativeMethods.virConnectGetType));

    /// <inheritdoc cref="NativeMethods.virConnectGetHostname"/>
    internal static string virConnectGetHostname(LibvirtConnectionHandle conn) =>
        Check(NativeMethods.virConnectGetHostname(conn), nameof(NativeMethods.virConnectGetHostname));

    /// <inheritdoc cref="NativeMethods.virConnectGetURI"/>
    internal static string virConnectGetURI(LibvirtConnectionHandle conn) =>
        Check(NativeMethods.virConnectGetURI(conn), nameof(NativeMethods.virConnectGetURI));

    /// <inheritdoc cref="NativeMethods.virConnectIsAlive"/>
    internal static bool virConnectIsAlive(LibvirtConnectionHandle conn) =>
        Check(NativeMethods.virConnectIsAlive(conn), nameof(NativeMethods.virConnectIsAlive)) == 1;
}
