using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using VfioMigration.Libvirt.Interop;

namespace VfioMigration.Libvirt.Tests;

[TestClass]
public sealed partial class ErrorTests : LibvirtTestBase
{
    [TestMethod]
    public void Errors_AreReadOnTheFailingThread_WhileOtherThreadsFailDifferently()
    {
        using var host = new TestHost();
        using var connection = LibvirtConnection.Open(host.Uri);
        const int threadCount = 8;
        const int rounds = 200;
        using var start = new Barrier(threadCount);
        var mismatches = new ConcurrentQueue<string>();

        var threads = Enumerable.Range(0, threadCount).Select(index => new Thread(() =>
        {
            using var stopped = connection.LookupDomainByName(TestHost.StoppedGuest);
            start.SignalAndWait();
            for (var round = 0; round < rounds; round++)
            {
                var missingDevice = $"missing_{index}_{round}";
                var (expectedCode, expectedText, action) = (index % 4) switch
                {
                    0 => (LibvirtErrorCode.NoNodeDevice, missingDevice, (Action)(() => connection.LookupNodeDeviceByName(missingDevice).Dispose())),
                    1 => (LibvirtErrorCode.InvalidArgument, "Invalid UUID", () => connection.LookupDomainByUuid("not-a-uuid").Dispose()),
                    2 => (LibvirtErrorCode.OperationInvalid, "not running", stopped.Destroy),
                    _ => (LibvirtErrorCode.InvalidArgument, "unsupported flags", () => DisposeAll(connection.ListAllNodeDevices(NodeDeviceListFilters.Active))),
                };
                try
                {
                    action();
                    mismatches.Enqueue($"thread {index} round {round}: no exception");
                }
                catch (LibvirtException e) when (e.Code != expectedCode || e.LibvirtMessage?.Contains(expectedText, StringComparison.Ordinal) != true)
                {
                    mismatches.Enqueue($"thread {index} round {round}: expected {expectedCode} '{expectedText}', got {e.Code} '{e.LibvirtMessage}'");
                }
                catch (LibvirtException)
                {
                    // The thread's own error: what this test wants.
                }
            }
        })).ToArray();

        Array.ForEach(threads, thread => thread.Start());
        Array.ForEach(threads, thread => thread.Join());

        Assert.IsEmpty(mismatches, string.Join(Environment.NewLine, mismatches.Take(5)));
    }

    [TestMethod]
    public void TakeLastError_WhenLibvirtSetNone_StillReturnsAnExceptionSayingSo()
    {
        using var connection = LibvirtConnection.Open("test:///default");
        _ = connection.GetUri(); // a successful call leaves no error behind

        var error = LibvirtErrors.TakeLastError("virDomainGetName");

        Assert.AreEqual(typeof(LibvirtException), error.GetType());
        Assert.AreEqual(LibvirtErrorCode.Ok, error.Code);
        StringAssert.Contains(error.Message, "virDomainGetName");
        StringAssert.Contains(error.Message, "libvirt set no error");
    }

    [TestMethod]
    public void TakeLastError_ClearsTheErrorItReported()
    {
        using var connection = LibvirtConnection.Open("test:///default");
        Assert.ThrowsExactly<LibvirtNotFoundException>(() => connection.LookupDomainByName("no-such-guest"));

        Assert.AreEqual(LibvirtErrorCode.Ok, LibvirtErrors.TakeLastError("check").Code);
    }

