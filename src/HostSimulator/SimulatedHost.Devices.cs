using System.Text;
using VfioMigration.HostSimulator.Model;
using VfioMigration.HostSimulator.Scenarios;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.HostSimulator;

/// <content>Building the tree from the scenario, and the kernel's create/remove semantics.</content>
public sealed partial class SimulatedHost
{
    private const string MdevBus = "class/mdev_bus";
    private const string MdevDevices = "bus/mdev/devices";
    private const string PciDevices = "bus/pci/devices";
    private const string PciDrivers = "bus/pci/drivers";

    /// <summary>Called by <c>create</c>'s store, under the lock: the mdev core's checks, then the driver's capacity.</summary>
    internal Errno CreateFromSysfs(MdevTypeModel type, ReadOnlySpan<byte> data)
    {
        // The core accepts a UUID with one trailing byte (the newline) and parses only the first 36 bytes.
        if (data.Length is not (36 or 37) || !MdevUuid.TryParse(Encoding.ASCII.GetString(data[..36]), out var uuid))
        {
            return Errno.EINVAL;
        }

        if (!type.Parent.Present)
        {
            return Errno.ENODEV;
        }

        if (_mdevs.ContainsKey(uuid))
        {
            return Errno.EEXIST;
        }

        if (type.AvailableInstances <= 0)
        {
            return type.Parent.ExhaustionErrno;
        }

        AddMdevLocked(uuid, type, type.DeviceVersion);
        return Errno.None;
    }

    /// <summary>Whether a running guest holds mdev <paramref name="uuid"/> (under the lock): write and ask lists only the others.</summary>
    private bool IsHeldByRunningGuest(MdevUuid uuid) =>
        _guests.Any(guest => guest.Running && guest.Hostdevs.Any(hostdev => hostdev.Mdev == uuid));

    /// <summary>Called by <c>remove</c>'s store, under the lock: <c>kstrtoul</c>, then 0 does nothing and anything else removes.</summary>
    internal Errno RemoveFromSysfs(MdevModel mdev, ReadOnlySpan<byte> data)
    {
        var parsed = KernelNumbers.ParseUnsignedLong(data, out var value);
        if (parsed != Errno.None)
        {
            return parsed;
        }

        if (value != 0)
        {
            RemoveMdevLocked(mdev);
        }

        return Errno.None;
    }

    private void BuildStaticTree()
    {
        _root.Directories(MdevBus);
        _root.Directories(MdevDevices);
        _root.Directories(PciDevices);
        _root.Directories(PciDrivers);
    }

    private void AddParents(IReadOnlyList<ParentSpec> parents)
    {
        for (var i = 0; i < parents.Count; i++)
        {
            var path = $"$.parents[{i}]";
            var spec = ScenarioValues.Required(parents[i], path);
            var parent = ReadParent(spec, path);
            if (_parents.Any(p => p.Name == parent.Name))
            {
                throw new ScenarioException(path, $"parent '{parent.Name}' is listed twice.");
            }

            var types = ScenarioValues.Required(spec.Types, $"{path}.types");
            if (types.Count == 0)
            {
                throw new ScenarioException($"{path}.types", "must list at least one mdev type.");
            }

            _parents.Add(parent);
            parent.Directory = BuildParentDirectory(parent);
            for (var t = 0; t < types.Count; t++)
            {
                var typePath = $"{path}.types[{t}]";
                var type = ReadType(parent, ScenarioValues.Required(types[t], typePath), spec.Migration, $"{path}.migration", typePath);
                if (parent.Types.Any(existing => existing.Id == type.Id))
                {
                    throw new ScenarioException($"{typePath}.id", $"type '{type.Id}' is listed twice on parent '{parent.Name}'.");
                }

                parent.Types.Add(type);
                BuildTypeDirectory(parent, type);
            }

            if (MigrationQuery.From(spec.MigrationQuery, parent, IsHeldByRunningGuest, $"{path}.migrationQuery") is { } query)
            {
                parent.Directory.Add("migration_query", new QueryAttribute(new AttributeOwner(parent.Name.Value, null, parent.Name.Value), query));
            }
        }
    }

