namespace VfioMigration.Planner.Tests.Xml;

/// <summary>libvirt XML as libvirt 9 dumps it, with every host device form the readers know.</summary>
internal static class SampleXml
{
    /// <summary>
    /// Host device ordinals: 0 mdev vfio-pci, 1 PCI hostdev, 2 interface type='hostdev',
    /// 3 USB, 4 SCSI, 5 capabilities mode, 6 mdev vfio-ccw, 7 mdev vfio-ap, 8 PCI with decimal/octal source.
    /// </summary>
    internal const string Domain = """
        <domain type='kvm' id='7' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
          <name>vgpu-guest</name>
          <uuid>6695EB01-F6A4-8304-79AA-97F2502E193F</uuid>
          <metadata>
            <app:owner xmlns:app="http://example.com/app">team &amp; co</app:owner>
          </metadata>
          <memory unit='KiB'>4194304</memory>
          <vcpu placement='static'>2</vcpu>
          <os>
            <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>
          </os>
          <devices>
            <disk type='file' device='disk'>
              <source file='/var/lib/libvirt/images/guest.qcow2'/>
              <target dev='vda' bus='virtio'/>
              <address type='pci' domain='0x0000' bus='0x04' slot='0x00' function='0x0'/>
            </disk>
            <!-- the vGPU -->
            <hostdev mode='subsystem' type='mdev' managed='no' model='vfio-pci' display='on' ramfb='on'>
              <source>
                <address uuid='4B20D080-1B54-4048-85B3-A6A62D165C01'/>
              </source>
              <alias name='hostdev0'/>
              <address type='pci' domain='0x0000' bus='0x05' slot='0x00' function='0x0'/>
            </hostdev>
            <hostdev mode='subsystem' type='pci' managed='yes'>
              <driver name='vfio'/>
              <source>
                <address domain='0x0000' bus='0x3b' slot='0x00' function='0x1'/>
              </source>
              <alias name='hostdev1'/>
              <rom bar='off'/>
              <address type='pci' domain="0x0000" bus='0x06' slot='0x00' function='0x0' multifunction='on'/>
            </hostdev>
            <interface type='network'>
              <mac address='52:54:00:aa:bb:cc'/>
              <source network='default'/>
              <model type='virtio'/>
            </interface>
            <interface type='hostdev' managed='yes'>
              <mac address='52:54:00:6d:90:02'/>
              <driver name='vfio'/>
              <source>
                <address type='pci' domain='0x0000' bus='0x3b' slot='0x02' function='0x3'/>
              </source>
              <alias name='net1'/>
              <address type='pci' domain='0x0000' bus='0x07' slot='0x00' function='0x0'/>
            </interface>
            <hostdev mode='subsystem' type='usb' managed='no'>
              <source>
                <vendor id='0x1234'/>
                <product id='0xbeef'/>
              </source>
              <alias name='hostdev2'/>
              <address type='usb' bus='0' port='1'/>
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
            <hostdev type='pci'>
              <source startupPolicy='optional'>
                <address domain='0' bus='59' slot='010' function='2'/>
              </source>
            </hostdev>
          </devices>
          <qemu:commandline>
            <qemu:arg value='-trace'/>
          </qemu:commandline>
        </domain>
        """;

