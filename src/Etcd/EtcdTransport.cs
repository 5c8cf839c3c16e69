using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using dotnet_etcd;
using VfioMigration.Planner.State;

namespace VfioMigration.Etcd;

/// <summary>
/// How <see cref="EtcdStateStore"/> reaches etcd: plain <c>http://</c>; or <c>https://</c> with the
/// members' certificates checked against <see cref="EtcdStateStoreOptions.CaCertificateFile"/> (else
/// the system's roots) and against the endpoints' host names, optionally with a client certificate
/// (mutual TLS); and etcd's user authentication. Remembers why it refused a member's certificate, so
/// the store's error names the TLS failure instead of an unreachable etcd.
/// </summary>
internal sealed class EtcdTransport : IDisposable
{
    private readonly X509Certificate2Collection _authorities;
    private readonly X509Certificate2? _clientCertificate;
    private readonly string[] _hosts;
    private readonly string? _caFile;
    private string? _refusal;

    private EtcdTransport(X509Certificate2Collection authorities, X509Certificate2? clientCertificate, string[] hosts, string? caFile)
    {
        _authorities = authorities;
        _clientCertificate = clientCertificate;
        _hosts = hosts;
        _caFile = caFile;
    }

    /// <summary>Why the last certificate a member showed was refused; null when none was.</summary>
    public string? Refusal => Volatile.Read(ref _refusal);

    /// <summary>Checks the options, loads the certificates and builds the client.</summary>
    /// <exception cref="StateStoreException">An option is inconsistent (TLS files with <c>http://</c> endpoints, a certificate without its key, a user without a password) or a file cannot be read.</exception>
    public static (EtcdClient Client, EtcdTransport Transport) Connect(EtcdStateStoreOptions options)
    {
        var endpoints = options.Endpoints.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var secure = endpoints.Count(e => e.StartsWith("https://", StringComparison.OrdinalIgnoreCase));
        var tlsFiles = options.CaCertificateFile is not null || options.ClientCertificateFile is not null || options.ClientKeyFile is not null;
        Require(secure == 0 || secure == endpoints.Length, $"The etcd endpoints '{options.Endpoints}' mix https:// and other schemes: give every member the same.");
        Require(!tlsFiles || secure > 0, $"A CA, certificate or key file is given for TLS, but the etcd endpoints '{options.Endpoints}' are not https://.");
        Require((options.ClientCertificateFile is null) == (options.ClientKeyFile is null), "A client certificate for etcd needs its key, and a key its certificate: give both or neither.");
        Require((options.User is null) == (options.Password is null), "etcd authentication needs a user and a password: give both or neither.");
        Require(options.Password is null || options.Password.Length > 0, "The etcd password is empty.");

        var transport = new EtcdTransport(
            options.CaCertificateFile is { } ca ? Load(ca, "CA", () => { var all = new X509Certificate2Collection(); all.ImportFromPemFile(ca); return all; }) : [],
            options.ClientCertificateFile is { } cert ? Load(cert, "client certificate", () => X509Certificate2.CreateFromPemFile(cert, options.ClientKeyFile)) : null,
            [.. endpoints.Select(e => Uri.TryCreate(e, UriKind.Absolute, out var uri) ? uri.Host : e)],
            options.CaCertificateFile);
        if (options.CaCertificateFile is not null && transport._authorities.Count == 0)
        {
            transport.Dispose();
            throw new StateStoreException($"The etcd CA file '{options.CaCertificateFile}' holds no PEM certificate.");
        }

        EtcdClient client;
        try
        {
            client = secure == 0 ? new EtcdClient(options.Endpoints) : new EtcdClient(options.Endpoints, transport.Configure);
            if (options.User is { } user)
            {
                client.SetCredentials(user, options.Password!);
            }
        }
        catch (Exception e) when (e is UriFormatException or ArgumentException or InvalidOperationException)
        {
            transport.Dispose();
            throw new StateStoreException($"The etcd endpoints '{options.Endpoints}' are not usable: {e.Message}", e);
        }

        return (client, transport);
    }

    public void Dispose()
    {
        foreach (var authority in _authorities)
        {
            authority.Dispose();
        }

        _clientCertificate?.Dispose();
    }

    private static void Require(bool condition, string message)
    {
        if (!condition)
        {
            throw new StateStoreException(message);
        }
    }

    private static T Load<T>(string file, string what, Func<T> load)
    {
        try
        {
            return load();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
        {
            throw new StateStoreException($"The etcd {what} file '{file}' cannot be used: {e.Message}", e);
        }
    }

    private void Configure(SslClientAuthenticationOptions ssl)
    {
        ssl.EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13;
        if (_clientCertificate is not null)
        {
            ssl.ClientCertificates = [_clientCertificate];
        }

        ssl.RemoteCertificateValidationCallback = (_, certificate, _, _) => Accept(certificate);
    }

    /// <summary>
    /// A member's certificate is accepted when it chains to the CA file (else the system's roots) and
    /// names one of the endpoints' hosts (the client connects to every endpoint under one channel
    /// name, so the host of this very connection is not known here).
    /// </summary>
    private bool Accept(X509Certificate? presented)
    {
        if (presented is not X509Certificate2 certificate)
        {
            return Refuse("the etcd member showed no certificate");
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (_caFile is not null)
        {
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.AddRange(_authorities);
        }

        if (!chain.Build(certificate))
        {
            var why = string.Join(", ", chain.ChainStatus.Select(s => s.Status.ToString()).Distinct(StringComparer.Ordinal));
            return Refuse($"the etcd member's certificate ({certificate.Subject}) is not signed by {(_caFile is null ? "a CA the system trusts" : $"the CA in {_caFile}")} ({why})");
        }

        return _hosts.Any(host => certificate.MatchesHostname(host))
            || Refuse($"the etcd member's certificate ({certificate.Subject}) names none of the endpoints' hosts ({string.Join(", ", _hosts)})");
    }

    private bool Refuse(string why)
    {
        Volatile.Write(ref _refusal, why);
        return false;
    }
}
