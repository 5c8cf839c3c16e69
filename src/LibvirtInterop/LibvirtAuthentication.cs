namespace VfioMigration.Libvirt;

/// <summary><c>virConnectCredentialType</c>: what libvirt asks for.</summary>
public enum LibvirtCredentialType
{
    /// <summary><c>VIR_CRED_USERNAME</c>: the identity to act as.</summary>
    Username = 1,

    /// <summary><c>VIR_CRED_AUTHNAME</c>: the identity to authorise as.</summary>
    AuthName = 2,

    /// <summary><c>VIR_CRED_LANGUAGE</c>: RFC 1766 languages, comma separated.</summary>
    Language = 3,

    /// <summary><c>VIR_CRED_CNONCE</c>: client-supplied nonce.</summary>
    ClientNonce = 4,

    /// <summary><c>VIR_CRED_PASSPHRASE</c>: the secret passphrase.</summary>
    Passphrase = 5,

    /// <summary><c>VIR_CRED_ECHOPROMPT</c>: a challenge response, may be echoed.</summary>
    EchoPrompt = 6,

    /// <summary><c>VIR_CRED_NOECHOPROMPT</c>: a challenge response, must not be echoed.</summary>
    NoEchoPrompt = 7,

    /// <summary><c>VIR_CRED_REALM</c>: the authentication realm.</summary>
    Realm = 8,

    /// <summary><c>VIR_CRED_EXTERNAL</c>: externally managed credential.</summary>
    External = 9,
}

/// <summary>One credential libvirt asks for while opening a connection; set <see cref="Result"/> to answer.</summary>
public sealed class LibvirtCredential
{
    internal LibvirtCredential(LibvirtCredentialType type, string? prompt, string? challenge, string? defaultResult)
    {
        Type = type;
        Prompt = prompt;
        Challenge = challenge;
        DefaultResult = defaultResult;
    }

    /// <summary>What is asked for.</summary>
    public LibvirtCredentialType Type { get; }

    /// <summary>The prompt libvirt would show a user, e.g. "Enter username for localhost".</summary>
    public string? Prompt { get; }

    /// <summary>An additional challenge, when the mechanism has one.</summary>
    public string? Challenge { get; }

    /// <summary>A suggested answer, when libvirt has one.</summary>
    public string? DefaultResult { get; }

    /// <summary>The answer; null leaves the credential unanswered.</summary>
    public string? Result { get; set; }
}

/// <summary>
/// Answers the credentials libvirt asks for. Return false to refuse (libvirt then fails the open
/// with an authentication error). An exception thrown here fails the open with a
/// <see cref="LibvirtAuthException"/> that wraps it.
/// </summary>
/// <param name="credentials">The credentials asked for in this round; set each one's <see cref="LibvirtCredential.Result"/>.</param>
public delegate bool LibvirtAuthCallback(IReadOnlyList<LibvirtCredential> credentials);

/// <summary>
/// How to answer a connection's credential requests (libvirt's <c>virConnectAuth</c>): the
/// credential types the caller can answer, and the callback that answers them.
/// </summary>
public sealed class LibvirtAuthentication
{
    /// <summary>Creates an authentication that answers <paramref name="supportedTypes"/> through <paramref name="callback"/>.</summary>
    /// <param name="supportedTypes">The credential types <paramref name="callback"/> can answer; at least one, each a defined value.</param>
    /// <param name="callback">Called by libvirt, on the opening thread, during the open.</param>
    /// <exception cref="ArgumentException">No type was given, or an undefined one.</exception>
    public LibvirtAuthentication(IEnumerable<LibvirtCredentialType> supportedTypes, LibvirtAuthCallback callback)
    {
        ArgumentNullException.ThrowIfNull(supportedTypes);
        ArgumentNullException.ThrowIfNull(callback);
        var types = supportedTypes.Distinct().ToArray();
        if (types.Length == 0)
        {
            throw new ArgumentException("Name at least one credential type the callback can answer.", nameof(supportedTypes));
        }

        foreach (var type in types)
        {
            if (!Enum.IsDefined(type))
            {
                throw new ArgumentException($"{(int)type} is not a libvirt credential type (expected 1..9, see LibvirtCredentialType).", nameof(supportedTypes));
            }
        }

        SupportedTypes = types;
        Callback = callback;
    }

    /// <summary>The credential types the callback can answer, without duplicates.</summary>
    public IReadOnlyList<LibvirtCredentialType> SupportedTypes { get; }

    /// <summary>The callback that answers.</summary>
    public LibvirtAuthCallback Callback { get; }

    /// <summary>
    /// Answers a user name (<see cref="LibvirtCredentialType.Username"/>,
    /// <see cref="LibvirtCredentialType.AuthName"/>) and a password
    /// (<see cref="LibvirtCredentialType.Passphrase"/>), and refuses anything else.
    /// </summary>
    public static LibvirtAuthentication FromUserNameAndPassword(string userName, string password)
    {
        ArgumentNullException.ThrowIfNull(userName);
        ArgumentNullException.ThrowIfNull(password);
        return new LibvirtAuthentication(
            [LibvirtCredentialType.Username, LibvirtCredentialType.AuthName, LibvirtCredentialType.Passphrase],
            credentials =>
            {
                foreach (var credential in credentials)
                {
                    credential.Result = credential.Type switch
                    {
                        LibvirtCredentialType.Username or LibvirtCredentialType.AuthName => userName,
                        LibvirtCredentialType.Passphrase => password,
                        _ => null,
                    };
                    if (credential.Result is null)
                    {
                        return false;
                    }
                }

                return true;
            });
    }
}
