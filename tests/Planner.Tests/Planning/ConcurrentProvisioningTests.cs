using System.Text.Json.Nodes;
using VfioMigration.Planner.Json;
using VfioMigration.Planner.Sysfs;
using VfioMigration.Planner.Tests.Fakes;

namespace VfioMigration.Planner.Tests.Planning;

/// <summary>Creates on different parents run at once, creates on one parent in turn, and the plan and the host end the same as if they had not.</summary>
[TestClass]
public sealed class ConcurrentProvisioningTests
{
    /// <summary>Bounds every hold: reached only when the planner does not overlap creates it should.</summary>
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(10);

    /// <summary>How long the first creates wait for a further create that a correct planner never starts.</summary>
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(1);

    private const string CreateOn41 = "class/mdev_bus/0000:41:00.0/mdev_supported_types/nvidia-63/create";

    /// <summary>A guest of <paramref name="devices"/> nvidia-63 vGPUs; a destination with one nvidia-63 parent per address, each with room for <paramref name="perParent"/>.</summary>
    private static Scenario Build(int devices, int perParent, params string[] parents)
    {
        var scenario = new Scenario();
        scenario.Guest([.. Enumerable.Repeat("nvidia-63", devices)]);
        foreach (var parent in parents)
        {
            scenario.DestinationType(parent: parent, max: perParent);
        }

        return scenario;
    }

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public async Task CreatesOnDifferentParents_AreInFlightTogether(bool libvirtCreates)
    {
        var scenario = Build(3, 1, "0000:41:00.0", "0000:42:00.0", "0000:43:00.0");
        scenario.Destination.Hypervisor.Create = libvirtCreates ? CreateBehaviour.Works : CreateBehaviour.NotSupported;
        var gate = new CreateGate(scenario.Destination, holdUntilStarted: 3, Guard);

        await using var result = await scenario.PlanAsync();

        Assert.IsTrue(result.Succeeded);
        Assert.AreEqual(3, gate.MaxInFlight, "the three parents' creates should all be in flight at once");
        CollectionAssert.AreEquivalent(new[] { "pci_0000_41_00_0", "pci_0000_42_00_0", "pci_0000_43_00_0" }, result.Best.Devices.Select(d => d.Target.Parent).ToList());
    }

    [TestMethod]
    public async Task CreatesOnOneParent_NeverOverlap()
    {
        // Pack puts devices 0 and 1 on 41, 2 and 3 on 42. The first creates wait for a third to start,
        // which only a planner overlapping creates on one parent would do.
        var scenario = Build(4, 2, "0000:41:00.0", "0000:42:00.0");
        var gate = new CreateGate(scenario.Destination, holdUntilStarted: 3, Patience);

        await using var result = await scenario.PlanAsync();

        Assert.IsTrue(result.Succeeded);
        Assert.AreEqual(1, gate.MaxInFlightOnOneParent, "creates on one parent must run one after the other");
        Assert.AreEqual(2, gate.MaxInFlight, "the two parents still run at once");
        Assert.AreEqual(2, result.Best.Devices.Count(d => d.Target.Parent == "pci_0000_41_00_0"));
    }

    [TestMethod]
    [DataRow(true)]
    [DataRow(false)]
    public async Task OneCreateFails_WhileAnotherParentsSucceeds_TheOutcomeAndTheHostAreRight(bool spareParent)
    {
        var scenario = Build(2, 1, spareParent ? ["0000:41:00.0", "0000:42:00.0", "0000:43:00.0"] : ["0000:41:00.0", "0000:42:00.0"]);
        scenario.Destination.FileSystem.FailingWrites[CreateOn41] = Errno.EUSERS;
        var gate = new CreateGate(scenario.Destination, holdUntilStarted: 2, Guard);
        var before = scenario.Destination.Snapshot();

        await using var result = await scenario.PlanAsync();

        Assert.AreEqual(2, gate.MaxInFlight, "the failing create and the good one ran at once");
        var noCapacity = result.Best.Rejections.Single(r => r.Code == RejectionCode.NoCapacity);
        Assert.AreEqual("pci_0000_41_00_0/nvidia-63", noCapacity.Candidate);
        if (spareParent)
        {
            // The device made on 42 is kept for device 1; device 0 moves to the spare parent.
            Assert.IsTrue(result.Succeeded);
            CollectionAssert.AreEqual(new[] { "pci_0000_43_00_0", "pci_0000_42_00_0" }, result.Best.Devices.Select(d => d.Target.Parent).ToList());
            Assert.HasCount(2, scenario.Destination.Mdevs);
            Assert.IsTrue(result.Best.Created.All(c => c.State == CreatedDeviceState.Kept));
        }
        else
        {
            Assert.IsFalse(result.Succeeded);
            Assert.AreEqual(before, scenario.Destination.Snapshot(), "the device made on 42 must be removed");
            Assert.AreEqual(CreatedDeviceState.Removed, result.Best.Created.Single().State);
            Assert.AreEqual(0, scenario.Claims.Count);
        }
    }

