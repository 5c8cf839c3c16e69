using VfioMigration.HostSimulator.Model;
using VfioMigration.HostSimulator.Scenarios;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.HostSimulator;

/// <content>Reading the guests, latency and faults of a scenario.</content>
public sealed partial class SimulatedHost
{
    private void AddGuests(IReadOnlyList<GuestSpec> guests)
    {
        var usedMdevs = new HashSet<MdevUuid>();
        for (var i = 0; i < guests.Count; i++)
        {
            var path = $"$.guests[{i}]";
            var spec = ScenarioValues.Required(guests[i], path);
            var name = ScenarioValues.Name(spec.Name, $"{path}.name").Value;
            var uuid = Guid.Parse(ScenarioValues.Uuid(spec.Uuid, $"{path}.uuid").Value);
            if (_guests.Any(g => g.Name == name || g.Uuid == uuid))
            {
                throw new ScenarioException(path, $"guest name '{name}' or UUID {uuid} is used by an earlier guest.");
            }

            var memory = spec.MemoryMiB is null ? 1024 : ScenarioValues.Positive(spec.MemoryMiB, $"{path}.memoryMiB");
            var hostdevs = new List<GuestHostdevModel>();
            var specs = spec.Hostdevs ?? [];
            for (var h = 0; h < specs.Count; h++)
            {
                var hostdevPath = $"{path}.hostdevs[{h}]";
                var hostdev = ScenarioValues.Required(specs[h], hostdevPath);
                hostdevs.Add(ReadHostdev(hostdev, hostdevPath, usedMdevs));
            }

            _guests.Add(new GuestModel(name, uuid, spec.Running ?? false, memory, hostdevs));
        }
    }

    private GuestHostdevModel ReadHostdev(HostdevSpec spec, string path, HashSet<MdevUuid> usedMdevs)
    {
        if ((spec.Mdev is null) == (spec.Pci is null))
        {
            throw new ScenarioException(path, "needs exactly one of \"mdev\" (an mdev UUID) and \"pci\" (a PCI address).");
        }

        var alias = spec.Alias is null ? null : ReadUserAlias(spec.Alias, $"{path}.alias");
        PciAddress? guestAddress = spec.GuestAddress is null ? null : ScenarioValues.Pci(spec.GuestAddress, $"{path}.guestAddress");
        if (spec.Mdev is not null)
        {
            var uuid = ScenarioValues.Uuid(spec.Mdev, $"{path}.mdev");
            if (!_mdevs.TryGetValue(uuid, out var mdev))
            {
                throw new ScenarioException($"{path}.mdev", $"no mdev {uuid} in $.mdevs.");
            }

            if (!usedMdevs.Add(uuid))
            {
                throw new ScenarioException($"{path}.mdev", $"mdev {uuid} is already given to a guest; one mdev belongs to one guest.");
            }

            var model = spec.Model ?? mdev.Type.DeviceApi;
            if (model != mdev.Type.DeviceApi)
            {
                throw new ScenarioException($"{path}.model", $"is '{ScenarioValues.Shorten(model)}' but mdev {uuid}'s type has device_api {mdev.Type.DeviceApi}.");
            }

            return new GuestHostdevModel(uuid, null, model, alias, guestAddress);
        }

        var address = ScenarioValues.Pci(spec.Pci, $"{path}.pci");
        if (!_pciFunctions.Any(f => f.Address == address))
        {
            throw new ScenarioException($"{path}.pci", $"no PCI device {address} in $.pciDevices.");
        }

        if (spec.Model is not null)
        {
            throw new ScenarioException($"{path}.model", "applies only to mdev hostdevs.");
        }

        return new GuestHostdevModel(null, address, "vfio-pci", alias, guestAddress);
    }

    /// <summary>libvirt keeps only user aliases (<c>ua-</c> prefix) from a defined domain XML; others it drops or regenerates.</summary>
    private static string ReadUserAlias(string text, string path) =>
        text.StartsWith("ua-", StringComparison.Ordinal) && text.Length > 3 && DeviceName.TryParse(text, out _)
            ? text
            : throw new ScenarioException(path, $"'{ScenarioValues.Shorten(text)}' is not a libvirt user alias ('ua-' then letters, digits, '_', '-', e.g. ua-gpu0).");

    private static OperationLatency ReadLatency(LatencySpec? spec) =>
        spec is null
            ? new OperationLatency(0, 0, 0, 0)
            : new OperationLatency(
                ScenarioValues.NonNegative(spec.ReadMs, "$.latency.readMs"),
                ScenarioValues.NonNegative(spec.VersionWriteMs, "$.latency.versionWriteMs"),
                ScenarioValues.NonNegative(spec.CreateMs, "$.latency.createMs"),
                ScenarioValues.NonNegative(spec.RemoveMs, "$.latency.removeMs"));

    private List<FaultRule> ReadFaults(IReadOnlyList<FaultSpec> faults)
    {
        var rules = new List<FaultRule>();
        for (var i = 0; i < faults.Count; i++)
        {
            var path = $"$.faults[{i}]";
            var spec = ScenarioValues.Required(faults[i], path);
            var operation = ScenarioValues.Required(spec.Operation, $"{path}.operation");
            ParentModel? parent = null;
            if (spec.Parent is not null)
            {
                parent = _parents.Find(p => p.Name.Value == spec.Parent || (p.Address is { } a && PciAddress.TryParse(spec.Parent, out var given) && given == a))
                    ?? throw new ScenarioException($"{path}.parent", $"no parent '{ScenarioValues.Shorten(spec.Parent)}' in $.parents.");
            }

            var type = spec.Type is null ? null : ScenarioValues.TypeId(spec.Type, $"{path}.type").Value;
            var device = spec.Device is null ? null : ReadDeviceName(spec.Device, $"{path}.device");
            var nth = spec.Nth is null ? (int?)null : ScenarioValues.Positive(spec.Nth, $"{path}.nth");
            var errno = ScenarioValues.Errno(spec.Errno, $"{path}.errno", Errno.None);
            var hang = ScenarioValues.NonNegative(spec.HangMs, $"{path}.hangMs");
            var disappears = spec.ParentDisappears ?? false;
            if (disappears && parent is null)
            {
                throw new ScenarioException($"{path}.parent", "is required with \"parentDisappears\": true (which parent vanishes?).");
            }

            if (errno == Errno.None && hang == 0 && !disappears)
            {
                throw new ScenarioException(path, "does nothing: give \"errno\", \"hangMs\" and/or \"parentDisappears\": true.");
            }

            rules.Add(new FaultRule(operation, parent?.Name.Value, type, device, nth, errno, hang, disappears ? parent : null));
        }

        return rules;
    }

    private static string ReadDeviceName(string text, string path) =>
        MdevUuid.TryParse(text, out var uuid) ? uuid.Value
        : PciAddress.TryParse(text, out var address) ? address.ToString()
        : throw new ScenarioException(path, $"'{ScenarioValues.Shorten(text)}' is neither an mdev UUID nor a PCI address.");
}
