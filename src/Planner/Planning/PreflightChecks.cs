using System.Globalization;
using VfioMigration.Planner.Devices;
using VfioMigration.Planner.Hypervisor;
using VfioMigration.Planner.Sysfs;
using VfioMigration.Planner.Xml;

namespace VfioMigration.Planner.Planning;

/// <summary>What the preflight knows of one host.</summary>
/// <param name="Name">The host's name.</param>
/// <param name="Versions">Its driver and versions; null when the hypervisor does not report them.</param>
/// <param name="HasIommufd">Whether its kernel has IOMMUFD (sysfs <c>module/iommufd</c>); null when unknown or not read.</param>
internal sealed record HostFacts(string Name, HypervisorVersions? Versions, bool? HasIommufd);

/// <summary>
/// The preflight: facts that make a migration fail late, checked before anything is created.
/// <see cref="Evaluate"/> is pure (facts in, checks out); <see cref="ReadAsync"/> gathers a host's facts.
/// </summary>
internal static class PreflightChecks
{
    /// <summary>The oldest libvirt that migrates VFIO devices (OpenStack Nova's gate).</summary>
    public static readonly Version MinimumLibvirt = new(8, 6, 0);

    /// <summary>The oldest QEMU that migrates VFIO devices (OpenStack Nova's gate).</summary>
    public static readonly Version MinimumQemu = new(8, 1, 0);

    /// <summary>mdev drivers (the type id's prefix, <c>&lt;driver&gt;-&lt;type&gt;</c>) that implement no VFIO migration: QEMU blocks the migration.</summary>
    private static readonly HashSet<string> NoMigration = new(StringComparer.Ordinal) { "mdpy", "mbochs", "i915" };

    /// <summary>mdev drivers known to offer device DMA logging (dirty-page tracking), which a kernel without IOMMUFD cannot report.</summary>
    private static readonly HashSet<string> OffersDmaLogging = new(StringComparer.Ordinal) { "mtty" };

    private const string DirtyTrackingProperty = "x-device-dirty-page-tracking";
    private const string EnableMigrationProperty = "enable-migration";

    /// <summary>Reads a host's driver and versions, and on a QEMU host whether its kernel has IOMMUFD (one sysfs listing).</summary>
    public static async Task<HostFacts> ReadAsync(MigrationHost host, PlanCounters counters, CancellationToken cancellationToken)
    {
        var versions = await host.Hypervisor.GetVersionsAsync(cancellationToken).ConfigureAwait(false);
        if (versions is not null)
        {
            counters.HypervisorCall();
        }

        bool? iommufd = null;
        if (versions?.IsQemu == true)
        {
            counters.SysfsReads(1);
            var listing = await host.FileSystem.ListAsync(SysfsPath.Parse("module/iommufd"), cancellationToken).ConfigureAwait(false);
            iommufd = listing.Succeeded ? true : listing.Error == Errno.ENOENT ? false : null;
        }

        return new HostFacts(host.Name, versions, iommufd);
    }

    /// <summary>The checks for migrating <paramref name="devices"/> of a guest whose XML is <paramref name="guestXml"/> from <paramref name="source"/> to <paramref name="destination"/>.</summary>
    public static IReadOnlyList<PreflightCheck> Evaluate(HostFacts source, HostFacts destination, IReadOnlyList<SourceDevice> devices, string guestXml)
    {
        IReadOnlyDictionary<string, IReadOnlyDictionary<string, QemuProperty>> overrides;
        IReadOnlyDictionary<int, string> aliases;
        try
        {
            overrides = QemuOverrides.FrontendProperties(guestXml);
            aliases = HostDeviceAliases.Read(guestXml);
        }
        catch (LibvirtXmlException)
        {
            overrides = new Dictionary<string, IReadOnlyDictionary<string, QemuProperty>>();
            aliases = new Dictionary<int, string>();
        }

        var checks = new List<PreflightCheck>();
        foreach (var (host, role) in new[] { (source, "source"), (destination, "destination") })
        {
            checks.AddRange(Versions(host));
            if (host.Versions?.IsQemu != true)
            {
                continue;
            }

            foreach (var device in devices)
            {
                if (role == "source" && DeviceMigration(host, device) is { } support)
                {
                    checks.Add(support);
                }

                checks.Add(DirtyTracking(host, role, device, device.Info.Alias ?? aliases.GetValueOrDefault(device.Info.Ordinal), overrides));
            }
        }

        return checks;
    }

