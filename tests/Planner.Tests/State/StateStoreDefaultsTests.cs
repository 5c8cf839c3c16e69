using VfioMigration.Planner.State;

namespace VfioMigration.Planner.Tests.State;

/// <summary>
/// The interface's default batch methods (<see cref="IPlannerStateStore.ClaimAndIntend"/>,
/// <see cref="IPlannerStateStore.ClaimsOn"/>, <see cref="IPlannerStateStore.TryClaimMany"/>,
/// <see cref="IPlannerStateStore.ReleaseMany"/>), through a store that implements only the one-device
/// methods, with the in-memory registry behind it.
/// </summary>
[TestClass]
public sealed class StateStoreDefaultsTests
{
    private const string Host = "test:///dest.xml";

    [TestMethod]
    public void ClaimAndIntend_ClaimsAndJournalsEachFreeUuid_AndNamesTheHolderOfAnother()
    {
        IPlannerStateStore store = new OneDeviceStore();
        var (plan, other) = (Guid.NewGuid(), Guid.NewGuid());
        const string first = "00000000-0000-4000-8000-000000000011";
        const string held = "00000000-0000-4000-8000-000000000012";
        store.BeginPlan(other, "vm2");
        store.TryClaim(Host, $"mdev:{held}", other);

        var holders = store.ClaimAndIntend([StateStoreContractTests.Entry(plan, first, JournalState.Intent), StateStoreContractTests.Entry(plan, held, JournalState.Intent)]);

        Assert.IsNull(holders[0]);
        Assert.AreEqual(other, holders[1]?.Plan);
        var stored = store.ListPlans().Single(p => p.Id == plan);
        Assert.AreEqual(first, stored.Entries.Single().Uuid.Value);
        Assert.AreEqual(JournalState.Intent, stored.Entries.Single().State);
        Assert.AreEqual($"mdev:{first}", stored.Claims.Single().Value);
    }

    [TestMethod]
    public void TheBatchDefaults_ClaimListAndReleaseAsTheOneDeviceCallsDo()
    {
        IPlannerStateStore store = new OneDeviceStore();
        var (a, b) = (Guid.NewGuid(), Guid.NewGuid());
        store.BeginPlan(a, "vm1");
        Assert.IsNull(store.TryClaim(Host, "pci:0000:41:00.1", a));
        Assert.IsNull(store.TryClaim("test:///other.xml", "pci:0000:41:00.2", a));

        var results = store.TryClaimMany(Host, ["pci:0000:41:00.1", "pci:0000:41:00.3"], b);

        Assert.AreEqual($"plan {a} for guest vm1, process {Environment.ProcessId} (this one)", results[0]?.ToString());
        Assert.IsNull(results[1]);
        Assert.AreEqual("pci:0000:41:00.1", store.ClaimsOn(Host, b).Single().Key);
        Assert.AreEqual(a, store.ClaimsOn(Host, b).Single().Value.Plan);
        Assert.AreEqual("pci:0000:41:00.3", store.ClaimsOn(Host, a).Single().Key);

        store.ReleaseMany(Host, ["pci:0000:41:00.1", "pci:0000:41:00.3"], b);

        Assert.AreEqual("pci:0000:41:00.1", store.ClaimsOn(Host, b).Single().Key, "another plan's claim stays");
        Assert.IsEmpty(store.ClaimsOn(Host, a));
    }
}
