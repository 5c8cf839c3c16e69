using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.InteropServices.Marshalling;
using VfioMigration.Libvirt.Interop;

namespace VfioMigration.Libvirt.Tests;

/// <summary>Unit checks of the raw layer against libvirt's headers (LP64 x86_64/aarch64).</summary>
[TestClass]
public sealed class LayoutTests
{
    [TestMethod]
    public void VirError_MatchesTheCLayout()
    {
        Assert.AreEqual(80, Marshal.SizeOf<VirError>());
        Assert.AreEqual(8, Offset<VirError>(nameof(VirError.Message)));
        Assert.AreEqual(16, Offset<VirError>(nameof(VirError.Level)));
        Assert.AreEqual(40, Offset<VirError>(nameof(VirError.Str1)));
        Assert.AreEqual(64, Offset<VirError>(nameof(VirError.Int1)));
        Assert.AreEqual(72, Offset<VirError>(nameof(VirError.Network)));
    }

    [TestMethod]
    public void VirConnectCredentialAndAuth_MatchTheCLayout()
    {
        Assert.AreEqual(48, Marshal.SizeOf<VirConnectCredential>());
        Assert.AreEqual(8, Offset<VirConnectCredential>(nameof(VirConnectCredential.Prompt)));
        Assert.AreEqual(32, Offset<VirConnectCredential>(nameof(VirConnectCredential.Result)));
        Assert.AreEqual(40, Offset<VirConnectCredential>(nameof(VirConnectCredential.ResultLength)));
        Assert.AreEqual(32, Marshal.SizeOf<VirConnectAuth>());
        Assert.AreEqual(16, Offset<VirConnectAuth>(nameof(VirConnectAuth.Callback)));
        Assert.AreEqual(24, Offset<VirConnectAuth>(nameof(VirConnectAuth.CallbackData)));
    }

    [TestMethod]
    public void EveryStringResult_DeclaresWhoOwnsIt()
    {
        var annotated = typeof(NativeMethods).GetMethods(BindingFlags.Static | BindingFlags.NonPublic)
            .Where(method => method.ReturnType == typeof(string) && method.GetCustomAttribute<LibraryImportAttribute>() is not null)
            .ToDictionary(method => method.Name, method => method.ReturnParameter.GetCustomAttribute<MarshalUsingAttribute>()?.NativeType);

        // char * (caller frees) versus const char * (libvirt keeps), as in the headers.
        var owned = new[] { "virConnectGetHostname", "virConnectGetURI", "virDomainGetXMLDesc", "virNodeDeviceGetXMLDesc" };
        var borrowed = new[] { "virConnectGetType", "virDomainGetName", "virNodeDeviceGetName", "virNodeDeviceGetParent" };
        Assert.AreEqual(owned.Length + borrowed.Length, annotated.Count, string.Join(", ", annotated.Keys));
        foreach (var name in owned)
        {
            Assert.AreEqual(typeof(OwnedUtf8StringMarshaller), annotated[name], name);
        }

        foreach (var name in borrowed)
        {
            Assert.AreEqual(typeof(BorrowedUtf8StringMarshaller), annotated[name], name);
        }
    }

    [TestMethod]
    public void ImportsBindTheRuntimeLibraryName()
    {
        var libraries = typeof(NativeMethods).GetMethods(BindingFlags.Static | BindingFlags.NonPublic)
            .Select(method => method.GetCustomAttribute<LibraryImportAttribute>()?.LibraryName)
            .OfType<string>()
            .Distinct()
            .ToArray();

        Assert.AreEqual("libvirt.so.0", string.Join(", ", libraries));
    }

    private static int Offset<T>(string field) => (int)Marshal.OffsetOf<T>(field);
}
