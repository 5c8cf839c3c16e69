using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace VfioMigration.RemoteHosts;

/// <summary>What a known_hosts file says about a host's key.</summary>
internal enum KnownHostVerdict
{
    /// <summary>The key is listed for the host.</summary>
    Known,

    /// <summary>The host is not listed.</summary>
    Unknown,

    /// <summary>The host is listed with other keys only: the key changed (or someone is in between).</summary>
    Changed,

    /// <summary>The key is marked <c>@revoked</c>.</summary>
    Revoked,
}

/// <summary>
/// An OpenSSH known_hosts file: plain (<c>host,[host]:port</c>) and hashed (<c>|1|salt|hash</c>) host
/// patterns, <c>@revoked</c> markers. Keys are compared as their wire-format blobs, so the signature
/// algorithm negotiated (e.g. <c>rsa-sha2-512</c> for an <c>ssh-rsa</c> key) does not matter.
/// </summary>
/// <remarks>Wildcard patterns and <c>@cert-authority</c> lines are not used for matching; a host known only through them counts as unknown.</remarks>
internal sealed class KnownHosts
{
    private readonly List<Entry> _entries;

    private KnownHosts(List<Entry> entries) => _entries = entries;

    /// <summary>Loads <paramref name="path"/>; a missing file is an empty list (every host unknown).</summary>
    public static KnownHosts Load(string path)
    {
        var entries = new List<Entry>();
        if (!File.Exists(path))
        {
            return new KnownHosts(entries);
        }

        foreach (var raw in File.ReadLines(path))
        {
            var fields = raw.Trim().Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length == 0 || fields[0].StartsWith('#'))
            {
                continue;
            }

            var revoked = false;
            if (fields[0].StartsWith('@'))
            {
                if (fields[0] != "@revoked")
                {
                    continue;
                }

                revoked = true;
                fields = fields[1..];
            }

            if (fields.Length < 3)
            {
                continue;
            }

            byte[] blob;
            try
            {
                blob = Convert.FromBase64String(fields[2]);
            }
            catch (FormatException)
            {
                continue;
            }

            entries.Add(new Entry(fields[0].Split(','), blob, revoked));
        }

        return new KnownHosts(entries);
    }

    /// <summary>The name OpenSSH records for <paramref name="host"/> on <paramref name="port"/>: the host itself on 22, <c>[host]:port</c> otherwise.</summary>
    public static string HostPattern(string host, int port) =>
        port == 22 ? host : string.Create(CultureInfo.InvariantCulture, $"[{host}]:{port}");

    /// <summary>Checks <paramref name="keyBlob"/> (the host key in SSH wire format) for <paramref name="host"/>:<paramref name="port"/>.</summary>
    public KnownHostVerdict Check(string host, int port, byte[] keyBlob)
    {
        var name = HostPattern(host, port);
        var listed = false;
        foreach (var entry in _entries)
        {
            var sameKey = entry.KeyBlob.AsSpan().SequenceEqual(keyBlob);
            if (entry.Revoked)
            {
                if (sameKey)
                {
                    return KnownHostVerdict.Revoked;
                }

                continue;
            }

            if (!entry.Patterns.Any(p => Matches(p, name)))
            {
                continue;
            }

            if (sameKey)
            {
                return KnownHostVerdict.Known;
            }

            listed = true;
        }

        return listed ? KnownHostVerdict.Changed : KnownHostVerdict.Unknown;
    }

    private static bool Matches(string pattern, string name)
    {
        if (!pattern.StartsWith("|1|", StringComparison.Ordinal))
        {
            return string.Equals(pattern, name, StringComparison.OrdinalIgnoreCase);
        }

        // Hashed: |1|base64(salt)|base64(HMAC-SHA1(salt, name)).
        var parts = pattern.Split('|');
        if (parts.Length != 4)
        {
            return false;
        }

        try
        {
            var salt = Convert.FromBase64String(parts[2]);
            var expected = Convert.FromBase64String(parts[3]);
#pragma warning disable CA5350 // OpenSSH's hashed-host format is defined with HMAC-SHA1; it only hides host names.
            var actual = HMACSHA1.HashData(salt, Encoding.ASCII.GetBytes(name.ToLowerInvariant()));
#pragma warning restore CA5350
            return CryptographicOperations.FixedTimeEquals(actual, expected);
        }
        catch (FormatException)
        {
            return false;
        }
    }

    private sealed record Entry(string[] Patterns, byte[] KeyBlob, bool Revoked);
}
