namespace VfioMigration.RemoteHosts;

/// <summary>
/// A remote host could not be reached or did not answer as expected (connection refused, host key
/// refused, authentication failed, connection lost, a malformed answer). An <see cref="IOException"/>,
/// so the planner's rollback treats it as a failed removal and reports the device as left behind.
/// </summary>
public sealed class RemoteHostException : IOException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="host">The host, as <c>user@host:port</c>.</param>
    /// <param name="operation">What was being done, e.g. <c>connect</c> or <c>read 12 attribute(s)</c>.</param>
    /// <param name="message">What failed and what to do.</param>
    /// <param name="innerException">The SSH library's error, when any.</param>
    public RemoteHostException(string host, string operation, string message, Exception? innerException = null)
        : base($"{host} (ssh): {operation}: {message}", innerException)
    {
        Host = host;
        Operation = operation;
    }

    /// <summary>Creates the exception with a message only.</summary>
    public RemoteHostException()
        : this("unknown host", "unknown operation", "the remote host failed")
    {
    }

    /// <summary>Creates the exception with a message only.</summary>
    public RemoteHostException(string message)
        : this("unknown host", "unknown operation", message)
    {
    }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public RemoteHostException(string message, Exception innerException)
        : this("unknown host", "unknown operation", message, innerException)
    {
    }

    /// <summary>The host, as <c>user@host:port</c>.</summary>
    public string Host { get; }

    /// <summary>What was being done when it failed.</summary>
    public string Operation { get; }
}
