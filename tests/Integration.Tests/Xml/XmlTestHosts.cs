namespace VfioMigration.Integration.Tests.Xml;

/// <summary>
/// libvirt test-driver host files (<c>test:///ABS/PATH.xml</c>) written into a temp directory:
/// a source host whose running guest has every host device form, and a destination host with
/// other mdev parents, mdevs and PCI functions. Each connection to a file gets fresh state.
/// </summary>
internal sealed class XmlTestHosts : IDisposable
{
    internal const string GuestName = "every-form";
    internal const string GuestUuid = "0b6a2f0e-96a4-4a55-9c8e-5d7d4c0b1a11";
    internal const string GuestMdevUuid = "4b20d080-1b54-4048-85b3-a6a62d165c01";
    internal const string DestinationMdevUuid = "0d3f4a3c-9a51-4c0e-8f7e-3b1c2a8d9e10";

    private readonly DirectoryInfo directory = Directory.CreateTempSubdirectory("vfio-xml-integration-");

    internal XmlTestHosts()
    {
        SourceUri = UriOf(WriteFile("source-host.xml", SourceHost));
        DestinationUri = UriOf(WriteFile("destination-host.xml", DestinationHost));
    }

    /// <summary>The source host: <see cref="GuestName"/> (running) plus its devices.</summary>
    internal string SourceUri { get; }

    /// <summary>The destination host: no guests, other parents and devices.</summary>
    internal string DestinationUri { get; }

    /// <summary>Writes a file into the temp directory and returns its absolute path.</summary>
    internal string WriteFile(string name, string contents)
    {
        var path = Path.Combine(directory.FullName, name);
        File.WriteAllText(path, contents);
        return path;
    }

    /// <summary>The test-driver URI of a host file (its absolute path after <c>test://</c>).</summary>
    internal static string UriOf(string absolutePath) => "test://" + absolutePath;

    public void Dispose() => directory.Delete(recursive: true);

    /// <summary>
    /// Host devices as written (libvirt dumps interfaces before hostdevs, so its ordinals differ):
    /// mdev vfio-pci, PCI hostdev, interface type='hostdev', USB, SCSI, capabilities mode, mdev
    /// vfio-ccw, mdev vfio-ap, PCI with a decimal/octal source address.
    /// </summary>
    private const string SourceHost = $"""
        <node>
          <domain type='test'>
            <name>{GuestName}</name>
            <uuid>{GuestUuid}</uuid>
            <memory unit='KiB'>4194304</memory>
            <vcpu placement='static'>2</vcpu>
            <os>
              <type arch='x86_64'>hvm</type>
            </os>
            <devices>
              <disk type='file' device='disk'>
                <source file='/var/lib/libvirt/images/guest.qcow2'/>
                <target dev='vda' bus='virtio'/>
                <address type='pci' domain='0x0000' bus='0x04' slot='0x00' function='0x0'/>
              </disk>
              <hostdev mode='subsystem' type='mdev' model='vfio-pci' display='on' ramfb='on'>
                <source>
                  <address uuid='{GuestMdevUuid}'/>
                </source>
                <alias name='ua-vgpu0'/>
                <address type='pci' domain='0x0000' bus='0x05' slot='0x00' function='0x0'/>
              </hostdev>
              <hostdev mode='subsystem' type='pci' managed='yes'>
                <driver name='vfio'/>
                <source>
                  <address domain='0x0000' bus='0x3b' slot='0x00' function='0x1'/>
                </source>
                <alias name='ua-nic-pf'/>
                <address type='pci' domain='0x0000' bus='0x06' slot='0x00' function='0x0'/>
              </hostdev>
              <interface type='hostdev' managed='yes'>
                <mac address='52:54:00:6d:90:02'/>
                <source>
                  <address type='pci' domain='0x0000' bus='0x3b' slot='0x02' function='0x3'/>
                </source>
                <alias name='ua-vf0'/>
                <address type='pci' domain='0x0000' bus='0x07' slot='0x00' function='0x0'/>
              </interface>
              <hostdev mode='subsystem' type='usb'>
                <source>
                  <vendor id='0x1234'/>
                  <product id='0xbeef'/>
                </source>
              </hostdev>
              <hostdev mode='subsystem' type='scsi'>
                <source>
                  <adapter name='scsi_host0'/>
                  <address bus='0' target='0' unit='0'/>
                </source>
              </hostdev>
              <hostdev mode='capabilities' type='storage'>
                <source>
                  <block>/dev/sdf1</block>
                </source>
              </hostdev>
              <hostdev mode='subsystem' type='mdev' model='vfio-ccw'>
                <source>
                  <address uuid='90c6c135-ad44-41d0-b1b7-bae47de48627'/>
                </source>
                <address type='ccw' cssid='0xfe' ssid='0x0' devno='0x0001'/>
              </hostdev>
              <hostdev mode='subsystem' type='mdev' model='vfio-ap'>
                <source>
                  <address uuid='c0e1ab70-a0ab-4f1b-8d06-7ad0d6e2d33c'/>
                </source>
              </hostdev>
              <hostdev mode='subsystem' type='pci'>
                <source>
                  <address domain='0' bus='59' slot='010' function='2'/>
                </source>
              </hostdev>
            </devices>
          </domain>
          <device>
            <name>computer</name>
            <capability type='system'>
              <hardware>
                <uuid>5a0c3e1f-7b2d-4e8a-9c6f-1d3b5e7a9c20</uuid>
              </hardware>
            </capability>
          </device>
          <device>
            <name>pci_0000_00_02_0</name>
            <path>/sys/devices/pci0000:00/0000:00:02.0</path>
            <parent>computer</parent>
            <capability type='pci'>
              <domain>0</domain>
              <bus>0</bus>
              <slot>2</slot>
              <function>0</function>
              <product id='0x3e92'>CoffeeLake-S GT2 [UHD Graphics 630]</product>
              <vendor id='0x8086'>Intel Corporation</vendor>
              <capability type='mdev_types'>
                <type id='i915-GVTg_V5_4'>
                  <name>GVTg_V5_4</name>
                  <deviceAPI>vfio-pci</deviceAPI>
                  <availableInstances>1</availableInstances>
                </type>
                <type id='i915-GVTg_V5_8'>
                  <name>GVTg_V5_8</name>
                  <deviceAPI>vfio-pci</deviceAPI>
                  <availableInstances>2</availableInstances>
                </type>
              </capability>
            </capability>
          </device>
          <device>
            <name>mdev_4b20d080_1b54_4048_85b3_a6a62d165c01_0000_00_02_0</name>
            <path>/sys/devices/pci0000:00/0000:00:02.0/{GuestMdevUuid}</path>
            <parent>pci_0000_00_02_0</parent>
            <capability type='mdev'>
              <type id='i915-GVTg_V5_4'/>
              <uuid>{GuestMdevUuid}</uuid>
              <iommuGroup number='12'/>
            </capability>
          </device>
          <device>
            <name>pci_0000_3b_00_1</name>
            <path>/sys/devices/pci0000:3a/0000:3a:00.0/0000:3b:00.1</path>
            <parent>computer</parent>
            <capability type='pci'>
              <domain>0</domain>
              <bus>59</bus>
              <slot>0</slot>
              <function>1</function>
              <product id='0x1572'>Ethernet Controller X710 for 10GbE SFP+</product>
              <vendor id='0x8086'>Intel Corporation</vendor>
            </capability>
          </device>
        </node>
        """;