    [TestMethod]
    [DataRow(LibvirtErrorCode.NoDomain, typeof(LibvirtNotFoundException))]
    [DataRow(LibvirtErrorCode.NoNodeDevice, typeof(LibvirtNotFoundException))]
    [DataRow(LibvirtErrorCode.DeviceMissing, typeof(LibvirtNotFoundException))]
    [DataRow(LibvirtErrorCode.NoSupport, typeof(LibvirtNotSupportedException))]
    [DataRow(LibvirtErrorCode.ArgumentUnsupported, typeof(LibvirtNotSupportedException))]
    [DataRow(LibvirtErrorCode.OperationUnsupported, typeof(LibvirtNotSupportedException))]
    [DataRow(LibvirtErrorCode.ConfigUnsupported, typeof(LibvirtNotSupportedException))]
    [DataRow(LibvirtErrorCode.OperationInvalid, typeof(LibvirtOperationInvalidException))]
    [DataRow(LibvirtErrorCode.AuthFailed, typeof(LibvirtAuthException))]
    [DataRow(LibvirtErrorCode.AuthCancelled, typeof(LibvirtAuthException))]
    [DataRow(LibvirtErrorCode.AuthUnavailable, typeof(LibvirtAuthException))]
    [DataRow(LibvirtErrorCode.NoConnect, typeof(LibvirtConnectionException))]
    [DataRow(LibvirtErrorCode.Rpc, typeof(LibvirtConnectionException))]
    [DataRow(LibvirtErrorCode.InvalidArgument, typeof(LibvirtInvalidArgumentException))]
    [DataRow(LibvirtErrorCode.InternalError, typeof(LibvirtException))]
    [DataRow((LibvirtErrorCode)4242, typeof(LibvirtException))]
    public void FromError_MapsTheCodeToItsExceptionType(LibvirtErrorCode code, Type expected)
    {
        var error = LibvirtException.FromError(new LibvirtErrorInfo(
            "virSomething", "subject", code, LibvirtErrorDomain.Test, LibvirtErrorLevel.Error, "boom", "s1", "s2", "s3", 1, 2));

        Assert.AreEqual(expected, error.GetType());
        Assert.AreEqual(code, error.Code);
        Assert.AreEqual("boom", error.LibvirtMessage);
        StringAssert.StartsWith(error.Message, "virSomething('subject') failed: boom");
        Assert.AreEqual(("s1", "s2", "s3", 1, 2), (error.Str1, error.Str2, error.Str3, error.Int1, error.Int2));
    }

    [TestMethod]
    public void MissingLibrary_GivesOneExceptionNamingThePackage()
    {
        var error = Assert.ThrowsExactly<LibvirtLibraryNotFoundException>(() => LibvirtRuntime.ProbeLibrary("libvirt-not-installed.so.0"));

        Assert.IsInstanceOfType<DllNotFoundException>(error);
        Assert.AreEqual("libvirt-not-installed.so.0", error.LibraryName);
        StringAssert.Contains(error.Message, "apt-get install libvirt0");

        // The probe of a wrong name leaves the real binding working.
        using var connection = LibvirtConnection.Open("test:///default");
        Assert.IsTrue(connection.IsAlive());
    }

    [TestMethod]
    public void FailingCalls_PrintNothingOnStandardError()
    {
        using var connection = LibvirtConnection.Open("test:///default");
        var capture = Path.GetTempFileName();
        try
        {
            using (var file = File.OpenWrite(capture))
            {
                var savedStandardError = dup(2);
                Assert.IsGreaterThanOrEqualTo(0, savedStandardError);
                Assert.AreEqual(2, dup2((int)file.SafeFileHandle.DangerousGetHandle(), 2));
                try
                {
                    // libvirt's default handler would print "libvirt: Test Driver error : Domain not found".
                    Assert.ThrowsExactly<LibvirtNotFoundException>(() => connection.LookupDomainByName("no-such-guest"));
                    Assert.ThrowsExactly<LibvirtNotSupportedException>(() => connection.DefineNodeDevice(TestHost.MdevCreateXml(TestHost.MdevUuid)));
                }
                finally
                {
                    Assert.AreEqual(2, dup2(savedStandardError, 2));
                    Assert.AreEqual(0, close(savedStandardError));
                }
            }

            Assert.AreEqual(string.Empty, File.ReadAllText(capture));
        }
        finally
        {
            File.Delete(capture);
        }
    }

    [LibraryImport("libc.so.6")]
    private static partial int dup(int fd);

    [LibraryImport("libc.so.6")]
    private static partial int dup2(int oldFd, int newFd);

    [LibraryImport("libc.so.6")]
    private static partial int close(int fd);
}
