using VfioMigration.HostSimulator.Libvirt;
using VfioMigration.HostSimulator.Model;
using VfioMigration.HostSimulator.Scenarios;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.HostSimulator;

/// <summary>
/// A simulated mdev/VFIO host with the kernel's semantics, built from a <see cref="Scenario"/>.
/// One model, several views: <see cref="FileTree"/> (the sysfs tree, which the FUSE front end
/// mounts), <see cref="CreateFileSystem"/> (the in-process <see cref="IHostFileSystem"/> the planner
/// uses), <see cref="Snapshot"/> (state and operation log for before/after comparisons) and
/// <see cref="ToLibvirtXml"/> (the same host for libvirt's test driver).
/// </summary>
/// <remarks>Safe for concurrent use: state changes happen under one lock, never held across a simulated delay.</remarks>
public sealed partial class SimulatedHost
{
    private readonly Lock _gate = new();
    private readonly List<ParentModel> _parents = [];
    private readonly Dictionary<MdevUuid, MdevModel> _mdevs = [];
    private readonly List<PciFunctionModel> _pciFunctions = [];
    private readonly List<GuestModel> _guests = [];
    private readonly List<OperationRecord> _operations = [];
    private readonly DirectoryNode _root = new();
    private readonly SimulatedFileTree _fileTree;

    private SimulatedHost(Scenario scenario, TimeProvider timeProvider)
    {
        Scenario = scenario;
        var version = ScenarioValues.Required(scenario.Version, "$.version");
        if (version != 1)
        {
            throw new ScenarioException("$.version", $"is {version}; this simulator reads scenario version 1.");
        }

        Name = ScenarioValues.Name(scenario.Name, "$.name").Value;
        BuildStaticTree();
        AddParents(scenario.Parents ?? []);
        AddPciFunctions(scenario.PciDevices ?? []);
        AddSriovGpus(scenario.SriovGpus ?? []);
        AddInitialMdevs(scenario.Mdevs ?? []);
        AddGuests(scenario.Guests ?? []);
        _fileTree = new SimulatedFileTree(this, ReadLatency(scenario.Latency), ReadFaults(scenario.Faults ?? []), timeProvider);
    }

    /// <summary>The host's name (from the scenario).</summary>
    public string Name { get; }

    /// <summary>The scenario this host was built from (its initial state).</summary>
    public Scenario Scenario { get; }

    /// <summary>The sysfs tree of this host, with the kernel's semantics; the FUSE front end mounts it.</summary>
    public ISimulatedFileTree FileTree => _fileTree;

    /// <summary>Builds a host from a scenario object, checking every value and cross-reference.</summary>
    /// <param name="scenario">The host's description.</param>
    /// <param name="timeProvider">The clock of simulated latency and hangs (the system clock when null); a fake one lets tests step through delays.</param>
    /// <exception cref="ScenarioException">The scenario is invalid; the message names the JSON path and the problem.</exception>
    public static SimulatedHost FromScenario(Scenario scenario, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        return new SimulatedHost(scenario, timeProvider ?? TimeProvider.System);
    }

    /// <summary>Builds a host from a scenario file.</summary>
    /// <param name="path">The scenario file (JSON).</param>
    /// <param name="timeProvider">The clock of simulated latency and hangs (the system clock when null).</param>
    /// <exception cref="ScenarioException">The file is invalid; the message names the JSON path, the problem and the file.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static SimulatedHost Load(string path, TimeProvider? timeProvider = null)
    {
        var scenario = ScenarioLoader.LoadFile(path);
        try
        {
            return FromScenario(scenario, timeProvider);
        }
        catch (ScenarioException e)
        {
            throw new ScenarioException(e.JsonPath, $"{e.Problem} (in {path})", e);
        }
    }

    /// <summary>The in-process front end: an <see cref="IHostFileSystem"/> over <see cref="FileTree"/>, needing no root and no FUSE.</summary>
    public IHostFileSystem CreateFileSystem() => new InProcessHostFileSystem(FileTree, $"simulated host '{Name}' (in-process)");

    /// <summary>The whole host now: devices, capacity per type, and every operation recorded so far.</summary>
    public HostSnapshot Snapshot()
    {
        lock (_gate)
        {
            var parents = _parents.Where(p => p.Present).Select(p => new ParentSnapshot(
                p.Name.Value,
                new ValueList<TypeSnapshot>(p.Types.Select(t => new TypeSnapshot(t.Id, t.Instances.Count, t.AvailableInstances)))));
            var mdevs = _mdevs.Values
                .OrderBy(m => m.Uuid.Value, StringComparer.Ordinal)
                .Select(m => new MdevSnapshot(m.Uuid, m.Type.Parent.Name.Value, m.Type.Id));
            var vfs = _gpus.SelectMany(g => g.Vfs).Select(v => new VfSnapshot(v.Address, v.Gpu.Address, v.Current?.Id ?? 0));
            return new HostSnapshot(new HostState(new ValueList<ParentSnapshot>(parents), new ValueList<MdevSnapshot>(mdevs)) { Vfs = new ValueList<VfSnapshot>(vfs) }, new ValueList<OperationRecord>(_operations));
        }
    }

    /// <summary>Makes a parent disappear, as on hot-unplug or driver unbind: its types, its mdevs and its links vanish; operations in flight on them fail with ENODEV.</summary>
    /// <param name="parent">The parent's sysfs name (a PCI address or a virtual parent's name).</param>
    /// <returns>False when no such parent is present.</returns>
    public bool RemoveParent(string parent)
    {
        lock (_gate)
        {
            var model = _parents.Find(p => p.Present && p.Name.Value == parent);
            if (model is null)
            {
                return false;
            }

            DetachParentLocked(model);
            return true;
        }
    }

    /// <summary>
    /// This host as a libvirt test-driver file: node devices named as libvirt 9 names them (PCI
    /// parents with their <c>mdev_types</c> and current available instances, mdevs, VFIO PCI
    /// functions) and the guests with their hostdevs. Open it as <c>test:///ABS/PATH.xml</c>.
    /// </summary>
    /// <remarks>Mdevs of a virtual parent (mtty, mdpy) hang off <c>computer</c>: libvirt has no node device for such a parent.</remarks>
    public string ToLibvirtXml()
    {
        lock (_gate)
        {
            return LibvirtHostXml.Build(Name, _parents, [.. _pciFunctions, .. _gpus.Select(g => new PciFunctionModel(g.Address, g.VendorId, g.ProductId, "nvidia", null, null))], _guests).ToString();
        }
    }

    /// <summary>Writes <see cref="ToLibvirtXml"/> to <paramref name="path"/>.</summary>
    public void WriteLibvirtXml(string path) => File.WriteAllText(path, ToLibvirtXml());

    /// <summary>The libvirt node device name of an mdev of this host (<c>mdev_&lt;uuid&gt;_&lt;parent&gt;</c>), or null when there is no such mdev.</summary>
    public string? MdevNodeDeviceName(MdevUuid uuid)
    {
        lock (_gate)
        {
            return _mdevs.TryGetValue(uuid, out var mdev) ? LibvirtHostXml.MdevNodeDeviceName(mdev) : null;
        }
    }

    internal Lock Gate => _gate;

    internal DirectoryNode Root => _root;

    internal void RecordLocked(string path, string? data, Errno result) =>
        _operations.Add(new OperationRecord(_operations.Count + 1, path, data, result));

}
