using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.Planner.Tests.Devices;

[TestClass]
public sealed class ValueTypeTests
{
    [TestMethod]
    public void MdevUuid_IsNormalisedToLowerCase()
    {
        var uuid = MdevUuid.Parse("4B20D080-1B54-4048-85B3-A6A62D165C01");
        Assert.AreEqual("4b20d080-1b54-4048-85b3-a6a62d165c01", uuid.Value);
    }

    [TestMethod]
    [DataRow("")]
    [DataRow("../../etc/passwd")]
    [DataRow("{4b20d080-1b54-4048-85b3-a6a62d165c01}")]
    [DataRow("4b20d080-1b54-4048-85b3-a6a62d165c01\n")]
    [DataRow("4b20d0801b54404885b3a6a62d165c01")]
    public void MdevUuid_RejectsAnythingButTheCanonicalForm(string text)
    {
        var error = Assert.ThrowsExactly<FormatException>(() => MdevUuid.Parse(text, "domain/devices/hostdev[1]/source/address/@uuid"));
        StringAssert.Contains(error.Message, "domain/devices/hostdev[1]/source/address/@uuid");
    }

    [TestMethod]
    public void PciAddress_RoundTripsAndNamesItsNodeDevice()
    {
        var address = PciAddress.Parse("0000:3B:00.1");
        Assert.AreEqual("0000:3b:00.1", address.ToString());
        Assert.AreEqual("pci_0000_3b_00_1", address.ToNodeDeviceName());
        Assert.AreEqual(new PciAddress(0, 0x3b, 0, 1), address);
    }

    [TestMethod]
    [DataRow("0000:3b:20.1")]
    [DataRow("0000:3b:00.8")]
    [DataRow("3b:00.1")]
    [DataRow("0000:3b:00.1/../..")]
    public void PciAddress_RejectsInvalidAddresses(string text) =>
        Assert.IsFalse(PciAddress.TryParse(text, out _));

    [TestMethod]
    [DataRow("i915-GVTg_V5_4", true)]
    [DataRow("nvidia-63", true)]
    [DataRow("mtty-1", true)]
    [DataRow("..", false)]
    [DataRow(".hidden", false)]
    [DataRow("a/b", false)]
    [DataRow("a b", false)]
    [DataRow("", false)]
    public void MdevTypeId_AcceptsOnlySafeNames(string text, bool valid) =>
        Assert.AreEqual(valid, MdevTypeId.TryParse(text, out _));

    [TestMethod]
    public void SysfsPath_BuildsTheKernelsPaths()
    {
        var parent = DeviceName.Parse("0000:00:02.0");
        var type = MdevTypeId.Parse("i915-GVTg_V5_4");
        Assert.AreEqual(
            "class/mdev_bus/0000:00:02.0/mdev_supported_types/i915-GVTg_V5_4/migration_version",
            SysfsPath.TypeAttribute(parent, type, "migration_version").Value);
        Assert.AreEqual(
            "bus/mdev/devices/4b20d080-1b54-4048-85b3-a6a62d165c01/remove",
            SysfsPath.MdevAttribute(MdevUuid.Parse("4b20d080-1b54-4048-85b3-a6a62d165c01"), "remove").Value);
    }

    [TestMethod]
    [DataRow("/etc/passwd")]
    [DataRow("class/../../etc")]
    [DataRow("class//mdev_bus")]
    [DataRow("class/mdev bus")]
    public void SysfsPath_RefusesUnsafePaths(string text) =>
        Assert.ThrowsExactly<ArgumentException>(() => SysfsPath.Parse(text));
}