    private const string DestinationHost = $"""
        <node>
          <device>
            <name>computer</name>
            <capability type='system'>
              <hardware>
                <uuid>6b1d4f20-8c3e-4f9b-ad70-2e4c6f8b0d31</uuid>
              </hardware>
            </capability>
          </device>
          <device>
            <name>pci_0000_00_02_0</name>
            <path>/sys/devices/pci0000:00/0000:00:02.0</path>
            <parent>computer</parent>
            <capability type='pci'>
              <domain>0</domain>
              <bus>0</bus>
              <slot>2</slot>
              <function>0</function>
              <product id='0x9bc5'>CometLake-S GT2 [UHD Graphics 630]</product>
              <vendor id='0x8086'>Intel Corporation</vendor>
              <capability type='mdev_types'>
                <type id='i915-GVTg_V5_4'>
                  <name>GVTg_V5_4</name>
                  <deviceAPI>vfio-pci</deviceAPI>
                  <availableInstances>1</availableInstances>
                </type>
              </capability>
            </capability>
          </device>
          <device>
            <name>pci_0000_3b_00_0</name>
            <path>/sys/devices/pci0000:3a/0000:3a:00.0/0000:3b:00.0</path>
            <parent>computer</parent>
            <capability type='pci'>
              <domain>0</domain>
              <bus>59</bus>
              <slot>0</slot>
              <function>0</function>
              <product id='0x1eb8'>TU104GL [Tesla T4]</product>
              <vendor id='0x10de'>NVIDIA Corporation</vendor>
              <capability type='mdev_types'>
                <type id='nvidia-222'>
                  <name>GRID T4-1B</name>
                  <deviceAPI>vfio-pci</deviceAPI>
                  <availableInstances>16</availableInstances>
                </type>
                <type id='nvidia-230'>
                  <name>GRID T4-8Q</name>
                  <deviceAPI>vfio-pci</deviceAPI>
                  <availableInstances>2</availableInstances>
                </type>
              </capability>
            </capability>
          </device>
          <device>
            <name>mdev_0d3f4a3c_9a51_4c0e_8f7e_3b1c2a8d9e10_0000_00_02_0</name>
            <path>/sys/devices/pci0000:00/0000:00:02.0/{DestinationMdevUuid}</path>
            <parent>pci_0000_00_02_0</parent>
            <capability type='mdev'>
              <type id='i915-GVTg_V5_4'/>
              <uuid>{DestinationMdevUuid}</uuid>
              <iommuGroup number='7'/>
            </capability>
          </device>
          <device>
            <name>pci_0000_af_00_5</name>
            <path>/sys/devices/pci0000:ae/0000:ae:00.0/0000:af:00.5</path>
            <parent>computer</parent>
            <capability type='pci'>
              <domain>0</domain>
              <bus>175</bus>
              <slot>0</slot>
              <function>5</function>
              <product id='0x154c'>Ethernet Virtual Function 700 Series</product>
              <vendor id='0x8086'>Intel Corporation</vendor>
            </capability>
          </device>
        </node>
        """;
}
