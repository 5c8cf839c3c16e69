using VfioMigration.Libvirt.Interop;

namespace VfioMigration.Libvirt;

/// <summary>A libvirt domain (guest), <c>virDomainPtr</c>. Dispose it to release the reference.</summary>
public sealed class LibvirtDomain : IDisposable
{
    private readonly LibvirtDomainHandle handle;

    internal LibvirtDomain(LibvirtDomainHandle handle) => this.handle = handle;

    /// <summary>The domain's name (<c>virDomainGetName</c>).</summary>
    public string Name => Proxy.virDomainGetName(handle);

    /// <summary>The domain's UUID as lower-case text (<c>virDomainGetUUIDString</c>).</summary>
    public string Uuid => Proxy.virDomainGetUUIDString(handle);

    /// <summary>The domain's XML (<c>virDomainGetXMLDesc</c>).</summary>
    /// <param name="options">Which definition and detail; <see cref="DomainXmlOptions.Migratable"/> for a migration destination XML.</param>
    public string GetXmlDescription(DomainXmlOptions options = DomainXmlOptions.None) => Proxy.virDomainGetXMLDesc(handle, (uint)options);

    /// <summary>
    /// Reads the domain's XML (<c>virDomainGetXMLDesc</c>) without copying it into a managed string:
    /// <paramref name="read"/> gets libvirt's UTF-8 text as a read-only, seekable stream over libvirt's
    /// own buffer, which is freed when <paramref name="read"/> returns (the stream must not outlive it).
    /// </summary>
    /// <typeparam name="T">What <paramref name="read"/> makes of the text.</typeparam>
    /// <param name="read">Reads the stream; called once, on the calling thread.</param>
    /// <param name="options">Which definition and detail, as for <see cref="GetXmlDescription"/>.</param>
    /// <returns>What <paramref name="read"/> returned.</returns>
    public T ReadXmlDescription<T>(Func<Stream, T> read, DomainXmlOptions options = DomainXmlOptions.None)
    {
        ArgumentNullException.ThrowIfNull(read);
        return Proxy.virDomainGetXMLDesc(handle, (uint)options, read);
    }

    /// <summary>The domain's state and its reason (<c>virDomainGetState</c>).</summary>
    public DomainStateInfo GetState()
    {
        var (state, reason) = Proxy.virDomainGetState(handle);
        return new DomainStateInfo((DomainState)state, reason);
    }

    /// <summary>Starts the defined domain (<c>virDomainCreate</c>).</summary>
    /// <exception cref="LibvirtOperationInvalidException">The domain is already running.</exception>
    public void Start() => Proxy.virDomainCreate(handle);

    /// <summary>Stops the domain at once, like pulling the plug (<c>virDomainDestroy</c>).</summary>
    /// <exception cref="LibvirtOperationInvalidException">The domain is not running.</exception>
    public void Destroy() => Proxy.virDomainDestroy(handle);

    /// <summary>
    /// Cancels the domain's running job (<c>virDomainAbortJob</c>): an outgoing migration stops and
    /// the domain keeps running here. Called from another thread while the job's call is in flight.
    /// </summary>
    /// <exception cref="LibvirtOperationInvalidException">The domain has no job that can be cancelled (none, or one past its point of no return).</exception>
    public void AbortJob() => Proxy.virDomainAbortJob(handle);

    /// <summary>Removes the persistent definition (<c>virDomainUndefine</c>); a running domain becomes transient.</summary>
    public void Undefine() => Proxy.virDomainUndefine(handle);

    /// <summary>
    /// Migrates the domain to the host behind <paramref name="destinationUri"/>, driven by this
    /// connection's libvirt (<c>virDomainMigrateToURI3</c>).
    /// </summary>
    /// <param name="destinationUri">With <see cref="MigrationOptions.PeerToPeer"/>, the destination libvirt URI (e.g. <c>qemu+ssh://dest/system</c>); without it, null, and <see cref="MigrationParameters.MigrateUri"/> says where the data goes.</param>
    /// <param name="parameters">Destination XML and the other typed parameters.</param>
    /// <param name="options">Migration flags; never <see cref="MigrationOptions.Postcopy"/> for a guest with VFIO devices.</param>
    /// <exception cref="LibvirtNotSupportedException">The driver cannot migrate this way.</exception>
    public void MigrateToUri(string? destinationUri, MigrationParameters parameters, MigrationOptions options)
    {
        Arguments.OptionalCString(destinationUri);
        ArgumentNullException.ThrowIfNull(parameters);
        using var typed = parameters.ToTypedParameters();
        Proxy.virDomainMigrateToURI3(handle, destinationUri, typed, (uint)options);
    }

    /// <summary>
    /// Migrates the domain to <paramref name="destination"/>, driven by this process
    /// (<c>virDomainMigrate3</c>); returns the domain on the destination.
    /// </summary>
    /// <param name="destination">An open connection to the destination host.</param>
    /// <param name="parameters">Destination XML and the other typed parameters.</param>
    /// <param name="options">Migration flags; never <see cref="MigrationOptions.Postcopy"/> for a guest with VFIO devices.</param>
    /// <exception cref="LibvirtNotSupportedException">The driver cannot migrate.</exception>
    public LibvirtDomain Migrate(LibvirtConnection destination, MigrationParameters parameters, MigrationOptions options)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(parameters);
        using var typed = parameters.ToTypedParameters();
        return new(Proxy.virDomainMigrate3(handle, destination.Handle, typed, (uint)options));
    }

    /// <summary>Releases this reference to the domain (<c>virDomainFree</c>); the domain itself is untouched.</summary>
    public void Dispose() => handle.Dispose();
}
