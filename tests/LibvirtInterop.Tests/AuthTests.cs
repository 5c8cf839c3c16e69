namespace VfioMigration.Libvirt.Tests;

/// <summary>
/// The test driver asks for credentials when its host file has an <c>&lt;auth&gt;</c> section:
/// first VIR_CRED_AUTHNAME, then VIR_CRED_PASSPHRASE, each through the callback of
/// virConnectOpenAuth. That drives the whole managed-callback bridge through real libvirt.
/// </summary>
[TestClass]
public sealed class AuthTests : LibvirtTestBase
{
    [TestMethod]
    public void OpenWithAuthentication_RightCredentials_Connects()
    {
        using var host = new TestHost();
        var asked = new List<(LibvirtCredentialType Type, string? Prompt)>();
        var authentication = new LibvirtAuthentication(
            [LibvirtCredentialType.AuthName, LibvirtCredentialType.Passphrase],
            credentials =>
            {
                foreach (var credential in credentials)
                {
                    asked.Add((credential.Type, credential.Prompt));
                    credential.Result = credential.Type == LibvirtCredentialType.AuthName ? TestHost.UserName : TestHost.Password;
                }

                return true;
            });

        using var connection = LibvirtConnection.OpenWithAuthentication(host.AuthUri, authentication);

        Assert.AreEqual(TestHost.StoppedGuest + ", " + TestHost.RunningGuest, NamesOf(connection.ListAllDomains()));
        Assert.HasCount(2, asked);
        Assert.AreEqual(LibvirtCredentialType.AuthName, asked[0].Type);
        StringAssert.Contains(asked[0].Prompt, "username");
        Assert.AreEqual(LibvirtCredentialType.Passphrase, asked[1].Type);
        StringAssert.Contains(asked[1].Prompt, TestHost.UserName);
    }

    [TestMethod]
    public void OpenWithAuthentication_ReadOnly_RefusesChanges()
    {
        using var host = new TestHost();
        using var connection = LibvirtConnection.OpenWithAuthentication(
            host.AuthUri, LibvirtAuthentication.FromUserNameAndPassword(TestHost.UserName, TestHost.Password), readOnly: true);

        var error = Assert.ThrowsExactly<LibvirtException>(() => connection.DefineDomain(TestHost.DomainXml("x", "22222222-1b54-4048-85b3-a6a62d165c01")));
        Assert.AreEqual(LibvirtErrorCode.OperationDenied, error.Code);
    }

    [TestMethod]
    public void OpenWithAuthentication_WrongPassword_ThrowsAuthFailed()
    {
        using var host = new TestHost();

        var error = Assert.ThrowsExactly<LibvirtAuthException>(
            () => LibvirtConnection.OpenWithAuthentication(host.AuthUri, LibvirtAuthentication.FromUserNameAndPassword(TestHost.UserName, "wrong")));

        Assert.AreEqual(LibvirtErrorCode.AuthFailed, error.Code);
        Assert.AreEqual("virConnectOpenAuth", error.Function);
    }

    [TestMethod]
    public void OpenWithAuthentication_CallbackDeclines_ThrowsAuthFailed()
    {
        using var host = new TestHost();
        var authentication = new LibvirtAuthentication([LibvirtCredentialType.AuthName, LibvirtCredentialType.Passphrase], _ => false);

        var error = Assert.ThrowsExactly<LibvirtAuthException>(() => LibvirtConnection.OpenWithAuthentication(host.AuthUri, authentication));

        Assert.AreEqual(LibvirtErrorCode.AuthFailed, error.Code);
        Assert.AreEqual(LibvirtErrorDomain.Auth, error.ErrorDomain);
    }

    [TestMethod]
    public void OpenWithAuthentication_CallbackThrows_SurfacesTheCallbacksException()
    {
        using var host = new TestHost();
        var thrown = new InvalidOperationException("vault unreachable");
        var authentication = new LibvirtAuthentication([LibvirtCredentialType.AuthName], _ => throw thrown);

        var error = Assert.ThrowsExactly<LibvirtAuthException>(() => LibvirtConnection.OpenWithAuthentication(host.AuthUri, authentication));

        Assert.AreSame(thrown, error.InnerException);
        StringAssert.Contains(error.Message, "vault unreachable");
        StringAssert.Contains(error.Message, host.AuthUri);
    }

    [TestMethod]
    public void Open_WithoutAuthentication_OnAUriThatAsks_IsRefused()
    {
        using var host = new TestHost();

        var error = Assert.ThrowsExactly<LibvirtInvalidArgumentException>(() => LibvirtConnection.Open(host.AuthUri));

        Assert.AreEqual(LibvirtErrorDomain.Auth, error.ErrorDomain);
        StringAssert.Contains(error.LibvirtMessage, "credentials");
    }

    [TestMethod]
    public void OpenWithAuthentication_OnAUriThatDoesNotAsk_NeverCallsBack()
    {
        var calls = 0;
        var authentication = new LibvirtAuthentication([LibvirtCredentialType.AuthName], _ =>
        {
            calls++;
            return true;
        });

        using var connection = LibvirtConnection.OpenWithAuthentication("test:///default", authentication);

        Assert.IsTrue(connection.IsAlive());
        Assert.AreEqual(0, calls);
    }

    [TestMethod]
    public void Constructor_RejectsNoTypesAndUndefinedTypes()
    {
        Assert.ThrowsExactly<ArgumentException>(() => new LibvirtAuthentication([], _ => true));
        var undefined = Assert.ThrowsExactly<ArgumentException>(() => new LibvirtAuthentication([(LibvirtCredentialType)42], _ => true));
        StringAssert.Contains(undefined.Message, "42");
    }

    [TestMethod]
    public void SupportedTypes_DropDuplicates()
    {
        var authentication = new LibvirtAuthentication([LibvirtCredentialType.Passphrase, LibvirtCredentialType.Passphrase, LibvirtCredentialType.Realm], _ => true);

        CollectionAssert.AreEqual(new[] { LibvirtCredentialType.Passphrase, LibvirtCredentialType.Realm }, authentication.SupportedTypes.ToArray());
    }
}
