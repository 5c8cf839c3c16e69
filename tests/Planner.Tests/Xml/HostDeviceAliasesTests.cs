using VfioMigration.Planner.Xml;

namespace VfioMigration.Planner.Tests.Xml;

/// <summary>The aliases libvirt's QEMU driver gives host devices at start, worked out from an XML that leaves its own aliases out.</summary>
[TestClass]
public sealed class HostDeviceAliasesTests
{
    private static string Domain(string devices) =>
        $"<domain type='kvm'><name>vm1</name><uuid>4a1c7e0e-8d3b-4f1a-9c2e-6b5d3a2f1e00</uuid><devices>{devices}</devices></domain>";

    private static string Mdev(string? alias = null) =>
        $"<hostdev mode='subsystem' type='mdev' model='vfio-pci'><source><address uuid='83b8f4f2-509f-382f-3c1e-e6bfe0fa1001'/></source>{(alias is null ? string.Empty : $"<alias name='{alias}'/>")}</hostdev>";

    private const string Vf = "<interface type='hostdev' managed='yes'><source><address type='pci' domain='0x0000' bus='0x41' slot='0x00' function='0x1'/></source></interface>";

    [TestMethod]
    public void WithoutAliases_HostdevsAreNumberedInDocumentOrder()
    {
        var aliases = HostDeviceAliases.Read(Domain(Mdev() + Mdev() + Mdev()));

        CollectionAssert.AreEqual(new[] { "hostdev0", "hostdev1", "hostdev2" }, Enumerable.Range(0, 3).Select(i => aliases[i]).ToArray());
    }

    [TestMethod]
    public void HostdevInterfaces_AreNumberedFirst_ThenHostdevs()
    {
        // Ordinals follow document order: 0 the mdev, 1 the interface, 2 the second mdev.
        var aliases = HostDeviceAliases.Read(Domain(Mdev() + Vf + Mdev()));

        Assert.AreEqual("hostdev1", aliases[0]);
        Assert.AreEqual("hostdev0", aliases[1]);
        Assert.AreEqual("hostdev2", aliases[2]);
    }

    [TestMethod]
    public void UserAliases_AreKept_AndTakeNoNumber()
    {
        var aliases = HostDeviceAliases.Read(Domain(Mdev("ua-mdev0") + Mdev() + Mdev("ua-hostdev7")));

        Assert.AreEqual("ua-mdev0", aliases[0]);
        Assert.AreEqual("hostdev0", aliases[1]);
        Assert.AreEqual("ua-hostdev7", aliases[2]);
    }

    [TestMethod]
    public void AliasesInALiveXml_AreTakenAsWritten_AndNewOnesNumberAfterTheLargest()
    {
        var aliases = HostDeviceAliases.Read(Domain(Mdev("hostdev3") + Mdev() + Mdev("hostdev1x")));

        Assert.AreEqual("hostdev3", aliases[0]);
        Assert.AreEqual("hostdev4", aliases[1]);
        Assert.AreEqual("hostdev1x", aliases[2]);
    }
}
