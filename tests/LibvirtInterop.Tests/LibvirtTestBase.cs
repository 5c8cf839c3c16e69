using VfioMigration.Libvirt.Interop;

namespace VfioMigration.Libvirt.Tests;

/// <summary>
/// Checks after every test that each libvirt handle it adopted was released again. Tests in this
/// assembly run one at a time (MSTest's default), so the process-wide count is the test's own.
/// </summary>
public abstract class LibvirtTestBase
{
    private long liveHandlesBefore;

    [TestInitialize]
    public void RecordLiveHandles() => liveHandlesBefore = LiveHandles.Count;

    [TestCleanup]
    public void EveryHandleWasReleased() =>
        Assert.AreEqual(liveHandlesBefore, LiveHandles.Count, "the test left libvirt handles undisposed");

    /// <summary>Disposes every item, for lists returned by ListAll*.</summary>
    protected static void DisposeAll(IEnumerable<IDisposable> items)
    {
        foreach (var item in items)
        {
            item.Dispose();
        }
    }

    /// <summary>The items' names, sorted and joined with ", "; disposes the items.</summary>
    protected static string NamesOf(IReadOnlyList<LibvirtDomain> domains)
    {
        try
        {
            return string.Join(", ", domains.Select(domain => domain.Name).Order(StringComparer.Ordinal));
        }
        finally
        {
            DisposeAll(domains);
        }
    }

    /// <summary>The items' names, sorted and joined with ", "; disposes the items.</summary>
    protected static string NamesOf(IReadOnlyList<LibvirtNodeDevice> devices)
    {
        try
        {
            return string.Join(", ", devices.Select(device => device.Name).Order(StringComparer.Ordinal));
        }
        finally
        {
            DisposeAll(devices);
        }
    }
}
