using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using VfioMigration.Bench;

namespace VfioMigration.Etcd.Tests;

/// <summary>
/// A throwaway PKI made with .NET's <see cref="CertificateRequest"/> in a temp directory, as PEM
/// files etcd and the store read: a CA, an etcd server certificate for 127.0.0.1 signed by it, a
/// client certificate signed by it, and a second, unrelated CA (with its own client certificate) for
/// the wrong-CA cases. ECDSA P-256 keys; everything is valid from an hour ago for a day.
/// </summary>
internal sealed class TestCertificates : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("vfio-etcd-pki-").FullName;

    public TestCertificates()
    {
        using var authority = MakeAuthority("vfio-test-ca", Authority);
        using var other = MakeAuthority("vfio-other-ca", OtherAuthority);
        Issue(authority, "127.0.0.1", server: true, ServerCertificate, ServerKey);
        Issue(authority, "root", server: false, ClientCertificate, ClientKey);
        Issue(other, "root", server: false, OtherClientCertificate, OtherClientKey);
    }

    /// <summary>The files a cluster serving mutual TLS needs (<see cref="EtcdCluster.Start"/>).</summary>
    public EtcdTlsFiles Files => new(Authority, ServerCertificate, ServerKey, ClientCertificate, ClientKey);

    /// <summary>The CA that signs the server and client certificates.</summary>
    public string Authority => Path.Combine(_directory, "ca.pem");

    /// <summary>A CA that signed nothing etcd trusts or shows.</summary>
    public string OtherAuthority => Path.Combine(_directory, "other-ca.pem");

    public string ServerCertificate => Path.Combine(_directory, "server.pem");

    public string ServerKey => Path.Combine(_directory, "server-key.pem");

    public string ClientCertificate => Path.Combine(_directory, "client.pem");

    public string ClientKey => Path.Combine(_directory, "client-key.pem");

    /// <summary>A client certificate the other CA signed: etcd does not trust it.</summary>
    public string OtherClientCertificate => Path.Combine(_directory, "other-client.pem");

    public string OtherClientKey => Path.Combine(_directory, "other-client-key.pem");

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static X509Certificate2 MakeAuthority(string name, string file)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddDays(1));
        File.WriteAllText(file, certificate.ExportCertificatePem());
        return certificate;
    }

    private static void Issue(X509Certificate2 authority, string name, bool server, string certificateFile, string keyFile)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: false, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(server ? "1.3.6.1.5.5.7.3.1" : "1.3.6.1.5.5.7.3.2")], critical: false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(authority, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        if (server)
        {
            var names = new SubjectAlternativeNameBuilder();
            names.AddIpAddress(IPAddress.Loopback);
            names.AddDnsName("localhost");
            request.CertificateExtensions.Add(names.Build());
        }

        using var ecdsa = authority.GetECDsaPrivateKey()!;
        var generator = X509SignatureGenerator.CreateForECDsa(ecdsa);
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7f;
        using var certificate = request.Create(authority.SubjectName, generator, DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddDays(1), serial);
        File.WriteAllText(certificateFile, certificate.ExportCertificatePem());
        File.WriteAllText(keyFile, key.ExportPkcs8PrivateKeyPem());
    }
}
