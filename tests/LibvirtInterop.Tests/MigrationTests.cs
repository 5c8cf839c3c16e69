using System.Runtime.InteropServices;
using VfioMigration.Libvirt.Interop;

namespace VfioMigration.Libvirt.Tests;

/// <summary>
/// The test driver implements no migration, so the calls are checked to reach libvirt and fail
/// with its typed refusal; the typed-parameter list is checked by reading it back.
/// </summary>
[TestClass]
public sealed class MigrationTests : LibvirtTestBase
{
    private static readonly MigrationParameters FullParameters = new()
    {
        DestinationXml = "<domain type='kvm'><name>dest</name></domain>",
        PersistentXml = "<domain type='kvm'><name>persist</name></domain>",
        MigrateUri = "tcp://destination:49152",
        DestinationName = "renamed",
        BandwidthMiBps = 1024,
    };

    [TestMethod]
    [DataRow(null, MigrationOptions.Live, "direct migration")]
    [DataRow("test:///default", MigrationOptions.Live | MigrationOptions.PeerToPeer | MigrationOptions.PersistDestination, "p2p migration")]
    public void MigrateToUri_IsNotSupportedByTheTestDriver(string? destinationUri, MigrationOptions options, string refusal)
    {
        using var host = new TestHost();
        using var connection = LibvirtConnection.Open(host.Uri);
        using var domain = connection.LookupDomainByName(TestHost.RunningGuest);

        var error = Assert.ThrowsExactly<LibvirtNotSupportedException>(() => domain.MigrateToUri(destinationUri, FullParameters, options));

        Assert.AreEqual(LibvirtErrorCode.ArgumentUnsupported, error.Code);
        Assert.AreEqual("virDomainMigrateToURI3", error.Function);
        StringAssert.Contains(error.LibvirtMessage, refusal);
    }

    /// <summary>The binding reaches libvirt's virDomainAbortJob (the test driver has no jobs to abort; TwoHost.Tests aborts a real migration).</summary>
    [TestMethod]
    public void AbortJob_ReachesLibvirt_AndTheTestDriverRefusesIt()
    {
        using var host = new TestHost();
        using var connection = LibvirtConnection.Open(host.Uri);
        using var domain = connection.LookupDomainByName(TestHost.RunningGuest);

        var error = Assert.ThrowsExactly<LibvirtNotSupportedException>(domain.AbortJob);

        Assert.AreEqual(LibvirtErrorCode.NoSupport, error.Code);
        Assert.AreEqual("virDomainAbortJob", error.Function);
    }

    [TestMethod]
    public void Migrate_WithParametersOnlyTheV3ProtocolCarries_IsRefusedAsAnUnsupportedArgument()
    {
        var error = MigrateOnTheTestDriver(FullParameters);

        // persistent_xml has no older-protocol equivalent, so libvirt refuses before the driver.
        Assert.AreEqual(LibvirtErrorCode.ArgumentUnsupported, error.Code);
        StringAssert.Contains(error.LibvirtMessage, "extensible parameters");
    }

    [TestMethod]
    public void Migrate_WithOlderProtocolParameters_IsRefusedByTheDriver()
    {
        var error = MigrateOnTheTestDriver(new MigrationParameters { DestinationXml = "<domain/>", BandwidthMiBps = 100 });

        Assert.AreEqual(LibvirtErrorCode.NoSupport, error.Code);
    }

    private static LibvirtNotSupportedException MigrateOnTheTestDriver(MigrationParameters parameters)
    {
        using var host = new TestHost();
        using var source = LibvirtConnection.Open(host.Uri);
        using var destination = LibvirtConnection.Open("test:///default");
        using var domain = source.LookupDomainByName(TestHost.RunningGuest);

        var error = Assert.ThrowsExactly<LibvirtNotSupportedException>(() => domain.Migrate(destination, parameters, MigrationOptions.Live));
        Assert.AreEqual("virDomainMigrate3", error.Function);
        return error;
    }

    [TestMethod]
    public void ToTypedParameters_CarriesEveryParameterUnderLibvirtsName()
    {
        using var list = FullParameters.ToTypedParameters();

        var read = ReadBack(list);

        Assert.HasCount(5, read);
        Assert.AreEqual((StringType, (object?)FullParameters.DestinationXml), read["destination_xml"]);
        Assert.AreEqual((StringType, (object?)FullParameters.PersistentXml), read["persistent_xml"]);
        Assert.AreEqual((StringType, (object?)FullParameters.MigrateUri), read["migrate_uri"]);
        Assert.AreEqual((StringType, (object?)FullParameters.DestinationName), read["destination_name"]);
        Assert.AreEqual((UnsignedLongLongType, (object?)1024UL), read["bandwidth"]);
    }

    [TestMethod]
    public void ToTypedParameters_SendsOnlyWhatIsSet()
    {
        using var list = new MigrationParameters { DestinationXml = "<domain/>" }.ToTypedParameters();

        Assert.AreEqual("destination_xml", string.Join(", ", ReadBack(list).Keys));
    }

    [TestMethod]
    public void ToTypedParameters_StringWithANul_IsRejectedNamingTheProperty()
    {
        var parameters = FullParameters with { PersistentXml = "<domain>\0</domain>" };

        var error = Assert.ThrowsExactly<ArgumentException>(parameters.ToTypedParameters);

        Assert.AreEqual("PersistentXml", error.ParamName);
    }

    [TestMethod]
    public void ToTypedParameters_Empty_IsAnEmptyList()
    {
        using var list = new MigrationParameters().ToTypedParameters();

        Assert.AreEqual(0, list.Count);
        Assert.AreEqual(0, list.Parameters);
    }

    // virTypedParameterType values (libvirt-common.h).
    private const int UnsignedLongLongType = 4;
    private const int StringType = 7;

    /// <summary>
    /// Reads the list as libvirt lays it out: <c>struct _virTypedParameter { char field[80];
    /// int type; union { ...; unsigned long long ul; char *s; } value; }</c>, 96 bytes on LP64.
    /// </summary>
    private static Dictionary<string, (int Type, object? Value)> ReadBack(TypedParameterList list)
    {
        const int fieldLength = 80, typeOffset = 80, valueOffset = 88, size = 96;
        var result = new Dictionary<string, (int, object?)>();
        for (var i = 0; i < list.Count; i++)
        {
            var parameter = list.Parameters + (i * size);
            var name = Marshal.PtrToStringUTF8(parameter)!;
            Assert.IsLessThan(fieldLength, name.Length);
            var type = Marshal.ReadInt32(parameter, typeOffset);
            object? value = type switch
            {
                StringType => Marshal.PtrToStringUTF8(Marshal.ReadIntPtr(parameter, valueOffset)),
                UnsignedLongLongType => (ulong)Marshal.ReadInt64(parameter, valueOffset),
                _ => null,
            };
            result.Add(name, (type, value));
        }

        return result;
    }
}
