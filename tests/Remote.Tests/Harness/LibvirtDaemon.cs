using System.Diagnostics;

namespace VfioMigration.Remote.Tests.Harness;

/// <summary>
/// A libvirtd run by the test (not the system service) that serves libvirt's test driver over a unix
/// socket in a temporary directory, so the remote libvirt protocol is exercised. Its stateful driver
/// modules (qemu, network...) are not loaded: <c>LIBVIRT_DRIVER_DIR</c> points at an empty directory.
/// With a TCP port it also listens on 127.0.0.1 without authentication (<c>test+tcp://</c>), as a host a
/// command-line tool reaches by a host name rather than a local socket.
/// </summary>
internal sealed class LibvirtDaemon : IDisposable
{
    private const string Libvirtd = "/usr/sbin/libvirtd";
    private Process? _process;

    private LibvirtDaemon(string directory, int? tcpPort)
    {
        Directory = directory;
        TcpPort = tcpPort;
    }

    public string Directory { get; }

    /// <summary>The loopback TCP port it listens on too; null when only on its socket.</summary>
    public int? TcpPort { get; }

    private string Socket => Path.Combine(Directory, "libvirt-sock");

    public static LibvirtDaemon Start(bool tcp = false)
    {
        var directory = System.IO.Directory.CreateTempSubdirectory("remote-libvirtd-").FullName;
        var daemon = Cleanup.Track(new LibvirtDaemon(directory, tcp ? Daemon.FreePort() : null));
        System.IO.Directory.CreateDirectory(Path.Combine(directory, "no-drivers"));
        File.WriteAllText(Path.Combine(directory, "libvirtd.conf"), $"""
            unix_sock_dir = "{directory}"
            auth_unix_rw = "none"
            auth_unix_ro = "none"
            log_outputs = "3:file:{directory}/libvirtd.log"
            listen_tls = 0
            listen_tcp = {(tcp ? 1 : 0)}
            listen_addr = "127.0.0.1"
            tcp_port = "{daemon.TcpPort ?? 0}"
            auth_tcp = "none"

            """);
        daemon.Restart();
        return daemon;
    }

    /// <summary>The remote URI of libvirt's test driver loaded from <paramref name="hostXml"/>, through this daemon.</summary>
    public string Uri(string hostXml) => $"test+unix://{hostXml}?socket={Socket}";

    /// <summary>The same through its TCP port: <c>test+tcp://127.0.0.1:PORT/…</c>.</summary>
    public string TcpUri(string hostXml) => $"test+tcp://127.0.0.1:{TcpPort ?? throw new InvalidOperationException("started without TCP")}{hostXml}";

    public void Stop()
    {
        if (_process is not null)
        {
            Daemon.Stop(_process);
            _process.Dispose();
            _process = null;
            File.Delete(Socket);
        }
    }

    public void Restart()
    {
        Stop();
        _process = Daemon.Start(
            Libvirtd,
            [.. TcpPort is null ? (string[])[] : ["--listen"], "-f", Path.Combine(Directory, "libvirtd.conf"), "-p", Path.Combine(Directory, "libvirtd.pid")],
            new Dictionary<string, string> { ["LIBVIRT_DRIVER_DIR"] = Path.Combine(Directory, "no-drivers") });
        Daemon.WaitUntil(() => File.Exists(Socket) && (TcpPort is not { } port || Daemon.Accepts(port)), $"libvirtd socket {Socket} (log {Directory}/libvirtd.log)", _process);
    }

    public void Dispose()
    {
        Stop();
        Cleanup.Untrack(this);
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}
