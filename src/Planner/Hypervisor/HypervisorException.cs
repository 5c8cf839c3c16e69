namespace VfioMigration.Planner.Hypervisor;

/// <summary>A hypervisor call failed; the message says which call, on which host, and why.</summary>
public class HypervisorException : Exception
{
    /// <summary>Creates an exception with no message.</summary>
    public HypervisorException()
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    public HypervisorException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and the underlying error.</summary>
    public HypervisorException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// The hypervisor cannot do this at all (libvirt's test driver cannot create mdevs; an old libvirt
/// cannot define them). The planner falls back to sysfs where it can.
/// </summary>
public class HypervisorNotSupportedException : HypervisorException
{
    /// <summary>Creates an exception with no message.</summary>
    public HypervisorNotSupportedException()
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    public HypervisorNotSupportedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and the underlying error.</summary>
    public HypervisorNotSupportedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
