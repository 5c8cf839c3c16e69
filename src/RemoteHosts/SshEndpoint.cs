using System.Globalization;

namespace VfioMigration.RemoteHosts;

/// <summary>
/// Where one host's sysfs is reached over SSH when the libvirt URI does not say (or says something
/// else): <c>[user@]host[:port]</c> and an optional key. Given to <see cref="HostDescription.Parse"/>.
/// </summary>
/// <param name="Host">The host name or address (an IPv6 address in brackets when a port follows).</param>
/// <param name="Port">The SSH port; <see cref="RemoteHostDefaults.SshPort"/> when null.</param>
/// <param name="User">The user; the URI's user, else <see cref="RemoteHostDefaults.User"/>, when null.</param>
/// <param name="KeyFile">The private key for this host; the defaults' when null.</param>
public sealed record SshEndpoint(string Host, int? Port = null, string? User = null, string? KeyFile = null)
{
    /// <summary>Parses <c>[user@]host[:port]</c> (<c>root@127.0.0.1:2222</c>, <c>node7</c>, <c>admin@[fd00::7]:22</c>).</summary>
    /// <param name="text">The endpoint.</param>
    /// <param name="keyFile">The private key for this host, when it has its own.</param>
    /// <exception cref="FormatException">The text is not of that form.</exception>
    public static SshEndpoint Parse(string text, string? keyFile = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        var at = text.LastIndexOf('@');
        var user = at >= 0 ? text[..at] : null;
        var rest = text[(at + 1)..];
        string host;
        int? port = null;
        string? portText = null;
        if (rest.StartsWith('['))
        {
            var close = rest.IndexOf(']', StringComparison.Ordinal);
            host = close > 1 ? rest[1..close] : string.Empty;
            var after = close > 0 ? rest[(close + 1)..] : "?";
            portText = after.Length == 0 ? null : after.StartsWith(':') ? after[1..] : "?";
        }
        else
        {
            var colon = rest.IndexOf(':', StringComparison.Ordinal);
            host = colon >= 0 ? rest[..colon] : rest;
            portText = colon >= 0 ? rest[(colon + 1)..] : null;
        }

        if (portText is not null)
        {
            port = int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var number) && number is > 0 and < 65536 ? number : null;
        }

        if (host.Length == 0 || (portText is not null && port is null) || user?.Length == 0 || Invalid(host) || (user is not null && Invalid(user)))
        {
            throw new FormatException($"'{Printable(text)}' is not an SSH endpoint of the form [user@]host[:port].");
        }

        return new SshEndpoint(host, port, user, keyFile);
    }

    /// <summary>The text with control characters shown as <c>?</c>, for messages.</summary>
    internal static string Printable(string text) => string.Concat(text.Select(c => char.IsControl(c) ? '?' : c));

    private static bool Invalid(string part) => part.Any(c => char.IsWhiteSpace(c) || char.IsControl(c) || c is '@' or '/');
}