    private static ParentModel ReadParent(ParentSpec spec, string path)
    {
        if ((spec.Address is null) == (spec.Name is null))
        {
            throw new ScenarioException(path, "needs exactly one of \"address\" (a PCI parent) and \"name\" (a virtual parent such as mtty).");
        }

        PciAddress? address = spec.Address is null ? null : ScenarioValues.Pci(spec.Address, $"{path}.address");
        var name = address is { } pci ? DeviceName.Parse(pci.ToString()) : ScenarioValues.Name(spec.Name, $"{path}.name");
        if (address is null && (spec.VendorId ?? spec.ProductId) is not null)
        {
            throw new ScenarioException(path, "a virtual parent has no PCI vendor/product ids; remove \"vendorId\" and \"productId\" or give an \"address\".");
        }

        var capacity = spec.Capacity ?? CapacityMode.PerType;
        var poolSize = capacity == CapacityMode.SharedPool
            ? ScenarioValues.Positive(spec.PoolSize, $"{path}.poolSize")
            : spec.PoolSize is null ? 0 : throw new ScenarioException($"{path}.poolSize", "applies only with \"capacity\": \"sharedPool\".");
        return new ParentModel(
            name,
            address,
            address is null ? null : ScenarioValues.PciId(spec.VendorId, $"{path}.vendorId"),
            address is null ? null : ScenarioValues.PciId(spec.ProductId, $"{path}.productId"),
            spec.Driver is null ? null : ScenarioValues.Name(spec.Driver, $"{path}.driver").Value,
            capacity,
            poolSize,
            ScenarioValues.Errno(spec.ExhaustionErrno, $"{path}.exhaustionErrno", Errno.EUSERS));
    }

    private static MdevTypeModel ReadType(ParentModel parent, MdevTypeSpec spec, MigrationSpec? parentMigration, string parentMigrationPath, string path)
    {
        var id = ScenarioValues.TypeId(spec.Id, $"{path}.id");
        var units = spec.PoolUnits is null ? 1 : ScenarioValues.Positive(spec.PoolUnits, $"{path}.poolUnits");
        if (spec.PoolUnits is not null && parent.Capacity != CapacityMode.SharedPool)
        {
            throw new ScenarioException($"{path}.poolUnits", "applies only when the parent's \"capacity\" is \"sharedPool\".");
        }

        int max;
        if (parent.Capacity == CapacityMode.SharedPool && spec.MaxInstances is null)
        {
            max = parent.PoolSize / units;
        }
        else
        {
            max = ScenarioValues.Positive(spec.MaxInstances, $"{path}.maxInstances");
        }

        var deviceApi = spec.DeviceApi ?? "vfio-pci";
        if (deviceApi is not ("vfio-pci" or "vfio-ccw" or "vfio-ap"))
        {
            throw new ScenarioException($"{path}.deviceApi", $"'{ScenarioValues.Shorten(deviceApi)}' is not a device API the kernel knows (vfio-pci, vfio-ccw, vfio-ap).");
        }

        var (typeSpec, typeSpecPath) = spec.Migration is null ? (parentMigration, parentMigrationPath) : (spec.Migration, $"{path}.migration");
        var typeVersion = VersionBehaviour.From(typeSpec, typeSpecPath);
        return new MdevTypeModel(
            parent,
            id,
            ScenarioValues.AttributeText(spec.Name, $"{path}.name"),
            spec.Description is null ? null : ScenarioValues.AttributeText(spec.Description, $"{path}.description", multiLine: true),
            deviceApi,
            max,
            units,
            typeVersion,
            spec.DeviceMigration is null ? typeVersion : VersionBehaviour.From(spec.DeviceMigration, $"{path}.deviceMigration"));
    }

