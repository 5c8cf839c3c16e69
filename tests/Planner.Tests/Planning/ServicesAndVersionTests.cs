using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using VfioMigration.Planner.Planning;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.Planner.Tests.Planning;

[TestClass]
public sealed class ServicesAndVersionTests
{
    [TestMethod]
    public void AddMigrationPlanner_RegistersOnePlanner_WithTheConfiguredDefaults()
    {
        var services = new ServiceCollection();
        services.AddMigrationPlanner(o => o.VerificationPolicy = VerificationPolicy.AllowTypeMatch);
        using var provider = services.BuildServiceProvider();

        var planner = provider.GetRequiredService<MigrationPlanner>();

        Assert.AreSame(planner, provider.GetRequiredService<MigrationPlanner>());
        Assert.AreEqual(VerificationPolicy.AllowTypeMatch, provider.GetRequiredService<IOptions<PlanOptions>>().Value.VerificationPolicy);
        Assert.AreSame(TargetClaimRegistry.Shared, provider.GetRequiredService<TargetClaimRegistry>());
        Assert.IsInstanceOfType<InMemoryVerdictCache>(provider.GetRequiredService<IVerdictCache>());
    }

    [TestMethod]
    public void InvalidOptions_AreRefusedWithTheOptionNamed()
    {
        var services = new ServiceCollection();
        services.AddMigrationPlanner(o => o.ProbeTimeout = TimeSpan.Zero);
        using var provider = services.BuildServiceProvider();

        var error = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => provider.GetRequiredService<MigrationPlanner>());
        StringAssert.Contains(error.Message, "ProbeTimeout");
    }

    [TestMethod]
    [DataRow("v1\n", true, "v1")]
    [DataRow("v1", true, "v1")]
    [DataRow("v1\n\n", false, "")]
    [DataRow("", false, "")]
    [DataRow("\n", false, "")]
    [DataRow("v\u00e91", false, "")]
    [DataRow("v\t1", false, "")]
    [DataRow("~v 1~\n", true, "~v 1~")]
    [DataRow("v\u007f1", false, "")]
    public void VersionStrings_AreAsciiOnly_WithOneTrailingNewlineStripped(string raw, bool valid, string expected)
    {
        Assert.AreEqual(valid, VersionText.TryNormalize(raw, out var value, out var problem));
        Assert.AreEqual(expected, value);
        Assert.AreEqual(valid, problem.Length == 0);
    }

    [TestMethod]
    public void VersionStrings_LongerThanAPage_AreRefused()
    {
        Assert.IsTrue(VersionText.TryNormalize(new string('a', 4095) + "\n", out _, out _));
        Assert.IsFalse(VersionText.TryNormalize(new string('a', 4097), out _, out var problem));
        StringAssert.Contains(problem, "4096");
    }

    [TestMethod]
    public void AFailedRead_IsInvalid_EvenWhenItCarriesText_AndASuccessWithoutText_IsInvalidToo()
    {
        var path = SysfsPath.Parse("bus/mdev/devices/x/migration_version");

        Assert.AreEqual(
            new SourceVersion(VersionState.Invalid, null, "reading bus/mdev/devices/x/migration_version failed with EIO: the device is not migratable"),
            VersionText.FromRead(new SysfsResult<string>("v1\n", Errno.EIO), path));
        Assert.AreEqual(
            new SourceVersion(VersionState.Invalid, null, "reading bus/mdev/devices/x/migration_version failed with None: the device is not migratable"),
            VersionText.FromRead(new SysfsResult<string>(null, Errno.None), path));
    }

    [TestMethod]
    public void UnreadableAndAbsentVersions_AreTold_Apart()
    {
        var path = SysfsPath.Parse("bus/mdev/devices/x/migration_version");
        Assert.AreEqual(VersionState.Absent, VersionText.FromRead(SysfsResult.Failed<string>(Errno.ENOENT), path).State);
        var unreadable = VersionText.FromRead(SysfsResult.Failed<string>(Errno.EIO), path);
        Assert.AreEqual(VersionState.Invalid, unreadable.State);
        StringAssert.Contains(unreadable.Reason, "EIO");
    }

    [TestMethod]
    public void VerdictCache_ForgetsAfterItsLifetime()
    {
        var time = new FakeTimeProvider();
        var cache = new InMemoryVerdictCache(time);
        var key = new ProbeKey("test:///h", SysfsPath.Parse("a/b"), "v1");
        cache.Store(key, Errno.EINVAL, TimeSpan.FromSeconds(10));

        Assert.IsTrue(cache.TryGet(key, out var verdict));
        Assert.AreEqual(Errno.EINVAL, verdict);
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.IsFalse(cache.TryGet(key, out _));
    }

    [TestMethod]
    public async Task Meter_CountsProbesCreatesAndRemoves()
    {
        var totals = new Dictionary<string, long>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == Diagnostics.PlannerTelemetry.Name)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
        {
            lock (totals)
            {
                totals[instrument.Name] = totals.GetValueOrDefault(instrument.Name) + value;
            }
        });
        listener.Start();
        var scenario = new Fakes.Scenario();
        scenario.Guest("nvidia-63");
        scenario.DestinationType();

        var result = await scenario.PlanAsync();
        await result.DisposeAsync();

        Assert.AreEqual(2, totals.GetValueOrDefault("vfio_migration.planner.probes"), "the type-level probe, then the created device's");
        Assert.AreEqual(1, totals.GetValueOrDefault("vfio_migration.planner.creates"));
        Assert.AreEqual(1, totals.GetValueOrDefault("vfio_migration.planner.removes"), "the release removes the one device");
    }

    [TestMethod]
    public void DomainSelector_TellsUuidsFromNames_AndRefusesControlCharacters()
    {
        Assert.IsTrue(DomainSelector.Parse("4B20D080-1B54-4048-85B3-A6A62D165C01").IsUuid);
        Assert.IsFalse(DomainSelector.Parse("web-1").IsUuid);
        Assert.ThrowsExactly<ArgumentException>(() => DomainSelector.Parse("bad\nname"));
    }
}
