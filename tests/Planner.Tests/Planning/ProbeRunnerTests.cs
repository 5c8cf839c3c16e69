using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Planning;
using VfioMigration.Planner.Sysfs;
using VfioMigration.Planner.Tests.Fakes;

namespace VfioMigration.Planner.Tests.Planning;

/// <summary>
/// The probe runner on its own: each (attribute, version) written once per plan and how the later
/// calls are counted, what each answer becomes, what the verdict cache keeps, the driver's reason as
/// it may be shown, and the parent's write and ask.
/// </summary>
[TestClass]
public sealed class ProbeRunnerTests
{
    private const string Version = "v1";
    private static readonly SysfsPath TypePath = SysfsPath.Parse("class/mdev_bus/0000:41:00.0/mdev_supported_types/nvidia-63/migration_version");
    private static readonly SysfsPath QueryPath = SysfsPath.Parse("class/mdev_bus/0000:41:00.0/migration_query");

    private readonly FakeHost _fake = new("dest");
    private readonly PlanCounters _counters = new();
    private readonly InMemoryVerdictCache _cache = new();
    private readonly PlanOptions _options = new();
    private readonly FakeLogger _logger = new();
    private readonly FakeType _type;

    public ProbeRunnerTests()
    {
        _type = _fake.AddParent("0000:41:00.0").AddType("nvidia-63", typeVersion: new FakeVersion(Version) { RejectWith = Errno.ENODEV });
    }

    private ProbeRunner Runner(TimeProvider? time = null) => new(_fake.ToHost(), _options, _cache, time ?? TimeProvider.System, _counters, _logger);

    private ProbeKey Key(SysfsPath path, string version = Version) => new(_fake.Hypervisor.Uri, path, version);

    private int Writes(SysfsPath path) => _fake.Writes().Count(w => w.StartsWith($"write {path} ", StringComparison.Ordinal));

    [TestMethod]
    public async Task AProbe_IsWrittenOncePerPathAndVersion_EveryLaterCallCountsAHit()
    {
        var runner = Runner();

        var first = await runner.ProbeAsync(ProbePoint.MdevType, TypePath, Version, CancellationToken.None);
        var second = await runner.ProbeAsync(ProbePoint.MdevType, TypePath, Version, CancellationToken.None);
        await runner.ProbeAsync(ProbePoint.MdevType, TypePath, Version, CancellationToken.None);

        Assert.AreSame(first, second);
        Assert.AreEqual(new ProbeResult(ProbeOutcome.Accepted, new ProbeRecord(ProbePoint.MdevType, TypePath, Errno.None, false), null), first);
        Assert.AreEqual(1, Writes(TypePath));
        Assert.AreEqual((1, 2), (_counters.Snapshot().Probes, _counters.Snapshot().ProbeCacheHits));

        var other = await runner.ProbeAsync(ProbePoint.MdevType, TypePath, "v2", CancellationToken.None);
        Assert.AreEqual(ProbeOutcome.Rejected, other.Outcome, "another version is another probe");
        Assert.AreEqual(2, Writes(TypePath));
        Assert.AreEqual((2, 2), (_counters.Snapshot().Probes, _counters.Snapshot().ProbeCacheHits));
    }

    [TestMethod]
    public async Task APrefetch_CountsNoHit_NorDoesTheFirstCallAfterIt_ThatStandsForIt()
    {
        var runner = Runner();

        await runner.ProbeAsync(ProbePoint.MdevType, TypePath, Version, CancellationToken.None, prefetch: true);
        await runner.ProbeAsync(ProbePoint.MdevType, TypePath, Version, CancellationToken.None, prefetch: true);
        Assert.AreEqual(0, _counters.Snapshot().ProbeCacheHits, "prefetches count no hits");
        await runner.ProbeAsync(ProbePoint.MdevType, TypePath, Version, CancellationToken.None);
        Assert.AreEqual(0, _counters.Snapshot().ProbeCacheHits, "the first ordinary call uses the prefetched probe");
        await runner.ProbeAsync(ProbePoint.MdevType, TypePath, Version, CancellationToken.None, prefetch: true);
        Assert.AreEqual(0, _counters.Snapshot().ProbeCacheHits);
        await runner.ProbeAsync(ProbePoint.MdevType, TypePath, Version, CancellationToken.None);
        Assert.AreEqual(1, _counters.Snapshot().ProbeCacheHits);

        Assert.AreEqual(1, Writes(TypePath));
        Assert.AreEqual(1, _counters.Snapshot().Probes);
    }

