using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Sysfs;
using VfioMigration.Planner.Tests.Fakes;

namespace VfioMigration.Planner.Tests.Planning;

/// <summary>
/// What a plan that does not finish reports and leaves: the reused devices of its deepest partial
/// assignment (never a device it created), the removals it could not make among its reasons, and a
/// rollback that fails out of <see cref="MigrationPlanner.PlanAsync"/> (found missing by mutation
/// testing, docs/testing.md).
/// </summary>
[TestClass]
public sealed class FailedPlanTests
{
    private const string Create41 = "class/mdev_bus/0000:41:00.0/mdev_supported_types/nvidia-63/create";
    private const string Create42 = "class/mdev_bus/0000:42:00.0/mdev_supported_types/nvidia-64/create";

    /// <summary>vm1: nvidia-63 then nvidia-64; nvidia-63 is created on 0000:41:00.0, nvidia-64 only on 0000:42:00.0, whose create fails with EIO.</summary>
    private static Scenario SecondCreateFails()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63", "nvidia-64");
        scenario.DestinationType(parent: "0000:41:00.0", id: "nvidia-63");
        scenario.DestinationType(parent: "0000:42:00.0", id: "nvidia-64", max: 1);
        scenario.Destination.FileSystem.FailingWrites[Create42] = Errno.EIO;
        return scenario;
    }

    /// <summary>Makes the removal of the first device the plan removes fail with EBUSY; returns that device's UUID once known.</summary>
    private static Func<string?> FirstRemovalFails(FakeHost host)
    {
        string? uuid = null;
        host.BeforeOperation = operation =>
        {
            if (uuid is null && operation.StartsWith("write bus/mdev/devices/", StringComparison.Ordinal) && operation.EndsWith("/remove 1", StringComparison.Ordinal))
            {
                uuid = operation["write bus/mdev/devices/".Length..^"/remove 1".Length];
                host.FileSystem.FailingWrites[$"bus/mdev/devices/{uuid}/remove"] = Errno.EBUSY;
            }
        };
        return () => uuid;
    }

    [TestMethod]
    public async Task FailedPlan_ListsTheIdleMdevItsDeepestSearchReused_AndNamesTheDeviceAfterIt()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63", "nvidia-64");
        var idle = scenario.Destination.AddMdev(scenario.DestinationType(max: 1));

        await using var result = await scenario.PlanAsync();

        Assert.IsFalse(result.Succeeded);
        var device = result.Best.Devices.Single();
        var sources = scenario.Source.Mdevs.Select(m => m.Uuid.Value).ToArray();
        Assert.AreEqual(sources[0], device.Source.Id);
        Assert.AreEqual(new TargetDeviceInfo(new MdevTarget(idle.Uuid), "pci_0000_41_00_0", "nvidia-63"), device.Target);
        Assert.AreEqual(DeviceAction.Reuse, device.Action);
        Assert.AreEqual(Verification.Verified, device.Verification);
        var notPlaced = $"The mdev {sources[1]} (type nvidia-64) could not be placed on dest: the host has no free device of that type and no parent that can create one (1 rejected; see the rejections).";
        CollectionAssert.AreEqual(new[] { notPlaced }, result.Best.Reasons.ToArray());
        Assert.IsNull(result.Best.DestinationXml);
        Assert.AreEqual("the plan is not complete", result.Best.DestinationXmlNote);
    }

    [TestMethod]
    public async Task UnderAllowTypeMatch_ACandidateThatRefusedTheVersion_IsStillRuledOut()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63");
        scenario.DestinationType().TypeVersion = new FakeVersion("nvidia-vgpu-v2");

        await using var result = await scenario.PlanAsync(new PlanOptions { VerificationPolicy = VerificationPolicy.AllowTypeMatch });

        var source = scenario.Source.Mdevs.Single().Uuid.Value;
        CollectionAssert.AreEqual(new[] { $"The mdev {source} (type nvidia-63) could not be placed on dest: no candidate accepts it (1 rejected; see the rejections)." }, result.Best.Reasons.ToArray());
    }

    [TestMethod]
    public async Task CreateThatFails_ClosesItsSlot_TheDeviceMadeBeforeIsRemoved_AndNotListed()
    {
        var scenario = SecondCreateFails();
        var before = scenario.Destination.Snapshot();

        await using var result = await scenario.PlanAsync();

        Assert.IsFalse(result.Succeeded);
        Assert.IsEmpty(result.Best.Devices, "a created device is never part of a failed plan's partial assignment");
        var second = scenario.Source.Mdevs[1].Uuid.Value;
        var notPlaced = $"The mdev {second} (type nvidia-64) could not be placed on dest: no candidate accepts it (2 rejected; see the rejections).";
        CollectionAssert.AreEqual(new[] { notPlaced }, result.Best.Reasons.ToArray());

        // Each type's other parent does not offer it; then nvidia-64's create on 0000:42:00.0.
        CollectionAssert.AreEqual(new[] { RejectionCode.TypeMismatch, RejectionCode.TypeMismatch, RejectionCode.CreateFailed, RejectionCode.NotPlaced }, result.Best.Rejections.Select(r => r.Code).ToArray());
        Assert.HasCount(1, scenario.DestinationWrites(Create42), "the closed slot is not tried again by a later pass");
        Assert.HasCount(1, scenario.DestinationWrites(Create41), "the first device is made once, and kept across the next search");
        Assert.AreEqual(before, scenario.Destination.Snapshot());
        Assert.AreEqual(0, scenario.Claims.Count);
    }

    [TestMethod]
    public async Task RemovalThatFailsInAFailedPlan_IsAReason_AndItsClaimStays()
    {
        var scenario = SecondCreateFails();
        var failed = FirstRemovalFails(scenario.Destination);

        await using var result = await scenario.PlanAsync();

        Assert.IsFalse(result.Succeeded);
        var uuid = failed();
        Assert.IsNotNull(uuid);
        var failure = result.Best.RemovalFailures.Single();
        Assert.AreEqual(uuid, failure.Uuid.Value);
        Assert.AreEqual($"Could not remove mdev {uuid} on dest: {failure.Message}.", result.Best.Reasons[^1]);
        Assert.HasCount(2, result.Best.Reasons);
        StringAssert.Contains(failure.Message, "EBUSY");
        Assert.AreEqual(1, scenario.Claims.Count, "the device still exists, so its claim stays");
    }

    [TestMethod]
    public async Task CancelledAfterACreate_WhoseRemovalFails_ThrowsRollbackFailed_WithTheCancellationInside()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63");
        scenario.DestinationType();
        var failed = FirstRemovalFails(scenario.Destination);
        var removalFails = scenario.Destination.BeforeOperation!;
        using var cancellation = new CancellationTokenSource();
        scenario.Destination.BeforeOperation = operation =>
        {
            // The created device's own probe: cancel then, with the device on the host.
            if (operation.StartsWith("write bus/mdev/devices/", StringComparison.Ordinal) && operation.Contains("/migration_version ", StringComparison.Ordinal))
            {
                cancellation.Cancel();
            }

            removalFails(operation);
        };

        var error = await Assert.ThrowsExactlyAsync<RollbackFailedException>(() => scenario.PlanAsync(cancellationToken: cancellation.Token));

        Assert.IsInstanceOfType<OperationCanceledException>(error.InnerException);
        var failure = error.Failures.Single();
        Assert.AreEqual(failed(), failure.Uuid.Value);
        Assert.AreEqual("dest", failure.Host);
        Assert.AreEqual(failure.Uuid, scenario.Destination.Mdevs.Single().Uuid, "the device whose removal failed is still there");
        Assert.AreEqual(1, scenario.Claims.Count, "and still claimed");
    }
}
