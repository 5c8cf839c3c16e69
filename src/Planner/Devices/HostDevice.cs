namespace VfioMigration.Planner.Devices;

/// <summary>
/// One host device a guest owns, as read from its domain XML (<c>&lt;hostdev&gt;</c> or
/// <c>&lt;interface type='hostdev'&gt;</c>).
/// </summary>
/// <param name="Ordinal">Position of the element among the guest's host devices (0-based, document order); identifies the element for the XML writer.</param>
/// <param name="Alias">The device alias (<c>&lt;alias name=..&gt;</c>), when libvirt assigned or the user set one.</param>
/// <param name="GuestAddress">The device's address inside the guest (<c>&lt;address&gt;</c> directly under the element), which must never change across migration.</param>
public abstract record HostDevice(int Ordinal, string? Alias, GuestAddress? GuestAddress);

/// <summary>A mediated device: <c>&lt;hostdev mode='subsystem' type='mdev'&gt;</c>.</summary>
/// <param name="Ordinal">See <see cref="HostDevice"/>.</param>
/// <param name="Alias">See <see cref="HostDevice"/>.</param>
/// <param name="GuestAddress">See <see cref="HostDevice"/>.</param>
/// <param name="Uuid">The mdev's UUID on this host (lower case).</param>
/// <param name="Model">The device API the guest sees: <c>vfio-pci</c>, <c>vfio-ccw</c> or <c>vfio-ap</c>.</param>
/// <param name="Display">The <c>display</c> attribute (<c>on</c>/<c>off</c>), when set.</param>
/// <param name="Ramfb">The <c>ramfb</c> attribute (<c>on</c>/<c>off</c>), when set.</param>
public sealed record MdevHostDevice(int Ordinal, string? Alias, GuestAddress? GuestAddress, MdevUuid Uuid, string Model, string? Display, string? Ramfb)
    : HostDevice(Ordinal, Alias, GuestAddress);

/// <summary>How a PCI function is attached in the domain XML.</summary>
public enum PciHostDeviceForm
{
    /// <summary><c>&lt;hostdev mode='subsystem' type='pci'&gt;</c>.</summary>
    Hostdev,

    /// <summary><c>&lt;interface type='hostdev'&gt;</c>: an SR-IOV network VF.</summary>
    Interface,
}

/// <summary>A whole PCI function assigned through VFIO.</summary>
/// <param name="Ordinal">See <see cref="HostDevice"/>.</param>
/// <param name="Alias">See <see cref="HostDevice"/>.</param>
/// <param name="GuestAddress">See <see cref="HostDevice"/>.</param>
/// <param name="Address">The host PCI address (from libvirt's hex attributes).</param>
/// <param name="Managed">Whether libvirt detaches/reattaches the device from its host driver (<c>managed='yes'</c>).</param>
/// <param name="DriverName">The <c>&lt;driver name=..&gt;</c> backend (usually <c>vfio</c>), when set.</param>
/// <param name="Form">Whether this came from a <c>&lt;hostdev&gt;</c> or an <c>&lt;interface type='hostdev'&gt;</c>.</param>
public sealed record PciHostDevice(int Ordinal, string? Alias, GuestAddress? GuestAddress, PciAddress Address, bool Managed, string? DriverName, PciHostDeviceForm Form)
    : HostDevice(Ordinal, Alias, GuestAddress);

/// <summary>A host device the planner does not handle (USB, SCSI, ...), kept so the plan can say why.</summary>
/// <param name="Ordinal">See <see cref="HostDevice"/>.</param>
/// <param name="Alias">See <see cref="HostDevice"/>.</param>
/// <param name="GuestAddress">See <see cref="HostDevice"/>.</param>
/// <param name="Kind">What it is, e.g. <c>hostdev type='usb'</c>.</param>
/// <param name="Reason">Why the planner does not handle it, in a sentence.</param>
public sealed record UnsupportedHostDevice(int Ordinal, string? Alias, GuestAddress? GuestAddress, string Kind, string Reason)
    : HostDevice(Ordinal, Alias, GuestAddress);

/// <summary>A device address inside the guest, as libvirt writes it (<c>&lt;address type='pci' domain=.. bus=.. slot=.. function=../&gt;</c>).</summary>
/// <param name="Type">The address type (<c>pci</c>, <c>ccw</c>, ...).</param>
/// <param name="Attributes">Every attribute of the element except <c>type</c>, verbatim, in document order.</param>
public sealed record GuestAddress(string Type, IReadOnlyList<KeyValuePair<string, string>> Attributes);

/// <summary>A guest (libvirt domain) and the host devices it owns.</summary>
/// <param name="Name">The domain name.</param>
/// <param name="Uuid">The domain UUID (lower case).</param>
/// <param name="HostDevices">Its host devices, in document order.</param>
public sealed record DomainHostDevices(string Name, string Uuid, IReadOnlyList<HostDevice> HostDevices)
{
    /// <summary>Whether the domain was running when its XML was read (libvirt gives a running domain an <c>id</c>).</summary>
    public bool IsActive { get; init; }
}
