namespace VfioMigration.Libvirt.Tests;

/// <summary>
/// Writes libvirt test-driver host files (<c>test:///ABS/PATH.xml</c>) into a temp directory: one
/// host with an Intel GVT-g mdev parent, one of its mdevs, a plain PCI function, and two domains.
/// Each connection to the file gets fresh state.
/// </summary>
internal sealed class TestHost : IDisposable
{
    internal const string ParentName = "pci_0000_00_02_0";
    internal const string PlainPciName = "pci_0000_3b_00_1";
    internal const string MdevUuid = "4b20d080-1b54-4048-85b3-a6a62d165c01";
    internal const string MdevName = "mdev_4b20d080_1b54_4048_85b3_a6a62d165c01_0000_00_02_0";
    internal const string MdevTypeId = "i915-GVTg_V5_4";
    internal const string RunningGuest = "vgpu-guest";
    internal const string RunningGuestUuid = "0b4a7f7e-54a3-4f5c-9a43-5d3d8e3c2a10";
    internal const string StoppedGuest = "stopped-guest";
    internal const string UserName = "migrator";
    internal const string Password = "s3cret";

    private readonly string directory = Directory.CreateTempSubdirectory("libvirt-interop-tests-").FullName;

    /// <summary>The URI of the host file without an auth section.</summary>
    internal string Uri { get; }

    /// <summary>The URI of the same host with an <c>&lt;auth&gt;</c> section: opening it asks for a user name and password.</summary>
    internal string AuthUri { get; }

    internal TestHost()
    {
        Uri = Write("host.xml", auth: string.Empty);
        AuthUri = Write("host-auth.xml", auth: $"<auth><user password='{Password}'>{UserName}</user></auth>");
    }

    /// <summary>A domain definition the test driver accepts, with one mdev hostdev.</summary>
    /// <param name="name">The domain name.</param>
    /// <param name="uuid">The domain UUID.</param>
    /// <param name="shutOff">In a host file, start the domain shut off (the test driver's <c>test:runstate</c> 5) instead of running.</param>
    internal static string DomainXml(string name, string uuid, bool shutOff = false) => $"""
        <domain type='test'{(shutOff ? " xmlns:test='http://libvirt.org/schemas/domain/test/1.0'" : string.Empty)}>
          <name>{name}</name>
          <uuid>{uuid}</uuid>
          <memory unit='KiB'>1048576</memory>
          <vcpu>1</vcpu>
          <os><type arch='x86_64'>hvm</type></os>
          <devices>
            <hostdev mode='subsystem' type='mdev' model='vfio-pci' display='off'>
              <source><address uuid='{MdevUuid}'/></source>
            </hostdev>
          </devices>
          {(shutOff ? "<test:runstate>5</test:runstate>" : string.Empty)}
        </domain>
        """;

    /// <summary>The XML that asks for a transient mdev on the GVT-g parent.</summary>
    internal static string MdevCreateXml(string uuid) => $"""
        <device>
          <parent>{ParentName}</parent>
          <capability type='mdev'><type id='{MdevTypeId}'/><uuid>{uuid}</uuid></capability>
        </device>
        """;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    private string Write(string fileName, string auth)
    {
        var path = Path.Combine(directory, fileName);
        File.WriteAllText(path, $"""
            <node>
              {auth}
              {DomainXml(RunningGuest, RunningGuestUuid)}
              {DomainXml(StoppedGuest, "5f8e2c1a-9b7d-4e3f-8a6b-2c4d6e8f0a1b", shutOff: true)}
              <device>
                <name>computer</name>
                <capability type='system'>
                  <hardware><vendor>Test</vendor><version>1</version><serial>1</serial><uuid>11111111-2222-3333-4444-555555555555</uuid></hardware>
                  <firmware><vendor>Test</vendor><version>1</version><release_date>01/01/2026</release_date></firmware>
                </capability>
              </device>
              <device>
                <name>{ParentName}</name>
                <path>/sys/devices/pci0000:00/0000:00:02.0</path>
                <parent>computer</parent>
                <driver><name>i915</name></driver>
                <capability type='pci'>
                  <class>0x030000</class>
                  <domain>0</domain><bus>0</bus><slot>2</slot><function>0</function>
                  <product id='0x3e92'>CoffeeLake-S GT2 [UHD Graphics 630]</product>
                  <vendor id='0x8086'>Intel Corporation</vendor>
                  <capability type='mdev_types'>
                    <type id='{MdevTypeId}'>
                      <name>GVTg_V5_4</name>
                      <deviceAPI>vfio-pci</deviceAPI>
                      <availableInstances>1</availableInstances>
                    </type>
                  </capability>
                  <iommuGroup number='0'><address domain='0x0000' bus='0x00' slot='0x02' function='0x0'/></iommuGroup>
                </capability>
              </device>
              <device>
                <name>{MdevName}</name>
                <path>/sys/devices/pci0000:00/0000:00:02.0/{MdevUuid}</path>
                <parent>{ParentName}</parent>
                <driver><name>vfio_mdev</name></driver>
                <capability type='mdev'>
                  <type id='{MdevTypeId}'/>
                  <uuid>{MdevUuid}</uuid>
                  <iommuGroup number='12'/>
                </capability>
              </device>
              <device>
                <name>{PlainPciName}</name>
                <path>/sys/devices/pci0000:3a/0000:3a:00.0/0000:3b:00.1</path>
                <parent>computer</parent>
                <driver><name>vfio-pci</name></driver>
                <capability type='pci'>
                  <class>0x020000</class>
                  <domain>0</domain><bus>59</bus><slot>0</slot><function>1</function>
                  <product id='0x1572'>Ethernet Controller X710</product>
                  <vendor id='0x8086'>Intel Corporation</vendor>
                  <iommuGroup number='30'><address domain='0x0000' bus='0x3b' slot='0x00' function='0x1'/></iommuGroup>
                </capability>
              </device>
            </node>
            """);
        return "test://" + path;
    }
}
