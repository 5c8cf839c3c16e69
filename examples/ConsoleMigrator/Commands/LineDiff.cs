using System.Text;

namespace VfioMigration.ConsoleMigrator.Commands;

/// <summary>A unified line diff, enough to show what the destination XML changes (domain XML is small).</summary>
internal static class LineDiff
{
    /// <summary>The changed lines of <paramref name="before"/> → <paramref name="after"/> with <paramref name="context"/> lines around each change; empty when equal.</summary>
    public static string Unified(string before, string after, string beforeName, string afterName, int context = 2)
    {
        var a = before.ReplaceLineEndings("\n").Split('\n');
        var b = after.ReplaceLineEndings("\n").Split('\n');
        var edits = Edits(a, b);
        if (edits.All(e => e.Kind == ' '))
        {
            return string.Empty;
        }

        var text = new StringBuilder();
        text.Append("--- ").AppendLine(beforeName);
        text.Append("+++ ").AppendLine(afterName);
        var lastPrinted = -1;
        for (var i = 0; i < edits.Count; i++)
        {
            var near = edits.Skip(Math.Max(0, i - context)).Take((2 * context) + 1).Any(e => e.Kind != ' ');
            if (!near)
            {
                continue;
            }

            if (lastPrinted >= 0 && i > lastPrinted + 1)
            {
                text.AppendLine("  ...");
            }

            text.Append(edits[i].Kind).Append(' ').AppendLine(edits[i].Line);
            lastPrinted = i;
        }

        return text.ToString();
    }

    private static List<(char Kind, string Line)> Edits(string[] a, string[] b)
    {
        // Longest common subsequence table, filled from the ends so the walk below goes forwards.
        var lcs = new int[a.Length + 1, b.Length + 1];
        for (var i = a.Length - 1; i >= 0; i--)
        {
            for (var j = b.Length - 1; j >= 0; j--)
            {
                lcs[i, j] = a[i] == b[j] ? lcs[i + 1, j + 1] + 1 : Math.Max(lcs[i + 1, j], lcs[i, j + 1]);
            }
        }

        var edits = new List<(char, string)>();
        int x = 0, y = 0;
        while (x < a.Length || y < b.Length)
        {
            if (x < a.Length && y < b.Length && a[x] == b[y])
            {
                edits.Add((' ', a[x++]));
                y++;
            }
            else if (x < a.Length && (y == b.Length || lcs[x + 1, y] >= lcs[x, y + 1]))
            {
                edits.Add(('-', a[x++]));
            }
            else
            {
                edits.Add(('+', b[y++]));
            }
        }

        return edits;
    }
}
