using System.Globalization;
using System.Text;

namespace VfioMigration.ConsoleMigrator.Cli;

/// <summary>
/// Keeps host text from driving the terminal: every control character (C0 but tab and, where lines
/// are allowed, line feed; DEL; C1) becomes <c>\xNN</c>. The console's standard output and error go
/// through <see cref="Writer"/>, so nothing it prints can carry an escape sequence; JSON needs nothing
/// more, since its encoder already writes every control character as <c>\u00NN</c> and the values
/// stay exact.
/// </summary>
internal static class TerminalText
{
    /// <summary><paramref name="text"/> with every control character shown as <c>\xNN</c>; line feeds too unless <paramref name="keepLineFeeds"/>.</summary>
    public static string Escape(string text, bool keepLineFeeds = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (!text.Any(c => IsEscaped(c, keepLineFeeds)))
        {
            return text;
        }

        var escaped = new StringBuilder(text.Length + 16);
        foreach (var c in text)
        {
            Append(escaped, c, keepLineFeeds);
        }

        return escaped.ToString();
    }

    /// <summary>Wraps <paramref name="inner"/> so that everything written to it is escaped (line feeds kept) and writes from several threads do not interleave.</summary>
    public static TextWriter Writer(TextWriter inner) => TextWriter.Synchronized(new EscapingWriter(inner));

    private static bool IsEscaped(char c, bool keepLineFeeds) =>
        (c < ' ' && c != '\t' && !(keepLineFeeds && c == '\n')) || (c >= '\x7f' && c <= '\x9f');

    private static void Append(StringBuilder text, char c, bool keepLineFeeds)
    {
        if (IsEscaped(c, keepLineFeeds))
        {
            text.Append(CultureInfo.InvariantCulture, $"\\x{(int)c:X2}");
        }
        else
        {
            text.Append(c);
        }
    }

    /// <summary>A writer that escapes control characters on their way to <c>inner</c>.</summary>
    private sealed class EscapingWriter(TextWriter inner) : TextWriter(CultureInfo.InvariantCulture)
    {
        public override Encoding Encoding => inner.Encoding;

        public override void Write(char value)
        {
            if (IsEscaped(value, keepLineFeeds: true))
            {
                inner.Write(Escape(value.ToString(), keepLineFeeds: true));
            }
            else
            {
                inner.Write(value);
            }
        }

        public override void Write(string? value) => inner.Write(value is null ? null : Escape(value, keepLineFeeds: true));

        public override void Write(char[] buffer, int index, int count) => Write(new string(buffer, index, count));

        public override void WriteLine(string? value) => inner.WriteLine(value is null ? null : Escape(value, keepLineFeeds: true));

        public override void Flush() => inner.Flush();

        public override Task FlushAsync() => inner.FlushAsync();
    }
}