    private void AddPciFunctions(IReadOnlyList<PciDeviceSpec> devices)
    {
        for (var i = 0; i < devices.Count; i++)
        {
            var path = $"$.pciDevices[{i}]";
            var spec = ScenarioValues.Required(devices[i], path);
            var address = ScenarioValues.Pci(spec.Address, $"{path}.address");
            if (_pciFunctions.Any(f => f.Address == address) || _parents.Any(p => p.Address == address))
            {
                throw new ScenarioException($"{path}.address", $"PCI address {address} is already used by another device of this host.");
            }

            var function = new PciFunctionModel(
                address,
                ScenarioValues.PciId(spec.VendorId, $"{path}.vendorId"),
                ScenarioValues.PciId(spec.ProductId, $"{path}.productId"),
                spec.Driver is null ? "vfio-pci" : ScenarioValues.Name(spec.Driver, $"{path}.driver").Value,
                spec.MigrationType is null ? null : ScenarioValues.AttributeText(spec.MigrationType, $"{path}.migrationType"),
                VersionBehaviour.From(spec.Migration, $"{path}.migration"));
            _pciFunctions.Add(function);
            BuildPciFunctionDirectory(function);
        }
    }

    private void AddInitialMdevs(IReadOnlyList<MdevSpec> mdevs)
    {
        for (var i = 0; i < mdevs.Count; i++)
        {
            var path = $"$.mdevs[{i}]";
            var spec = ScenarioValues.Required(mdevs[i], path);
            var uuid = ScenarioValues.Uuid(spec.Uuid, $"{path}.uuid");
            var parentName = ScenarioValues.Required(spec.Parent, $"{path}.parent");
            var parent = _parents.Find(p => p.Name.Value == parentName || (p.Address is { } a && PciAddress.TryParse(parentName, out var given) && given == a))
                ?? throw new ScenarioException($"{path}.parent", $"no parent '{ScenarioValues.Shorten(parentName)}' in $.parents.");
            var typeId = ScenarioValues.TypeId(spec.Type, $"{path}.type");
            var type = parent.Types.Find(t => t.Id == typeId)
                ?? throw new ScenarioException($"{path}.type", $"parent '{parent.Name}' has no type '{typeId}'.");
            if (_mdevs.ContainsKey(uuid))
            {
                throw new ScenarioException($"{path}.uuid", $"UUID {uuid} is used twice (mdev UUIDs are unique on a host).");
            }

            if (type.AvailableInstances <= 0)
            {
                throw new ScenarioException(path, $"type '{typeId}' on parent '{parent.Name}' has no instance left for this mdev ({parent.Capacity} capacity); raise maxInstances/poolSize or remove mdevs.");
            }

            AddMdevLocked(uuid, type, spec.Migration is null ? type.DeviceVersion : VersionBehaviour.From(spec.Migration, $"{path}.migration"));
        }
    }

    private DirectoryNode BuildParentDirectory(ParentModel parent)
    {
        var owner = new AttributeOwner(parent.Name.Value, null, parent.Name.Value);
        var directory = _root.Directories(parent.DevicePath);
        _root.Directories(MdevBus).Add(parent.Name.Value, new LinkNode("../../" + parent.DevicePath));
        if (parent.Address is { } address)
        {
            AddPciAttributes(directory, owner, address, parent.VendorId!, parent.ProductId!, parent.DevicePath, parent.Driver);
        }

        directory.Directory("mdev_supported_types");
        return directory;
    }

