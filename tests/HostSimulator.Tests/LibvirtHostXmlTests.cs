using System.Diagnostics;
using System.Xml.Linq;
using VfioMigration.HostSimulator.Tests.Conformance;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.HostSimulator.Tests;

/// <summary>The libvirt test-driver file and the simulated sysfs show one and the same host, as libvirt 9's <c>virsh</c> reads it.</summary>
[TestClass]
public sealed class LibvirtHostXmlTests
{
    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    [DataRow("nvidia.json")]
    [DataRow("gvtg.json")]
    [DataRow("demo-source.json")]
    [DataRow("demo-dest-a.json")]
    [DataRow("demo-dest-b.json")]
    [DataRow("vendor-host.json")]
    public async Task Virsh_SeesTheSameParentsMdevsAndGuestsAsSysfs(string scenarioFile)
    {
        var host = SimulatedHost.FromScenario(HostFileSystemConformanceTests.LoadScenario(scenarioFile));
        await AssertLibvirtMatchesSysfs(host);
    }

    [TestMethod]
    public async Task Virsh_SeesAnMdevCreatedThroughSysfs_AndTheLowerCapacity()
    {
        var host = SimulatedHost.FromScenario(HostFileSystemConformanceTests.LoadScenario("nvidia.json"));
        var sysfs = host.CreateFileSystem();
        var uuid = MdevUuid.Parse("c0ffee00-0000-4000-8000-000000000001");
        var created = await sysfs.WriteAsync(SysfsPath.TypeAttribute(DeviceName.Parse("0000:86:00.0"), MdevTypeId.Parse("nvidia-227"), "create"), uuid.Value, TestContext.CancellationToken);
        Assert.AreEqual(Errno.None, created.Error);
        await AssertLibvirtMatchesSysfs(host);
        var name = host.MdevNodeDeviceName(uuid);
        Assert.AreEqual("mdev_c0ffee00_0000_4000_8000_000000000001_0000_86_00_0", name);
    }

    [TestMethod]
    public void Virsh_KeepsTheGuestsAliasesAndGuestAddresses()
    {
        var host = SimulatedHost.FromScenario(HostFileSystemConformanceTests.LoadScenario("demo-source.json"));
        var file = Path.Combine(Path.GetTempPath(), $"simulated-{host.Name}-{Guid.NewGuid():N}.xml");
        host.WriteLibvirtXml(file);
        try
        {
            var hostdevs = XElement.Parse(Virsh(file, "dumpxml", "render-1")).Descendants("hostdev").ToList();
            var expected = host.Scenario.Guests!.Single().Hostdevs!;
            Assert.HasCount(expected.Count, hostdevs);
            for (var i = 0; i < expected.Count; i++)
            {
                Assert.AreEqual(expected[i].Alias, hostdevs[i].Element("alias")?.Attribute("name")?.Value);
                var address = hostdevs[i].Element("address")!;
                var guestAddress = PciAddress.Parse(expected[i].GuestAddress);
                Assert.AreEqual($"0x{guestAddress.Bus:x2}", address.Attribute("bus")!.Value);
                Assert.AreEqual($"0x{guestAddress.Slot:x2}", address.Attribute("slot")!.Value);
            }
        }
        finally
        {
            File.Delete(file);
        }
    }

    [TestMethod]
    public async Task MdevsOfAVirtualParent_HangOffComputer()
    {
        var host = SimulatedHost.FromScenario(HostFileSystemConformanceTests.LoadScenario("mtty.json"));
        var sysfs = host.CreateFileSystem();
        var uuid = MdevUuid.Parse("c0ffee00-0000-4000-8000-000000000002");
        Assert.AreEqual(Errno.None, (await sysfs.WriteAsync(SysfsPath.Parse("class/mdev_bus/mtty/mdev_supported_types/mtty-1/create"), uuid.Value, TestContext.CancellationToken)).Error);
        var mdev = XDocument.Parse(host.ToLibvirtXml()).Root!.Elements("device").Single(d => d.Element("capability")?.Attribute("type")?.Value == "mdev");
        Assert.AreEqual("mdev_c0ffee00_0000_4000_8000_000000000002_mtty", mdev.Element("name")!.Value);
        Assert.AreEqual("computer", mdev.Element("parent")!.Value);
    }

