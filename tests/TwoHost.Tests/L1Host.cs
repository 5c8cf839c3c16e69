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
/// </summary>
internal sealed class L1Host : IDisposable
{
    private static readonly DeviceName MttyParent = DeviceName.Parse("mtty");

    /// <summary>The parent of the reference driver's mdevs (drivers/migref).</summary>
    public static readonly DeviceName MigrefParent = DeviceName.Parse("migref");
    private readonly TwoHostEnvironment _environment;
    private readonly SshHostFileSystem _sysfs;

    public L1Host(L1HostAddress address, TwoHostEnvironment environment)
    {
        Address = address;
        _environment = environment;
        Libvirt = LibvirtConnection.Open(address.Uri);
        var description = HostDescription.Parse(address.Uri, new RemoteHostDefaults { KeyFile = environment.KeyFile, KnownHostsFile = environment.KnownHostsFile });
        _sysfs = new SshHostFileSystem(description.Ssh!);
    }

    public L1HostAddress Address { get; }

    public LibvirtConnection Libvirt { get; }

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
            using var domain = Libvirt.LookupDomainByName(name);
            return domain.GetState().State;
        }
        catch (LibvirtException e) when (e.Code == LibvirtErrorCode.NoDomain)
        {
            return null;
        }
    }

    /// <summary>The mdev UUIDs of the hostdevs in guest <paramref name="name"/>'s live XML, in document order.</summary>
    public IReadOnlyList<string> LiveHostdevUuids(string name)
    {
        using var domain = Libvirt.LookupDomainByName(name);
        return XDocument.Parse(domain.GetXmlDescription()).Descendants("hostdev")
            .Select(hostdev => (string?)hostdev.Element("source")?.Element("address")?.Attribute("uuid") ?? "(none)")
            .ToList();
    }

    /// <summary>The live XML of guest <paramref name="name"/>; <see cref="DomainXmlOptions.Migratable"/> for a migration's destination XML.</summary>
    public string LiveXml(string name, DomainXmlOptions options = DomainXmlOptions.None)
    {
        using var domain = Libvirt.LookupDomainByName(name);
        return domain.GetXmlDescription(options);
    }

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
    public void DefineGuest(string name, IReadOnlyList<string> uuids)
    {
        using var domain = Libvirt.DefineDomain(GuestXml.Build(_environment.GuestXmlTemplate, name, uuids, dirtyTrackingOverride: true));
    }

    /// <summary>Defines and starts the L2 guest owning the mdevs <paramref name="uuids"/> (hostdev0, hostdev1, ...).</summary>
    public void StartGuest(string name, IReadOnlyList<string> uuids, bool dirtyTrackingOverride = true)
    {
        using var domain = Libvirt.DefineDomain(GuestXml.Build(_environment.GuestXmlTemplate, name, uuids, dirtyTrackingOverride));
        domain.Start();
    }

    /// <summary>Stops and undefines every guest and removes every mdev: each scenario starts from an empty host.</summary>
    public async Task ResetAsync()
    {
        foreach (var domain in Libvirt.ListAllDomains())
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
        _sysfs.Dispose();
        Libvirt.Dispose();
    }
}
