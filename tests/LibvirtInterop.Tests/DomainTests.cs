namespace VfioMigration.Libvirt.Tests;

[TestClass]
public sealed class DomainTests : LibvirtTestBase
{
    [TestMethod]
    public void ListAllDomains_AppliesFilters()
    {
        using var host = new TestHost();
        using var connection = LibvirtConnection.Open(host.Uri);

        Assert.AreEqual(TestHost.StoppedGuest + ", " + TestHost.RunningGuest, NamesOf(connection.ListAllDomains()));
        Assert.AreEqual(TestHost.RunningGuest, NamesOf(connection.ListAllDomains(DomainListFilters.Active)));
        Assert.AreEqual(TestHost.StoppedGuest, NamesOf(connection.ListAllDomains(DomainListFilters.Inactive)));
        Assert.AreEqual(TestHost.StoppedGuest, NamesOf(connection.ListAllDomains(DomainListFilters.Shutoff)));
        Assert.AreEqual(TestHost.StoppedGuest + ", " + TestHost.RunningGuest, NamesOf(connection.ListAllDomains(DomainListFilters.Persistent)));
        Assert.AreEqual(string.Empty, NamesOf(connection.ListAllDomains(DomainListFilters.Transient)));
    }

    [TestMethod]
    public void LookupByNameAndByUuid_FindTheSameDomain()
    {
        using var host = new TestHost();
        using var connection = LibvirtConnection.Open(host.Uri);

        using var byName = connection.LookupDomainByName(TestHost.RunningGuest);
        using var byUuid = connection.LookupDomainByUuid(TestHost.RunningGuestUuid.ToUpperInvariant());

        Assert.AreEqual(TestHost.RunningGuestUuid, byName.Uuid);
        Assert.AreEqual(TestHost.RunningGuest, byUuid.Name);
    }

    [TestMethod]
    public void LookupByName_UnknownDomain_ThrowsNotFound()
    {
        using var connection = LibvirtConnection.Open("test:///default");

        var error = Assert.ThrowsExactly<LibvirtNotFoundException>(() => connection.LookupDomainByName("no-such-guest"));
        Assert.AreEqual(LibvirtErrorCode.NoDomain, error.Code);
        Assert.AreEqual("virDomainLookupByName", error.Function);
        StringAssert.StartsWith(error.Message, "virDomainLookupByName('no-such-guest') failed: Domain not found");
    }

    [TestMethod]
    public void LookupByUuid_NotAUuid_ThrowsInvalidArgument()
    {
        using var connection = LibvirtConnection.Open("test:///default");

        var error = Assert.ThrowsExactly<LibvirtInvalidArgumentException>(() => connection.LookupDomainByUuid("../etc/passwd"));
        Assert.AreEqual(LibvirtErrorCode.InvalidArgument, error.Code);
    }

    [TestMethod]
    public void GetXmlDescription_HonoursTheFlags()
    {
        using var host = new TestHost();
        using var connection = LibvirtConnection.Open(host.Uri);
        using var domain = connection.LookupDomainByName(TestHost.RunningGuest);

        var live = domain.GetXmlDescription();
        var inactive = domain.GetXmlDescription(DomainXmlOptions.Inactive);
        var migratable = domain.GetXmlDescription(DomainXmlOptions.Migratable | DomainXmlOptions.Secure);

        // Only the live XML of a running domain carries its runtime id.
        StringAssert.Contains(live, "<domain type='test' id='1'>");
        StringAssert.StartsWith(inactive, "<domain type='test'>");
        StringAssert.Contains(migratable, $"<address uuid='{TestHost.MdevUuid}'/>");
    }