    [TestMethod]
    public async Task EachAnswer_BecomesItsOutcome_AndOnlyARefusalCarriesTheDriversReason()
    {
        var runner = Runner();
        var absent = SysfsPath.Parse("bus/mdev/devices/00000000-0000-4000-8000-000000000001/migration_version");
        var refused = SysfsPath.Parse("class/mdev_bus/0000:41:00.0/mdev_supported_types/nvidia-64/migration_version");
        var accepted = SysfsPath.Parse("class/mdev_bus/0000:41:00.0/mdev_supported_types/nvidia-65/migration_version");
        _fake.FileSystem.Answers[refused.Value] = new SysfsExchange(Errno.EINVAL, null, "\u001b[31mversion\ttoo old\u00e9\nsecond line");
        _fake.FileSystem.Answers[accepted.Value] = new SysfsExchange(Errno.None, null, "fine");

        Assert.AreEqual(new ProbeResult(ProbeOutcome.Absent, new ProbeRecord(ProbePoint.MdevDevice, absent, Errno.ENOENT, false), null), await runner.ProbeAsync(ProbePoint.MdevDevice, absent, Version, CancellationToken.None));
        Assert.AreEqual(new ProbeResult(ProbeOutcome.Rejected, new ProbeRecord(ProbePoint.MdevType, refused, Errno.EINVAL, false), null, "[31mversiontoo old"), await runner.ProbeAsync(ProbePoint.MdevType, refused, Version, CancellationToken.None));
        Assert.AreEqual(new ProbeResult(ProbeOutcome.Accepted, new ProbeRecord(ProbePoint.MdevType, accepted, Errno.None, false), null), await runner.ProbeAsync(ProbePoint.MdevType, accepted, Version, CancellationToken.None));
        Assert.AreEqual(3, _counters.Snapshot().Probes);
        CollectionAssert.AreEqual(new[] { $"Probe {absent} on dest: ENOENT", $"Probe {refused} on dest: EINVAL", $"Probe {accepted} on dest: None" }, _logger.Collector.GetSnapshot().Select(r => r.Message).ToArray());
    }

    [TestMethod]
    [DataRow("\u0007\u001b\u00e9\nvisible on the next line", null)]
    [DataRow("", null)]
    [DataRow(" ~", " ~")]
    [DataRow("r", "r")]
    public async Task TheDriversReason_IsItsFirstLine_PrintableAsciiOnly(string raw, string? shown)
    {
        _fake.FileSystem.Answers[TypePath.Value] = new SysfsExchange(Errno.EINVAL, null, raw);

        var probe = await Runner().ProbeAsync(ProbePoint.MdevType, TypePath, Version, CancellationToken.None);

        Assert.AreEqual(shown, probe.Reason);
    }

    [TestMethod]
    public async Task TheDriversReason_IsCutTo200Characters()
    {
        _fake.FileSystem.Answers[TypePath.Value] = new SysfsExchange(Errno.EINVAL, null, new string('r', 201) + "\n");

        var probe = await Runner().ProbeAsync(ProbePoint.MdevType, TypePath, Version, CancellationToken.None);

        Assert.AreEqual(new string('r', 200), probe.Reason);
    }

    [TestMethod]
    public async Task ARefusalWithoutAReason_HasNone()
    {
        var probe = await Runner().ProbeAsync(ProbePoint.MdevType, TypePath, "v9", CancellationToken.None);

        Assert.AreEqual(new ProbeResult(ProbeOutcome.Rejected, new ProbeRecord(ProbePoint.MdevType, TypePath, Errno.ENODEV, false), null), probe);
    }

