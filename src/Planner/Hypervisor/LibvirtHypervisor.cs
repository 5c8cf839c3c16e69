using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
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
/// error synchronously after each call, so this type is safe for concurrent use. libvirt's calls
/// block (a remote one for a network round trip), so every method runs them on the thread pool:
/// a caller awaiting two hosts, or a host's devices and its guests, gets them at the same time.
/// libvirt has no call that returns many objects' XML at once, so the XML of node devices and
/// guests is read with up to <see cref="ConcurrentCalls"/> calls in flight on the one connection
/// (the remote driver multiplexes them). Cancellation is checked before each call.
/// A call that gets no answer within <see cref="CallTimeout"/> (the migration excepted) is given up:
/// libvirt cannot interrupt it, so the caller stops waiting and goes on to its rollback.
/// </remarks>
public sealed class LibvirtHypervisor : IHypervisor, IDisposable
{
    /// <summary>
    /// Calls in flight at once when reading many objects' XML (per listing; a plan reads node devices
    /// and guests side by side). Measured on the 16-GPU benchmark host (702 calls) through libvirtd
    /// behind a link adding 0.5 ms each way, on a loaded 2-core machine: 1.87 s median with 1,
    /// 0.92 s with 4, 0.75 s with 8.
    /// </summary>
    public const int ConcurrentCalls = 8;

    /// <summary>The default of <see cref="CallTimeout"/>: 120 s, far beyond any answer of a healthy host, slow or remote.</summary>
    public static readonly TimeSpan DefaultCallTimeout = TimeSpan.FromSeconds(120);

    /// <summary>The pause between two attempts to abort a migration that has no job to abort yet.</summary>
    internal static readonly TimeSpan AbortRetry = TimeSpan.FromMilliseconds(250);

    private readonly LibvirtConnection _connection;
    private readonly bool _isTestDriver;

    // Node device names of the mdevs this connection has seen, so a destroy looks one device up
    // instead of reading the XML of every mdev on the host.
    private readonly ConcurrentDictionary<MdevUuid, string> _mdevNames = new();
    private long _calls;
    private HypervisorVersions? _versions;
    private TimeSpan _callTimeout = DefaultCallTimeout;

    /// <summary>The libvirt calls running now, named when a plan stops waiting for one.</summary>
    private readonly LibvirtCallsInFlight _inFlight;

