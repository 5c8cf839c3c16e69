using System.Text.RegularExpressions;

namespace VfioMigration.Libvirt.Tests;

[TestClass]
public sealed partial class ConnectionTests : LibvirtTestBase
{
    [TestMethod]
    public void Open_DefaultTestDriver_ReportsItsUriAndIsAlive()
    {
        using var connection = LibvirtConnection.Open("test:///default");

        Assert.AreEqual("test:///default", connection.GetUri());
        Assert.IsTrue(connection.IsAlive());
    }

    [TestMethod]
    public void Open_HostFile_ReportsTheFileUri()
    {
        using var host = new TestHost();
        using var connection = LibvirtConnection.Open(host.Uri);

        Assert.AreEqual(host.Uri, connection.GetUri());
    }

    [TestMethod]
    public void GetHostname_IsThisMachinesName()
    {
        using var connection = LibvirtConnection.Open("test:///default");

        // libvirt may qualify the name (getaddrinfo's canonical name); it starts with gethostname().
        StringAssert.StartsWith(connection.GetHostname(), Environment.MachineName, StringComparison.OrdinalIgnoreCase);
    }

    [TestMethod]
    public void Versions_AgreeWithTheLoadedLibraryFile()
    {
        using var connection = LibvirtConnection.Open("test:///default");
        var library = LibvirtLibrary.GetVersion();

        // Debian names the file libvirt.so.0.<major*1000+minor>.<release>, e.g. libvirt.so.0.9000.0:
        // an independent check that the unsigned long* result was read at its full width.
        var loaded = File.ReadLines("/proc/self/maps").Select(line => LoadedLibvirt().Match(line)).First(match => match.Success);
        var majorMinor = int.Parse(loaded.Groups["mm"].Value, System.Globalization.CultureInfo.InvariantCulture);
        var expected = new Version(majorMinor / 1000, majorMinor % 1000, int.Parse(loaded.Groups["r"].Value, System.Globalization.CultureInfo.InvariantCulture));

        Assert.AreEqual(expected, library);
        Assert.AreEqual(library, connection.GetLibraryVersion());
    }

    [TestMethod]
    public void TheTestDriver_NamesItself_AndReportsItsOwnHypervisorVersion()
    {
        using var connection = LibvirtConnection.Open("test:///default");

        // virsh -c test:///default version: "Running hypervisor: TEST 0.0.2".
        Assert.AreEqual("TEST", connection.GetDriverName().ToUpperInvariant());
        Assert.AreEqual(new Version(0, 0, 2), connection.GetHypervisorVersion());
    }

    [TestMethod]
    [DataRow(9_000_000UL, "9.0.0")]
    [DataRow(10_002_003UL, "10.2.3")]
    [DataRow(7_003_000UL, "7.3.0")]
    public void DecodeVersion_SplitsLibvirtsEncoding(ulong encoded, string expected) =>
        Assert.AreEqual(Version.Parse(expected), LibvirtLibrary.DecodeVersion(encoded));

    [TestMethod]
    public void OpenReadOnly_ListsButRefusesChanges()
    {
        using var host = new TestHost();
        using var connection = LibvirtConnection.OpenReadOnly(host.Uri);

        Assert.AreEqual(TestHost.StoppedGuest + ", " + TestHost.RunningGuest, NamesOf(connection.ListAllDomains()));
        var error = Assert.ThrowsExactly<LibvirtException>(() => connection.DefineDomain(TestHost.DomainXml("x", "22222222-1b54-4048-85b3-a6a62d165c01")));
        Assert.AreEqual(LibvirtErrorCode.OperationDenied, error.Code);
        Assert.AreEqual("virDomainDefineXML", error.Function);
    }

    [TestMethod]
    public void Open_MissingHostFile_ThrowsTheXmlErrorNamingTheFile()
    {
        var error = Assert.ThrowsExactly<LibvirtException>(() => LibvirtConnection.Open("test:///nonexistent/host.xml"));

        Assert.AreEqual(LibvirtErrorCode.XmlError, error.Code);
        Assert.AreEqual(LibvirtErrorDomain.Test, error.ErrorDomain);
        Assert.AreEqual(LibvirtErrorLevel.Error, error.Level);
        StringAssert.Contains(error.Message, "/nonexistent/host.xml");
        StringAssert.Contains(error.Message, "virConnectOpen");
    }

    [TestMethod]
    public void Calls_AfterDispose_ThrowObjectDisposed()
    {
        var connection = LibvirtConnection.Open("test:///default");
        connection.Dispose();

        Assert.ThrowsExactly<ObjectDisposedException>(() => connection.GetUri());
    }

    [TestMethod]
    public void Lookups_RejectEmptyNamesBeforeCallingLibvirt()
    {
        using var connection = LibvirtConnection.Open("test:///default");

        Assert.ThrowsExactly<ArgumentException>(() => connection.LookupDomainByName(string.Empty));
        Assert.ThrowsExactly<ArgumentNullException>(() => connection.LookupNodeDeviceByName(null!));
    }

    [TestMethod]
    public void StringArguments_WithANul_AreRejectedRatherThanCutShort()
    {
        using var connection = LibvirtConnection.Open("test:///default");

        // C would see only "test", the default driver's running domain.
        var error = Assert.ThrowsExactly<ArgumentException>(() => connection.LookupDomainByName("test\0other"));
        Assert.AreEqual("name", error.ParamName);
        StringAssert.Contains(error.Message, "index 4");
        Assert.ThrowsExactly<ArgumentException>(() => LibvirtConnection.Open("test:///default\0"));
    }

    [GeneratedRegex(@"/libvirt\.so\.0\.(?<mm>\d+)\.(?<r>\d+)$")]
    private static partial Regex LoadedLibvirt();
}
