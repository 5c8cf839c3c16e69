using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using VfioMigration.Planner.Devices;

namespace VfioMigration.ConsoleMigrator.Commands;

/// <summary>How host devices appear in the console's JSON and tables (names fixed: scripts rely on them).</summary>
internal static class DeviceJson
{
    /// <summary>Indented JSON that keeps characters such as <c>'</c> and <c>&lt;</c> readable.</summary>
    public static JsonSerializerOptions Options { get; } = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The JSON of one guest host device; <paramref name="vgpu"/>: its vGPU when it is a VF with one.</summary>
    public static JsonObject Describe(HostDevice device, VfVgpuInfo? vgpu = null)
    {
        var json = new JsonObject { ["kind"] = Kind(device, vgpu), ["ordinal"] = device.Ordinal };
        switch (device)
        {
            case MdevHostDevice mdev:
                json["uuid"] = mdev.Uuid.Value;
                json["model"] = mdev.Model;
                json["display"] = mdev.Display;
                json["ramfb"] = mdev.Ramfb;
                break;
            case PciHostDevice pci:
                json["address"] = pci.Address.ToString();
                json["managed"] = pci.Managed;
                json["driver"] = pci.DriverName;
                json["form"] = pci.Form == PciHostDeviceForm.Interface ? "interface" : "hostdev";
                if (vgpu?.Current is { } type)
                {
                    json["vgpuType"] = type.Id;
                    json["profile"] = type.Name;
                    json["physicalFunction"] = vgpu.PhysicalFunction?.ToString();
                }

                break;
            case UnsupportedHostDevice unsupported:
                json["what"] = unsupported.Kind;
                json["reason"] = unsupported.Reason;
                break;
        }

        json["alias"] = device.Alias;
        json["guestAddress"] = GuestAddressText(device.GuestAddress);
        return json;
    }

    /// <summary><c>mdev</c>, <c>vf-vgpu</c> (a PCI function with a vGPU, <paramref name="vgpu"/>), <c>pci</c> or <c>unsupported</c>.</summary>
    public static string Kind(HostDevice device, VfVgpuInfo? vgpu = null) => device switch
    {
        MdevHostDevice => "mdev",
        PciHostDevice when vgpu?.Current is not null => "vf-vgpu",
        PciHostDevice => "pci",
        _ => "unsupported",
    };

    /// <summary>The device's host-side identity: UUID, PCI address, or what it is.</summary>
    public static string Identity(HostDevice device) => device switch
    {
        MdevHostDevice mdev => mdev.Uuid.Value,
        PciHostDevice pci => pci.Address.ToString(),
        UnsupportedHostDevice unsupported => unsupported.Kind,
        _ => "?",
    };

    /// <summary>One line of details for a table (a VF's vGPU first: type id, profile name, PF).</summary>
    public static string Details(HostDevice device, VfVgpuInfo? vgpu = null) => device switch
    {
        PciHostDevice pci when vgpu?.Current is { } type => $"vgpu {type.Id} ({type.Name ?? "name unknown"}) on PF {vgpu.PhysicalFunction?.ToString() ?? "unknown"}, {Details(pci)}",
        MdevHostDevice mdev => string.Join(", ", new[] { $"model={mdev.Model}", mdev.Display is null ? null : $"display={mdev.Display}", mdev.Ramfb is null ? null : $"ramfb={mdev.Ramfb}" }.OfType<string>()),
        PciHostDevice pci => string.Join(", ", new[] { pci.Form == PciHostDeviceForm.Interface ? "interface type=hostdev" : null, pci.Managed ? "managed" : "unmanaged", pci.DriverName is null ? null : $"driver={pci.DriverName}" }.OfType<string>()),
        UnsupportedHostDevice unsupported => unsupported.Reason,
        _ => string.Empty,
    };

    /// <summary>A guest address as <c>pci 0000:00:05.0</c>-like text (type then attributes), or null.</summary>
    public static string? GuestAddressText(GuestAddress? address) =>
        address is null ? null : $"{address.Type} {string.Join(' ', address.Attributes.Select(a => $"{a.Key}={a.Value}"))}";
}
