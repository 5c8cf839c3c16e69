using System.Globalization;
using VfioMigration.HostSimulator.Scenarios;

namespace VfioMigration.HostSimulator.Generation;

/// <summary>
/// The shape of a generated host: how many GPUs, how many mdev types each offers, how many mdevs
/// exist and how many of them guests own, and how the GPUs' drivers answer version probes.
/// Every choice is drawn from <see cref="Seed"/>, so the same options give the same host.
/// </summary>
public sealed record GeneratedHostOptions
{
    /// <summary>The host's name.</summary>
    public string Name { get; init; } = "generated";

    /// <summary>The seed of every random choice.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>How many GPUs (mdev parents); 1 to 64.</summary>
    public int Gpus { get; init; } = 16;

    /// <summary>How many mdev types every GPU offers; 1 to 64. Type <c>k</c> is the same model on every GPU and every generated host.</summary>
    public int TypesPerGpu { get; init; } = 32;

    /// <summary>How many instances of each type a GPU can hold; 1 to 64.</summary>
    public int MaxInstancesPerType { get; init; } = 48;

    /// <summary>How many mdevs exist when the host starts, spread over the GPUs; at most <see cref="Gpus"/> × <see cref="MaxInstancesPerType"/>.</summary>
    public int ExistingMdevs { get; init; } = 512;

    /// <summary>The share (0 to 1) of existing mdevs that belong to a defined guest (the rest are idle and reusable).</summary>
    public double OwnedFraction { get; init; } = 0.75;

    /// <summary>How many devices each generated guest owns at most (guests own 1 to this many).</summary>
    public int MaxDevicesPerGuest { get; init; } = 4;

    /// <summary>The share (0 to 1) of GPUs whose driver branch does not accept <see cref="ScenarioGenerator.CompatibleVersion"/>.</summary>
    public double IncompatibleFraction { get; init; } = 0.25;

    /// <summary>The share (0 to 1) of GPUs that hold one type at a time (NVIDIA style); the others give each type its own capacity.</summary>
    public double OneTypeAtATimeFraction { get; init; } = 0.5;

    /// <summary>The share (0 to 1) of GPUs with no type-level <c>migration_version</c> (only their devices answer probes).</summary>
    public double DeviceLevelOnlyFraction { get; init; } = 0.25;

    /// <summary>How the existing mdevs are laid out over the GPUs.</summary>
    public MdevLayout Layout { get; init; } = MdevLayout.Mixed;

    /// <summary>
    /// With <see cref="MdevLayout.PreProvisionedPool"/>: how many types the pool is configured
    /// with, 1 to <see cref="TypesPerGpu"/>; GPU <c>g</c> holds type <c>g mod PoolTypes</c>. Ignored otherwise.
    /// </summary>
    public int PoolTypes { get; init; } = 4;

    /// <summary>The simulated latency; <see cref="ScenarioGenerator.RealisticLatency"/> when null.</summary>
    public LatencySpec? Latency { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first option out of range.</summary>
    public void Validate()
    {
        Check(nameof(Gpus), Gpus, 1, 64);
        Check(nameof(TypesPerGpu), TypesPerGpu, 1, 64);
        Check(nameof(MaxInstancesPerType), MaxInstancesPerType, 1, 64);
        Check(nameof(ExistingMdevs), ExistingMdevs, 0, Gpus * MaxInstancesPerType);
        Check(nameof(MaxDevicesPerGuest), MaxDevicesPerGuest, 1, 16);
        CheckFraction(nameof(OwnedFraction), OwnedFraction);
        CheckFraction(nameof(IncompatibleFraction), IncompatibleFraction);
        CheckFraction(nameof(OneTypeAtATimeFraction), OneTypeAtATimeFraction);
        CheckFraction(nameof(DeviceLevelOnlyFraction), DeviceLevelOnlyFraction);
        if (!Enum.IsDefined(Layout))
        {
            throw new ArgumentException($"GeneratedHostOptions.Layout is {(int)Layout}; it must be {nameof(MdevLayout.Mixed)} or {nameof(MdevLayout.PreProvisionedPool)}.", nameof(Layout));
        }

        if (Layout == MdevLayout.PreProvisionedPool)
        {
            Check(nameof(PoolTypes), PoolTypes, 1, TypesPerGpu);
        }

        if (string.IsNullOrWhiteSpace(Name))
        {
            throw new ArgumentException("GeneratedHostOptions.Name: give the host a name.", nameof(Name));
        }
    }

    private static void Check(string name, int value, int min, int max)
    {
        if (value < min || value > max)
        {
            throw new ArgumentException($"GeneratedHostOptions.{name} is {value}; it must be between {min} and {max}.", name);
        }
    }

    private static void CheckFraction(string name, double value)
    {
        if (!(value >= 0 && value <= 1))
        {
            throw new ArgumentException($"GeneratedHostOptions.{name} is {value}; it must be a fraction between 0 and 1.", name);
        }
    }
}

/// <summary>How a generated host's existing mdevs are laid out over its GPUs.</summary>
public enum MdevLayout
{
    /// <summary>
    /// Grown by use: each one-type-at-a-time GPU holds mdevs of one random type, each other GPU of
    /// a few neighbouring types, and most GPUs still have room to create more.
    /// </summary>
    Mixed,

