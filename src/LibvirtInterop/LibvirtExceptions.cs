namespace VfioMigration.Libvirt;

/// <summary>
/// A libvirt call failed. Carries libvirt's error (read on the failing thread right after the
/// call) and the C function that failed. Subclasses group the codes callers usually branch on.
/// </summary>
public class LibvirtException : Exception
{
    /// <summary>Creates an exception with a generic message and no libvirt error.</summary>
    public LibvirtException()
        : this("A libvirt call failed.")
    {
    }

    /// <summary>Creates an exception with <paramref name="message"/> and no libvirt error.</summary>
    public LibvirtException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with <paramref name="message"/> caused by <paramref name="innerException"/>.</summary>
    public LibvirtException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    internal LibvirtException(LibvirtErrorInfo error)
        : base($"{error.Function}{(error.Subject is null ? string.Empty : $"('{error.Subject}')")} failed: {error.Message ?? "(libvirt gave no message)"} [code {error.Code} ({(int)error.Code}), domain {error.Domain} ({(int)error.Domain})]")
    {
        Function = error.Function;
        Code = error.Code;
        ErrorDomain = error.Domain;
        Level = error.Level;
        LibvirtMessage = error.Message;
        Str1 = error.Str1;
        Str2 = error.Str2;
        Str3 = error.Str3;
        Int1 = error.Int1;
        Int2 = error.Int2;
    }

    /// <summary>The libvirt C function that failed, e.g. <c>virDomainLookupByName</c>; null when not from a call.</summary>
    public string? Function { get; }

    /// <summary>libvirt's <c>virErrorNumber</c>; <see cref="LibvirtErrorCode.Ok"/> when libvirt set no error.</summary>
    public LibvirtErrorCode Code { get; }

    /// <summary>libvirt's <c>virErrorDomain</c>: which part of libvirt raised the error.</summary>
    public LibvirtErrorDomain ErrorDomain { get; }

    /// <summary>libvirt's <c>virErrorLevel</c>.</summary>
    public LibvirtErrorLevel Level { get; }

    /// <summary>libvirt's own message, unprefixed; null when libvirt set no error.</summary>
    public string? LibvirtMessage { get; }

    /// <summary>libvirt's first extra string (<c>str1</c>), often the message template's subject.</summary>
    public string? Str1 { get; }

    /// <summary>libvirt's second extra string (<c>str2</c>).</summary>
    public string? Str2 { get; }

    /// <summary>libvirt's third extra string (<c>str3</c>).</summary>
    public string? Str3 { get; }

    /// <summary>libvirt's first extra number (<c>int1</c>).</summary>
    public int Int1 { get; }

    /// <summary>libvirt's second extra number (<c>int2</c>).</summary>
    public int Int2 { get; }

    /// <summary>The exception type for <paramref name="error"/>'s code.</summary>
    internal static LibvirtException FromError(LibvirtErrorInfo error) => error.Code switch
    {
        LibvirtErrorCode.NoDomain or LibvirtErrorCode.NoNodeDevice or LibvirtErrorCode.NoNetwork
            or LibvirtErrorCode.NoStoragePool or LibvirtErrorCode.NoStorageVolume or LibvirtErrorCode.NoInterface
            or LibvirtErrorCode.NoSecret or LibvirtErrorCode.NoDomainSnapshot or LibvirtErrorCode.NoDomainMetadata
            or LibvirtErrorCode.DeviceMissing => new LibvirtNotFoundException(error),
        LibvirtErrorCode.NoSupport or LibvirtErrorCode.ArgumentUnsupported or LibvirtErrorCode.OperationUnsupported
            or LibvirtErrorCode.ConfigUnsupported => new LibvirtNotSupportedException(error),
        LibvirtErrorCode.OperationInvalid => new LibvirtOperationInvalidException(error),
        LibvirtErrorCode.AuthFailed or LibvirtErrorCode.AuthCancelled or LibvirtErrorCode.AuthUnavailable
            => new LibvirtAuthException(error),
        LibvirtErrorCode.NoConnect or LibvirtErrorCode.InvalidConnection or LibvirtErrorCode.Rpc
            => new LibvirtConnectionException(error),
        LibvirtErrorCode.InvalidArgument => new LibvirtInvalidArgumentException(error),
        _ => new LibvirtException(error),
    };

    /// <summary>The exception for a call that failed while libvirt's last error stayed unset.</summary>
    internal static LibvirtException WithoutError(string function, string? subject) =>
        new(new LibvirtErrorInfo(function, subject, LibvirtErrorCode.Ok, LibvirtErrorDomain.None, LibvirtErrorLevel.None,
            "the call reported failure but libvirt set no error", null, null, null, 0, 0));
}

/// <summary>
/// The object does not exist (<c>VIR_ERR_NO_DOMAIN</c>, <c>VIR_ERR_NO_NODE_DEVICE</c>,
/// <c>VIR_ERR_NO_NETWORK</c>, <c>VIR_ERR_DEVICE_MISSING</c>, ...).
/// </summary>
public sealed class LibvirtNotFoundException : LibvirtException
{
    /// <summary>Creates an exception with a generic message and no libvirt error.</summary>
    public LibvirtNotFoundException()
    {
    }

    /// <summary>Creates an exception with <paramref name="message"/> and no libvirt error.</summary>
    public LibvirtNotFoundException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with <paramref name="message"/> caused by <paramref name="innerException"/>.</summary>
    public LibvirtNotFoundException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    internal LibvirtNotFoundException(LibvirtErrorInfo error)
        : base(error)
    {
    }
}

