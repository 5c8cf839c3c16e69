using VfioMigration.Planner;
using VfioMigration.Planner.Evacuation;
using VfioMigration.Remote.Tests.Harness;

namespace VfioMigration.Remote.Tests;

/// <summary>Evacuating a host whose hosts are reached only through SSH and remote libvirt, as from a management node.</summary>
[TestClass]
public sealed class EvacuateOverSshTests
{
    [TestMethod]
    public async Task An_evacuation_over_ssh_places_the_guests_the_local_one_places_and_leaves_nothing_behind()
    {
        using var ssh = SshServer.Start();
        using var source = SimulatedRemoteHost.Start("nvidia");
        using var first = SimulatedRemoteHost.Start("nvidia");
        using var second = SimulatedRemoteHost.Start("demo-dest-b");
        var evacuator = new HostEvacuator(new MigrationPlanner());

        List<string> placedLocally;
        await using (var local = await evacuator.EvacuateAsync(new EvacuationRequest(source.Local(), [first.Local(), second.Local()])))
        {
            placedLocally = Placed(local);
        }

        using var remoteSource = source.Remote(ssh).Connect(readOnly: true);
        using var remoteFirst = first.Remote(ssh).Connect();
        using var remoteSecond = second.Remote(ssh).Connect();
        await using (var remote = await evacuator.EvacuateAsync(new EvacuationRequest(remoteSource.Host, [remoteFirst.Host, remoteSecond.Host])))
        {
            Assert.HasCount(3, remote.Guests, "nvidia.json defines three guests with host devices");
            CollectionAssert.AreEqual(placedLocally, Placed(remote));
            var created = remote.Guests.SelectMany(g => g.Plan.Best.Created).ToList();
            Assert.IsNotEmpty(created);
            Assert.AreEqual(
                created.Count,
                PlanOverSshTests.Leftovers(first) + PlanOverSshTests.Leftovers(second),
                "the devices the plans hold are on the destinations, and nothing else is");
        }

        Assert.AreEqual(0, PlanOverSshTests.Leftovers(first) + PlanOverSshTests.Leftovers(second), "disposing the undecided evacuation removed every device it created");
        foreach (var host in (RemoteHosts.ConnectedHost[])[remoteSource, remoteFirst, remoteSecond])
        {
            Assert.AreEqual(1, host.RemoteFileSystem!.Connections, $"one SSH connection to {host.Host.Name} for the whole evacuation");
        }
    }

    /// <summary>The guests that got a complete plan, by name.</summary>
    private static List<string> Placed(EvacuationResult result) =>
        [.. result.Guests.Where(g => g.Succeeded).Select(g => g.Guest.Value).Order(StringComparer.Ordinal)];
}