    /// <summary>
    /// A pre-provisioned pool, as KubeVirt's <c>mediatedDevicesConfiguration</c> and Nova's
    /// pre-created mdevs leave a host: each GPU is configured for one type (GPU <c>g</c> for type
    /// <c>g mod PoolTypes</c>) and its mdevs are created up front, so guests take existing mdevs
    /// rather than create them. With <see cref="GeneratedHostOptions.ExistingMdevs"/> at
    /// <see cref="GeneratedHostOptions.Gpus"/> × <see cref="GeneratedHostOptions.MaxInstancesPerType"/>
    /// every GPU is full.
    /// </summary>
    PreProvisionedPool,
}

/// <summary>
/// Generates simulator scenarios at fleet scale (benchmarks, evacuation tests): NVIDIA-style hosts
/// with many GPUs and types, existing mdevs owned by guests or idle, compatible and incompatible
/// driver branches, one-type-at-a-time cards, and GPUs that verify only at device level; or
/// pre-provisioned pools (<see cref="MdevLayout.PreProvisionedPool"/>).
/// </summary>
public static class ScenarioGenerator
{
    /// <summary>The version every generated guest's devices report (driver branch 535).</summary>
    public const string CompatibleVersion = "nvidia-535.104.05";

    private const string CompatibleBranch = "nvidia-535.129.03";
    private const string IncompatibleBranch = "nvidia-550.54.14";
    private const int FirstTypeNumber = 256;

    /// <summary>Latency of a real vGPU host: version write 2 ms, create 50 ms, remove 20 ms, reads free.</summary>
    public static LatencySpec RealisticLatency { get; } = new() { ReadMs = 0, VersionWriteMs = 2, CreateMs = 50, RemoveMs = 20 };

    /// <summary>The id of type number <paramref name="index"/> (0-based), the same on every generated host.</summary>
    public static string TypeId(int index) => $"nvidia-{FirstTypeNumber + index}";

    /// <summary>
    /// A host shaped by <paramref name="options"/>. Existing mdevs are placed GPU by GPU as
    /// <see cref="GeneratedHostOptions.Layout"/> says; the owned ones are grouped into guests <c>vm-0</c>, <c>vm-1</c>…
    /// of 1 to <see cref="GeneratedHostOptions.MaxDevicesPerGuest"/> devices.
    /// </summary>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public static Scenario Host(GeneratedHostOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var random = new Random(options.Seed);
        var parents = new List<ParentSpec>();
        for (var gpu = 0; gpu < options.Gpus; gpu++)
        {
            parents.Add(Gpu(options, gpu, random));
        }

        var mdevs = PlaceMdevs(options, parents, random);
        var owned = (int)Math.Round(mdevs.Count * options.OwnedFraction);
        var guests = GroupIntoGuests(mdevs.Take(owned).ToList(), options.MaxDevicesPerGuest, random, $"{options.Name}-vm");
        return new Scenario
        {
            Version = 1,
            Name = options.Name,
            Parents = parents,
            Mdevs = mdevs,
            Guests = guests,
            Latency = options.Latency ?? RealisticLatency,
        };
    }

    /// <summary>
    /// A source host for evacuation: every GPU on the compatible branch, <paramref name="guests"/>
    /// guests of 1 to <paramref name="maxDevicesPerGuest"/> devices each, and no other mdevs.
    /// </summary>
    /// <exception cref="ArgumentException">The guests need more devices than the GPUs can hold.</exception>
    public static Scenario EvacuationSource(string name, int guests, int maxDevicesPerGuest, int seed, int gpus = 16, int typesPerGpu = 32)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(guests);
        var random = new Random(seed);
        var sizes = Enumerable.Range(0, guests).Select(_ => random.Next(1, maxDevicesPerGuest + 1)).ToList();
        var options = new GeneratedHostOptions
        {
            Name = name,
            Seed = seed,
            Gpus = gpus,
            TypesPerGpu = typesPerGpu,
            MaxInstancesPerType = 64,
            ExistingMdevs = sizes.Sum(),
            OwnedFraction = 1,
            MaxDevicesPerGuest = maxDevicesPerGuest,
            IncompatibleFraction = 0,
            DeviceLevelOnlyFraction = 0,
        };
        var host = Host(options with { ExistingMdevs = 0 });
        var mdevs = PlaceMdevs(options, host.Parents!, random);
        var guestSpecs = new List<GuestSpec>();
        var next = 0;
        foreach (var size in sizes)
        {
            guestSpecs.Add(Guest($"{name}-vm-{guestSpecs.Count}", guestSpecs.Count, mdevs.Skip(next).Take(size)));
            next += size;
        }

