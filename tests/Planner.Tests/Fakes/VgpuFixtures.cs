using VfioMigration.Planner.Devices;

namespace VfioMigration.Planner.Tests.Fakes;

/// <summary>
/// NVIDIA VF vGPU fixtures shared by the planner's VF tests: the driver's migration version, two
/// L40S types, a guest owning VF vGPUs, a destination GPU with free VFs.
/// </summary>
internal static class VgpuFixtures
{
    /// <summary>The migration version every VF here reports.</summary>
    public const string Version = "nvidia-vgpu-550.90.05";

    /// <summary>L40S-24C, three a GPU.</summary>
    public static FakeVgpuType L40s24 { get; } = new(1157, "NVIDIA L40S-24C", 3);

    /// <summary>L40S-12C, four a GPU.</summary>
    public static FakeVgpuType L40s12 { get; } = new(1155, "NVIDIA L40S-12C", 4);

    /// <summary>Guest vm1 with one VF vGPU per type id given (1157: L40S-24C on the source's GPU 17, 1155: L40S-12C on its GPU 18), x:00.4 onwards, each with <see cref="Version"/>.</summary>
    public static Scenario GuestWithVfVgpus(params uint[] types)
    {
        var scenario = new Scenario();
        var gpus = new Dictionary<uint, FakeGpu>
        {
            [1157] = new(PciAddress.Parse("0000:17:00.0"), L40s24),
            [1155] = new(PciAddress.Parse("0000:18:00.0"), L40s12),
        };
        var devices = new List<HostDevice>();
        foreach (var type in types)
        {
            var gpu = gpus[type];
            var vf = scenario.Source.AddVf(gpu, $"{gpu.Address.ToString()[..^1]}{4 + gpu.Vfs.Count}", type: type, version: new FakeVersion(Version));
            devices.Add(FakeHost.PciDevice(devices.Count, vf));
        }

        scenario.Source.DefineGuest("vm1", [.. devices]);
        return scenario;
    }

    /// <summary>An L40S-24C GPU at <paramref name="pf"/> (x:00.0) on the destination with <paramref name="vfs"/> free VFs, x:00.4 onwards, each with <see cref="Version"/>; returns the VFs.</summary>
    public static IReadOnlyList<FakePci> AddGpu(Scenario scenario, string pf, int vfs)
    {
        var gpu = new FakeGpu(PciAddress.Parse(pf), L40s24);
        return [.. Enumerable.Range(0, vfs).Select(i => scenario.Destination.AddVf(gpu, $"{pf[..^1]}{4 + i}", version: new FakeVersion(Version)))];
    }
}
