using VfioMigration.Planner.Planning;

namespace VfioMigration.Planner.Tests.Planning;

/// <summary>The values the sysfs inventory takes from sysfs as text: PCI ids and the bound driver's name, both untrusted.</summary>
[TestClass]
public sealed class SysfsInventoryValueTests
{
    [TestMethod]
    [DataRow("0x10de\n", "0x10de")]
    [DataRow("0x10DE", "0x10de")]
    [DataRow("0X10DE", "0x10de")]
    [DataRow(" 0x10de", "0x10de")]
    [DataRow("0x1234", "0x1234")]
    [DataRow("8086", "0x8086")]
    [DataRow("0x1", "0x0001")]
    [DataRow("", null)]
    [DataRow("0x", null)]
    [DataRow("0x12345", null)]
    [DataRow("0x10de; rm -rf /", null)]
    [DataRow("0xzz", null)]
    [DataRow("0x1g", null)]
    public void HexId_IsLibvirtsForm_OrNothing(string text, string? expected) =>
        Assert.AreEqual(expected, SysfsInventory.HexId(text));

    [TestMethod]
    [DataRow("../../../bus/pci/drivers/vfio-pci", "vfio-pci")]
    [DataRow("../../../bus/pci/drivers/nvidia/", "nvidia")]
    [DataRow("i915", "i915")]
    [DataRow("../../../bus/pci/drivers/snd_hda_intel", "snd_hda_intel")]
    [DataRow("../../../bus/pci/drivers/a.b", "a.b")]
    [DataRow("../../../bus/pci/drivers/.", null)]
    [DataRow("../../../bus/pci/drivers/a123456789012345678901234567890123456789012345678901234567890123", "a123456789012345678901234567890123456789012345678901234567890123")]
    [DataRow("../../../bus/pci/drivers/a1234567890123456789012345678901234567890123456789012345678901234", null)]
    [DataRow("../../../bus/pci/drivers/..", null)]
    [DataRow("../../../bus/pci/drivers/evil\u001b[31m", null)]
    [DataRow("../../../bus/pci/drivers/two words", null)]
    [DataRow("", null)]
    public void DriverName_IsThePlainLastSegment_OrNothing(string link, string? expected) =>
        Assert.AreEqual(expected, SysfsInventory.DriverName(link));
}