    private static IEnumerable<PreflightCheck> Versions(HostFacts host)
    {
        if (host.Versions is not { } versions)
        {
            yield break;
        }

        yield return versions.Libvirt >= MinimumLibvirt
            ? new PreflightCheck(host.Name, "LIBVIRT_VERSION", PreflightOutcome.Passed, $"libvirt {versions.Libvirt} on {host.Name} is at least {MinimumLibvirt}.")
            : new PreflightCheck(host.Name, "LIBVIRT_VERSION", PreflightOutcome.Failed, $"libvirt {versions.Libvirt} on {host.Name} is older than {MinimumLibvirt}, the first that migrates VFIO devices; upgrade libvirt there.");
        if (!versions.IsQemu)
        {
            yield return new PreflightCheck(host.Name, "QEMU_VERSION", PreflightOutcome.NotApplicable, $"{host.Name} runs libvirt's {Printable(versions.Driver)} driver, not QEMU.");
        }
        else
        {
            yield return versions.Hypervisor >= MinimumQemu
                ? new PreflightCheck(host.Name, "QEMU_VERSION", PreflightOutcome.Passed, $"QEMU {versions.Hypervisor} on {host.Name} is at least {MinimumQemu}.")
                : new PreflightCheck(host.Name, "QEMU_VERSION", PreflightOutcome.Failed, $"QEMU {versions.Hypervisor} on {host.Name} is older than {MinimumQemu}, the first that migrates VFIO devices reliably; upgrade QEMU there.");
        }
    }

    private static PreflightCheck? DeviceMigration(HostFacts host, SourceDevice device)
    {
        if (device.MdevType is not { } type)
        {
            return null;
        }

        var driver = Driver(type);
        return NoMigration.Contains(driver)
            ? new PreflightCheck(host.Name, "DEVICE_MIGRATION", PreflightOutcome.Failed, $"The mdev {device.Info.Id} is of type {type} from the {driver} driver, which implements no VFIO migration: QEMU refuses to migrate the guest.", device.Info.Id)
            : new PreflightCheck(host.Name, "DEVICE_MIGRATION", PreflightOutcome.Passed, $"The {driver} driver of mdev {device.Info.Id} is not one known to lack VFIO migration.", device.Info.Id);
    }

