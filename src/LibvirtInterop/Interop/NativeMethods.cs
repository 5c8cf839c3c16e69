namespace VfioMigration.Libvirt.Interop;

/// <summary>
/// The raw libvirt imports, one partial file per libvirt header, under their exact C names.
/// Nothing here throws or logs: the checked layer (<see cref="Proxy"/>) calls these, reads the
/// thread-local libvirt error right after a failure and turns it into an exception.
/// </summary>
/// <remarks>
/// Input strings are marshalled as UTF-8 (<c>StringMarshalling.Utf8</c>). Every string a C
/// function returns is annotated with <see cref="OwnedUtf8StringMarshaller"/> (<c>char *</c>, we
/// free it) or <see cref="BorrowedUtf8StringMarshaller"/> (<c>const char *</c>, libvirt keeps it),
/// so ownership is decided by the header's <c>const</c>, never guessed by the marshaller.
/// </remarks>
internal static partial class NativeMethods
{
    /// <summary>
    /// The runtime name of the library. The unversioned <c>libvirt.so</c> is shipped only by the
    /// -dev package, so binding it would fail on a production host that has just <c>libvirt0</c>.
    /// </summary>
    internal const string LibraryName = "libvirt.so.0";

    /// <summary>The Debian/Ubuntu package that ships <see cref="LibraryName"/>.</summary>
    internal const string DebianPackage = "libvirt0";
}
