namespace VfioMigration.Planner.Hypervisor;

/// <summary>The guest or device asked for does not exist on that host.</summary>
public class HypervisorNotFoundException : HypervisorException
{
    /// <summary>Creates an exception with no message.</summary>
    public HypervisorNotFoundException()
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    public HypervisorNotFoundException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and the underlying error.</summary>
    public HypervisorNotFoundException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
