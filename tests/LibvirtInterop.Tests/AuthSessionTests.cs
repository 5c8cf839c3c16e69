using System.Runtime.InteropServices;
using System.Text;
using VfioMigration.Libvirt.Interop;

namespace VfioMigration.Libvirt.Tests;

/// <summary>
/// Unit tests of the C side of the auth bridge: builds a <c>virConnectCredential</c> array in
/// native memory, calls the unmanaged-callers-only callback through its function pointer, and
/// checks what libvirt would see (malloc'd UTF-8 results and byte lengths).
/// </summary>
[TestClass]
public sealed unsafe class AuthSessionTests
{
    [TestMethod]
    public void Callback_ReadsPromptsAndWritesMallocedUtf8Results()
    {
        LibvirtCredential[]? seen = null;
        var authentication = new LibvirtAuthentication(
            [LibvirtCredentialType.AuthName, LibvirtCredentialType.Passphrase],
            credentials =>
            {
                seen = [.. credentials];
                credentials[0].Result = "operator";
                credentials[1].Result = "pässwörd";
                return true;
            });
        using var native = new NativeCredentials(
            (LibvirtCredentialType.AuthName, "Enter username for localhost", "localhost", "root"),
            (LibvirtCredentialType.Passphrase, "Enter operator's password", null, null));

        var result = Invoke(authentication, native, out _);

        Assert.AreEqual(0, result);
        Assert.IsNotNull(seen);
        Assert.AreEqual("Enter username for localhost", seen[0].Prompt);
        Assert.AreEqual("localhost", seen[0].Challenge);
        Assert.AreEqual("root", seen[0].DefaultResult);
        Assert.IsNull(seen[1].Challenge);
        Assert.AreEqual("operator", native.ResultOf(0));
        Assert.AreEqual(8u, native.Credentials[0].ResultLength);
        Assert.AreEqual("pässwörd", native.ResultOf(1));
        Assert.AreEqual((uint)Encoding.UTF8.GetByteCount("pässwörd"), native.Credentials[1].ResultLength);
    }

    [TestMethod]
    public void Callback_Declining_ReturnsMinusOneAndWritesNothing()
    {
        var authentication = new LibvirtAuthentication([LibvirtCredentialType.AuthName], credentials =>
        {
            credentials[0].Result = "ignored";
            return false;
        });
        using var native = new NativeCredentials((LibvirtCredentialType.AuthName, "user?", null, null));

        Assert.AreEqual(-1, Invoke(authentication, native, out var failure));
        Assert.IsNull(failure);
        Assert.IsTrue(native.Credentials[0].Result is null);
    }

    [TestMethod]
    public void Callback_AnswerWithNul_FailsWithoutHandingOverMemory()
    {
        var authentication = new LibvirtAuthentication([LibvirtCredentialType.AuthName, LibvirtCredentialType.Passphrase], credentials =>
        {
            credentials[0].Result = "operator";
            credentials[1].Result = "pass\0word";
            return true;
        });
        using var native = new NativeCredentials(
            (LibvirtCredentialType.AuthName, "user?", null, null),
            (LibvirtCredentialType.Passphrase, "password?", null, null));

        Assert.AreEqual(-1, Invoke(authentication, native, out var failure));
        Assert.IsInstanceOfType<ArgumentException>(failure);
        StringAssert.Contains(failure.Message, "Passphrase");
        Assert.IsTrue(native.Credentials[0].Result is null && native.Credentials[1].Result is null);
    }

    private static int Invoke(LibvirtAuthentication authentication, NativeCredentials native, out Exception? failure)
    {
        using var session = new AuthSession(authentication);
        delegate* unmanaged[Cdecl]<VirConnectCredential*, uint, void*, int> callback = &AuthSession.Callback;
        var result = callback(native.Credentials, (uint)native.Count, (void*)session.CallbackData);
        failure = session.CallbackFailure;
        return result;
    }

    /// <summary>A virConnectCredential array in native memory, as libvirt would pass it.</summary>
    private sealed class NativeCredentials : IDisposable
    {
        private readonly List<nint> strings = [];

        internal NativeCredentials(params (LibvirtCredentialType Type, string? Prompt, string? Challenge, string? Default)[] requests)
        {
            Count = requests.Length;
            Credentials = (VirConnectCredential*)NativeMemory.AllocZeroed((nuint)(Count * sizeof(VirConnectCredential)));
            for (var i = 0; i < Count; i++)
            {
                Credentials[i].Type = (int)requests[i].Type;
                Credentials[i].Prompt = Native(requests[i].Prompt);
                Credentials[i].Challenge = Native(requests[i].Challenge);
                Credentials[i].DefaultResult = Native(requests[i].Default);
            }
        }

        internal VirConnectCredential* Credentials { get; }

        internal int Count { get; }

        internal string? ResultOf(int index) => Marshal.PtrToStringUTF8((nint)Credentials[index].Result);

        public void Dispose()
        {
            for (var i = 0; i < Count; i++)
            {
                // The results were malloc'd for libvirt, which would free() them: do the same.
                NativeMemory.Free(Credentials[i].Result);
            }

            strings.ForEach(Marshal.FreeCoTaskMem);
            NativeMemory.Free(Credentials);
        }

        private byte* Native(string? text)
        {
            if (text is null)
            {
                return null;
            }

            var pointer = Marshal.StringToCoTaskMemUTF8(text);
            strings.Add(pointer);
            return (byte*)pointer;
        }
    }
}
