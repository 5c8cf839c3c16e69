using System.Buffers.Binary;
using System.IO.Compression;
using System.Text.RegularExpressions;
using VfioMigration.Packaging.Tests;

namespace VfioMigration.ConsoleMigrator.Tests;

/// <summary><c>demo --report</c> rendered in a real headless Chromium: the DOM after load and a screenshot.</summary>
[TestClass]
public sealed partial class PlanReportTests
{
    private const string Chromium = "/usr/bin/chromium";
    private const int ViewWidth = 1280;
    private const int ViewHeight = 1400;
    private static readonly TimeSpan BrowserTimeout = TimeSpan.FromMinutes(2);

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task Demo_report_renders_the_mapping_arrows_and_rejections_in_Chromium()
    {
        if (!File.Exists(Chromium))
        {
            Assert.Inconclusive($"{Chromium} is not installed (Debian's chromium package); the report cannot be rendered here.");
        }

        var work = Directory.CreateTempSubdirectory("vfio-report-");
        try
        {
            var report = Path.Combine(work.FullName, "demo.html");
            var run = await ConsoleRun.RunAsync("demo", "--report", report);
            Assert.AreEqual(0, run.ExitCode, run.Error);
            var html = await File.ReadAllTextAsync(report, TestContext.CancellationToken);
            Assert.DoesNotContain("http://", html.Replace("http://www.w3.org/2000/svg", string.Empty, StringComparison.Ordinal), "the page loads nothing from the network");
            Assert.DoesNotContain("<script", html);

            var dom = (await BrowserAsync(work.FullName, "--dump-dom", report)).Out;
            var mappings = Mapping().Matches(dom).Select(m => (Source: m.Groups[1].Value, Verification: m.Groups[3].Value, Action: m.Groups[4].Value)).ToList();
            CollectionAssert.AreEqual(
                new[] { "0000:17:00.4", "0000:d8:00.2", "6a1f0c3e-7b2d-4e5f-8a9b-00000000a001", "6a1f0c3e-7b2d-4e5f-8a9b-00000000a002", "6a1f0c3e-7b2d-4e5f-8a9b-00000000a003" },
                mappings.Select(m => m.Source).Order(StringComparer.Ordinal).ToArray());
            Assert.IsTrue(mappings.All(m => m.Verification == "verified"), dom);
            Assert.AreEqual(3, mappings.Count(m => m.Action == "created"));
            Assert.AreEqual(2, mappings.Count(m => m.Action == "reused"));
            Assert.AreEqual(5, Regex.Count(dom, "<path class=\"arrow verified\""));
            var rejectedInPicture = Regex.Count(dom, "<g class=\"rejected\"");
            var tableRows = Regex.Count(dom, "<tr><td>demo-dest-");
            var withoutCandidate = Regex.Count(dom, "<tr><td>demo-dest-[ab]</td><td>[^<]+</td><td>-</td>");
            Assert.AreEqual(13, rejectedInPicture);
            Assert.AreEqual(1, withoutCandidate, "dest-b's NOT_PLACED names no candidate: table only");
            Assert.AreEqual(rejectedInPicture + withoutCandidate, tableRows, "every rejected candidate is in the picture and in the table");
            StringAssert.Contains(dom, "<title>Parent pci_0000_3b_00_0 can create no more nvidia-223 instances (available_instances is 0).</title>");
            StringAssert.Contains(dom, "data-name=\"demo-dest-a\" data-chosen=\"true\"");
            StringAssert.Contains(dom, "<span class=\"add\">");

            var screenshot = Path.Combine(work.FullName, "demo.png");
            await BrowserAsync(work.FullName, $"--screenshot={screenshot}", report);
            var (width, height, pixels) = PngPixels.Read(await File.ReadAllBytesAsync(screenshot, TestContext.CancellationToken));
            Assert.AreEqual((ViewWidth, ViewHeight), (width, height));
            var arrowGreen = pixels.Count(p => p == 0x1a7f37);
            var sourceBlue = pixels.Count(p => p == 0xddf4ff);
            var white = pixels.Count(p => p == 0xffffff);
            TestContext.WriteLine($"screenshot {width}x{height}: {arrowGreen} arrow-green, {sourceBlue} source-blue, {white} white pixels");
            Assert.IsGreaterThan(500, arrowGreen, "the verified arrows and target borders are drawn");
            Assert.IsGreaterThan(20_000, sourceBlue, "the four source device boxes are filled");
            Assert.IsLessThan(pixels.Length * 9 / 10, white, "the page is not blank");
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    [TestMethod]
    public async Task Plan_writes_the_same_report_with_report_and_nothing_without()
    {
        var work = Directory.CreateTempSubdirectory("vfio-report-");
        try
        {
            var report = Path.Combine(work.FullName, "plan.html");
            string[] plan = ["plan", "--source-scenario", Scenario("demo-source.json"), "--dest-scenario", Scenario("demo-dest-b.json"), "--domain", "render-1"];
            var without = await ConsoleRun.RunAsync(plan);
            var with = await ConsoleRun.RunAsync([.. plan, "--report", report]);

            Assert.AreEqual(without.ExitCode, with.ExitCode, with.Error);
            Assert.AreEqual(3, with.ExitCode, "demo-dest-b cannot take render-1");
            var html = await File.ReadAllTextAsync(report, TestContext.CancellationToken);
            StringAssert.StartsWith(html, "<!DOCTYPE html>");
            StringAssert.Contains(html, "<p id=\"verdict\">No valid plan: the best destination, demo-dest-b, cannot take every device.");
            StringAssert.Contains(html, "data-name=\"demo-dest-b\" data-chosen=\"true\"");
            Assert.AreEqual(1, Directory.GetFiles(work.FullName).Length);
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    private static string Scenario(string name) => Path.Combine(AppContext.BaseDirectory, "scenarios", name);

    private async Task<ProcessOutcome> BrowserAsync(string work, string mode, string page)
    {
        var profile = Directory.CreateTempSubdirectory("chromium-profile-").FullName;
        try
        {
            string[] arguments =
            [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", $"--user-data-dir={profile}", "--hide-scrollbars",
                $"--window-size={ViewWidth},{ViewHeight}", mode, new Uri(page).AbsoluteUri,
            ];
            var outcome = await BoundedProcess.RunAsync(Chromium, arguments, work, new Dictionary<string, string?>(), BrowserTimeout, TestContext.CancellationToken);
            Assert.AreEqual(0, outcome.ExitCode, outcome.Tail());
            return outcome;
        }
        finally
        {
            Directory.Delete(profile, recursive: true);
        }
    }

    [GeneratedRegex("<g class=\"mapping\" data-source=\"([^\"]+)\" data-target=\"([^\"]+)\" data-verification=\"([a-z]+)\" data-action=\"([a-z ]+)\">")]
    private static partial Regex Mapping();
}

/// <summary>The pixels of an 8-bit, non-interlaced RGB or RGBA PNG (what Chromium's screenshot writes), as 0xRRGGBB.</summary>
internal static class PngPixels
{
    public static (int Width, int Height, int[] Pixels) Read(byte[] png)
    {
        var width = 0;
        var height = 0;
        var channels = 0;
        using var compressed = new MemoryStream();
        for (var offset = 8; offset < png.Length;)
        {
            var length = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(offset));
            var type = System.Text.Encoding.ASCII.GetString(png, offset + 4, 4);
            var data = png.AsSpan(offset + 8, length);
            if (type == "IHDR")
            {
                width = BinaryPrimitives.ReadInt32BigEndian(data);
                height = BinaryPrimitives.ReadInt32BigEndian(data[4..]);
                Assert.AreEqual(8, data[8], "bit depth");
                channels = data[9] switch { 2 => 3, 6 => 4, var other => throw new AssertFailedException($"PNG colour type {other} is not RGB or RGBA") };
                Assert.AreEqual(0, data[12], "interlace");
            }
            else if (type == "IDAT")
            {
                compressed.Write(data);
            }

            offset += length + 12;
        }

        compressed.Position = 0;
        using var inflated = new MemoryStream();
        using (var zlib = new ZLibStream(compressed, CompressionMode.Decompress))
        {
            zlib.CopyTo(inflated);
        }

        var raw = inflated.ToArray();
        var stride = width * channels;
        var previous = new byte[stride];
        var current = new byte[stride];
        var pixels = new int[width * height];
        for (var row = 0; row < height; row++)
        {
            var filter = raw[row * (stride + 1)];
            var line = raw.AsSpan((row * (stride + 1)) + 1, stride);
            for (var i = 0; i < stride; i++)
            {
                int left = i >= channels ? current[i - channels] : 0;
                int up = previous[i];
                int upLeft = i >= channels ? previous[i - channels] : 0;
                current[i] = (byte)(line[i] + filter switch
                {
                    0 => 0,
                    1 => left,
                    2 => up,
                    3 => (left + up) / 2,
                    4 => Paeth(left, up, upLeft),
                    _ => throw new AssertFailedException($"PNG filter {filter}"),
                });
            }

            for (var x = 0; x < width; x++)
            {
                pixels[(row * width) + x] = (current[x * channels] << 16) | (current[(x * channels) + 1] << 8) | current[(x * channels) + 2];
            }

            (previous, current) = (current, previous);
        }

        return (width, height, pixels);
    }

    private static int Paeth(int a, int b, int c)
    {
        var p = a + b - c;
        var pa = Math.Abs(p - a);
        var pb = Math.Abs(p - b);
        var pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }
}
