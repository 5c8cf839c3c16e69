using System.Diagnostics;
using System.Xml.Linq;
using VfioMigration.Libvirt;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Sysfs;
using VfioMigration.RemoteHosts;

namespace VfioMigration.TwoHost.Tests;

/// <summary>
/// One L1 host as the tests see it: its libvirt through the project's binding, its sysfs through
/// the project's SSH file system, and a root shell over SSH for what neither offers (killing a process).
/// Every libvirt call is bounded (<see cref="Call{T}"/>): a call that never returns fails the test
/// with its name instead of hanging the run.
/// </summary>
internal sealed class L1Host : IDisposable
{
    private static readonly DeviceName MttyParent = DeviceName.Parse("mtty");

    /// <summary>The parent of the reference driver's mdevs (drivers/migref).</summary>
    public static readonly DeviceName MigrefParent = DeviceName.Parse("migref");

    /// <summary>The bound of one libvirt call but a migration: a guest start under nested TCG takes seconds.</summary>
    private static readonly TimeSpan CallLimit = TimeSpan.FromMinutes(2);

    /// <summary>The bound of a forced migration: 20-30 s under TCG on a quiet machine.</summary>
    private static readonly TimeSpan MigrationLimit = TimeSpan.FromMinutes(5);

    private readonly TwoHostEnvironment _environment;
    private readonly SshHostFileSystem _sysfs;
    private readonly LibvirtConnection _libvirt;

    public L1Host(L1HostAddress address, TwoHostEnvironment environment)
    {
        Address = address;
        _environment = environment;
        _libvirt = Bounded($"opening {address.Uri}", () => LibvirtConnection.Open(address.Uri), CallLimit);
        var description = HostDescription.Parse(address.Uri, new RemoteHostDefaults { KeyFile = environment.KeyFile, KnownHostsFile = environment.KnownHostsFile });
        _sysfs = new SshHostFileSystem(description.Ssh!);
    }

    public L1HostAddress Address { get; }

    /// <summary>Creates an mdev of <paramref name="type"/> (of mtty unless <paramref name="parent"/> says otherwise) through sysfs; returns its UUID.</summary>
    public async Task<string> CreateMdevAsync(string type, DeviceName? parent = null)
    {
        var uuid = Guid.NewGuid().ToString();
        var result = await _sysfs.WriteAsync(SysfsPath.TypeAttribute(parent ?? MttyParent, MdevTypeId.Parse(type), "create"), uuid);
        Assert.IsTrue(result.Succeeded, $"creating an {type} mdev on {Address.Name} failed: {result.Error}");
        return uuid;
    }

    /// <summary>The mdevs on the host: UUID to mtty type.</summary>
    public async Task<IReadOnlyDictionary<string, string>> MdevsAsync()
    {
        var listing = await _sysfs.ListAsync(SysfsPath.MdevDevices);
        Assert.IsTrue(listing.Succeeded, $"listing the mdevs of {Address.Name} failed: {listing.Error}");
        var mdevs = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var uuid in listing.Value!)
        {
            var link = await _sysfs.ReadLinkAsync(SysfsPath.Mdev(MdevUuid.Parse(uuid)).Append("mdev_type"));
            Assert.IsTrue(link.Succeeded, $"reading the type of mdev {uuid} on {Address.Name} failed: {link.Error}");
            mdevs[uuid] = Path.GetFileName(link.Value!);
        }

