namespace VfioMigration.ConsoleMigrator.Cli;

/// <summary>The process exit codes, documented in the README; scripts rely on them.</summary>
internal static class ExitCodes
{
    /// <summary>The command did what was asked.</summary>
    public const int Success = 0;

    /// <summary>Something unexpected failed (a bug): the message says what; <c>--verbose</c> shows the stack.</summary>
    public const int Unexpected = 1;

    /// <summary>The command line is wrong (unknown command or option, missing value).</summary>
    public const int Usage = 2;

    /// <summary>Planning finished but found no valid plan (the output says why).</summary>
    public const int NoValidPlan = 3;

    /// <summary>libvirt failed: unreachable URI, unknown domain, unsupported call.</summary>
    public const int Libvirt = 4;

    /// <summary>Bad input data or a host-side failure: broken XML, a bad scenario, a sysfs or simulator error.</summary>
    public const int HostData = 5;

    /// <summary>
    /// Cancelled by SIGINT (Ctrl-C) after rolling back: 128 + 2. SIGTERM gives 143 and SIGHUP 129
    /// (<see cref="SignalCancellation"/>); a second signal exits at once with the same code.
    /// </summary>
    public const int Interrupted = 130;
}
