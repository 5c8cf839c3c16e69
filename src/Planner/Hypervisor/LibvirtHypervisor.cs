using System.Xml.Linq;
using VfioMigration.Libvirt;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Xml;

namespace VfioMigration.Planner.Hypervisor;

/// <summary>
/// <see cref="IHypervisor"/> over a real libvirt connection (<c>libvirt.so.0</c> through the
/// VfioMigration.LibvirtInterop binding). Every failure names the host and the libvirt call; the
/// libvirt error stays available as the inner <see cref="LibvirtException"/>.
/// </summary>
/// <remarks>
/// libvirt connections are safe for concurrent calls, and the binding reads libvirt's thread-local
/// error synchronously after each call, so this type is safe for concurrent use. Calls are
/// synchronous (the binding is); cancellation is checked before each one.
/// </remarks>
public sealed class LibvirtHypervisor : IHypervisor, IDisposable
{
    private readonly LibvirtConnection _connection;
    private readonly bool _isTestDriver;
    private long _calls;

    private LibvirtHypervisor(LibvirtConnection connection, string uri, string hostName, bool readOnly)
    {
        _connection = connection;
        Uri = uri;
        HostName = hostName;
        ReadOnly = readOnly;
        _isTestDriver = uri.StartsWith("test:", StringComparison.Ordinal) || uri.StartsWith("test+", StringComparison.Ordinal);
    }

    /// <inheritdoc />
    public string Uri { get; }

    /// <inheritdoc />
    public string HostName { get; }

    /// <summary>
    /// Whether the connection is read-only: then <see cref="GetDomainAsync"/> returns the live XML
    /// (libvirt gives the migratable form only to read-write connections), and nothing can be created.
    /// </summary>
    public bool ReadOnly { get; }

    /// <inheritdoc />
    public long LibvirtCalls => Interlocked.Read(ref _calls);

    /// <summary>Opens a connection to <paramref name="uri"/>.</summary>
    /// <param name="uri">A libvirt URI, e.g. <c>qemu:///system</c>, <c>qemu+ssh://root@host2/system</c>, <c>test:///path/host.xml</c>.</param>
    /// <param name="readOnly">Open read-only (enough to plan against a source host; not to create devices or migrate).</param>
    /// <exception cref="HypervisorException">The connection could not be opened; the inner exception is libvirt's error.</exception>
    /// <exception cref="LibvirtLibraryNotFoundException"><c>libvirt.so.0</c> is not installed.</exception>
    public static LibvirtHypervisor Open(string uri, bool readOnly = false)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(uri);
        LibvirtConnection connection;
        try
        {
            connection = readOnly ? LibvirtConnection.OpenReadOnly(uri) : LibvirtConnection.Open(uri);
        }
        catch (LibvirtException e)
        {
            throw new HypervisorException($"Cannot connect to libvirt at '{uri}': {e.LibvirtMessage ?? e.Message}", e);
        }