    [TestMethod]
    public async Task AHostThatCannotBeAsked_IsFailed_WithItsMessage_AndNotCached()
    {
        _options.VerdictCacheLifetime = TimeSpan.FromMinutes(5);
        _fake.FileSystem.ThrowingWrites.Add(TypePath.Value);

        var probe = await Runner().ProbeAsync(ProbePoint.MdevType, TypePath, Version, CancellationToken.None);

        Assert.AreEqual(new ProbeResult(ProbeOutcome.Failed, new ProbeRecord(ProbePoint.MdevType, TypePath, Errno.EIO, false), "ssh: connection to dest lost"), probe);
        Assert.AreEqual(0, _cache.Count);
        Assert.AreEqual(1, _counters.Snapshot().Probes);
    }

    [TestMethod]
    public async Task AProbeWithoutAnAnswer_IsTimedOutAfterTheBound_AndNotCached()
    {
        var time = new FakeTimeProvider();
        _options.ProbeTimeout = TimeSpan.FromMilliseconds(2500);
        _options.VerdictCacheLifetime = TimeSpan.FromMinutes(5);
        _fake.FileSystem.HangingWrites.Add(TypePath.Value);

        var probing = Runner(time).ProbeAsync(ProbePoint.MdevType, TypePath, Version, CancellationToken.None);
        await _fake.FileSystem.HangStarted.Task;
        for (var i = 0; i < 1000 && !probing.IsCompleted; i++)
        {
            time.Advance(TimeSpan.FromMilliseconds(2500));
            await Task.Delay(1);
        }

        Assert.AreEqual(new ProbeResult(ProbeOutcome.TimedOut, new ProbeRecord(ProbePoint.MdevType, TypePath, Errno.ETIMEDOUT, false), "no answer within 2.5 s"), await probing);
        Assert.AreEqual(0, _cache.Count);
        await _fake.FileSystem.HangCancelled.Task.WaitAsync(TimeSpan.FromSeconds(30));
        CollectionAssert.AreEqual(new[] { $"Probe {TypePath} on dest did not answer within 00:00:02.5000000; counted as unknown" }, _logger.Collector.GetSnapshot().Select(r => r.Message).ToArray());
    }

    [TestMethod]
    public async Task ACancelledProbe_Throws_AndACancelledCallNeitherWritesNorIsRemembered()
    {
        _fake.FileSystem.HangingWrites.Add(TypePath.Value);
        using var cancel = new CancellationTokenSource();
        var runner = Runner();

        var probing = runner.ProbeAsync(ProbePoint.MdevType, TypePath, Version, cancel.Token);
        await _fake.FileSystem.HangStarted.Task;
        await cancel.CancelAsync();

        await Assert.ThrowsAsync<OperationCanceledException>(() => probing);
        await Assert.ThrowsAsync<OperationCanceledException>(() => runner.ProbeAsync(ProbePoint.MdevType, QueryPath, Version, cancel.Token));
        await Assert.ThrowsAsync<OperationCanceledException>(() => runner.ProbeCreatedAsync(QueryPath, Version, cancel.Token));
        await Assert.ThrowsAsync<OperationCanceledException>(() => runner.AskAsync(QueryPath, Version, cancel.Token));
        Assert.AreEqual(1, _counters.Snapshot().Probes, "only the probe that hung was made");

        Assert.AreEqual(ProbeOutcome.Absent, (await runner.ProbeAsync(ProbePoint.MdevType, QueryPath, Version, CancellationToken.None)).Outcome, "the cancelled call left nothing behind for the next");
        Assert.IsNull(await runner.AskAsync(QueryPath, Version, CancellationToken.None), "the cancelled question left nothing behind for the next");
        Assert.AreEqual(2, Writes(QueryPath));
    }

