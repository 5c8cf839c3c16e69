namespace VfioMigration.Planner.Hypervisor;

/// <summary>
/// A migration was interrupted and neither its abort nor its end was seen in time: the guest may
/// still arrive on the destination. A plan that gets it is <see cref="PlanState.InDoubt"/>: it
/// leaves the devices it created in place for recovery, which gives them to the guest that uses
/// them or removes them (docs/state.md).
/// </summary>
public sealed class MigrationOutcomeUnknownException : OperationCanceledException
{
    /// <summary>Creates an exception with no message.</summary>
    public MigrationOutcomeUnknownException()
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    public MigrationOutcomeUnknownException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and the underlying error.</summary>
    public MigrationOutcomeUnknownException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates an exception with a message, the underlying error and the token that was cancelled.</summary>
    public MigrationOutcomeUnknownException(string message, Exception innerException, CancellationToken token)
        : base(message, innerException, token)
    {
    }
}