    [TestMethod]
    public void ReadXmlDescription_GivesLibvirtsUtf8BytesAsAReadOnlyStream()
    {
        using var host = new TestHost();
        using var connection = LibvirtConnection.Open(host.Uri);
        using var domain = connection.LookupDomainByName(TestHost.RunningGuest);

        var expected = domain.GetXmlDescription(DomainXmlOptions.Inactive);
        var (text, length, writable) = domain.ReadXmlDescription(
            stream => (new StreamReader(stream, System.Text.Encoding.UTF8).ReadToEnd(), stream.Length, stream.CanWrite),
            DomainXmlOptions.Inactive);

        Assert.AreEqual(expected, text);
        Assert.AreEqual(System.Text.Encoding.UTF8.GetByteCount(expected), length);
        Assert.IsFalse(writable);
    }

    [TestMethod]
    public void ReadXmlDescription_SecureOnReadOnlyConnection_IsDeniedWithoutCallingTheReader()
    {
        using var connection = LibvirtConnection.OpenReadOnly("test:///default");
        using var domain = connection.LookupDomainByName("test");
        var called = false;

        var error = Assert.ThrowsExactly<LibvirtException>(() => domain.ReadXmlDescription(_ => called = true, DomainXmlOptions.Secure));
        Assert.AreEqual(LibvirtErrorCode.OperationDenied, error.Code);
        Assert.AreEqual("virDomainGetXMLDesc", error.Function);
        Assert.IsFalse(called);
    }

    [TestMethod]
    public void GetXmlDescription_SecureOnReadOnlyConnection_IsDenied()
    {
        using var connection = LibvirtConnection.OpenReadOnly("test:///default");
        using var domain = connection.LookupDomainByName("test");

        var error = Assert.ThrowsExactly<LibvirtException>(() => domain.GetXmlDescription(DomainXmlOptions.Secure));
        Assert.AreEqual(LibvirtErrorCode.OperationDenied, error.Code);
    }

    [TestMethod]
    public void StartAndDestroy_ChangeTheState()
    {
        using var host = new TestHost();
        using var connection = LibvirtConnection.Open(host.Uri);
        using var domain = connection.LookupDomainByName(TestHost.StoppedGuest);
        Assert.AreEqual(DomainState.Shutoff, domain.GetState().State);

        domain.Start();
        Assert.AreEqual(DomainState.Running, domain.GetState().State);

        domain.Destroy();
        Assert.AreEqual(DomainState.Shutoff, domain.GetState().State);
    }

    [TestMethod]
    public void Destroy_StoppedDomain_ThrowsOperationInvalid()
    {
        using var host = new TestHost();
        using var connection = LibvirtConnection.Open(host.Uri);
        using var domain = connection.LookupDomainByName(TestHost.StoppedGuest);

        var error = Assert.ThrowsExactly<LibvirtOperationInvalidException>(domain.Destroy);
        Assert.AreEqual(LibvirtErrorCode.OperationInvalid, error.Code);
    }

    [TestMethod]
    public void DefineAndUndefine_AddAndRemoveThePersistentDefinition()
    {
        using var host = new TestHost();
        using var connection = LibvirtConnection.Open(host.Uri);
        const string uuid = "9d1c7c36-0d0b-4c55-a0e3-6f1ad4a1e7b2";

        using (var defined = connection.DefineDomain(TestHost.DomainXml("defined-guest", uuid)))
        {
            Assert.AreEqual(uuid, defined.Uuid);
            Assert.AreEqual(DomainState.Shutoff, defined.GetState().State);
            StringAssert.Contains(defined.GetXmlDescription(DomainXmlOptions.Inactive), $"<address uuid='{TestHost.MdevUuid}'/>");
            defined.Undefine();
        }

        Assert.ThrowsExactly<LibvirtNotFoundException>(() => connection.LookupDomainByName("defined-guest"));
    }

    [TestMethod]
    public void DefineDomain_MalformedXml_ThrowsTheXmlParserDetail()
    {
        using var connection = LibvirtConnection.Open("test:///default");

        var error = Assert.ThrowsExactly<LibvirtException>(() => connection.DefineDomain("<domain type='test'><name>x</name>"));
        Assert.AreEqual(LibvirtErrorCode.XmlDetail, error.Code);
        StringAssert.Contains(error.LibvirtMessage, "domain");
    }
}
