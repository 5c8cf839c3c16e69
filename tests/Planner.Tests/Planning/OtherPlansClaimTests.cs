using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Tests.Fakes;

namespace VfioMigration.Planner.Tests.Planning;

/// <summary>
/// Claims another plan in the same process holds (docs/testing.md, "Mutation testing"): a claimed
/// idle mdev or function is refused as in use with the holder named, and a function another plan
/// passes through whole gets no new mdev.
/// </summary>
[TestClass]
public sealed class OtherPlansClaimTests
{
    private const string Host = "test:///dest";

    private static (Scenario Scenario, Guid Other) WithAnotherPlan()
    {
        var scenario = new Scenario();
        var other = Guid.NewGuid();
        scenario.Claims.BeginPlan(other, "vm2");
        return (scenario, other);
    }

    [TestMethod]
    public async Task IdleMdevClaimedByAnotherPlan_IsInUse_WithTheHolder_AndADeviceIsCreatedInstead()
    {
        var (scenario, other) = WithAnotherPlan();
        scenario.Guest("nvidia-63");
        var idle = scenario.Destination.AddMdev(scenario.DestinationType(max: 2));
        Assert.IsNull(await scenario.Claims.TryClaimAsync(Host, $"mdev:{idle.Uuid}", other));

        await using var result = await scenario.PlanAsync();

        Assert.IsTrue(result.Succeeded, string.Join("\n", result.Best.Reasons));
        var device = result.Best.Devices.Single();
        Assert.AreEqual(DeviceAction.Create, device.Action);
        Assert.AreNotEqual(idle.Uuid.Value, device.Target.Id);
        var rejection = result.Best.Rejections.Single();
        Assert.AreEqual(new Rejection(rejection.Source, idle.Uuid.Value, RejectionCode.InUse, $"{idle.Uuid} is claimed by another plan (plan {other} for guest vm2, process {Environment.ProcessId} (this one))."), rejection);
    }

    [TestMethod]
    public async Task FunctionClaimedByAnotherPlan_IsInUse_WithTheHolder()
    {
        var (scenario, other) = WithAnotherPlan();
        scenario.PciGuest("0000:3b:00.1", "0x15b3", "0x101e", "vfio-pci:mlx5", "mlx5-v7");
        var claimed = scenario.Destination.AddPci("0000:5e:00.1", "0x15b3", "0x101e", "vfio-pci:mlx5", new FakeVersion("mlx5-v7"));
        var free = scenario.Destination.AddPci("0000:5e:00.2", "0x15b3", "0x101e", "vfio-pci:mlx5", new FakeVersion("mlx5-v7"));
        Assert.IsNull(await scenario.Claims.TryClaimAsync(Host, $"pci:{claimed.Address}", other));

        await using var result = await scenario.PlanAsync();

        Assert.IsTrue(result.Succeeded, string.Join("\n", result.Best.Reasons));
        Assert.AreEqual(new PciTarget(free.Address), result.Best.Devices.Single().Target.Target);
        var rejection = result.Best.Rejections.Single();
        Assert.AreEqual(new Rejection(rejection.Source, claimed.Address.ToString(), RejectionCode.InUse, $"{claimed.Address} is claimed by another plan (plan {other} for guest vm2, process {Environment.ProcessId} (this one))."), rejection);
    }

    [TestMethod]
    public async Task FunctionAnotherPlanPassesThroughWhole_GetsNoNewMdev_TheNextParentDoes()
    {
        var (scenario, other) = WithAnotherPlan();
        scenario.Guest("nvidia-63");
        scenario.DestinationType(parent: "0000:41:00.0");
        scenario.DestinationType(parent: "0000:42:00.0");
        Assert.IsNull(await scenario.Claims.TryClaimAsync(Host, "pci:0000:41:00.0", other));

        await using var result = await scenario.PlanAsync();

        Assert.IsTrue(result.Succeeded, string.Join("\n", result.Best.Reasons));
        Assert.AreEqual("pci_0000_42_00_0", result.Best.Devices.Single().Target.Parent);
        var rejection = result.Best.Rejections.Single();
        Assert.AreEqual(new Rejection(rejection.Source, "pci_0000_41_00_0/nvidia-63", RejectionCode.InUse, $"PCI function 0000:41:00.0 (pci_0000_41_00_0) is being passed through whole by another plan (plan {other} for guest vm2, process {Environment.ProcessId} (this one)), so no mdev is created on it."), rejection);
    }
}
