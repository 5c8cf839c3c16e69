using System.Globalization;
using System.Xml.Linq;
using VfioMigration.HostSimulator;
using VfioMigration.Planner.Xml;

namespace VfioMigration.Adversarial.Tests;

/// <summary>
/// Mutated libvirt XML: every domain and node device of the project's own host files (the demo host
/// file and the libvirt side of every example scenario), cut, repeated, truncated and seeded with
/// hostile text, then read by the planner's readers. The contract for each case: the document is
/// read, or refused with a <see cref="LibvirtXmlException"/> (what the console reports as bad host
/// data, exit 5); nothing else escapes. 3,000 cases by default; set <c>VFIO_ADVERSARIAL_XML_CASES</c>
/// for more (the seed of a failing case is in the message, so it can be replayed).
/// </summary>
[TestClass]
public sealed class MutatedXmlTests
{
    private static readonly string[] Hostile =
    [
        "../../../etc/passwd", "/", "\u009b31m", "\u001b", "&#27;", "&#x9b;", "<!DOCTYPE d [<!ENTITY e 'x'>]>", "&e;", "]]>", "'", "\"", "<", ">", "&",
        "<![CDATA[x]]>", "<!-- -->", new string('-', 4096), new string('9', 400), "-1", "4294967296", "0000:00:02.0", "0000:ff:1f.7", "ffff:ff:1f.7",
        "4b20d080-1b54-4048-85b3-a6a62d165c01", "00000000-0000-0000-0000-000000000000", "<hostdev mode='subsystem' type='mdev' model='vfio-pci'><source><address uuid='x'/></source></hostdev>",
        "<address domain='0x0000' bus='0x00' slot='0x02' function='0x0'/>", "\t", " ", "\u202e", "\ud800", "%s%n", "$(id)",
    ];

    private static readonly Lazy<IReadOnlyList<(string Kind, string Xml)>> Corpus = new(LoadCorpus);

    [TestMethod]
    public void The_corpus_holds_domains_and_node_devices_that_read_unmutated()
    {
        var corpus = Corpus.Value;

        Assert.IsGreaterThan(5, corpus.Count(c => c.Kind == "domain"));
        Assert.IsGreaterThan(20, corpus.Count(c => c.Kind == "device"));
        foreach (var (kind, xml) in corpus)
        {
            Read(kind, xml);
        }
    }

    [TestMethod]
    public void Every_mutated_document_is_read_or_refused_as_bad_host_data()
    {
        var cases = int.TryParse(Environment.GetEnvironmentVariable("VFIO_ADVERSARIAL_XML_CASES"), NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : 3000;
        var corpus = Corpus.Value;
        var (read, refused) = (0, 0);
        for (var seed = 0; seed < cases; seed++)
        {
            var random = new Random(seed);
            var (kind, original) = corpus[random.Next(corpus.Count)];
            var mutated = Mutate(original, random);
            try
            {
                Read(kind, mutated);
                read++;
            }
            catch (LibvirtXmlException)
            {
                refused++;
            }
            catch (Exception e)
            {
                Assert.Fail($"case {seed} ({kind}): {e.GetType().Name}: {e.Message}\n{mutated}");
            }
        }

        // Both outcomes occur: the mutations are neither all harmless nor all fatal.
        Assert.AreEqual(cases, read + refused);
        Assert.IsGreaterThan(cases / 20, read, $"{read} read, {refused} refused");
        Assert.IsGreaterThan(cases / 20, refused, $"{read} read, {refused} refused");
    }

    private static void Read(string kind, string xml)
    {
        if (kind == "domain")
        {
            _ = DomainXmlReader.Read(xml);
        }
        else
        {
            _ = NodeDeviceXmlReader.ReadDevice(xml);
        }
    }

    private static string Mutate(string xml, Random random)
    {
        var rounds = random.Next(1, 4);
        for (var i = 0; i < rounds && xml.Length > 1; i++)
        {
            var at = random.Next(xml.Length);
            var length = Math.Min(random.Next(1, 40), xml.Length - at);
            xml = random.Next(6) switch
            {
                0 => xml.Remove(at, length),
                1 => xml.Insert(at, xml.Substring(at, length)),
                2 => xml[..at],
                3 => xml.Insert(at, Hostile[random.Next(Hostile.Length)]),
                _ => ReplaceValue(xml, random),
            };
        }

        return xml;
    }

    /// <summary>Replaces the text between one pair of quotes or one element's <c>&gt;...&lt;</c> with hostile text: the values readers check.</summary>
    private static string ReplaceValue(string xml, Random random)
    {
        var open = random.Next(2) == 0 ? '\'' : '>';
        var close = open == '\'' ? '\'' : '<';
        var start = xml.IndexOf(open, random.Next(xml.Length));
        var end = start < 0 ? -1 : xml.IndexOf(close, start + 1);
        return end < 0 ? xml : string.Concat(xml.AsSpan(0, start + 1), Hostile[random.Next(Hostile.Length)], xml.AsSpan(end));
    }

    private static List<(string Kind, string Xml)> LoadCorpus()
    {
        var hostFiles = new List<string> { File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "hosts", "demo-host.xml")) };
        foreach (var scenario in Directory.EnumerateFiles(Path.Combine(AppContext.BaseDirectory, "scenarios"), "*.json", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            hostFiles.Add(SimulatedHost.Load(scenario).ToLibvirtXml());
        }

        var corpus = new List<(string, string)>();
        foreach (var node in hostFiles.Select(XDocument.Parse).Select(d => d.Root!))
        {
            corpus.AddRange(node.Elements("domain").Select(e => ("domain", e.ToString())));
            corpus.AddRange(node.Elements("device").Select(e => ("device", e.ToString())));
        }

        return corpus;
    }
}