        return host with { Mdevs = mdevs, Guests = guestSpecs };
    }

    /// <summary>
    /// A source host with one guest, <c>bench-guest</c>, owning <paramref name="devices"/> mdevs of
    /// the first types, on the compatible branch.
    /// </summary>
    public static Scenario SingleGuestSource(string name, int devices, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(devices);
        var host = Host(new GeneratedHostOptions { Name = name, Seed = seed, Gpus = devices, TypesPerGpu = 4, ExistingMdevs = 0, IncompatibleFraction = 0, DeviceLevelOnlyFraction = 0, OneTypeAtATimeFraction = 0 });
        var mdevs = Enumerable.Range(0, devices)
            .Select(i => new MdevSpec { Uuid = Uuid(seed, 0xb000 + i), Parent = host.Parents![i].Address, Type = TypeId(i % 4) })
            .ToList();
        return host with { Mdevs = mdevs, Guests = [Guest("bench-guest", 0, mdevs)] };
    }

    private static ParentSpec Gpu(GeneratedHostOptions options, int index, Random random)
    {
        var incompatible = random.NextDouble() < options.IncompatibleFraction;
        var oneType = random.NextDouble() < options.OneTypeAtATimeFraction;
        var deviceLevelOnly = random.NextDouble() < options.DeviceLevelOnlyFraction;
        var branch = incompatible ? IncompatibleBranch : CompatibleBranch;
        var major = incompatible ? "550" : "535";
        var migration = new MigrationSpec
        {
            Version = branch,
            Accepts = new AcceptSpec { Range = new VersionRangeSpec { Prefix = "nvidia-", Min = $"{major}.0", Max = $"{major}.999" } },
        };
        var types = Enumerable.Range(0, options.TypesPerGpu)
            .Select(t => new MdevTypeSpec
            {
                Id = TypeId(t),
                Name = $"GRID A100-{t + 1}C",
                DeviceApi = "vfio-pci",
                MaxInstances = options.MaxInstancesPerType,
                DeviceMigration = deviceLevelOnly ? migration : null,
            })
            .ToList();
        return new ParentSpec
        {
            Address = string.Create(CultureInfo.InvariantCulture, $"0000:{0x10 + index:x2}:00.0"),
            VendorId = "0x10de",
            ProductId = "0x20b5",
            Driver = "nvidia",
            Capacity = oneType ? CapacityMode.OneTypeAtATime : CapacityMode.PerType,
            Migration = deviceLevelOnly ? null : migration,
            Types = types,
        };
    }

    /// <summary>
    /// Spreads the mdevs over the GPUs round-robin; a one-type-at-a-time GPU and every GPU of a
    /// pool gets one type, the others a few.
    /// </summary>
    private static List<MdevSpec> PlaceMdevs(GeneratedHostOptions options, IReadOnlyList<ParentSpec> parents, Random random)
    {
        var pool = options.Layout == MdevLayout.PreProvisionedPool;
        var typeOf = parents.Select((_, gpu) => pool ? gpu % options.PoolTypes : random.Next(options.TypesPerGpu)).ToArray();
        var perTypeCount = new Dictionary<(int Gpu, int Type), int>();
        var mdevs = new List<MdevSpec>();
        for (var i = 0; mdevs.Count < options.ExistingMdevs; i++)
        {
            var gpu = i % parents.Count;
            var type = pool || parents[gpu].Capacity == CapacityMode.OneTypeAtATime
                ? typeOf[gpu]
                : (typeOf[gpu] + random.Next(4)) % options.TypesPerGpu;
            var count = perTypeCount.GetValueOrDefault((gpu, type));
            if (count >= options.MaxInstancesPerType)
            {
                continue;
            }

            perTypeCount[(gpu, type)] = count + 1;
            mdevs.Add(new MdevSpec { Uuid = Uuid(options.Seed, mdevs.Count), Parent = parents[gpu].Address, Type = TypeId(type) });
        }

        return mdevs;
    }

    private static List<GuestSpec> GroupIntoGuests(List<MdevSpec> owned, int maxDevices, Random random, string prefix)
    {
        var guests = new List<GuestSpec>();
        for (var next = 0; next < owned.Count;)
        {
            var size = Math.Min(random.Next(1, maxDevices + 1), owned.Count - next);
            guests.Add(Guest($"{prefix}-{guests.Count}", guests.Count, owned.Skip(next).Take(size)));
            next += size;
        }

        return guests;
    }

    private static GuestSpec Guest(string name, int index, IEnumerable<MdevSpec> mdevs) => new()
    {
        Name = name,
        Uuid = string.Create(CultureInfo.InvariantCulture, $"3c6d9e20-4444-4f5a-8b7c-{StableHash(name) % 0x10000:x4}{index:x8}"),
        Running = true,
        Hostdevs = [.. mdevs.Select((m, i) => new HostdevSpec { Mdev = m.Uuid, Alias = string.Create(CultureInfo.InvariantCulture, $"ua-vgpu{i}") })],
    };

    private static string Uuid(int seed, int index) =>
        string.Create(CultureInfo.InvariantCulture, $"{(uint)seed:x8}-7b2d-4e5f-8a9b-{index:x12}");

    /// <summary>string.GetHashCode is randomised per process; generated hosts must be the same in every run.</summary>
    private static uint StableHash(string text)
    {
        var hash = 2166136261u;
        foreach (var c in text)
        {
            hash = (hash ^ c) * 16777619u;
        }

        return hash;
    }
}
