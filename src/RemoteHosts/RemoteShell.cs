using System.Globalization;
using System.Text;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.RemoteHosts;

/// <summary>What one batched operation does on the remote host.</summary>
internal enum RemoteOperation
{
    /// <summary>Read a whole file, at most one page and a byte (<c>head -c 4097</c>), once it is known to be a regular file.</summary>
    Read,

    /// <summary>List a directory (<c>ls -1AU</c> on <c>path/</c>, so that a file is ENOTDIR).</summary>
    List,

    /// <summary>Read a symbolic link (<c>readlink -v</c>).</summary>
    ReadLink,
}

/// <summary>One record of a batch answer: the output of the operation, or its error text and errno.</summary>
internal readonly record struct RemoteRecord(bool Succeeded, byte[] Bytes)
{
    /// <summary>The errno of a failed record, from its coreutils message; <see cref="Errno.EIO"/> for a text outside the table.</summary>
    public Errno Error => Succeeded ? Errno.None : StrerrorTable.FromMessage(Encoding.UTF8.GetString(Bytes)) ?? Errno.EIO;
}

/// <summary>
/// The remote side of the SSH file system, in POSIX <c>sh</c> and GNU coreutils only: the batch
/// script and its framed answer, and the single-<c>write()</c> command. docs/remote-hosts.md
/// describes the protocol.
/// </summary>
internal static class RemoteShell
{
    /// <summary>The command that runs a batch script sent on standard input.</summary>
    public const string BatchCommand = "LC_ALL=C exec sh -s";

    /// <summary>
    /// The shell functions that keep every access beneath the root <c>$R</c> (resolved once):
    /// <c>beneath PATH</c> resolves PATH with <c>realpath -e</c> into <c>$p</c> and refuses, as ENOENT, a
    /// result outside <c>$R</c>; <c>regular PATH</c> refuses anything at <c>$p</c> that is not a regular
    /// file (EISDIR for a directory, ENXIO for a FIFO, device node or socket) before it is opened.
    /// </summary>
    private const string Containment = """
        beneath() {
          p=$(realpath -e -- "$1") || return 1
          case $R in /) ;; *) case $p in "$R"|"$R"/*) ;; *) printf '%s: %s\n' "$1" 'No such file or directory' >&2; return 1 ;; esac ;; esac
        }
        regular() {
          if [ -d "$p" ]; then printf '%s: %s\n' "$1" 'Is a directory' >&2; return 1; fi
          if [ ! -f "$p" ]; then printf '%s: %s\n' "$1" 'No such device or address' >&2; return 1; fi
        }

        """;

    private const string BatchPrologue = """
        LC_ALL=C; export LC_ALL
        t=$(mktemp -d) || exit 97
        trap 'rm -rf "$t"' EXIT
        o() {
          case $1 in
            r) beneath "$2" && regular "$2" && head -c 4097 -- "$p" ;;
            l) beneath "$2" && ls -1AU -- "$p/" ;;
            k) beneath "$(dirname -- "$2")" && readlink -v -- "$p/${2##*/}" ;;
          esac </dev/null >"$t/o" 2>"$t/e"
          if [ $? -eq 0 ]; then s=D; f="$t/o"; else s=E; f="$t/e"; fi
          printf '%s %s\n' "$s" "$(wc -c <"$f")"
          cat -- "$f"
        }

        """;

    /// <summary>Quotes <paramref name="text"/> for a POSIX shell: single quotes, each <c>'</c> as <c>'\''</c>.</summary>
    public static string Quote(string text) => "'" + text.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    /// <summary>The absolute remote path of <paramref name="path"/> under <paramref name="root"/>.</summary>
    public static string FullPath(string root, SysfsPath path) =>
        path.Value.Length == 0 ? root : root == "/" ? "/" + path.Value : $"{root}/{path.Value}";

    /// <summary>The batch script: one line per operation, each answering one framed record, in order.</summary>
    public static string BatchScript(string root, IReadOnlyList<(RemoteOperation Operation, SysfsPath Path)> operations)
    {
        var script = new StringBuilder(BatchPrologue).Append(Containment).Append(ResolveRoot(root, 97));
        foreach (var (operation, path) in operations)
        {
            var code = operation switch
            {
                RemoteOperation.Read => 'r',
                RemoteOperation.List => 'l',
                _ => 'k',
            };
            script.Append("o ").Append(code).Append(' ').Append(Quote(FullPath(root, path))).Append('\n');
        }

        return script.ToString();
    }

    /// <summary>
    /// Splits a batch answer into its records: each is a header line <c>D &lt;length&gt;</c> (the
    /// operation's output) or <c>E &lt;length&gt;</c> (its error text), then exactly that many bytes.
    /// </summary>
    /// <exception cref="FormatException">The answer is not <paramref name="expected"/> well-formed records.</exception>
    public static IReadOnlyList<RemoteRecord> ParseBatch(ReadOnlySpan<byte> answer, int expected)
    {
        var records = new List<RemoteRecord>(expected);
        var position = 0;
        while (position < answer.Length)
        {
            var newline = answer[position..].IndexOf((byte)'\n');
            if (newline < 3)
            {
                throw new FormatException($"Record {records.Count + 1}: expected a header line 'D|E <length>' at byte {position}.");
            }

            var header = Encoding.ASCII.GetString(answer.Slice(position, newline));
            var kind = header[0];
            if ((kind != 'D' && kind != 'E') || header[1] != ' '
                || !int.TryParse(header.AsSpan(2).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var length))
            {
                throw new FormatException($"Record {records.Count + 1}: malformed header '{header}'.");
            }

            position += newline + 1;
            if (length > answer.Length - position)
            {
                throw new FormatException($"Record {records.Count + 1}: announces {length} bytes but only {answer.Length - position} follow.");
            }

            records.Add(new RemoteRecord(kind == 'D', answer.Slice(position, length).ToArray()));
            position += length;
        }

        if (records.Count != expected)
        {
            throw new FormatException($"Expected {expected} record(s), got {records.Count}.");
        }

        return records;
    }

    /// <summary>
    /// The command that writes standard input into <paramref name="path"/> under <paramref name="root"/>
    /// with one <c>write()</c> of exactly <paramref name="length"/> bytes, once the path is found to
    /// resolve to a regular file beneath the root: <c>dd</c> gathers the whole block first
    /// (<c>iflag=fullblock</c>), opens without <c>O_CREAT</c>/<c>O_TRUNC</c> (<c>conv=nocreat,notrunc</c>),
    /// and writes it in one call (<c>count=1</c>). The value itself never appears in the command.
    /// </summary>
    public static string WriteCommand(string root, SysfsPath path, int length)
    {
        var script = new StringBuilder("LC_ALL=C; export LC_ALL\n").Append(Containment).Append(ResolveRoot(root, 1))
            .Append(CultureInfo.InvariantCulture, $"beneath {Quote(FullPath(root, path))} && regular {Quote(FullPath(root, path))} || exit 1\n")
            .Append(CultureInfo.InvariantCulture, $"exec dd of=\"$p\" bs={length} count=1 iflag=fullblock conv=nocreat,notrunc status=none\n");
        return "LC_ALL=C exec sh -c " + Quote(script.ToString());
    }

    /// <summary>The line that sets <c>$R</c> to the canonical root, exiting with <paramref name="exitStatus"/> when it does not resolve.</summary>
    private static string ResolveRoot(string root, int exitStatus) =>
        string.Create(CultureInfo.InvariantCulture, $"R=$(realpath -e -- {Quote(root)}) || exit {exitStatus}\n");
}
