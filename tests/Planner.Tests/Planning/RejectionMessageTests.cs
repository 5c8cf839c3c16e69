using VfioMigration.Planner.Planning;
using VfioMigration.Planner.Sysfs;
using VfioMigration.Planner.Tests.Fakes;

namespace VfioMigration.Planner.Tests.Planning;

/// <summary>
/// The whole text of each rejection and of the reason a device was not placed: what an operator
/// reads is exact, candidate names included (found missing by mutation testing, docs/testing.md).
/// </summary>
[TestClass]
public sealed class RejectionMessageTests
{
    private const string Parent = "pci_0000_41_00_0";

    [TestMethod]
    public async Task ParentWithoutTheType_NamesWhatItOffers_AndTheDeviceIsNotPlaced_WithTheCountOfItsRejections()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63");
        scenario.DestinationType(id: "nvidia-64");
        scenario.DestinationType(id: "nvidia-65");

        await using var result = await scenario.PlanAsync();

        Assert.IsFalse(result.Succeeded);
        var rejections = result.Best.Rejections;
        var source = rejections[0].Source;
        Assert.HasCount(2, rejections);
        Assert.AreEqual(new Rejection(source, Parent, RejectionCode.TypeMismatch, $"Parent {Parent} does not offer type nvidia-63 (it offers nvidia-64, nvidia-65)."), rejections[0]);
        var notPlaced = $"The mdev {source} (type nvidia-63) could not be placed on dest: the host has no free device of that type and no parent that can create one (1 rejected; see the rejections).";
        Assert.AreEqual(new Rejection(source, null, RejectionCode.NotPlaced, notPlaced), rejections[1]);
        CollectionAssert.AreEqual(new[] { notPlaced }, result.Best.Reasons.ToArray());
    }

    [TestMethod]
    [DataRow("vfio-ccw", 4, RejectionCode.TypeMismatch, $"Type nvidia-63 on {Parent} has device API vfio-ccw, the source has vfio-pci; rule 0 requires both to match.")]
    [DataRow("vfio-pci", 0, RejectionCode.NoCapacity, $"Parent {Parent} can create no more nvidia-63 instances (available_instances is 0).")]
    public async Task TypeThatCannotServeTheDevice_IsRejectedAsParentSlashType_WithWhy(string api, int max, RejectionCode code, string message)
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63");
        scenario.DestinationType(api: api, max: max);

        await using var result = await scenario.PlanAsync();

        var rejection = result.Best.Rejections[0];
        Assert.AreEqual(new Rejection(rejection.Source, $"{Parent}/nvidia-63", code, message), rejection);
    }

    [TestMethod]
    public async Task TypeThatRefusesTheVersion_IsNamedCapitalised_AndNoCandidateAcceptsTheDevice()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63");
        var type = scenario.DestinationType();
        type.TypeVersion = new FakeVersion("nvidia-vgpu-v2");

        await using var result = await scenario.PlanAsync();

        Assert.IsFalse(result.Succeeded);
        var rejections = result.Best.Rejections;
        var source = rejections[0].Source;
        Assert.HasCount(2, rejections);
        var path = $"class/mdev_bus/0000:41:00.0/mdev_supported_types/nvidia-63/migration_version";
        Assert.AreEqual(new Rejection(source, $"{Parent}/nvidia-63", RejectionCode.VersionRejected, $"Type nvidia-63 on {Parent} refused the source's migration version: writing it to {path} failed with EINVAL, so the vendor driver says this device's state cannot be loaded there.", Errno.EINVAL), rejections[0]);
        Assert.AreEqual(new Rejection(source, null, RejectionCode.NotPlaced, $"The mdev {source} (type nvidia-63) could not be placed on dest: no candidate accepts it (1 rejected; see the rejections)."), rejections[1]);
    }

    [TestMethod]
    public async Task IdleMdevWithoutADeviceAttribute_IsUnverifiedWithTheReason_OrRefusedUnderRequireVerified()
    {
        var scenario = new Scenario();
        scenario.Guest("nvidia-63");
        var idle = scenario.Destination.AddMdev(scenario.DestinationType(max: 1, deviceAttribute: false));
        var path = $"bus/mdev/devices/{idle.Uuid}/migration_version";

        await using (var allowed = await scenario.PlanAsync(new PlanOptions { VerificationPolicy = VerificationPolicy.AllowTypeMatch }))
        {
            var device = allowed.Best.Devices.Single();
            Assert.AreEqual(Verification.Unverified, device.Verification);
            Assert.IsNull(device.DecidedBy, "an unverified reuse was decided by no probe");
            Assert.AreEqual($"not verified: {path} does not exist on dest, so the target cannot say whether it accepts the source version", device.Note);
            Assert.AreEqual(RejectionCode.NoCapacity, allowed.Best.Rejections.Single().Code, "the idle mdev is the type's only instance");
        }

        await using var required = await scenario.PlanAsync(new PlanOptions { VerificationPolicy = VerificationPolicy.RequireVerified });
        var rejection = required.Best.Rejections.Single(r => r.Code == RejectionCode.Unverifiable);
        Assert.AreEqual(new Rejection(rejection.Source, idle.Uuid.Value, RejectionCode.Unverifiable, $"{idle.Uuid} is of the right type but has no migration_version attribute, so nothing can verify it, and the require-verified policy accepts only verified targets (allow-type-match would accept a target of the same type, marked unverified)."), rejection);
        Assert.AreEqual($"The mdev {rejection.Source} (type nvidia-63) could not be placed on dest: no candidate accepts it (2 rejected; see the rejections).", required.Best.Reasons.Single(), "the unverified idle mdev is no accepted candidate under require-verified");
    }

    [TestMethod]
    [DataRow(false, true, "the source device has no version to write")]
    [DataRow(true, false, "bus/mdev/devices/{0}/migration_version does not exist")]
    public async Task CrossTypeTargetWithoutBothVersions_IsUnverifiable_WithWhy(bool sourceVersion, bool targetVersion, string why)
    {
        var scenario = new Scenario();
        scenario.SourceType(version: sourceVersion ? Scenario.Version : null);
        scenario.Guest("nvidia-63");
        var idle = scenario.Destination.AddMdev(scenario.DestinationType(id: "nvidia-64", max: 1), targetVersion ? new FakeVersion(Scenario.Version) : null);
        idle.Version = targetVersion ? idle.Version : null;

        await using var result = await scenario.PlanAsync(new PlanOptions { AllowCrossType = true, VerificationPolicy = VerificationPolicy.AllowTypeMatch });

        Assert.IsFalse(result.Succeeded);
        var rejection = result.Best.Rejections.Single(r => r.Code == RejectionCode.Unverifiable);
        Assert.AreEqual(new Rejection(rejection.Source, idle.Uuid.Value, RejectionCode.Unverifiable, $"A cross-type target is accepted only when the target's own migration version attribute accepts the source version, and {string.Format(System.Globalization.CultureInfo.InvariantCulture, why, idle.Uuid)}."), rejection);
    }

    [TestMethod]
    public async Task SourceWithoutAVersion_IsReusedUnverified_WithWhyInTheNote_OrRefusedUpFrontUnderRequireVerified()
    {
        var scenario = new Scenario();
        scenario.SourceType(version: null);
        scenario.Guest("nvidia-63");
        var idle = scenario.Destination.AddMdev(scenario.DestinationType(max: 1));
        var sourceUuid = scenario.Source.Mdevs.Single().Uuid;
        var reason = $"bus/mdev/devices/{sourceUuid}/migration_version does not exist: the device does not say it can migrate";

        await using (var allowed = await scenario.PlanAsync(new PlanOptions { VerificationPolicy = VerificationPolicy.AllowTypeMatch }))
        {
            Assert.IsTrue(allowed.Succeeded, string.Join("\n", allowed.Best.Reasons));
            var device = allowed.Best.Devices.Single();
            Assert.AreEqual(idle.Uuid.Value, device.Target.Id);
            Assert.AreEqual(Verification.Unverified, device.Verification);
            Assert.AreEqual($"not verified: {reason}", device.Note);
            Assert.IsEmpty(scenario.DestinationWrites("migration_version"), "a source without a version writes nothing");
        }

        await using var required = await scenario.PlanAsync(new PlanOptions { VerificationPolicy = VerificationPolicy.RequireVerified });
        var rejection = required.Best.Rejections.Single();
        Assert.AreEqual(new Rejection(sourceUuid.Value, null, RejectionCode.NotMigratable, $"The source device {sourceUuid} has no version to verify a target with ({reason}), {CandidateEvaluator.RequireVerifiedRefusal}."), rejection);
        CollectionAssert.AreEqual(new[] { rejection.Message }, required.Best.Reasons.ToArray());
    }

    [TestMethod]
    public void RejectionRecordedTwice_IsListedAndCountedOnce()
    {
        var log = new RejectionLog("dest", Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        var first = new Rejection("a", "c", RejectionCode.InUse, "first");

        log.Add(first);
        log.Add(first with { Message = "again" });
        log.Add(first with { Code = RejectionCode.TypeMismatch });
        log.Add(first with { Source = "b" });

        CollectionAssert.AreEqual(new[] { first, first with { Code = RejectionCode.TypeMismatch }, first with { Source = "b" } }, log.Items.ToArray());
        Assert.AreEqual(2, log.CountFor("a"));
    }
}
