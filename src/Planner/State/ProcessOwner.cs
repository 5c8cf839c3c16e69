using System.Globalization;

namespace VfioMigration.Planner.State;

/// <summary>
/// A planner process as a durable store records it: node name, boot id, PID and the process's
/// start time in clock ticks since boot (field 22 of <c>/proc/PID/stat</c>), so a reused PID or a
/// reboot is told apart from the process that wrote the record.
/// </summary>
internal sealed record ProcessOwner(string Node, string BootId, int Pid, long StartTicks)
{
    private const string BootIdPath = "/proc/sys/kernel/random/boot_id";

    /// <summary>This process.</summary>
    public static ProcessOwner Current { get; } = new(Environment.MachineName, ReadBootId(), Environment.ProcessId, StartTicksOf(Environment.ProcessId) ?? 0);

    /// <summary>Where it runs, in words.</summary>
    public string Where => $"process {Pid} on node {Node}";

    /// <summary>
    /// Whether <paramref name="owner"/> is alive, seen from <paramref name="here"/>: on another node
    /// it is taken as alive (nothing here can tell); on this node it is alive when the boot is the same
    /// and the PID runs with the same start time. <paramref name="startTicksOf"/> reads a PID's start time (null: no such process).
    /// </summary>
    public static bool IsAlive(ProcessOwner owner, ProcessOwner here, Func<int, long?> startTicksOf) =>
        owner.Node != here.Node || (owner.BootId == here.BootId && startTicksOf(owner.Pid) == owner.StartTicks);

    /// <summary>Whether <paramref name="owner"/> is alive, seen from this process.</summary>
    public static bool IsAlive(ProcessOwner owner) => IsAlive(owner, Current, StartTicksOf);

    /// <summary>A process's start time in clock ticks since boot, from <c>/proc/PID/stat</c>; null when there is no such process or the file cannot be parsed.</summary>
    public static long? StartTicksOf(int pid)
    {
        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        return ParseStartTicks(stat);
    }

    /// <summary>Field 22 of a <c>/proc/PID/stat</c> line; null for a zombie or dead process. The command name (field 2) is in parentheses and may hold spaces and parentheses, so fields are counted after its last ')'.</summary>
    public static long? ParseStartTicks(string stat)
    {
        var close = stat.LastIndexOf(')');
        if (close < 0)
        {
            return null;
        }

        // After ')' come field 3 (state) onwards: field 22 is the 20th. A zombie (Z) or dead (X) process is gone.
        var fields = stat[(close + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return fields.Length > 19 && fields[0] is not ("Z" or "X") && long.TryParse(fields[19], NumberStyles.None, CultureInfo.InvariantCulture, out var ticks) ? ticks : null;
    }

    private static string ReadBootId()
    {
        try
        {
            return File.ReadAllText(BootIdPath).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // No /proc (not Linux, which the planner does not run on): owners cannot be checked, so other processes' plans count as gone.
            return $"unknown-{Environment.ProcessId}-{Environment.TickCount64}";
        }
    }
}
