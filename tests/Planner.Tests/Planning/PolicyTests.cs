using VfioMigration.Planner.Tests.Fakes;

namespace VfioMigration.Planner.Tests.Planning;

/// <summary>What happens when nothing can verify: the two policies, and "never compatible without a probe".</summary>
[TestClass]
public sealed class PolicyTests
{
    private static Scenario WithoutAnyAttribute()
    {
        var scenario = new Scenario();
        var type = scenario.SourceType(version: null);
        scenario.Source.DefineGuest("vm1", FakeHost.MdevDevice(0, scenario.Source.AddMdev(type)));
        scenario.DestinationType(typeAttribute: false, deviceAttribute: false);
        return scenario;
    }

    [TestMethod]
    public async Task RequireVerified_RejectsADeviceWithoutVersion_WithTheReason_BeforeTouchingTheDestination()
    {
        var scenario = WithoutAnyAttribute();

        await using var result = await scenario.PlanAsync();

        Assert.IsFalse(result.Succeeded);
        var rejection = result.Best.Rejections.Single();
        Assert.AreEqual(RejectionCode.NotMigratable, rejection.Code);
        StringAssert.Contains(rejection.Message, "the require-verified policy accepts only verified targets (allow-type-match would accept a target of the same type, marked unverified)");
        StringAssert.Contains(rejection.Message, "migration_version does not exist");
        Assert.IsEmpty(scenario.Destination.Operations);
    }

    [TestMethod]
    public async Task AllowTypeMatch_AcceptsTheSameType_AndMarksItUnverified()
    {
        var scenario = WithoutAnyAttribute();

        await using var result = await scenario.PlanAsync(new PlanOptions { VerificationPolicy = VerificationPolicy.AllowTypeMatch });

        Assert.IsTrue(result.Succeeded);
        var device = result.Best.Devices.Single();
        Assert.AreEqual(Verification.Unverified, device.Verification);
        Assert.IsNull(device.DecidedBy);
        StringAssert.Contains(device.Note, "not verified");
        Assert.IsEmpty(scenario.DestinationWrites("migration_version"), "there is no version to write");
    }

    [TestMethod]
    public async Task TargetWithoutAttribute_IsUnverifiable_UnderRequireVerified()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63");
        scenario.DestinationType(typeAttribute: false, deviceAttribute: false);

        await using var result = await scenario.PlanAsync();

        Assert.IsFalse(result.Succeeded);
        var unverifiable = result.Best.Rejections.Single(r => r.Code == RejectionCode.Unverifiable);
        StringAssert.Contains(unverifiable.Message, "the require-verified policy accepts only verified targets (allow-type-match would accept a target of the same type, marked unverified)");
        Assert.IsTrue(result.Best.Created.All(c => c.State == CreatedDeviceState.Removed), "the device created to ask is removed");
        Assert.AreEqual(string.Empty, scenario.Destination.Snapshot().Split('\n').FirstOrDefault(l => l.StartsWith("mdev", StringComparison.Ordinal)) ?? string.Empty);
    }

    [TestMethod]
    public async Task TargetWithoutAttribute_IsAcceptedUnverified_UnderAllowTypeMatch()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63");
        scenario.DestinationType(typeAttribute: false, deviceAttribute: false);

        await using var result = await scenario.PlanAsync(new PlanOptions { VerificationPolicy = VerificationPolicy.AllowTypeMatch });

        Assert.IsTrue(result.Succeeded);
        Assert.AreEqual(Verification.Unverified, result.Best.Devices.Single().Verification);
    }

    [TestMethod]
    public async Task VerifiedCandidate_IsPreferredToAnUnverifiedOne_UnderAllowTypeMatch()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63");
        var silent = scenario.DestinationType(parent: "0000:41:00.0", typeAttribute: false, deviceAttribute: false);
        var speaking = scenario.DestinationType(parent: "0000:42:00.0");
        scenario.Destination.AddMdev(silent);
        var good = scenario.Destination.AddMdev(speaking);

        await using var result = await scenario.PlanAsync(new PlanOptions { VerificationPolicy = VerificationPolicy.AllowTypeMatch });

        var device = result.Best.Devices.Single();
        Assert.AreEqual(good.Uuid.Value, device.Target.Id);
        Assert.AreEqual(Verification.Verified, device.Verification);
    }

    [TestMethod]
    public async Task TypeLevelYesAndNoDeviceAttribute_IsVerifiedByTheTypeProbe()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63");
        scenario.DestinationType(deviceAttribute: false);

        await using var result = await scenario.PlanAsync();

        var device = result.Best.Devices.Single();
        Assert.AreEqual(Verification.Verified, device.Verification);
        Assert.AreEqual(ProbePoint.MdevType, device.DecidedBy!.Point);
    }
}
