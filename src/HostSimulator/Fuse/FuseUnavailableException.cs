namespace VfioMigration.HostSimulator.Fuse;

/// <summary>FUSE cannot be used on this machine: libfuse 3 or <c>/dev/fuse</c> is missing.</summary>
public sealed class FuseUnavailableException : Exception
{
    /// <summary>Creates the exception with a default message naming the Debian packages to install.</summary>
    public FuseUnavailableException()
        : this("FUSE is not available: install the Debian packages fuse3 and libfuse3-3 (apt-get install fuse3 libfuse3-3).")
    {
    }

    /// <summary>Creates the exception with <paramref name="message"/>.</summary>
    public FuseUnavailableException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with <paramref name="message"/> and the underlying failure.</summary>
    public FuseUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