    private static PreflightCheck DirtyTracking(HostFacts host, string role, SourceDevice device, string? alias, IReadOnlyDictionary<string, IReadOnlyDictionary<string, QemuProperty>> overrides)
    {
        var id = device.Info.Id;
        alias = alias is not null && alias.Length <= 64 && alias.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.') ? alias : null;
        var properties = alias is not null && overrides.TryGetValue(alias, out var set) ? set : null;
        var tracking = properties?.GetValueOrDefault(DirtyTrackingProperty);
        var enable = properties?.GetValueOrDefault(EnableMigrationProperty);
        if ((NotTakenByQemu(tracking, DirtyTrackingProperty, "off") ?? NotTakenByQemu(enable, EnableMigrationProperty, "on")) is { } wrong)
        {
            return new PreflightCheck(host.Name, "DIRTY_TRACKING", PreflightOutcome.Failed, $"The guest's <qemu:override> for {alias} ({id}) {wrong}", id);
        }

        if (tracking is not null && IsString(tracking, "off"))
        {
            return enable is not null && IsString(enable, "on")
                ? new PreflightCheck(host.Name, "DIRTY_TRACKING", PreflightOutcome.Passed, $"The guest turns device dirty tracking off for {alias} ({id}) and keeps migration on, so the kernel's dirty-page report is not used.", id)
                : new PreflightCheck(host.Name, "DIRTY_TRACKING", PreflightOutcome.Failed, $"The guest turns device dirty tracking off for {alias} ({id}) without {EnableMigrationProperty}=on, so QEMU adds a migration blocker; add {PropertyXml(EnableMigrationProperty, "on")} to that <qemu:device>.", id);
        }

        var where = role == "source"
            ? "the migration fails at its start (ram_save_setup: Operation not supported)"
            : "the guest cannot migrate on from there: that migration fails at its start (ram_save_setup: Operation not supported)";
        var remedy = $"give the guest a <qemu:override> on alias {alias ?? "(the hostdev's alias)"} setting {DirtyTrackingProperty}=off and {EnableMigrationProperty}=on, as strings ({PropertyXml(DirtyTrackingProperty, "off")} and {PropertyXml(EnableMigrationProperty, "on")}; docs/operations.md)";
        var driver = device.MdevType is { } type ? Driver(type) : null;
        return host.HasIommufd switch
        {
            true => new PreflightCheck(host.Name, "DIRTY_TRACKING", PreflightOutcome.Passed, $"The kernel on {host.Name} has IOMMUFD, so device dirty tracking for {id} can be reported.", id),
            false when driver is not null && OffersDmaLogging.Contains(driver) => new PreflightCheck(host.Name, "DIRTY_TRACKING", PreflightOutcome.Failed, $"The kernel on {host.Name} has no IOMMUFD (no sysfs module/iommufd), so it cannot report device dirty pages, and the {driver} driver of {id} offers DMA logging, which QEMU then uses: {where}. To migrate, {remedy}.", id),
            false => new PreflightCheck(host.Name, "DIRTY_TRACKING", PreflightOutcome.Warning, $"The kernel on {host.Name} has no IOMMUFD (no sysfs module/iommufd), so it cannot report device dirty pages; should the driver of {id} offer DMA logging, {where}. To be safe, {remedy}.", id),
            null => new PreflightCheck(host.Name, "DIRTY_TRACKING", PreflightOutcome.Warning, $"Whether the kernel on {host.Name} has IOMMUFD could not be read; without it, and a driver of {id} that offers DMA logging, {where}.", id),
        };
    }

    /// <summary>The mdev driver's name: the kernel names a type <c>&lt;driver&gt;-&lt;type&gt;</c>.</summary>
    private static string Driver(MdevTypeId type)
    {
        var dash = type.Value.IndexOf('-', StringComparison.Ordinal);
        return dash > 0 ? type.Value[..dash] : type.Value;
    }

    /// <summary>
    /// Both properties are QEMU OnOffAuto properties: QEMU takes only the strings <c>on</c>, <c>off</c>
    /// and <c>auto</c> (lower case); libvirt passes a <c>type='bool'</c> value as a JSON boolean, which QEMU refuses.
    /// </summary>
    private static bool IsString(QemuProperty property, string value) => property.Type == "string" && property.Value == value;

    /// <summary>Why QEMU would not take <paramref name="property"/> as written; null when it is absent or in a form QEMU takes.</summary>
    private static string? NotTakenByQemu(QemuProperty? property, string name, string wanted)
    {
        if (property is null || (property.Type == "string" && property.Value is "on" or "off" or "auto"))
        {
            return null;
        }

        var written = (property.Type is { } type ? Printable(type) : "(none)") + "' value='" + Printable(property.Value);
        return $"sets {name} with type='{written}', which QEMU does not take (the property is on, off or auto, passed as a string): write {PropertyXml(name, wanted)}.";
    }

    private static string PropertyXml(string name, string value) => $"<qemu:property name='{name}' type='string' value='{value}'/>";

    private static string Printable(string text) =>
        text.Length <= 32 && text.All(char.IsAsciiLetterOrDigit) ? text : string.Create(CultureInfo.InvariantCulture, $"({text.Length}-character)");
}
