using System.CommandLine;
using VfioMigration.ConsoleMigrator.Cli;
using VfioMigration.HostSimulator;
using VfioMigration.HostSimulator.Fuse;

namespace VfioMigration.ConsoleMigrator.Commands;

/// <summary><c>sim mount SCENARIO DIR</c>: serves a simulated host's sysfs through FUSE until interrupted.</summary>
internal sealed class SimMountCommand : CliCommand
{
    public SimMountCommand()
        : base("mount", "Mount a simulator scenario's sysfs at DIR (FUSE, as root) and serve it until Ctrl-C or SIGTERM.")
    {
        Arguments.Add(new Argument<string>("SCENARIO") { Description = "The scenario file (JSON)." });
        Arguments.Add(new Argument<string>("DIR") { Description = "The directory to mount it on." });
    }

    public override string Example => "vfio-migrator sim mount examples/scenarios/gvtg.json /mnt/sim-sys   # then: ls /mnt/sim-sys/class/mdev_bus";

    public override async Task<int> RunAsync(ParseResult args, CommandContext context, CancellationToken cancellationToken)
    {
        var host = SimCommands.Load(args.Required("SCENARIO"));
        var mountPoint = Path.GetFullPath(args.Required("DIR"));
        try
        {
            await FuseMount.ServeUntilSignalledAsync(
                host.FileTree,
                mountPoint,
                () => context.Out.WriteLine(context.Json
                    ? new System.Text.Json.Nodes.JsonObject { ["host"] = host.Name, ["mountPoint"] = mountPoint }.ToJsonString()
                    : $"mounted simulated host '{host.Name}' at {mountPoint}; Ctrl-C or SIGTERM unmounts"),
                context.Logging.CreateLogger("VfioMigration.HostSimulator.Fuse"),
                cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException)
        {
            // FuseMount's documented refusals: a live or uncleared mount at DIR, libfuse refusing, no INIT in time.
            throw new HostDataException(e.Message, e);
        }

        await context.Error.WriteLineAsync($"unmounted {mountPoint}").ConfigureAwait(false);
        return ExitCodes.Success;
    }
}

/// <summary><c>sim libvirt-xml SCENARIO OUT.xml</c>: the libvirt test-driver host file of a scenario.</summary>
internal sealed class SimLibvirtXmlCommand : CliCommand
{
    public SimLibvirtXmlCommand()
        : base("libvirt-xml", "Write the libvirt test-driver host file (node devices, guests) that matches a simulator scenario.")
    {
        Arguments.Add(new Argument<string>("SCENARIO") { Description = "The scenario file (JSON)." });
        Arguments.Add(new Argument<string>("OUT.xml") { Description = "The host file to write." });
    }

    public override string Example => "vfio-migrator sim libvirt-xml examples/scenarios/gvtg.json /tmp/gvt.xml && vfio-migrator host --connect test:///tmp/gvt.xml";

    public override async Task<int> RunAsync(ParseResult args, CommandContext context, CancellationToken cancellationToken)
    {
        var host = SimCommands.Load(args.Required("SCENARIO"));
        var output = Path.GetFullPath(args.Required("OUT.xml"));
        await File.WriteAllTextAsync(output, host.ToLibvirtXml(), cancellationToken).ConfigureAwait(false);
        await context.Out.WriteLineAsync(context.Json
            ? new System.Text.Json.Nodes.JsonObject { ["host"] = host.Name, ["file"] = output, ["uri"] = $"test://{output}" }.ToJsonString()
            : $"wrote {output}: use it as test://{output}").ConfigureAwait(false);
        return ExitCodes.Success;
    }
}

/// <summary>What the simulator commands share.</summary>
internal static class SimCommands
{
    /// <summary>Loads a scenario file; a missing file, a directory, a FIFO or device node, or an oversized file is bad input, not a crash or a hang.</summary>
    public static SimulatedHost Load(string path)
    {
        try
        {
            return SimulatedHost.Load(path);
        }
        catch (IOException e)
        {
            throw new HostDataException($"scenario file {e.Message}", e);
        }
    }
}