    private LibvirtHypervisor(LibvirtConnection connection, string uri, string hostName, bool readOnly)
    {
        _connection = connection;
        Uri = uri;
        HostName = hostName;
        ReadOnly = readOnly;
        _inFlight = new LibvirtCallsInFlight(Describe());
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

    /// <summary>
    /// How long one libvirt call may run before the caller stops waiting for it (default
    /// <see cref="DefaultCallTimeout"/>): the method then throws a <see cref="HypervisorException"/>
    /// naming the call and the host, while the call runs on inside libvirt, which cannot interrupt it
    /// (a plan then rolls back what it can). The migration call itself (<see cref="MigrateAsync"/>)
    /// is not bounded: it legitimately runs for minutes, until the guest's memory is copied (a
    /// cancellation aborts it, and this bounds the wait for the abort).
    /// <see cref="Timeout.InfiniteTimeSpan"/> waits for ever.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Set to zero or a negative time other than <see cref="Timeout.InfiniteTimeSpan"/>.</exception>
    public TimeSpan CallTimeout
    {
        get => _callTimeout;
        set
        {
            if (value <= TimeSpan.Zero && value != Timeout.InfiniteTimeSpan)
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "LibvirtHypervisor.CallTimeout must be positive (or Timeout.InfiniteTimeSpan).");
            }

            _callTimeout = value;
        }
    }

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
    public Task<GuestDefinition> GetDomainAsync(DomainSelector guest, CancellationToken cancellationToken = default) => RunAsync(
        () =>
        {
            using var domain = LookupDomain(guest);

            // SECURE keeps secrets such as graphics passwords: without them the destination guest would
            // silently lose its password. libvirt refuses both SECURE and MIGRATABLE on a read-only
            // connection, which then gets the live XML: enough to read devices, not to migrate with.
            var options = ReadOnly ? DomainXmlOptions.None : DomainXmlOptions.Migratable | DomainXmlOptions.Secure;
            var xml = Call("virDomainGetXMLDesc", guest.Value, () => domain.GetXmlDescription(options));
            return new GuestDefinition(xml, Parse("virDomainGetXMLDesc", guest.Value, () => DomainXmlReader.Read(xml)));
        },
        cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyList<DomainHostDevices>> ListDomainsAsync(CancellationToken cancellationToken = default) => RunAsync<IReadOnlyList<DomainHostDevices>>(
        () =>
        {
            // Each guest's XML is read straight from libvirt's buffer into its host devices: no string, no tree of the whole domain.
            return Parse("virDomainGetXMLDesc", null, () => ReadAll("virConnectListAllDomains", () => _connection.ListAllDomains(), "virDomainGetXMLDesc", domain => domain.ReadXmlDescription(DomainXmlReader.Read), cancellationToken));
        },
        cancellationToken);

    /// <inheritdoc />
    public Task<HostInventory> GetInventoryAsync(InventoryScope scope, CancellationToken cancellationToken = default) => RunAsync(
        () =>
        {
            if (scope.HasFlag(InventoryScope.DefinedInactiveMdevs) && scope != InventoryScope.DefinedInactiveMdevs)
            {
                throw new ArgumentException($"{nameof(InventoryScope.DefinedInactiveMdevs)} cannot be combined with other kinds: libvirt's inactive filter applies to the whole listing.", nameof(scope));
            }

            var filters = scope == InventoryScope.DefinedInactiveMdevs ? NodeDeviceListFilters.Mdev | NodeDeviceListFilters.Inactive : NodeDeviceListFilters.None;
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

            // Each device's XML is read straight from libvirt's buffer into its element: no string of the text.
            XElement[] devices;
            try
            {
                devices = Parse("virNodeDeviceGetXMLDesc", null, () => ReadAll("virConnectListAllNodeDevices", () => _connection.ListAllNodeDevices(filters), "virNodeDeviceGetXMLDesc", device => device.ReadXmlDescription(NodeDeviceXmlReader.Load), cancellationToken));
            }
            catch (HypervisorException e) when (scope == InventoryScope.DefinedInactiveMdevs && e.InnerException is LibvirtInvalidArgumentException)
            {
                // A driver without defined node devices (the test driver, libvirt before 7.3) refuses the inactive filter: it has none.
                return new HostInventory([], [], []);
            }

            var inventory = Parse("virNodeDeviceGetXMLDesc", null, () => NodeDeviceXmlReader.ReadInventory(devices));
            foreach (var mdev in inventory.Mdevs)
            {
                _mdevNames[mdev.Uuid] = mdev.Name.Value;
            }

            // A PCI parent matches the PCI filter too; report only the kinds asked for. libvirt lists
            // node devices in no stable order (a hash table), so sort: the same host gives the same plan.
            return new HostInventory(
                [.. inventory.Parents.OrderBy(p => p.Name.Value, StringComparer.Ordinal)],
                [.. inventory.Mdevs.OrderBy(m => m.Uuid.Value, StringComparer.Ordinal)],
                [.. inventory.PciDevices.OrderBy(d => d.Address.ToString(), StringComparer.Ordinal)]).Only(scope == InventoryScope.DefinedInactiveMdevs ? InventoryScope.Mdevs : scope);
        },
        cancellationToken);

    /// <inheritdoc />
    public Task CreateMdevAsync(MdevCreation request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return RunAsync(
            () =>
            {
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
                        _mdevNames[request.Uuid] = defined.Name;
                        Call("virNodeDeviceCreate", request.Uuid.Value, () =>
                        {
                            defined.Start();
                            return true;
                        });
                    }
                    else
                    {
                        using var created = Call("virNodeDeviceCreateXML", request.Uuid.Value, () => _connection.CreateNodeDevice(xml));
                        _mdevNames[request.Uuid] = created.Name;
                    }
                }
                catch (HypervisorException e) when (e.InnerException is LibvirtNotSupportedException)
                {
                    throw new HypervisorNotSupportedException(e.Message, e.InnerException);
                }

                return true;
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public Task DestroyMdevAsync(MdevUuid uuid, bool persistent, CancellationToken cancellationToken = default) => RunAsync(
        () =>
        {
            using var device = FindMdev(uuid, cancellationToken)
                ?? throw new HypervisorException($"{Describe()}: no mediated device with UUID {uuid} exists, so it cannot be destroyed.");
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

            _mdevNames.TryRemove(uuid, out _);
            return true;
        },
        cancellationToken);

    /// <inheritdoc />
    public Task<HypervisorVersions?> GetVersionsAsync(CancellationToken cancellationToken = default) => RunAsync<HypervisorVersions?>(
        () => _versions ??= new HypervisorVersions(
            Call("virConnectGetType", null, _connection.GetDriverName),
            Call("virConnectGetLibVersion", null, _connection.GetLibraryVersion),
            Call("virConnectGetVersion", null, _connection.GetHypervisorVersion)),
        cancellationToken);

    /// <inheritdoc />
    /// <remarks>
    /// When <paramref name="cancellationToken"/> fires during the migration, the migration is aborted
    /// (<c>virDomainAbortJob</c> on the source, retried while libvirt has no job yet) and awaited, both
    /// within <see cref="CallTimeout"/>: the method then throws <see cref="OperationCanceledException"/>
    /// once libvirt says the migration failed, the guest still on the source, so that a rollback never
    /// removes devices a migrated guest uses. A migration that ended before the abort took effect returns
    /// normally (the guest runs on the destination). One that has not ended by then is given up with
    /// <see cref="MigrationOutcomeUnknownException"/>.
    /// </remarks>
    public Task MigrateAsync(MigrationCall migration, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(migration);
        var settings = migration.Settings;
        settings.Validate();

        // Client-driven: this process runs the protocol through both connections, so the hosts need
        // not reach each other's management addresses (only the migration data flows host to host).
        LibvirtHypervisor? destination = null;
        if (!settings.IsPeerToPeer)
        {
            destination = migration.Destination as LibvirtHypervisor
                ?? throw new HypervisorNotSupportedException($"{Describe()}: a client-driven migration needs a libvirt connection to the destination, and {migration.Destination.HostName} ({migration.Destination.Uri}) has none here; migrate peer-to-peer instead.");
            if (destination.ReadOnly)
            {
                throw new HypervisorException($"{Describe()}: the connection to the destination {destination.HostName} ({destination.Uri}) is read-only; a migration needs a read-write one.");
            }
        }

        var guest = migration.Guest;
        var migrating = Task.Run(
            () =>
            {
                using var domain = LookupDomain(guest);
                var parameters = new MigrationParameters
                {
                    DestinationXml = migration.DestinationXml,
                    PersistentXml = settings.Flags.HasFlag(MigrationMode.PersistDestination) ? migration.DestinationXml : null,
                    MigrateUri = settings.MigrateUri,
                };
                var flags = (MigrationOptions)(uint)settings.Flags;
                // A cancellation from here on is an abort; before the call starts its job, libvirt would have none to abort.
                cancellationToken.ThrowIfCancellationRequested();
                try
                {
                    if (destination is null)
                    {
                        var peerUri = settings.DestinationUri ?? migration.Destination.Uri;
                        Call("virDomainMigrateToURI3", $"{guest.Value}', '{peerUri}", () =>
                        {
                            domain.MigrateToUri(peerUri, parameters, flags);
                            return true;
                        }, bounded: false);
                    }
                    else
                    {
                        Call("virDomainMigrate3", $"{guest.Value}', '{destination.Uri}", () =>
                        {
                            using var migrated = domain.Migrate(destination._connection, parameters, flags);
                            return true;
                        }, bounded: false);
                    }
                }
                catch (HypervisorException e) when (e.InnerException is LibvirtNotSupportedException unsupported)
                {
                    throw new HypervisorNotSupportedException($"{e.Message} (this libvirt driver cannot migrate guests this way)", unsupported);
                }

                return true;
            },
            cancellationToken);
        return MigrateOrAbortAsync(
            migrating,
            () => Task.Run(() =>
            {
                using var domain = LookupDomain(guest);
                Call("virDomainAbortJob", guest.Value, () =>
                {
                    domain.AbortJob();
                    return true;
                });
            }),
            _inFlight,
            CallTimeout,
            $"the migration of '{guest.Value}' from {Describe()}",
            cancellationToken);
    }

    /// <summary>
    /// Waits for <paramref name="migrating"/>, the migration call <paramref name="what"/> names. When
    /// <paramref name="cancellationToken"/> fires first, asks <paramref name="abort"/> to abort the
    /// migration, again every <see cref="AbortRetry"/> while it fails (libvirt has no job to abort
    /// until the call has started one) and the migration runs, and waits for the migration to end,
    /// all within <paramref name="limit"/>. A migration that ends without an error returns normally
    /// (the guest runs on the destination); one that fails throws <see cref="OperationCanceledException"/>
    /// (the guest stays on the source, so a rollback is safe); one still running at the limit throws
    /// <see cref="MigrationOutcomeUnknownException"/>.
    /// </summary>
    internal static async Task MigrateOrAbortAsync(Task<bool> migrating, Func<Task> abort, LibvirtCallsInFlight calls, TimeSpan limit, string what, CancellationToken cancellationToken)
    {
        try
        {
            await AbandonWhenStuckAsync(migrating, calls, Timeout.InfiniteTimeSpan, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException stopped)
        {
            using var deadline = new CancellationTokenSource(limit);
            Exception? abortFailure = null;
            var aborted = false;
            try
            {
                while (!migrating.IsCompleted && !aborted)
                {
                    var attempt = abort();
                    Observe(attempt);
                    try
                    {
                        await attempt.WaitAsync(deadline.Token).ConfigureAwait(false);
                        aborted = true;
                    }
                    catch (HypervisorException failure)
                    {
                        abortFailure = failure;
                        await Task.WhenAny(migrating, Task.Delay(AbortRetry, deadline.Token)).ConfigureAwait(false);
                    }
                }

                await migrating.WaitAsync(deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested && !migrating.IsCompleted)
            {
                Observe(migrating);
                var why = aborted ? "the migration did not end in time after the abort" : abortFailure is null ? "the abort got no answer in time" : $"the abort failed ({abortFailure.Message})";
                throw new MigrationOutcomeUnknownException($"interrupted during {what}, and {why}: the migration may still finish, so where the guest runs is unknown; {stopped.Message}", stopped, cancellationToken);
            }
            catch (Exception failure) when (migrating.IsFaulted)
            {
                throw new OperationCanceledException($"{what} {(aborted ? "was aborted" : "failed after the cancellation")} and the guest stays on the source ({failure.Message})", failure, cancellationToken);
            }
        }

        // Ended (also when the cancellation came as it ended): the migration's own outcome.
        await migrating.ConfigureAwait(false);
    }

    /// <summary>Closes the connection.</summary>
    public void Dispose() => _connection.Dispose();

    private LibvirtDomain LookupDomain(DomainSelector guest) =>
        Call(guest.IsUuid ? "virDomainLookupByUUIDString" : "virDomainLookupByName", guest.Value, () => guest.IsUuid ? _connection.LookupDomainByUuid(guest.Value) : _connection.LookupDomainByName(guest.Value));

    /// <summary>
    /// Waits for <paramref name="work"/>, or stops waiting while it runs on (a call inside libvirt
    /// cannot be interrupted, so the caller gives it up and goes on to its rollback): when
    /// <paramref name="cancellationToken"/> is cancelled, with an <see cref="OperationCanceledException"/>
    /// naming the calls in flight; when one of <paramref name="calls"/> has run for
    /// <paramref name="deadline"/>, with a <see cref="HypervisorException"/> naming it.
    /// </summary>
    internal static async Task<T> AbandonWhenStuckAsync<T>(Task<T> work, LibvirtCallsInFlight calls, TimeSpan deadline, CancellationToken cancellationToken)
    {
        var wait = deadline;
        while (true)
        {
            try
            {
                return await work.WaitAsync(wait, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!work.IsCompleted)
            {
                Observe(work);
                throw new OperationCanceledException($"stopped waiting for libvirt: {calls.Describe()} is still running inside libvirt, which cannot interrupt it", null, cancellationToken);
            }
            catch (TimeoutException) when (!work.IsCompleted)
            {
                // The deadline is per call: wait on until the oldest call in flight reaches it.
                var (overdue, remaining) = calls.Overdue(deadline);
                if (overdue is not null)
                {
                    Observe(work);
                    throw new HypervisorException($"stopped waiting for libvirt: {overdue} got no answer within {deadline.TotalSeconds:0.###} s and is still running inside libvirt, which cannot interrupt it");
                }

                wait = remaining;
            }
        }
    }

    /// <summary>An abandoned call's eventual failure is observed here rather than left unobserved.</summary>
    private static void Observe(Task work) =>
        _ = work.ContinueWith(static t => t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    /// <summary>
    /// Runs blocking libvirt calls on the thread pool: a cancelled token stops them before the first
    /// call; a cancellation, or a call running past <see cref="CallTimeout"/>, stops the waiting (not the call).
    /// </summary>
    private Task<T> RunAsync<T>(Func<T> calls, CancellationToken cancellationToken) => RunAsync(calls, CallTimeout, cancellationToken);

    private Task<T> RunAsync<T>(Func<T> calls, TimeSpan deadline, CancellationToken cancellationToken) =>
        AbandonWhenStuckAsync(Task.Run(calls, cancellationToken), _inFlight, deadline, cancellationToken);

    /// <summary>
    /// The mdev's node device: by the name this connection saw it under (one lookup), else by
    /// reading every mdev's XML (a device created by someone else, or renamed since).
    /// </summary>
    private LibvirtNodeDevice? FindMdev(MdevUuid uuid, CancellationToken cancellationToken)
    {
        if (_mdevNames.TryGetValue(uuid, out var name))
        {
            try
            {
                return Call("virNodeDeviceLookupByName", name, () => _connection.LookupNodeDeviceByName(name));
            }
            catch (HypervisorNotFoundException)
            {
                _mdevNames.TryRemove(uuid, out _);
            }
        }

        var devices = Call("virConnectListAllNodeDevices", null, () => _connection.ListAllNodeDevices(NodeDeviceListFilters.Mdev));
        LibvirtNodeDevice? found = null;
        try
        {
            foreach (var device in devices)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (ReadXmlUnlessGone("virNodeDeviceGetXMLDesc", device.GetXmlDescription) is { } xml && MdevIn(xml) == uuid)
                {
                    found = device;
                    return device;
                }
            }

            return null;
        }
        finally
        {
            foreach (var device in devices.Where(d => d != found))
            {
                device.Dispose();
            }
        }
    }

    /// <summary>The UUID of the mdev <paramref name="xml"/> describes; null for another device, or XML that cannot be read (it cannot be shown to be the one).</summary>
    private static MdevUuid? MdevIn(string xml)
    {
        try
        {
            return NodeDeviceXmlReader.ReadDevice(xml).Mdevs is [var mdev, ..] ? mdev.Uuid : null;
        }
        catch (LibvirtXmlException)
        {
            return null;
        }
    }

    /// <summary>An object's XML (or what is read from it); null when the object is gone since it was listed (another client destroyed or undefined it).</summary>
    private T? ReadXmlUnlessGone<T>(string function, Func<T> readXml)
        where T : class
    {
        try
        {
            return Call(function, null, readXml);
        }
        catch (HypervisorNotFoundException)
        {
            return null;
        }
    }

    /// <summary>
    /// Lists objects with one call, then reads each one's XML with up to <see cref="ConcurrentCalls"/>
    /// calls in flight; the XML (or what <paramref name="readXml"/> makes of it) comes back in the
    /// listing's order, without the objects that went away in between (libvirt lists a snapshot; the
    /// host keeps changing). XML that cannot be read fails the whole listing with the first such
    /// object's <see cref="LibvirtXmlException"/>, in the listing's order.
    /// </summary>
    private TResult[] ReadAll<TObject, TResult>(string listFunction, Func<IReadOnlyList<TObject>> list, string xmlFunction, Func<TObject, TResult> readXml, CancellationToken cancellationToken)
        where TObject : IDisposable
        where TResult : class
    {
        var objects = Call(listFunction, null, list);
        try
        {
            var results = new TResult?[objects.Count];
            var refused = new LibvirtXmlException?[objects.Count];
            var parallel = new ParallelOptions { MaxDegreeOfParallelism = ConcurrentCalls, CancellationToken = cancellationToken };
            try
            {
                Parallel.For(0, objects.Count, parallel, i =>
                {
                    try
                    {
                        results[i] = ReadXmlUnlessGone(xmlFunction, () => readXml(objects[i]));
                    }
                    catch (LibvirtXmlException e)
                    {
                        refused[i] = e;
                    }
                });
            }
            catch (AggregateException e)
            {
                // Report the first failure as if the calls had been made one after another.
                ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
            }

            if (refused.FirstOrDefault(e => e is not null) is { } first)
            {
                ExceptionDispatchInfo.Capture(first).Throw();
            }

            return [.. results.OfType<TResult>()];
        }
        finally
        {
            foreach (var item in objects)
            {
                item.Dispose();
            }
        }
    }

    /// <summary>Reads what libvirt returned; XML the planner refuses is this host's failure (the plan for it fails with the reason), not the caller's.</summary>
    private T Parse<T>(string function, string? subject, Func<T> parse)
    {
        try
        {
            return parse();
        }
        catch (LibvirtXmlException e)
        {
            throw new HypervisorException($"{Describe()}: {Named(function, subject)} returned XML the planner cannot accept: {e.Message}", e);
        }
    }

    private static string Named(string function, string? subject) => subject is null ? function : $"{function}('{subject}')";

    /// <summary>Makes one libvirt call; <paramref name="bounded"/> false exempts it from <see cref="CallTimeout"/> (the migration).</summary>
    private T Call<T>(string function, string? subject, Func<T> call, bool bounded = true)
    {
        var id = Interlocked.Increment(ref _calls);
        _inFlight.Start(id, Named(function, subject), bounded);
        try
        {
            return call();
        }
        catch (LibvirtNotFoundException e)
        {
            throw new HypervisorNotFoundException($"{Describe()}: {Named(function, subject)}: {e.LibvirtMessage ?? e.Message}", e);
        }
        catch (LibvirtException e)
        {
            throw new HypervisorException($"{Describe()}: {Named(function, subject)} failed: {e.LibvirtMessage ?? e.Message}", e);
        }
        finally
        {
            _inFlight.End(id);
        }
    }

    private string Describe() => $"host {HostName} ({Uri})";
}
