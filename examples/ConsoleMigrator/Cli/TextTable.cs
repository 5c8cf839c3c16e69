using System.Text;

namespace VfioMigration.ConsoleMigrator.Cli;

/// <summary>A plain text table with aligned columns, for human output.</summary>
internal sealed class TextTable(params string[] headers)
{
    private readonly List<string[]> _rows = [];

    /// <summary>Adds a row; missing cells are blank.</summary>
    public void Add(params string?[] cells) => _rows.Add([.. headers.Select((_, i) => i < cells.Length ? cells[i] ?? "-" : string.Empty)]);

    /// <inheritdoc />
    public override string ToString()
    {
        var widths = headers.Select((h, i) => _rows.Select(r => r[i].Length).Append(h.Length).Max()).ToArray();
        var text = new StringBuilder();
        foreach (var row in _rows.Prepend(headers))
        {
            text.AppendLine(string.Join("  ", row.Select((cell, i) => i == row.Length - 1 ? cell : cell.PadRight(widths[i]))).TrimEnd());
        }

        return text.ToString();
    }
}
