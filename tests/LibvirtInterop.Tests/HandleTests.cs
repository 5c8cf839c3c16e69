using System.Runtime.CompilerServices;
using VfioMigration.Libvirt.Interop;

namespace VfioMigration.Libvirt.Tests;

[TestClass]
public sealed class HandleTests : LibvirtTestBase
{
    [TestMethod]
    public void EveryListedObject_IsOneLiveHandle_UntilDisposed()
    {
        using var host = new TestHost();
        var before = LiveHandles.Count;

        var connection = LibvirtConnection.Open(host.Uri);
        var devices = connection.ListAllNodeDevices();
        var domains = connection.ListAllDomains();
        Assert.AreEqual(before + 1 + devices.Count + domains.Count, LiveHandles.Count);
        Assert.AreEqual(4, devices.Count);
        Assert.AreEqual(2, domains.Count);

        DisposeAll(devices);
        DisposeAll(domains);
        connection.Dispose();
        Assert.AreEqual(before, LiveHandles.Count);
    }

    [TestMethod]
    public void FailedLookups_LeaveNoHandleBehind()
    {
        using var connection = LibvirtConnection.Open("test:///default");
        var before = LiveHandles.Count;

        Assert.ThrowsExactly<LibvirtNotFoundException>(() => connection.LookupDomainByName("no-such-guest"));
        Assert.ThrowsExactly<LibvirtNotFoundException>(() => connection.LookupNodeDeviceByName("no-such-device"));

        Assert.AreEqual(before, LiveHandles.Count);
    }

    [TestMethod]
    public void Domain_OutlivesItsDisposedConnection()
    {
        using var host = new TestHost();
        var connection = LibvirtConnection.Open(host.Uri);
        using var domain = connection.LookupDomainByName(TestHost.RunningGuest);

        // libvirt reference-counts the connection: the domain keeps it open.
        connection.Dispose();

        Assert.AreEqual(TestHost.RunningGuest, domain.Name);
        StringAssert.Contains(domain.GetXmlDescription(), TestHost.MdevUuid);
    }

    [TestMethod]
    public void UndisposedHandles_AreReleasedByTheFinalizer()
    {
        var before = LiveHandles.Count;
        OpenAndForget();

        GC.Collect();
        GC.WaitForPendingFinalizers();

        Assert.AreEqual(before, LiveHandles.Count);
    }

    [TestMethod]
    public void Dispose_Twice_ReleasesOnce()
    {
        var before = LiveHandles.Count;
        var connection = LibvirtConnection.Open("test:///default");

        connection.Dispose();
        connection.Dispose();

        Assert.AreEqual(before, LiveHandles.Count);
    }

    /// <summary>Leaves a connection and its domain handles unreachable, in a frame of its own so nothing keeps them alive.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void OpenAndForget()
    {
        var connection = LibvirtConnection.Open("test:///default");
        Assert.HasCount(1, connection.ListAllDomains());
    }
}