    /// <summary>A GVT-g-like PCI parent with two types (libvirt 9: mdev_types inside the pci capability).</summary>
    internal const string GvtParent = """
        <device>
          <name>pci_0000_00_02_0</name>
          <path>/sys/devices/pci0000:00/0000:00:02.0</path>
          <parent>computer</parent>
          <driver>
            <name>i915</name>
          </driver>
          <capability type='pci'>
            <class>0x030000</class>
            <domain>0</domain>
            <bus>0</bus>
            <slot>2</slot>
            <function>0</function>
            <product id='0x3E92'>CoffeeLake-S GT2 [UHD Graphics 630]</product>
            <vendor id='0x8086'>Intel Corporation</vendor>
            <capability type='mdev_types'>
              <type id='i915-GVTg_V5_4'>
                <name>GVTg_V5_4</name>
                <deviceAPI>vfio-pci</deviceAPI>
                <availableInstances>2</availableInstances>
              </type>
              <type id='i915-GVTg_V5_8'>
                <deviceAPI>vfio-pci</deviceAPI>
                <availableInstances>0</availableInstances>
              </type>
            </capability>
            <iommuGroup number='2'>
              <address domain='0x0000' bus='0x00' slot='0x02' function='0x0'/>
            </iommuGroup>
          </capability>
        </device>
        """;

    /// <summary>An mdev on the GVT-g parent.</summary>
    internal const string Mdev = """
        <device>
          <name>mdev_4b20d080_1b54_4048_85b3_a6a62d165c01_0000_00_02_0</name>
          <path>/sys/devices/pci0000:00/0000:00:02.0/4b20d080-1b54-4048-85b3-a6a62d165c01</path>
          <parent>pci_0000_00_02_0</parent>
          <driver>
            <name>vfio_mdev</name>
          </driver>
          <capability type='mdev'>
            <type id='i915-GVTg_V5_4'/>
            <uuid>4B20D080-1B54-4048-85B3-A6A62D165C01</uuid>
            <parent_addr>0000:00:02.0</parent_addr>
            <iommuGroup number='13'/>
            <attr name='assign_adapter' value='5'/>
            <attr name='assign_domain' value='0x2b'/>
          </capability>
        </device>
        """;

    /// <summary>A vfio-pci bound PCI function without mdev types.</summary>
    internal const string VfioFunction = """
        <device>
          <name>pci_0000_3b_00_1</name>
          <path>/sys/devices/pci0000:3a/0000:3a:00.0/0000:3b:00.1</path>
          <parent>pci_0000_3a_00_0</parent>
          <driver>
            <name>vfio-pci</name>
          </driver>
          <capability type='pci'>
            <domain>0</domain>
            <bus>59</bus>
            <slot>0</slot>
            <function>1</function>
            <product id='0x1572'/>
            <vendor id='0x8086'>Intel Corporation</vendor>
          </capability>
        </device>
        """;

    /// <summary>An s390 channel subsystem parent: mdev_types inside the css capability, no PCI address.</summary>
    internal const string CssParent = """
        <device>
          <name>css_0_0_0023</name>
          <path>/sys/devices/css0/0.0.0023</path>
          <parent>computer</parent>
          <capability type='css'>
            <cssid>0x0</cssid>
            <ssid>0x0</ssid>
            <devno>0x0023</devno>
            <capability type='mdev_types'>
              <type id='vfio_ccw-io'>
                <name>I/O subchannel (Non-QDIO)</name>
                <deviceAPI>vfio-ccw</deviceAPI>
                <availableInstances>1</availableInstances>
              </type>
            </capability>
          </capability>
        </device>
        """;

    /// <summary>A parent whose mdev_types capability is at top level and which has no path (e.g. a virtual mtty parent).</summary>
    internal const string TopLevelTypesParent = """
        <device>
          <name>mtty</name>
          <capability type='mdev_types'>
            <type id='mtty-1'>
              <name>Single port serial</name>
              <deviceAPI>vfio-pci</deviceAPI>
              <availableInstances>24</availableInstances>
            </type>
          </capability>
        </device>
        """;

    /// <summary>A device of a capability the inventory ignores.</summary>
    internal const string NetDevice = """
        <device>
          <name>net_eth0_52_54_00_aa_bb_cc</name>
          <path>/sys/devices/virtual/net/eth0</path>
          <parent>computer</parent>
          <capability type='net'>
            <interface>eth0</interface>
            <address>52:54:00:aa:bb:cc</address>
          </capability>
        </device>
        """;
}