        return mdevs;
    }

    /// <summary>The state of guest <paramref name="name"/>, or null when the host does not know it.</summary>
    public DomainState? GuestState(string name)
    {
        try
        {
            return Call($"the state of {name}", libvirt =>
            {
                using var domain = libvirt.LookupDomainByName(name);
                return domain.GetState().State;
            });
        }
        catch (LibvirtException e) when (e.Code == LibvirtErrorCode.NoDomain)
        {
            return null;
        }
    }

    /// <summary>The mdev UUIDs of the hostdevs in guest <paramref name="name"/>'s live XML, in document order.</summary>
    public IReadOnlyList<string> LiveHostdevUuids(string name)
    {
        return XDocument.Parse(LiveXml(name)).Descendants("hostdev")
            .Select(hostdev => (string?)hostdev.Element("source")?.Element("address")?.Attribute("uuid") ?? "(none)")
            .ToList();
    }

    /// <summary>The live XML of guest <paramref name="name"/>; <see cref="DomainXmlOptions.Migratable"/> for a migration's destination XML.</summary>
    public string LiveXml(string name, DomainXmlOptions options = DomainXmlOptions.None) => Call($"the XML of {name}", libvirt =>
    {
        using var domain = libvirt.LookupDomainByName(name);
        return domain.GetXmlDescription(options);
    });

    /// <summary>The <c>available_instances</c> of mtty type <paramref name="type"/>.</summary>
    public async Task<int> AvailableInstancesAsync(string type)
    {
        var read = await _sysfs.ReadAsync(SysfsPath.TypeAttribute(MttyParent, MdevTypeId.Parse(type), "available_instances"));
        Assert.IsTrue(read.Succeeded, $"reading available_instances of {type} on {Address.Name} failed: {read.Error}");
        return int.Parse(read.Value!.Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// (Re)loads the reference driver with <paramref name="branch"/>'s version and accept list (no
    /// migref mdev may exist: <see cref="ResetAsync"/> first); returns the version it runs.
    /// </summary>
    public async Task<string> LoadMigrefAsync(MigrefBranch branch)
    {
        var loaded = await ShellAsync(
            $"if [ -d /sys/module/migref ]; then rmmod migref; fi; modprobe migref version={branch.Version} accepts={branch.Accepts} && cat /sys/module/migref/parameters/version");
        return loaded.Trim();
    }

    /// <summary>Defines (does not start) a guest owning the mdevs <paramref name="uuids"/>: they count as in use.</summary>
    public void DefineGuest(string name, IReadOnlyList<string> uuids) => Call($"defining {name}", libvirt =>
    {
        using var domain = libvirt.DefineDomain(GuestXml.Build(_environment.GuestXmlTemplate, name, uuids, dirtyTrackingOverride: true));
        return true;
    });

    /// <summary>Defines and starts the L2 guest owning the mdevs <paramref name="uuids"/> (hostdev0, hostdev1, ...).</summary>
    public void StartGuest(string name, IReadOnlyList<string> uuids, bool dirtyTrackingOverride = true) => Call($"defining and starting {name}", libvirt =>
    {
        using var domain = libvirt.DefineDomain(GuestXml.Build(_environment.GuestXmlTemplate, name, uuids, dirtyTrackingOverride));
        domain.Start();
        return true;
    });

    /// <summary>Undefines the (inactive) guest <paramref name="name"/>.</summary>
    public void UndefineGuest(string name) => Call($"undefining {name}", libvirt =>
    {
        using var domain = libvirt.LookupDomainByName(name);
        domain.Undefine();
        return true;
    });

    /// <summary>
    /// Migrates guest <paramref name="name"/> to <paramref name="destination"/> through libvirt alone
    /// (no planner): the destination XML <paramref name="xml"/> names whatever mdev the test forces.
    /// </summary>
    public void ForceMigrate(string name, L1Host destination, string xml, MigrationOptions options) => Call($"migrating {name} to {destination.Address.Name}", libvirt =>
    {
        using var domain = libvirt.LookupDomainByName(name);
        using var migrated = domain.Migrate(destination._libvirt, new MigrationParameters { DestinationXml = xml }, options);
        return true;
    }, MigrationLimit);

    /// <summary>Stops and undefines every guest and removes every mdev: each scenario starts from an empty host.</summary>
    public async Task ResetAsync()
    {
        Call("stopping and undefining every guest", libvirt =>
        {
            foreach (var domain in libvirt.ListAllDomains())
            {
                using (domain)
                {
                    if (domain.GetState().State is DomainState.Running or DomainState.Paused or DomainState.Blocked)
                    {
                        domain.Destroy();
                    }

                    domain.Undefine();
                }
            }

            return true;
        });

        foreach (var uuid in (await MdevsAsync()).Keys)
        {
            await RemoveMdevAsync(uuid);
        }
    }

    public async Task RemoveMdevAsync(string uuid)
    {
        var result = await _sysfs.WriteAsync(SysfsPath.Mdev(MdevUuid.Parse(uuid)).Append("remove"), "1");
        Assert.IsTrue(result.Succeeded, $"removing mdev {uuid} on {Address.Name} failed: {result.Error}");
    }

    /// <summary>Runs <paramref name="command"/> as root on the host over SSH (bounded); returns its output.</summary>
    public async Task<string> ShellAsync(string command)
    {
        var start = new ProcessStartInfo("ssh")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in (string[])["-q", "-i", _environment.KeyFile, "-o", $"UserKnownHostsFile={_environment.KnownHostsFile}", "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-p", Address.SshPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "root@127.0.0.1", command])
        {
            start.ArgumentList.Add(argument);
        }

        var run = await ProcessRun.RunAsync(start, TimeSpan.FromSeconds(60));
        Assert.AreEqual(0, run.ExitCode, $"'{command}' on {Address.Name} failed: {run.Error}");
        return run.Out;
    }

    public void Dispose()
    {
        try
        {
            Bounded($"closing the SSH connection to {Address.Name}", () => { _sysfs.Dispose(); return true; }, CallLimit);
        }
        finally
        {
            Bounded($"closing {Address.Uri}", () => { _libvirt.Dispose(); return true; }, CallLimit);
        }
    }

    private T Call<T>(string what, Func<LibvirtConnection, T> call, TimeSpan? limit = null) =>
        Bounded($"{what} on {Address.Name}", () => call(_libvirt), limit ?? CallLimit);

    /// <summary>
    /// Runs <paramref name="call"/> on a thread of its own and waits at most <paramref name="limit"/>:
    /// a libvirt call cannot be interrupted, so one that hangs is left behind and the test fails naming it.
    /// </summary>
    private static T Bounded<T>(string what, Func<T> call, TimeSpan limit)
    {
        var run = Task.Factory.StartNew(call, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        if (Task.WaitAny([run], limit) < 0)
        {
            _ = run.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            throw new AssertFailedException($"{what} did not return within {limit.TotalSeconds:0} s; the call is left running (libvirt cannot interrupt it).");
        }

        return run.GetAwaiter().GetResult();
    }
}
