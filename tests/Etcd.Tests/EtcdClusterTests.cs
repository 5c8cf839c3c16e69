using VfioMigration.Planner.State;
using VfioMigration.Planner.Tests.State;

namespace VfioMigration.Etcd.Tests;

/// <summary>A 3-member etcd cluster on loopback: one member is killed mid-test, and claims and the journal go on through the other two.</summary>
[TestClass]
public sealed class EtcdClusterTests
{
    private const string Host = "test:///dest.xml";

    [TestMethod]
    public async Task ThreeMembers_OneKilledMidTest_ClaimsAndTheJournalStillWork()
    {
        using var cluster = TestEtcd.Start(3);
        using var first = cluster.Open("/cluster/");
        using var second = cluster.Open("/cluster/");
        var (a, b) = (Guid.NewGuid(), Guid.NewGuid());
        const string made = "00000000-0000-4000-8000-000000000009";
        first.BeginPlan(a, "vm1");
        second.BeginPlan(b, "vm2");
        Assert.IsNull(await first.TryClaimAsync(Host, "pci:0000:41:00.0", a));
        Assert.AreEqual(a, (await second.TryClaimAsync(Host, "pci:0000:41:00.0", b))?.Plan);

        cluster.Stop(0);

        Assert.IsNull(await first.TryClaimAsync(Host, $"mdev:{made}", a));
        await first.JournalAsync(StateStoreContractTests.Entry(a, made, JournalState.Intent));
        Assert.AreEqual(a, (await second.TryClaimAsync(Host, $"mdev:{made}", b))?.Plan, "two members are a quorum: the claim holds");
        await first.ReleaseAsync(Host, "pci:0000:41:00.0", a);
        Assert.IsNull(await second.TryClaimAsync(Host, "pci:0000:41:00.0", b));

        var plans = await second.ListPlansAsync();
        Assert.AreEqual(JournalState.Intent, plans.Single(p => p.Id == a).Entries.Single().State);
        CollectionAssert.AreEqual(new[] { KeyValuePair.Create(Host, $"mdev:{made}") }, plans.Single(p => p.Id == a).Claims.ToList());
        CollectionAssert.AreEqual(new[] { KeyValuePair.Create(Host, "pci:0000:41:00.0") }, plans.Single(p => p.Id == b).Claims.ToList());
    }
}
