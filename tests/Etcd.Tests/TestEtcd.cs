using VfioMigration.Bench;

namespace VfioMigration.Etcd.Tests;

/// <summary>The tests' etcd on loopback (<see cref="EtcdCluster"/>, shared with the bench): Inconclusive without <c>/usr/bin/etcd</c>.</summary>
internal static class TestEtcd
{
    /// <summary>Starts <paramref name="size"/> members, serving mutual TLS with <paramref name="tls"/>'s files when given; Inconclusive when etcd is not installed.</summary>
    public static EtcdCluster Start(int size, TestCertificates? tls = null)
    {
        if (EtcdCluster.Unavailable is { } missing)
        {
            Assert.Inconclusive(missing);
        }

        return EtcdCluster.Start(size, tls?.Files);
    }
}
