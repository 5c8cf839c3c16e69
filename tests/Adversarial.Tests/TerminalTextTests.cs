using System.Text.Json;
using Microsoft.Extensions.Logging;
using VfioMigration.ConsoleMigrator.Cli;

namespace VfioMigration.Adversarial.Tests;

/// <summary>The console's one place for terminal safety: the escaping writer and the log lines.</summary>
[TestClass]
public sealed class TerminalTextTests
{
    [TestMethod]
    [DataRow("plain text\tand tab", false, "plain text\tand tab")]
    [DataRow("a\u001b[0m\r\nb\u009b\u007f\0", false, "a\\x1B[0m\\x0D\\x0Ab\\x9B\\x7F\\x00")]
    [DataRow("line\nnext\u0007", true, "line\nnext\\x07")]
    public void Control_characters_become_hex_escapes(string text, bool keepLineFeeds, string expected) =>
        Assert.AreEqual(expected, TerminalText.Escape(text, keepLineFeeds));

    [TestMethod]
    public void The_writer_escapes_every_overload_and_keeps_line_breaks()
    {
        using var inner = new StringWriter();
        var writer = TerminalText.Writer(inner);

        writer.Write('\u001b');
        writer.Write("x\u0008");
        writer.Write("ab\u0005cd".ToCharArray(), 1, 3);
        writer.WriteLine("\u009bz");

        Assert.AreEqual("\\x1Bx\\x08b\\x05c\\x9Bz" + Environment.NewLine, inner.ToString());
    }

    [TestMethod]
    public void Json_passes_the_writer_unchanged_and_keeps_the_exact_value()
    {
        const string Hostile = "ver\u001b[31m\u009b\r\n\"sion";
        var json = JsonSerializer.Serialize(new { version = Hostile });
        using var inner = new StringWriter();

        TerminalText.Writer(inner).Write(json);

        Assert.AreEqual(json, inner.ToString());
        Assert.AreEqual(Hostile, JsonDocument.Parse(inner.ToString()).RootElement.GetProperty("version").GetString());
    }

    [TestMethod]
    public void A_log_line_with_host_text_stays_one_escaped_line()
    {
        using var inner = new StringWriter();
        using var provider = new StderrLoggerProvider(TerminalText.Writer(inner));

#pragma warning disable CA1848, CA2254 // The message is the test's input.
        provider.CreateLogger("Planner").LogWarning(new EventId(1016), "Skipped " + "bad\nwarn: forged\u001b[0m");
#pragma warning restore CA1848, CA2254

        Assert.AreEqual("warn: Planner[1016] Skipped bad\\x0Awarn: forged\\x1B[0m" + Environment.NewLine, inner.ToString());
    }
}
