using System.Runtime.CompilerServices;
using VfioMigration.Libvirt.Interop;

namespace VfioMigration.Libvirt;

/// <summary>
/// The typed parameters of a migration (<c>virDomainMigrate3</c>, <c>virDomainMigrateToURI3</c>).
/// A null property is not sent, so libvirt uses its default.
/// </summary>
public sealed record MigrationParameters
{
    /// <summary><c>destination_xml</c> (<c>VIR_MIGRATE_PARAM_DEST_XML</c>): the live XML to start the guest with on the destination, e.g. with its hostdev sources rewritten.</summary>
    public string? DestinationXml { get; init; }

    /// <summary><c>persistent_xml</c> (<c>VIR_MIGRATE_PARAM_PERSIST_XML</c>): the definition to store on the destination with <see cref="MigrationOptions.PersistDestination"/>.</summary>
    public string? PersistentXml { get; init; }

    /// <summary><c>migrate_uri</c> (<c>VIR_MIGRATE_PARAM_URI</c>): the hypervisor-level URI the migration data goes to, e.g. <c>tcp://dest:49152</c>.</summary>
    public string? MigrateUri { get; init; }

    /// <summary><c>destination_name</c> (<c>VIR_MIGRATE_PARAM_DEST_NAME</c>): the domain's name on the destination.</summary>
    public string? DestinationName { get; init; }

    /// <summary><c>bandwidth</c> (<c>VIR_MIGRATE_PARAM_BANDWIDTH</c>): the bandwidth limit in MiB/s.</summary>
    public ulong? BandwidthMiBps { get; init; }

    /// <summary>Builds the libvirt typed-parameter list; the caller disposes it.</summary>
    /// <exception cref="ArgumentException">A string parameter is empty or contains a NUL character.</exception>
    internal TypedParameterList ToTypedParameters()
    {
        var list = new TypedParameterList();
        try
        {
            AddIfSet(list, "destination_xml", DestinationXml);
            AddIfSet(list, "persistent_xml", PersistentXml);
            AddIfSet(list, "migrate_uri", MigrateUri);
            AddIfSet(list, "destination_name", DestinationName);
            if (BandwidthMiBps is { } bandwidth)
            {
                list.AddULong("bandwidth", bandwidth);
            }

            return list;
        }
        catch
        {
            list.Dispose();
            throw;
        }
    }

    private static void AddIfSet(TypedParameterList list, string name, string? value, [CallerArgumentExpression(nameof(value))] string? property = null)
    {
        if (value is not null)
        {
            Arguments.RequireCString(value, property);
            list.AddString(name, value);
        }
    }
}