    [TestMethod]
    public async Task HostLostDuringOneCreate_EverythingMadeOnAnyParentIsRemoved()
    {
        var scenario = Build(2, 1, "0000:41:00.0", "0000:42:00.0");
        scenario.Destination.FileSystem.WritesLosingTheirAnswer.Add(CreateOn41);
        var gate = new CreateGate(scenario.Destination, holdUntilStarted: 2, Guard);
        var before = scenario.Destination.Snapshot();

        await using var result = await scenario.PlanAsync();

        Assert.AreEqual(2, gate.MaxInFlight);
        Assert.IsFalse(result.Succeeded);
        StringAssert.Contains(string.Join(' ', result.Best.Reasons), "connection to dest lost");
        Assert.HasCount(2, scenario.DestinationWrites("/remove 1"), "both devices were made, and both must go");
        Assert.AreEqual(before, scenario.Destination.Snapshot());
        Assert.AreEqual(0, scenario.Claims.Count);
    }

    [TestMethod]
    [DataRow(false)]
    [DataRow(true)]
    public async Task CancelledWhileCreatesAreInFlight_ACreateThatFinishesLateIsRemovedToo(bool libvirtCreates)
    {
        var scenario = Build(2, 1, "0000:41:00.0", "0000:42:00.0");
        scenario.Destination.Hypervisor.Create = libvirtCreates ? CreateBehaviour.Works : CreateBehaviour.NotSupported;
        var before = scenario.Destination.Snapshot();
        using var cancellation = new CancellationTokenSource();
        var bothStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = 0;
        scenario.Destination.WhileCreating = async (type, token) =>
        {
            if (Interlocked.Increment(ref started) == 2)
            {
                await cancellation.CancelAsync();
                bothStarted.SetResult();
            }

            await bothStarted.Task.WaitAsync(Guard, CancellationToken.None);
            if (type.Parent.SysfsName.Value == "0000:41:00.0")
            {
                // The kernel finishes this one after the cancellation: the planner must wait for it before rolling back.
                await Task.Delay(50, CancellationToken.None);
                return;
            }

            token.ThrowIfCancellationRequested();
        };

        await Assert.ThrowsAsync<OperationCanceledException>(() => scenario.PlanAsync(cancellationToken: cancellation.Token));

        Assert.AreEqual(before, scenario.Destination.Snapshot(), "nothing may be left behind");
        Assert.AreEqual(1, scenario.Destination.Operations.Count(o => o.StartsWith("hv:DestroyMdev", StringComparison.Ordinal) || o.EndsWith("/remove 1", StringComparison.Ordinal)), "the late device was made, then removed");
        Assert.AreEqual(0, scenario.Claims.Count);
    }

    [TestMethod]
    public async Task ThePlanIsTheSame_WhateverOrderTheCreatesFinishIn()
    {
        var forward = await PlanFinishingInOrderAsync("0000:41:00.0", "0000:42:00.0", "0000:43:00.0");
        var backward = await PlanFinishingInOrderAsync("0000:43:00.0", "0000:42:00.0", "0000:41:00.0");

        CollectionAssert.AreEqual(new[] { "0000:41:00.0", "0000:42:00.0", "0000:43:00.0", "0000:44:00.0" }, forward.Finished.ToList());
        CollectionAssert.AreEqual(new[] { "0000:43:00.0", "0000:42:00.0", "0000:41:00.0", "0000:44:00.0" }, backward.Finished.ToList());
        Assert.AreEqual(forward.Json, backward.Json);
    }

    /// <summary>
    /// Three devices created on 41, 42 and 43 at once, finishing in <paramref name="order"/>; the device
    /// made on 41 refuses the version, so device 0 ends on 44. UUIDs are preserved so both runs can match.
    /// </summary>
    private static async Task<(string Json, IReadOnlyList<string> Finished)> PlanFinishingInOrderAsync(params string[] order)
    {
        var scenario = Build(3, 1, "0000:41:00.0", "0000:42:00.0", "0000:43:00.0", "0000:44:00.0");
        scenario.Destination.Parents[0].Types[0].DeviceVersion = new FakeVersion("other");
        var gate = new CreateGate(scenario.Destination, holdUntilStarted: 3, Guard, order);

        await using var result = await scenario.PlanAsync(new PlanOptions { UuidStrategy = UuidStrategy.Preserve });

        Assert.IsTrue(result.Succeeded, PlanJson.Serialize(result));
        Assert.IsTrue(result.Best.Rejections.Any(r => r.Code == RejectionCode.VersionRejected && r.Candidate == "pci_0000_41_00_0/nvidia-63"));
        var json = JsonNode.Parse(PlanJson.Serialize(result))!.AsObject();
        json["stats"]!.AsObject().Remove("elapsedMs");
        return (json.ToJsonString(), gate.Finished);
    }
}