    private void BuildTypeDirectory(ParentModel parent, MdevTypeModel type)
    {
        var owner = new AttributeOwner(parent.Name.Value, type.Id.Value, null);
        var directory = parent.Directory!.Directory("mdev_supported_types").Directory(type.Id.Value);
        directory.Add("name", new TextAttribute(owner, type.Name));
        if (type.Description is not null)
        {
            directory.Add("description", new TextAttribute(owner, type.Description));
        }

        directory.Add("device_api", new TextAttribute(owner, type.DeviceApi));
        directory.Add("available_instances", new AvailableInstancesAttribute(owner, type));
        directory.Add("create", new CreateAttribute(owner, type, this));
        type.DevicesDirectory = directory.Directory("devices");
        if (type.TypeVersion is not null)
        {
            directory.Add("migration_version", new VersionAttribute(owner, type.TypeVersion));
        }
    }

    private void BuildPciFunctionDirectory(PciFunctionModel function)
    {
        var owner = new AttributeOwner(null, null, function.Address.ToString());
        var directory = _root.Directories(function.DevicePath);
        AddPciAttributes(directory, owner, function.Address, function.VendorId, function.ProductId, function.DevicePath, function.Driver);
        if (function.MigrationType is not null)
        {
            directory.Add("vfio_migration_type", new TextAttribute(owner, function.MigrationType));
        }

        if (function.Version is not null)
        {
            directory.Add("vfio_migration_version", new VersionAttribute(owner, function.Version));
        }
    }

    private void AddPciAttributes(DirectoryNode directory, AttributeOwner owner, PciAddress address, string vendorId, string productId, string devicePath, string? driver)
    {
        directory.Add("vendor", new TextAttribute(owner, vendorId));
        directory.Add("device", new TextAttribute(owner, productId));
        _root.Directories(PciDevices).Add(address.ToString(), new LinkNode("../../../" + devicePath));
        if (driver is not null)
        {
            // devices/pciDDDD:BB/<address> is three levels below the root, like bus/pci/drivers/<driver>.
            directory.Add("driver", new LinkNode("../../../bus/pci/drivers/" + driver));
            _root.Directories(PciDrivers).Directory(driver).Add(address.ToString(), new LinkNode("../../../../" + devicePath));
        }
    }

    private void AddMdevLocked(MdevUuid uuid, MdevTypeModel type, VersionBehaviour? version)
    {
        var parent = type.Parent;
        var mdev = new MdevModel(uuid, type);
        var owner = new AttributeOwner(parent.Name.Value, type.Id.Value, uuid.Value);
        var directory = parent.Directory!.Add(uuid.Value, new DirectoryNode());
        directory.Add("mdev_type", new LinkNode("../mdev_supported_types/" + type.Id.Value));
        directory.Add("remove", new RemoveAttribute(owner, mdev, this));
        if (version is not null)
        {
            directory.Add("migration_version", new VersionAttribute(owner, version));
        }

        type.DevicesDirectory!.Add(uuid.Value, new LinkNode("../../../" + uuid.Value));
        _root.Directories(MdevDevices).Add(uuid.Value, new LinkNode($"../../../{parent.DevicePath}/{uuid.Value}"));
        type.Instances.Add(mdev);
        _mdevs.Add(uuid, mdev);
    }

    private void RemoveMdevLocked(MdevModel mdev)
    {
        var uuid = mdev.Uuid.Value;
        _root.Directories(MdevDevices).Remove(uuid);
        mdev.Type.DevicesDirectory!.Remove(uuid);
        mdev.Type.Parent.Directory!.Remove(uuid);
        mdev.Type.Instances.Remove(mdev);
        _mdevs.Remove(mdev.Uuid);
    }

    internal void DetachParentLocked(ParentModel parent)
    {
        foreach (var mdev in parent.Types.SelectMany(t => t.Instances).ToList())
        {
            RemoveMdevLocked(mdev);
        }

        parent.Present = false;
        _root.Directories(MdevBus).Remove(parent.Name.Value);
        if (parent.Address is { } address)
        {
            _root.Directories(PciDevices).Remove(address.ToString());
            if (parent.Driver is not null)
            {
                _root.Directories(PciDrivers).Directory(parent.Driver).Remove(address.ToString());
            }
        }

        parent.Directory!.Container!.Remove(parent.Name.Value);
    }
}
