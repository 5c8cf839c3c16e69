using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace VfioMigration.Libvirt.Interop;

/// <summary>
/// Bridges libvirt's C auth callback to a <see cref="LibvirtAuthentication"/> for the duration
/// of one <c>virConnectOpenAuth</c> call: a GCHandle to this object travels as <c>cbdata</c>, and a
/// static unmanaged-callers-only function finds it again.
/// </summary>
internal sealed unsafe class AuthSession : IDisposable
{
    private readonly LibvirtAuthentication authentication;
    private GCHandle self;

    internal AuthSession(LibvirtAuthentication authentication)
    {
        this.authentication = authentication;
        self = GCHandle.Alloc(this);
    }

    /// <summary>The <c>cbdata</c> pointer to hand to libvirt.</summary>
    internal nint CallbackData => GCHandle.ToIntPtr(self);

    /// <summary>The exception the user's callback threw, if any; it cannot cross into C.</summary>
    internal Exception? CallbackFailure { get; private set; }

    /// <summary>Releases the GCHandle; libvirt no longer calls back once the open has returned.</summary>
    public void Dispose()
    {
        if (self.IsAllocated)
        {
            self.Free();
        }
    }

    /// <summary>
    /// <c>virConnectAuthCallbackPtr</c>: fills each credential's <c>result</c> with a malloc'd UTF-8
    /// copy of the answer (libvirt frees it). Returns 0, or -1 when the user declined or failed.
    /// </summary>
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    internal static int Callback(VirConnectCredential* credentials, uint count, void* data)
    {
        AuthSession? session = null;
        try
        {
            session = (AuthSession)GCHandle.FromIntPtr((nint)data).Target!;
            return session.Answer(new Span<VirConnectCredential>(credentials, checked((int)count))) ? 0 : -1;
        }
        catch (Exception e)
        {
            // Any exception must stop here: an exception escaping an unmanaged-callers-only
            // function ends the process.
            session?.CallbackFailure = e;
            return -1;
        }
    }

    private bool Answer(Span<VirConnectCredential> native)
    {
        var requests = new LibvirtCredential[native.Length];
        for (var i = 0; i < native.Length; i++)
        {
            requests[i] = new LibvirtCredential(
                (LibvirtCredentialType)native[i].Type,
                Marshal.PtrToStringUTF8((nint)native[i].Prompt),
                Marshal.PtrToStringUTF8((nint)native[i].Challenge),
                Marshal.PtrToStringUTF8((nint)native[i].DefaultResult));
        }

        if (!authentication.Callback(requests))
        {
            return false;
        }

        // Encode everything first, so a bad answer fails before any native memory is handed over.
        var answers = new byte[]?[native.Length];
        for (var i = 0; i < native.Length; i++)
        {
            answers[i] = requests[i].Result is { } result ? Encode(result, requests[i].Type) : null;
        }

        for (var i = 0; i < native.Length; i++)
        {
            if (answers[i] is { } bytes)
            {
                var copy = (byte*)NativeMemory.Alloc((nuint)bytes.Length + 1);
                bytes.CopyTo(new Span<byte>(copy, bytes.Length));
                copy[bytes.Length] = 0;
                native[i].Result = copy;
                native[i].ResultLength = (uint)bytes.Length;
            }
        }

        return true;
    }

    private static byte[] Encode(string answer, LibvirtCredentialType type) =>
        answer.Contains('\0', StringComparison.Ordinal)
            ? throw new ArgumentException($"The answer for the {type} credential contains a NUL character, which libvirt would silently cut there.", nameof(answer))
            : Encoding.UTF8.GetBytes(answer);
}
