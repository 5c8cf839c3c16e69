using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using VfioMigration.Planner.State;

using VfioMigration.Etcd;

namespace VfioMigration.Bench;

/// <summary>
/// Debian's etcd (<c>/usr/bin/etcd</c>, package etcd-server) started on loopback: one member or a
/// cluster, on free ports, with a temp data directory; every member is killed and the directory
/// deleted on dispose. The etcd tests' servers and the bench's shared store for planner processes.
/// </summary>
public sealed class EtcdCluster : IDisposable
{
    /// <summary>Where Debian's etcd-server installs the server.</summary>
    public const string Binary = "/usr/bin/etcd";

    private static readonly TimeSpan StartLimit = TimeSpan.FromSeconds(60);

    private readonly string _directory = Directory.CreateTempSubdirectory("vfio-etcd-").FullName;
    private readonly Process?[] _members;

    private EtcdCluster(int size, EtcdTlsFiles? tls)
    {
        Tls = tls;
        var ports = FreePorts(2 * size);
        var clientPorts = ports[..size];
        var peerPorts = ports[size..];
        ClientUrls = [.. clientPorts.Select(p => $"{(tls is null ? "http" : "https")}://127.0.0.1:{p.ToString(CultureInfo.InvariantCulture)}")];
        var initial = string.Join(',', peerPorts.Select((p, i) => $"m{i.ToString(CultureInfo.InvariantCulture)}=http://127.0.0.1:{p.ToString(CultureInfo.InvariantCulture)}"));
        _members = new Process?[size];
        for (var i = 0; i < size; i++)
        {
            var peer = $"http://127.0.0.1:{peerPorts[i].ToString(CultureInfo.InvariantCulture)}";
            var start = new ProcessStartInfo(Binary)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var arg in (string[])[
                "--name", $"m{i.ToString(CultureInfo.InvariantCulture)}",
                "--data-dir", Path.Combine(_directory, $"m{i.ToString(CultureInfo.InvariantCulture)}"),
                "--listen-client-urls", ClientUrls[i], "--advertise-client-urls", ClientUrls[i],
                "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                "--initial-cluster", initial, "--initial-cluster-state", "new", "--initial-cluster-token", Path.GetFileName(_directory),
                .. tls is null ? (string[])[] : ["--cert-file", tls.ServerCertificate, "--key-file", tls.ServerKey, "--client-cert-auth", "--trusted-ca-file", tls.Authority]])
            {
                start.ArgumentList.Add(arg);
            }

            var member = Process.Start(start)!;
            member.OutputDataReceived += (_, _) => { };
            member.ErrorDataReceived += (_, _) => { };
            member.BeginOutputReadLine();
            member.BeginErrorReadLine();
            _members[i] = member;
        }
    }

    /// <summary>The certificates of a cluster that serves clients over mutual TLS; null for plain http.</summary>
    public EtcdTlsFiles? Tls { get; }

    /// <summary>Each member's client URL.</summary>
    public IReadOnlyList<string> ClientUrls { get; }

    /// <summary>Every member's client URL, comma-separated, as <c>--etcd-endpoints</c> takes them.</summary>
    public string Endpoints => string.Join(',', ClientUrls);

    /// <summary>Why no cluster can start here (<c>/usr/bin/etcd</c> is missing), or null when one can.</summary>
    public static string? Unavailable =>
        File.Exists(Binary) ? null : $"{Binary} is missing: install Debian's etcd-server (scripts/prerequisites.sh --tests does).";

    /// <summary>Starts <paramref name="size"/> members and waits until the cluster answers. With <paramref name="tls"/>, clients must come over TLS with a certificate its CA signed.</summary>
    /// <exception cref="InvalidOperationException"><c>/usr/bin/etcd</c> is missing (see <see cref="Unavailable"/>), or a member exited while starting.</exception>
    /// <exception cref="StateStoreException">The cluster did not answer within 60 s.</exception>
    public static EtcdCluster Start(int size, EtcdTlsFiles? tls = null)
    {
        if (Unavailable is { } missing)
        {
            throw new InvalidOperationException(missing);
        }

        var cluster = new EtcdCluster(size, tls);
        try
        {
            cluster.WaitUntilServing();
            return cluster;
        }
        catch
        {
            cluster.Dispose();
            throw;
        }
    }

    /// <summary>A store on this cluster (every member, or the one given), with the right certificates when it serves TLS.</summary>
    public EtcdStateStore Open(string prefix, TimeSpan? leaseTtl = null, int? member = null) => new(Options(prefix, leaseTtl, member));

    /// <summary>Options for a store on this cluster (every member, or the one given), with the right certificates when it serves TLS.</summary>
    public EtcdStateStoreOptions Options(string prefix, TimeSpan? leaseTtl = null, int? member = null) => new()
    {
        Endpoints = member is { } m ? ClientUrls[m] : Endpoints,
        Prefix = prefix,
        LeaseTtl = leaseTtl ?? TimeSpan.FromSeconds(10),
        CaCertificateFile = Tls?.Authority,
        ClientCertificateFile = Tls?.ClientCertificate,
        ClientKeyFile = Tls?.ClientKey,
    };

    /// <summary>Kills one member (SIGKILL): the cluster keeps a quorum with 2 of 3.</summary>
    public void Stop(int member)
    {
        if (_members[member] is { } process)
        {
            process.Kill();
            process.WaitForExit();
            process.Dispose();
            _members[member] = null;
        }
    }

    /// <summary>
    /// Stops one member (SIGSTOP) until <see cref="Thaw"/>: its sockets stay open and the kernel still
    /// takes what clients send, but nothing is answered, as an etcd busy or paused by its host would be.
    /// </summary>
    public void Freeze(int member) => Signal(member, "-STOP");

    /// <summary>Lets a member <see cref="Freeze"/> stopped go on (SIGCONT): it reads what clients sent meanwhile.</summary>
    public void Thaw(int member) => Signal(member, "-CONT");

    /// <summary>Kills every member and deletes the data directory.</summary>
    public void Dispose()
    {
        for (var i = 0; i < _members.Length; i++)
        {
            Stop(i);
        }

        Directory.Delete(_directory, recursive: true);
    }

    private void WaitUntilServing()
    {
        var limit = Stopwatch.StartNew();
        while (true)
        {
            if (_members.FirstOrDefault(m => m is { HasExited: true }) is { } exited)
            {
                throw new InvalidOperationException($"etcd exited with {exited.ExitCode} while starting (a port taken meanwhile?).");
            }

            try
            {
                // A store opens only when a lease can be granted: the cluster has a leader.
                using var probe = Open("/probe/");
                return;
            }
            catch (StateStoreException) when (limit.Elapsed < StartLimit)
            {
                Thread.Sleep(200);
            }
        }
    }

    private void Signal(int member, string signal)
    {
        var process = _members[member] ?? throw new InvalidOperationException($"member {member.ToString(CultureInfo.InvariantCulture)} is stopped");
        using var kill = Process.Start("/bin/kill", [signal, process.Id.ToString(CultureInfo.InvariantCulture)]);
        if (!kill.WaitForExit(10_000) || kill.ExitCode != 0)
        {
            throw new InvalidOperationException($"kill {signal} {process.Id.ToString(CultureInfo.InvariantCulture)} failed");
        }
    }

    /// <summary>Loopback ports nothing listens on now (bound to port 0, then released).</summary>
    private static int[] FreePorts(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToList();
        try
        {
            listeners.ForEach(l => l.Start());
            return [.. listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port)];
        }
        finally
        {
            listeners.ForEach(l => l.Stop());
        }
    }
}

/// <summary>The PEM files of a cluster that serves clients over mutual TLS.</summary>
/// <param name="Authority">The CA that signed the server's and the clients' certificates.</param>
/// <param name="ServerCertificate">The members' certificate.</param>
/// <param name="ServerKey">The members' key.</param>
/// <param name="ClientCertificate">A client certificate the CA signed.</param>
/// <param name="ClientKey">Its key.</param>
public sealed record EtcdTlsFiles(string Authority, string ServerCertificate, string ServerKey, string ClientCertificate, string ClientKey);
