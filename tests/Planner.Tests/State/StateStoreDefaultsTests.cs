using VfioMigration.Planner.State;

namespace VfioMigration.Planner.Tests.State;

/// <summary>
/// The interface's default batch methods (<see cref="IPlannerStateStore.ClaimAndIntendAsync"/>,
/// <see cref="IPlannerStateStore.ClaimsOnAsync"/>, <see cref="IPlannerStateStore.TryClaimManyAsync"/>,
/// <see cref="IPlannerStateStore.ReleaseManyAsync"/>), through a store that implements only the one-device
/// methods, with the in-memory registry behind it.
/// </summary>
[TestClass]
public sealed class StateStoreDefaultsTests
{
    private const string Host = "test:///dest.xml";

    [TestMethod]
    public async Task ClaimAndIntend_ClaimsAndJournalsEachFreeUuid_AndNamesTheHolderOfAnother()
    {
        IPlannerStateStore store = new OneDeviceStore();
        var (plan, other) = (Guid.NewGuid(), Guid.NewGuid());
        const string first = "00000000-0000-4000-8000-000000000011";
        const string held = "00000000-0000-4000-8000-000000000012";
        store.BeginPlan(other, "vm2");
        await store.TryClaimAsync(Host, $"mdev:{held}", other);

        var holders = await store.ClaimAndIntendAsync([StateStoreContractTests.Entry(plan, first, JournalState.Intent), StateStoreContractTests.Entry(plan, held, JournalState.Intent)]);

        Assert.IsNull(holders[0]);
        Assert.AreEqual(other, holders[1]?.Plan);
        var stored = (await store.ListPlansAsync()).Single(p => p.Id == plan);
        Assert.AreEqual(first, stored.Entries.Single().Uuid.Value);
        Assert.AreEqual(JournalState.Intent, stored.Entries.Single().State);
        Assert.AreEqual($"mdev:{first}", stored.Claims.Single().Value);
    }

    [TestMethod]
    public async Task TheBatchDefaults_ClaimListAndReleaseAsTheOneDeviceCallsDo()
    {
        IPlannerStateStore store = new OneDeviceStore();
        var (a, b) = (Guid.NewGuid(), Guid.NewGuid());
        store.BeginPlan(a, "vm1");
        Assert.IsNull(await store.TryClaimAsync(Host, "pci:0000:41:00.1", a));
        Assert.IsNull(await store.TryClaimAsync("test:///other.xml", "pci:0000:41:00.2", a));

        var results = await store.TryClaimManyAsync(Host, ["pci:0000:41:00.1", "pci:0000:41:00.3"], b);

        Assert.AreEqual($"plan {a} for guest vm1, process {Environment.ProcessId} (this one)", results[0]?.ToString());
        Assert.IsNull(results[1]);
        Assert.AreEqual("pci:0000:41:00.1", (await store.ClaimsOnAsync(Host, b)).Single().Key);
        Assert.AreEqual(a, (await store.ClaimsOnAsync(Host, b)).Single().Value.Plan);
        Assert.AreEqual("pci:0000:41:00.3", (await store.ClaimsOnAsync(Host, a)).Single().Key);

        await store.ReleaseManyAsync(Host, ["pci:0000:41:00.1", "pci:0000:41:00.3"], b);

        Assert.AreEqual("pci:0000:41:00.1", (await store.ClaimsOnAsync(Host, b)).Single().Key, "another plan's claim stays");
        Assert.IsEmpty(await store.ClaimsOnAsync(Host, a));
    }
}