    [TestMethod]
    public async Task DefiniteVerdicts_AreCachedAcrossPlans_WhenAsked_AndACachedOneIsNotWritten()
    {
        _options.VerdictCacheLifetime = TimeSpan.FromMinutes(5);
        var absent = SysfsPath.Parse("bus/mdev/devices/00000000-0000-4000-8000-000000000001/migration_version");
        var first = Runner();
        await first.ProbeAsync(ProbePoint.MdevType, TypePath, Version, CancellationToken.None);
        await first.ProbeAsync(ProbePoint.MdevType, TypePath, "v2", CancellationToken.None);
        await first.ProbeAsync(ProbePoint.MdevDevice, absent, Version, CancellationToken.None);

        Assert.IsTrue(_cache.TryGet(Key(TypePath), out var accepted) && accepted == Errno.None);
        Assert.IsTrue(_cache.TryGet(Key(TypePath, "v2"), out var refused) && refused == Errno.ENODEV);
        Assert.IsTrue(_cache.TryGet(Key(absent), out var missing) && missing == Errno.ENOENT);

        var second = await Runner().ProbeAsync(ProbePoint.MdevType, TypePath, "v2", CancellationToken.None);

        Assert.AreEqual(new ProbeResult(ProbeOutcome.Rejected, new ProbeRecord(ProbePoint.MdevType, TypePath, Errno.ENODEV, true), null), second);
        Assert.AreEqual(2, Writes(TypePath), "the second plan took the cached verdict");
        Assert.AreEqual((3, 1), (_counters.Snapshot().Probes, _counters.Snapshot().ProbeCacheHits));
    }

    [TestMethod]
    public async Task WithoutTheOption_TheCacheIsNeitherReadNorWritten()
    {
        _cache.Store(Key(TypePath), Errno.ENODEV, TimeSpan.FromMinutes(5));

        var probe = await Runner().ProbeAsync(ProbePoint.MdevType, TypePath, Version, CancellationToken.None);

        Assert.AreEqual(ProbeOutcome.Accepted, probe.Outcome);
        Assert.AreEqual(1, Writes(TypePath));
        Assert.AreEqual(1, _cache.Count);
        Assert.IsTrue(_cache.TryGet(Key(TypePath), out var kept) && kept == Errno.ENODEV, "not overwritten");
        Assert.AreEqual(0, _counters.Snapshot().ProbeCacheHits);
    }

    [TestMethod]
    public async Task ACreatedDevice_IsProbedAfreshEveryTime_AndNeverCached()
    {
        _options.VerdictCacheLifetime = TimeSpan.FromMinutes(5);
        var mdev = _fake.AddMdev(_type, new FakeVersion(Version));
        var path = SysfsPath.MdevAttribute(mdev.Uuid, "migration_version");
        var runner = Runner();

        var first = await runner.ProbeCreatedAsync(path, Version, CancellationToken.None);
        var second = await runner.ProbeCreatedAsync(path, Version, CancellationToken.None, ProbePoint.PciDevice);

        Assert.AreEqual(new ProbeResult(ProbeOutcome.Accepted, new ProbeRecord(ProbePoint.MdevDevice, path, Errno.None, false), null), first);
        Assert.AreEqual(ProbePoint.PciDevice, second.Record.Point);
        Assert.AreEqual(2, Writes(path));
        Assert.AreEqual(0, _cache.Count);
        Assert.AreEqual((2, 0), (_counters.Snapshot().Probes, _counters.Snapshot().ProbeCacheHits));
    }

