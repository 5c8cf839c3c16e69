using VfioMigration.Libvirt;
using VfioMigration.Planner.Hypervisor;
using VfioMigration.Planner.Xml;

namespace VfioMigration.ConsoleMigrator.Cli;

/// <summary>Turns an exception into the exit code and the one-line message the user sees.</summary>
internal static class ErrorReport
{
    private static readonly string DefaultCancellationMessage = new OperationCanceledException().Message;

    /// <summary>The exit code and message for <paramref name="error"/>.</summary>
    public static (int Code, string Message) Describe(Exception error) => error switch
    {
        MigrationOutcomeUnknownException e => (ExitCodes.Interrupted, $"cancelled ({e.Message})."),
        OperationCanceledException e => (ExitCodes.Interrupted, $"cancelled{(e.Message == DefaultCancellationMessage ? string.Empty : $" ({e.Message})")}; the devices this command had created were removed unless an error above says otherwise."),
        LibvirtLibraryNotFoundException e => (ExitCodes.Libvirt, e.Message),
        HypervisorException { InnerException: LibvirtXmlException } e => (ExitCodes.HostData, e.Message),
        HypervisorException e => (ExitCodes.Libvirt, e.Message),
        LibvirtException e => (ExitCodes.Libvirt, e.Message),
        LibvirtXmlException e => (ExitCodes.HostData, e.Message),
        HostDataException e => (ExitCodes.HostData, e.Message),
        HostSimulator.Scenarios.ScenarioException e => (ExitCodes.HostData, e.Message),
        HostSimulator.Fuse.FuseUnavailableException e => (ExitCodes.HostData, e.Message),
        FormatException e => (ExitCodes.HostData, e.Message),
        IOException e => (ExitCodes.HostData, e.Message),
        UnauthorizedAccessException e => (ExitCodes.HostData, e.Message),
        Planner.State.StateStoreException e => (ExitCodes.StateStore, e.Message),
        _ => (ExitCodes.Unexpected, $"{error.GetType().Name}: {error.Message} (run with --verbose for details)"),
    };
}

/// <summary>Input data that the console itself found wrong (a scenario, a file argument).</summary>
internal sealed class HostDataException(string message, Exception? inner = null) : Exception(message, inner);