        try
        {
            var hostName = connection.GetHostname();
            var hypervisor = new LibvirtHypervisor(connection, uri, hostName, readOnly);
            Interlocked.Add(ref hypervisor._calls, 2);
            return hypervisor;
        }
        catch (LibvirtException e)
        {
            connection.Dispose();
            throw new HypervisorException($"Connected to '{uri}' but could not read its host name: {e.LibvirtMessage ?? e.Message}", e);
        }
    }

    /// <inheritdoc />
    public Task<GuestDefinition> GetDomainAsync(DomainSelector guest, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var call = guest.IsUuid ? "virDomainLookupByUUIDString" : "virDomainLookupByName";
        using var domain = Call(call, guest.Value, () => guest.IsUuid ? _connection.LookupDomainByUuid(guest.Value) : _connection.LookupDomainByName(guest.Value));

        // SECURE keeps secrets such as graphics passwords: without them the destination guest would
        // silently lose its password. libvirt refuses both SECURE and MIGRATABLE on a read-only
        // connection, which then gets the live XML: enough to read devices, not to migrate with.
        var options = ReadOnly ? DomainXmlOptions.None : DomainXmlOptions.Migratable | DomainXmlOptions.Secure;
        var xml = Call("virDomainGetXMLDesc", guest.Value, () => domain.GetXmlDescription(options));
        return Task.FromResult(new GuestDefinition(xml, DomainXmlReader.Read(xml)));
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<DomainHostDevices>> ListDomainsAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var domains = Call("virConnectListAllDomains", null, () => _connection.ListAllDomains());
        try
        {
            var result = new List<DomainHostDevices>(domains.Count);
            foreach (var domain in domains)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var xml = Call("virDomainGetXMLDesc", null, () => domain.GetXmlDescription());
                result.Add(DomainXmlReader.Read(xml));
            }

            return Task.FromResult<IReadOnlyList<DomainHostDevices>>(result);
        }
        finally
        {
            foreach (var domain in domains)
            {
                domain.Dispose();
            }
        }
    }

    /// <inheritdoc />
    public Task<HostInventory> GetInventoryAsync(InventoryScope scope, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var filters = NodeDeviceListFilters.None;
        if (scope.HasFlag(InventoryScope.MdevParents))
        {
            filters |= NodeDeviceListFilters.MdevTypes;
        }

        if (scope.HasFlag(InventoryScope.Mdevs))
        {
            filters |= NodeDeviceListFilters.Mdev;
        }

        if (scope.HasFlag(InventoryScope.PciDevices))
        {
            filters |= NodeDeviceListFilters.PciDevice;
        }

        var xmls = ReadNodeDeviceXml(filters, cancellationToken);
        var inventory = NodeDeviceXmlReader.ReadInventory(xmls);

        // A PCI parent matches the PCI filter too; report only the kinds asked for. libvirt lists
        // node devices in no stable order (a hash table), so sort: the same host gives the same plan.
        return Task.FromResult(new HostInventory(
            scope.HasFlag(InventoryScope.MdevParents) ? [.. inventory.Parents.OrderBy(p => p.Name.Value, StringComparer.Ordinal)] : [],
            scope.HasFlag(InventoryScope.Mdevs) ? [.. inventory.Mdevs.OrderBy(m => m.Uuid.Value, StringComparer.Ordinal)] : [],
            scope.HasFlag(InventoryScope.PciDevices) ? [.. inventory.PciDevices.OrderBy(d => d.Address.ToString(), StringComparer.Ordinal)] : []));
    }

    /// <inheritdoc />
    public Task CreateMdevAsync(MdevCreation request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        cancellationToken.ThrowIfCancellationRequested();
        if (_isTestDriver)
        {
            throw new HypervisorNotSupportedException($"{Describe()}: libvirt's test driver cannot create mediated devices.");
        }

        var xml = new XElement(
            "device",
            new XElement("parent", request.Parent.Value),
            new XElement(
                "capability",
                new XAttribute("type", "mdev"),
                new XElement("type", new XAttribute("id", request.Type.Value)),
                new XElement("uuid", request.Uuid.Value))).ToString(SaveOptions.DisableFormatting);
        try
        {
            if (request.Persistent)
            {
                using var defined = Call("virNodeDeviceDefineXML", request.Uuid.Value, () => _connection.DefineNodeDevice(xml));
                Call("virNodeDeviceCreate", request.Uuid.Value, () =>
                {
                    defined.Start();
                    return true;
                });
            }
            else
            {
                using var created = Call("virNodeDeviceCreateXML", request.Uuid.Value, () => _connection.CreateNodeDevice(xml));
            }
        }
        catch (HypervisorException e) when (e.InnerException is LibvirtNotSupportedException)
        {
            throw new HypervisorNotSupportedException(e.Message, e.InnerException);
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task DestroyMdevAsync(MdevUuid uuid, bool persistent, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var devices = Call("virConnectListAllNodeDevices", null, () => _connection.ListAllNodeDevices(NodeDeviceListFilters.Mdev));
        try
        {
            foreach (var device in devices)
            {
                var xml = Call("virNodeDeviceGetXMLDesc", null, device.GetXmlDescription);
                var mdevs = NodeDeviceXmlReader.ReadDevice(xml).Mdevs;
                if (mdevs.Count == 0 || mdevs[0].Uuid != uuid)
                {
                    continue;
                }

                Call("virNodeDeviceDestroy", uuid.Value, () =>
                {
                    device.Destroy();
                    return true;
                });
                if (persistent)
                {
                    Call("virNodeDeviceUndefine", uuid.Value, () =>
                    {
                        device.Undefine();
                        return true;
                    });
                }

                return Task.CompletedTask;
            }
        }
        finally
        {
            foreach (var device in devices)
            {
                device.Dispose();
            }
        }

        throw new HypervisorException($"{Describe()}: no mediated device with UUID {uuid} exists, so it cannot be destroyed.");
    }

    /// <inheritdoc />
    public Task MigrateAsync(MigrationCall migration, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(migration);
        cancellationToken.ThrowIfCancellationRequested();
        var guest = migration.Guest;
        using var domain = Call(guest.IsUuid ? "virDomainLookupByUUIDString" : "virDomainLookupByName", guest.Value, () => guest.IsUuid ? _connection.LookupDomainByUuid(guest.Value) : _connection.LookupDomainByName(guest.Value));
        var persist = migration.Flags.HasFlag(MigrationMode.PersistDestination);
        var parameters = new MigrationParameters
        {
            DestinationXml = migration.DestinationXml,
            PersistentXml = persist ? migration.DestinationXml : null,
        };
        try
        {
            Call("virDomainMigrateToURI3", guest.Value, () =>
            {
                domain.MigrateToUri(migration.DestinationUri, parameters, (MigrationOptions)(uint)migration.Flags);
                return true;
            });
        }
        catch (HypervisorException e) when (e.InnerException is LibvirtNotSupportedException unsupported)
        {
            throw new HypervisorNotSupportedException($"{Describe()}: this libvirt driver cannot migrate guests: {unsupported.LibvirtMessage ?? unsupported.Message}", unsupported);
        }

        return Task.CompletedTask;
    }

    /// <summary>Closes the connection.</summary>
    public void Dispose() => _connection.Dispose();

    private List<string> ReadNodeDeviceXml(NodeDeviceListFilters filters, CancellationToken cancellationToken)
    {
        var devices = Call("virConnectListAllNodeDevices", null, () => _connection.ListAllNodeDevices(filters));
        try
        {
            var xmls = new List<string>(devices.Count);
            foreach (var device in devices)
            {
                cancellationToken.ThrowIfCancellationRequested();
                xmls.Add(Call("virNodeDeviceGetXMLDesc", null, device.GetXmlDescription));
            }

            return xmls;
        }
        finally
        {
            foreach (var device in devices)
            {
                device.Dispose();
            }
        }
    }

    private T Call<T>(string function, string? subject, Func<T> call)
    {
        Interlocked.Increment(ref _calls);
        try
        {
            return call();
        }
        catch (LibvirtNotFoundException e)
        {
            throw new HypervisorNotFoundException($"{Describe()}: {function}{(subject is null ? string.Empty : $"('{subject}')")}: {e.LibvirtMessage ?? e.Message}", e);
        }
        catch (LibvirtException e)
        {
            throw new HypervisorException($"{Describe()}: {function}{(subject is null ? string.Empty : $"('{subject}')")} failed: {e.LibvirtMessage ?? e.Message}", e);
        }
    }

    private string Describe() => $"host {HostName} ({Uri})";
}