    [TestMethod]
    public async Task Ask_IsAskedOncePerParentAndVersion_AndItsAnswerKeepsOnlyValidLines()
    {
        var listed = MdevUuid.Parse("00000000-0000-4000-8000-0000000000aa");
        _fake.FileSystem.Answers[QueryPath.Value] = new SysfsExchange(Errno.None, $"mdev {listed}\nmdev not-a-uuid\ntype nvidia-63\ntype nvidia 64\nnoise\ngpu nvidia-65\n\ntype bad/type\n", null);
        var runner = Runner();

        var answer = await runner.AskAsync(QueryPath, Version, CancellationToken.None);
        var again = await runner.AskAsync(QueryPath, Version, CancellationToken.None);

        Assert.AreSame(answer, again);
        Assert.AreEqual(new ProbeRecord(ProbePoint.ParentQuery, QueryPath, Errno.None, false), answer!.Record);
        CollectionAssert.AreEqual(new[] { listed }, answer.Mdevs.ToArray());
        CollectionAssert.AreEqual(new[] { MdevTypeId.Parse("nvidia-63") }, answer.Types.ToArray());
        Assert.IsNull(answer.Reason);
        Assert.AreEqual(1, Writes(QueryPath));
        Assert.AreEqual(1, _counters.Snapshot().Probes);
        Assert.IsNotNull(await runner.AskAsync(QueryPath, "v2", CancellationToken.None));
        Assert.AreEqual(2, Writes(QueryPath), "another version is another question");
    }

    [TestMethod]
    public async Task Ask_ThatFails_KeepsTheErrnoAndTheCheckedReason()
    {
        _fake.FileSystem.Answers[QueryPath.Value] = new SysfsExchange(Errno.EINVAL, null, "bad\u0007 version\nmore");

        var answer = await Runner().AskAsync(QueryPath, Version, CancellationToken.None);

        Assert.AreEqual(new ProbeRecord(ProbePoint.ParentQuery, QueryPath, Errno.EINVAL, false), answer!.Record);
        Assert.IsEmpty(answer.Mdevs);
        Assert.IsEmpty(answer.Types);
        Assert.AreEqual("bad version", answer.Reason);
    }

    [TestMethod]
    public async Task Ask_ThatSaysNothing_IsNoAnswer_ButCostsAProbe()
    {
        _fake.FileSystem.Answers[QueryPath.Value] = new SysfsExchange(Errno.None, null, null);

        Assert.IsNull(await Runner().AskAsync(QueryPath, Version, CancellationToken.None));

        Assert.AreEqual(1, _counters.Snapshot().Probes);
    }

    [TestMethod]
    public async Task Ask_WithOnlyAReason_IsAnAnswerThatListsNothing()
    {
        _fake.FileSystem.Answers[QueryPath.Value] = new SysfsExchange(Errno.None, null, "no room");

        var answer = await Runner().AskAsync(QueryPath, Version, CancellationToken.None);

        Assert.AreEqual("no room", answer!.Reason);
        Assert.IsEmpty(answer.Types);
    }

    [TestMethod]
    public async Task Ask_OfAParentWithoutTheAttribute_IsNoAnswer_AndCostsNoProbe()
    {
        Assert.IsNull(await Runner().AskAsync(QueryPath, Version, CancellationToken.None));

        Assert.AreEqual(1, Writes(QueryPath));
        Assert.AreEqual(0, _counters.Snapshot().Probes);
    }

    [TestMethod]
    public async Task Ask_OfAHostThatCannotBeReached_IsNoAnswer_AndCostsNoProbe()
    {
        _fake.FileSystem.ThrowingWrites.Add(QueryPath.Value);

        Assert.IsNull(await Runner().AskAsync(QueryPath, Version, CancellationToken.None));

        Assert.AreEqual(0, _counters.Snapshot().Probes);
    }

    [TestMethod]
    public async Task Ask_WithoutAnAnswerInTime_IsNoAnswer()
    {
        var time = new FakeTimeProvider();
        _options.ProbeTimeout = TimeSpan.FromSeconds(1);
        _fake.FileSystem.HangingWrites.Add(QueryPath.Value);

        var asking = Runner(time).AskAsync(QueryPath, Version, CancellationToken.None);
        await _fake.FileSystem.HangStarted.Task;
        for (var i = 0; i < 1000 && !asking.IsCompleted; i++)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            await Task.Delay(1);
        }

        Assert.IsNull(await asking);
        Assert.AreEqual(1, _counters.Snapshot().Probes, "the question was written");
    }
}
