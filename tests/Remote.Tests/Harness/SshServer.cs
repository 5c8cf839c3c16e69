using System.Diagnostics;
using VfioMigration.RemoteHosts;

namespace VfioMigration.Remote.Tests.Harness;

/// <summary>
/// An OpenSSH server on 127.0.0.1 run by the test (<c>/usr/sbin/sshd -D -f CONFIG</c>, not the system
/// service), with a host key and a user key generated into a temporary directory.
/// </summary>
internal sealed class SshServer : IDisposable
{
    private const string Sshd = "/usr/sbin/sshd";
    private Process? _process;

    private SshServer(string directory, int port)
    {
        Directory = directory;
        Port = port;
    }

    public string Directory { get; }

    public int Port { get; }

    public string UserKey => Path.Combine(Directory, "user_key");

    public string KnownHosts => Path.Combine(Directory, "known_hosts");

    /// <summary>The host key line as a known_hosts entry for this server.</summary>
    public string KnownHostsLine { get; private set; } = string.Empty;

    public static SshServer Start()
    {
        var directory = System.IO.Directory.CreateTempSubdirectory("remote-sshd-").FullName;
        var server = Cleanup.Track(new SshServer(directory, Daemon.FreePort()));
        Daemon.Run("ssh-keygen", "-q", "-t", "ed25519", "-N", string.Empty, "-C", "test-host", "-f", Path.Combine(directory, "host_key"));
        Daemon.Run("ssh-keygen", "-q", "-t", "ed25519", "-N", string.Empty, "-C", "test-user", "-f", server.UserKey);
        File.Copy(server.UserKey + ".pub", Path.Combine(directory, "authorized_keys"));
        var hostKey = File.ReadAllText(Path.Combine(directory, "host_key.pub")).Split(' ');
        server.KnownHostsLine = $"[127.0.0.1]:{server.Port} {hostKey[0]} {hostKey[1]}";
        File.WriteAllText(server.KnownHosts, server.KnownHostsLine + "\n");
        File.WriteAllText(Path.Combine(directory, "sshd_config"), $"""
            Port {server.Port}
            ListenAddress 127.0.0.1
            HostKey {directory}/host_key
            PidFile {directory}/sshd.pid
            AuthorizedKeysFile {directory}/authorized_keys
            PubkeyAuthentication yes
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            PermitRootLogin prohibit-password
            StrictModes no
            UsePAM no
            MaxSessions 16
            MaxStartups 50
            LogLevel ERROR
            # bash sources ~/.bashrc for commands run by sshd unless it is a nested shell (SHLVL >= 1):
            # this machine's root .bashrc takes seconds (pyenv), which every round trip would pay.
            SetEnv SHLVL=1

            """);

        // sshd checks its privilege separation directory even when run by hand.
        System.IO.Directory.CreateDirectory("/run/sshd");
        server.Restart();
        return server;
    }

    /// <summary>Options for a host whose sysfs root on this server is <paramref name="sysfsRoot"/>.</summary>
    public SshHostOptions Options(string sysfsRoot, int? port = null) => new()
    {
        Host = "127.0.0.1",
        Port = port ?? Port,
        User = "root",
        KeyFile = UserKey,
        KnownHostsFile = KnownHosts,
        SysfsRoot = sysfsRoot,
        ConnectTimeout = TimeSpan.FromSeconds(10),
        CommandTimeout = TimeSpan.FromSeconds(30),
    };

    /// <summary>Lists this server's host key for <paramref name="port"/> too (a proxy in front of it).</summary>
    public void TrustPort(int port) =>
        File.AppendAllText(KnownHosts, KnownHostsLine.Replace($"[127.0.0.1]:{Port}", $"[127.0.0.1]:{port}", StringComparison.Ordinal) + "\n");

    /// <summary>Stops the server and every session it forked: established connections drop too.</summary>
    public void Stop()
    {
        if (_process is not null)
        {
            Daemon.Stop(_process);
            _process.Dispose();
            _process = null;
        }
    }

    /// <summary>Starts (again) on the same port with the same keys.</summary>
    public void Restart()
    {
        Stop();
        _process = Daemon.Start(Sshd, ["-D", "-f", Path.Combine(Directory, "sshd_config"), "-E", Path.Combine(Directory, "sshd.log")]);
        Daemon.WaitUntil(() => Daemon.Accepts(Port), $"sshd on port {Port} (log {Directory}/sshd.log)", _process);
    }

    public void Dispose()
    {
        Stop();
        Cleanup.Untrack(this);
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}