    private async Task AssertLibvirtMatchesSysfs(SimulatedHost host)
    {
        var sysfs = host.CreateFileSystem();
        var file = Path.Combine(Path.GetTempPath(), $"simulated-{host.Name}-{Guid.NewGuid():N}.xml");
        host.WriteLibvirtXml(file);
        try
        {
            var parents = (await sysfs.ListAsync(SysfsPath.MdevBus, TestContext.CancellationToken)).Value!;
            foreach (var parentName in parents.Where(p => PciAddress.TryParse(p, out _)))
            {
                var parent = DeviceName.Parse(parentName);
                var xml = XElement.Parse(Virsh(file, "nodedev-dumpxml", PciAddress.Parse(parentName).ToNodeDeviceName()));
                var libvirtTypes = xml.Descendants("type").Where(t => t.Parent?.Attribute("type")?.Value == "mdev_types")
                    .ToDictionary(t => t.Attribute("id")!.Value, t => t.Element("availableInstances")!.Value);
                var sysfsTypes = (await sysfs.ListAsync(SysfsPath.SupportedTypes(parent), TestContext.CancellationToken)).Value!;
                CollectionAssert.AreEquivalent(sysfsTypes.ToList(), libvirtTypes.Keys.ToList(), parentName);
                foreach (var type in sysfsTypes)
                {
                    var available = (await sysfs.ReadAsync(SysfsPath.TypeAttribute(parent, MdevTypeId.Parse(type), "available_instances"), TestContext.CancellationToken)).Value!;
                    Assert.AreEqual(available.TrimEnd('\n'), libvirtTypes[type], $"{parentName}/{type}");
                }
            }

            foreach (var uuidText in (await sysfs.ListAsync(SysfsPath.MdevDevices, TestContext.CancellationToken)).Value!)
            {
                var uuid = MdevUuid.Parse(uuidText);
                var xml = XElement.Parse(Virsh(file, "nodedev-dumpxml", host.MdevNodeDeviceName(uuid)!));
                var mdev = xml.Elements("capability").Single(c => c.Attribute("type")?.Value == "mdev");
                Assert.AreEqual(uuid.Value, mdev.Element("uuid")!.Value);
                var typeLink = (await sysfs.ReadLinkAsync(SysfsPath.MdevAttribute(uuid, "mdev_type"), TestContext.CancellationToken)).Value!;
                Assert.AreEqual(typeLink[(typeLink.LastIndexOf('/') + 1)..], mdev.Element("type")!.Attribute("id")!.Value);
            }

            var guests = Virsh(file, "list", "--all", "--name").Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            CollectionAssert.AreEquivalent(host.Scenario.Guests?.Select(g => g.Name).ToList() ?? [], guests);
            foreach (var guest in host.Scenario.Guests ?? [])
            {
                Assert.AreEqual(guest.Running == true ? "running" : "shut off", Virsh(file, "domstate", guest.Name!).Trim(), guest.Name);
                var hostdevs = XElement.Parse(Virsh(file, "dumpxml", guest.Name!)).Descendants("hostdev").ToList();
                Assert.HasCount(guest.Hostdevs?.Count ?? 0, hostdevs, guest.Name);
            }
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static string Virsh(string file, params string[] arguments)
    {
        var start = new ProcessStartInfo("virsh") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("test://" + file);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            Assert.Inconclusive("virsh is not installed (Debian package libvirt-clients).");
            throw;
        }

        using (process)
        {
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEnd();
            process.WaitForExit();
            Assert.AreEqual(0, process.ExitCode, $"virsh {string.Join(' ', arguments)}: {error}");
            return output.Result;
        }
    }
}
