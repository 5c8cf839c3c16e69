using VfioMigration.Libvirt.Interop;

namespace VfioMigration.Libvirt;

/// <summary>Facts about the libvirt client library this process loaded.</summary>
public static class LibvirtLibrary
{
    /// <summary>The version of the loaded <c>libvirt.so.0</c> (<c>virGetVersion</c>), e.g. 9.0.0.</summary>
    /// <exception cref="LibvirtLibraryNotFoundException">libvirt.so.0 is not installed.</exception>
    public static Version GetVersion() => DecodeVersion(Proxy.virGetVersion());

    /// <summary>Decodes libvirt's <c>major * 1,000,000 + minor * 1,000 + release</c>.</summary>
    internal static Version DecodeVersion(ulong encoded) =>
        new((int)(encoded / 1_000_000), (int)(encoded / 1_000 % 1_000), (int)(encoded % 1_000));
}