/// <summary>
/// The connection's driver does not support the call, argument or configuration
/// (<c>VIR_ERR_NO_SUPPORT</c>, <c>VIR_ERR_ARGUMENT_UNSUPPORTED</c>,
/// <c>VIR_ERR_OPERATION_UNSUPPORTED</c>, <c>VIR_ERR_CONFIG_UNSUPPORTED</c>).
/// </summary>
public sealed class LibvirtNotSupportedException : LibvirtException
{
    /// <summary>Creates an exception with a generic message and no libvirt error.</summary>
    public LibvirtNotSupportedException()
    {
    }

    /// <summary>Creates an exception with <paramref name="message"/> and no libvirt error.</summary>
    public LibvirtNotSupportedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with <paramref name="message"/> caused by <paramref name="innerException"/>.</summary>
    public LibvirtNotSupportedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    internal LibvirtNotSupportedException(LibvirtErrorInfo error)
        : base(error)
    {
    }
}

/// <summary>
/// The call does not apply to the object in its current state, e.g. destroying a domain that is
/// not running (<c>VIR_ERR_OPERATION_INVALID</c>).
/// </summary>
public sealed class LibvirtOperationInvalidException : LibvirtException
{
    /// <summary>Creates an exception with a generic message and no libvirt error.</summary>
    public LibvirtOperationInvalidException()
    {
    }

    /// <summary>Creates an exception with <paramref name="message"/> and no libvirt error.</summary>
    public LibvirtOperationInvalidException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with <paramref name="message"/> caused by <paramref name="innerException"/>.</summary>
    public LibvirtOperationInvalidException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    internal LibvirtOperationInvalidException(LibvirtErrorInfo error)
        : base(error)
    {
    }
}

/// <summary>
/// Authentication failed, was cancelled or is unavailable (<c>VIR_ERR_AUTH_FAILED</c>,
/// <c>VIR_ERR_AUTH_CANCELLED</c>, <c>VIR_ERR_AUTH_UNAVAILABLE</c>).
/// </summary>
public sealed class LibvirtAuthException : LibvirtException
{
    /// <summary>Creates an exception with a generic message and no libvirt error.</summary>
    public LibvirtAuthException()
    {
    }

    /// <summary>Creates an exception with <paramref name="message"/> and no libvirt error.</summary>
    public LibvirtAuthException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with <paramref name="message"/> caused by <paramref name="innerException"/>.</summary>
    public LibvirtAuthException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    internal LibvirtAuthException(LibvirtErrorInfo error)
        : base(error)
    {
    }
}

/// <summary>
/// The hypervisor connection could not be made or was lost (<c>VIR_ERR_NO_CONNECT</c>,
/// <c>VIR_ERR_INVALID_CONN</c>, <c>VIR_ERR_RPC</c>).
/// </summary>
public sealed class LibvirtConnectionException : LibvirtException
{
    /// <summary>Creates an exception with a generic message and no libvirt error.</summary>
    public LibvirtConnectionException()
    {
    }

    /// <summary>Creates an exception with <paramref name="message"/> and no libvirt error.</summary>
    public LibvirtConnectionException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with <paramref name="message"/> caused by <paramref name="innerException"/>.</summary>
    public LibvirtConnectionException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    internal LibvirtConnectionException(LibvirtErrorInfo error)
        : base(error)
    {
    }
}

/// <summary>
/// libvirt refused an argument (<c>VIR_ERR_INVALID_ARG</c>), including flags the driver does not
/// accept ("unsupported flags").
/// </summary>
public sealed class LibvirtInvalidArgumentException : LibvirtException
{
    /// <summary>Creates an exception with a generic message and no libvirt error.</summary>
    public LibvirtInvalidArgumentException()
    {
    }

    /// <summary>Creates an exception with <paramref name="message"/> and no libvirt error.</summary>
    public LibvirtInvalidArgumentException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with <paramref name="message"/> caused by <paramref name="innerException"/>.</summary>
    public LibvirtInvalidArgumentException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    internal LibvirtInvalidArgumentException(LibvirtErrorInfo error)
        : base(error)
    {
    }
}

/// <summary>
/// <c>libvirt.so.0</c> could not be loaded. Its message names the package to install.
/// Thrown by the first libvirt call of the process (and again by each later one).
/// </summary>
public sealed class LibvirtLibraryNotFoundException : DllNotFoundException
{
    /// <summary>Creates an exception with a generic message.</summary>
    public LibvirtLibraryNotFoundException()
        : this("The libvirt client library could not be loaded.")
    {
    }

    /// <summary>Creates an exception with <paramref name="message"/>.</summary>
    public LibvirtLibraryNotFoundException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with <paramref name="message"/> caused by <paramref name="innerException"/>.</summary>
    public LibvirtLibraryNotFoundException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    internal LibvirtLibraryNotFoundException(string libraryName, string package, Exception? innerException)
        : base(
            $"The libvirt client library '{libraryName}' could not be loaded. Install the '{package}' package " +
            $"(Debian/Ubuntu: apt-get install {package}; it ships {libraryName}; the -dev package is not needed).",
            innerException)
    {
        LibraryName = libraryName;
    }

    /// <summary>The library name that could not be loaded.</summary>
    public string? LibraryName { get; }
}

/// <summary>
/// A copy of libvirt's <c>virError</c> (code, domain, level, message, str1..3, int1..2), taken on
/// the failing thread, with the C function that failed and, when it helps the reader, what it was
/// called on (a name, UUID or URI; never XML).
/// </summary>
internal sealed record LibvirtErrorInfo(
    string Function,
    string? Subject,
    LibvirtErrorCode Code,
    LibvirtErrorDomain Domain,
    LibvirtErrorLevel Level,
    string? Message,
    string? Str1,
    string? Str2,
    string? Str3,
    int Int1,
    int Int2);
