namespace VfioMigration.TwoHost.Tests;

/// <summary>One L1 host as scripts/two-host/run.sh describes it: its name, libvirt URI and SSH port on loopback.</summary>
internal sealed record L1HostAddress(string Name, string Uri, int SshPort);

/// <summary>
/// The two L1 hosts booted by scripts/two-host/run.sh, read from the TWO_HOST_* variables it sets.
/// Without them the scenarios are skipped (reported as skipped, never as passed).
/// </summary>
internal sealed record TwoHostEnvironment(string KeyFile, string KnownHostsFile, string GuestXmlTemplate, L1HostAddress A, L1HostAddress B)
{
    /// <summary>The hosts, or an inconclusive (skipped) test when the harness is not running.</summary>
    public static TwoHostEnvironment Require()
    {
        var key = Environment.GetEnvironmentVariable("TWO_HOST_KEY");
        if (string.IsNullOrEmpty(key))
        {
            Assert.Inconclusive("The two L1 hosts are not up (no TWO_HOST_* variables): run scripts/two-host/run.sh, which boots them and runs these tests.");
        }

        return new TwoHostEnvironment(
            key,
            Variable("TWO_HOST_KNOWN_HOSTS"),
            File.ReadAllText(Variable("TWO_HOST_GUEST_XML")),
            Host("A"),
            Host("B"));
    }

    private static L1HostAddress Host(string letter) =>
        new(Variable($"TWO_HOST_{letter}_NAME"), Variable($"TWO_HOST_{letter}_URI"), int.Parse(Variable($"TWO_HOST_{letter}_SSH_PORT"), System.Globalization.CultureInfo.InvariantCulture));

    private static string Variable(string name) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException($"{name} is not set although TWO_HOST_KEY is: start the hosts with scripts/two-host/run.sh.");
}
