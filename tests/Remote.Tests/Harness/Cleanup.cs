using System.Collections.Concurrent;

namespace VfioMigration.Remote.Tests.Harness;

/// <summary>
/// Everything the harness starts (sshd, libvirtd, FUSE mounts, proxies) registers here, so that it is
/// stopped at the end of the run even when a test failed before its own <c>using</c> could run.
/// </summary>
[TestClass]
public static class Cleanup
{
    private static readonly ConcurrentDictionary<IDisposable, byte> Live = new();

    public static T Track<T>(T resource)
        where T : IDisposable
    {
        Live[resource] = 0;
        return resource;
    }

    public static void Untrack(IDisposable resource) => Live.TryRemove(resource, out _);

    [AssemblyCleanup]
    public static void StopEverything()
    {
        foreach (var resource in Live.Keys.Reverse())
        {
            resource.Dispose();
        }
    }
}
