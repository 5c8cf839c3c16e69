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

    /// <summary>Write a value with one <c>write()</c> (<c>dd</c>); one record, the errno text on failure.</summary>
    Write,

    /// <summary>Write a value on a file opened for reading and writing, then read on: three records (the write, the reply, the text at offset 4096).</summary>
    Exchange,
}

/// <summary>One operation of a batch; <paramref name="Value"/> is the bytes written (writes and exchanges only).</summary>
internal sealed record RemoteRequest(RemoteOperation Operation, SysfsPath Path, byte[]? Value = null)
{
    /// <summary>How many records the operation answers.</summary>
    public int Records => Operation == RemoteOperation.Exchange ? 3 : 1;

    /// <summary>Whether the operation may be sent again when the channel died under it (reads only: a write must not happen twice).</summary>
    public bool MayRepeat => Operation is RemoteOperation.Read or RemoteOperation.List or RemoteOperation.ReadLink;
}

/// <summary>One record of a batch answer: the output of the operation, or its error text and errno.</summary>
internal readonly record struct RemoteRecord(bool Succeeded, byte[] Bytes)
{
    /// <summary>The errno of a failed record, from its coreutils message; <see cref="Errno.EIO"/> for a text outside the table.</summary>
    public Errno Error => Succeeded ? Errno.None : StrerrorTable.FromMessage(Encoding.UTF8.GetString(Bytes)) ?? Errno.EIO;
}

/// <summary>
/// The remote side of the SSH file system, in POSIX <c>sh</c> and GNU coreutils only: one long-lived
/// <c>sh -s</c> per host whose standard input receives the <see cref="Prologue"/> once and then one
/// <see cref="BatchScript"/> per round trip, and the framed answer each batch prints.
/// docs/remote-hosts.md describes the protocol.
/// </summary>
internal static class RemoteShell
{
    /// <summary>The command that runs the session: a shell reading its script from standard input for as long as the channel lives.</summary>
    public const string SessionCommand = "LC_ALL=C exec sh -s";

    /// <summary>The largest record accepted (a listing of <see cref="LocalHostFileSystem.MaxListingEntries"/> long names fits).</summary>
    public const int MaxRecordLength = 32 << 20;

    /// <summary>
    /// Defined once per session, each costing as few processes as it can (docs/remote-hosts.md).
    /// <c>beneath PATH</c> resolves PATH into <c>$p</c> (the directory with the shell's <c>cd -P</c>
    /// when the last component is not a link, else with <c>realpath -e</c>) and refuses, as ENOENT, a
    /// result outside the root <c>$R</c>; <c>regular PATH</c> refuses anything at <c>$p</c> that is not a
    /// regular file (EISDIR for a directory, ENXIO for a FIFO, device node or socket) before it is
    /// opened. <c>d FILE</c> prints a success record of FILE (no process for an empty one: a write's);
    /// <c>d1 FILE</c> the same, with builtins when FILE is one line (a link target); <c>f FILE</c> an
    /// error record of FILE, with builtins. <c>o</c> runs one single-record operation (a read answers an
    /// <c>X</c> record straight from <c>od</c>); <c>x</c> one write and ask (three records).
    /// </summary>
    private const string Functions = """
        beneath() {
          q=${1%/*} n=${1##*/}
          if [ -n "$n" ] && [ ! -h "$1" ] && cd -P -- "${q:-/}" 2>/dev/null; then
            p=${PWD%/}/$n
            if [ ! -e "$p" ]; then printf '%s: %s\n' "$1" 'No such file or directory' >&2; return 1; fi
          else
            p=$(realpath -e -- "$1") || return 1
          fi
          case $R in /) ;; *) case $p in "$R"|"$R"/*) ;; *) printf '%s: %s\n' "$1" 'No such file or directory' >&2; return 1 ;; esac ;; esac
        }
        regular() {
          if [ -d "$p" ]; then printf '%s: %s\n' "$1" 'Is a directory' >&2; return 1; fi
          if [ ! -f "$p" ]; then printf '%s: %s\n' "$1" 'No such device or address' >&2; return 1; fi
        }
        d() { if [ -s "$1" ]; then printf 'D %s\n' "$(wc -c <"$1")"; cat -- "$1"; else echo 'D 0'; fi; }
        d1() { if { IFS= read -r l && ! IFS= read -r m && [ -z "$m" ]; } <"$1"; then printf 'D %s\n%s\n' $((${#l} + 1)) "$l"; else d "$1"; fi; }
        f() { m=; while IFS= read -r l || [ -n "$l" ]; do m=$m$l'
        '; done <"$1"; printf 'E %s\n%s' "${#m}" "$m"; }
        o() {
          if [ "$1" = r ]; then
            if { beneath "$2" && regular "$2"; } </dev/null 2>"$t/e"; then
              echo X
              if od -An -v -tx1 -N 4097 -- "$p" </dev/null 2>"$t/e"; then echo .; return; fi
              echo '!'
            fi
            f "$t/e"; return
          fi
          case $1 in
            l) beneath "$2" && ls -1AU -- "$p/" ;;
            k) q=${2%/*}; beneath "${q:-/}" && readlink -v -- "$p/${2##*/}" ;;
            w) beneath "$2" && regular "$2" && printf "$4" >"$t/v" && dd if="$t/v" of="$p" bs="$3" count=1 iflag=fullblock conv=nocreat,notrunc status=none ;;
          esac </dev/null >"$t/o" 2>"$t/e"
          if [ $? -ne 0 ]; then f "$t/e"; elif [ "$1" = k ]; then d1 "$t/o"; else d "$t/o"; fi
        }
        x() {
          : >"$t/r"; : >"$t/s"
          ( beneath "$1" && regular "$1" || exit 1
            printf "$3" >"$t/v"
            if ! { :; } 3<>"$p" 2>/dev/null; then
              dd if="$t/v" of="$p" bs="$2" count=1 iflag=fullblock conv=nocreat,notrunc status=none; exit
            fi
            exec 3<>"$p"
            if dd if="$t/v" bs="$2" count=1 iflag=fullblock status=none >&3; then
              w=0; head -c 4096 <&3 >"$t/r" 2>/dev/null; n=$((4096 - $2)); if [ -s "$t/r" ]; then n=$((n - $(wc -c <"$t/r"))); fi
            else
              w=1; n=4096
            fi
            if [ "$n" -ge 0 ]; then dd bs=4096 count=1 iflag=skip_bytes,fullblock skip="$n" status=none <&3 >"$t/s" 2>/dev/null; fi
            exit $w
          ) </dev/null >"$t/o" 2>"$t/e"
          if [ $? -ne 0 ]; then f "$t/e"; else d "$t/o"; fi; d "$t/r"; d "$t/s"
        }

        """;

    /// <summary>Quotes <paramref name="text"/> for a POSIX shell: single quotes, each <c>'</c> as <c>'\''</c>.</summary>
    public static string Quote(string text) => "'" + text.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    /// <summary>The absolute remote path of <paramref name="path"/> under <paramref name="root"/>.</summary>
    public static string FullPath(string root, SysfsPath path) =>
        path.Value.Length == 0 ? root : root == "/" ? "/" + path.Value : $"{root}/{path.Value}";

    /// <summary>
    /// What the session's shell reads first: the locale, a private temporary directory (removed when the
    /// shell ends), the canonical root <c>$R</c> (the shell exits with status 97 when either fails), and
    /// the functions every batch calls.
    /// </summary>
    public static string Prologue(string root) => new StringBuilder()
        .Append("LC_ALL=C; export LC_ALL\n")
        .Append("t=$(mktemp -d) || exit 97\n")
        .Append("trap 'rm -rf \"$t\"' EXIT\n")
        .Append("trap 'exit 1' HUP PIPE TERM\n")
        .Append(CultureInfo.InvariantCulture, $"R=$(realpath -e -- {Quote(root)}) || exit 97\n")
        .Append(Functions)
        .ToString();

    /// <summary>
    /// One batch: a line per operation, each answering its records in order, then the trailer line
    /// (<see cref="Trailer"/>) that the client expects after the last record. Values written never
    /// appear as text: each byte travels as a <c>printf</c> octal escape, so the script holds only
    /// quoted paths, digits and backslashes.
    /// </summary>
    public static string BatchScript(string root, IReadOnlyList<RemoteRequest> requests, string trailer)
    {
        var script = new StringBuilder();
        foreach (var request in requests)
        {
            var path = Quote(FullPath(root, request.Path));
            _ = request.Operation switch
            {
                RemoteOperation.Read => script.Append("o r ").Append(path),
                RemoteOperation.List => script.Append("o l ").Append(path),
                RemoteOperation.ReadLink => script.Append("o k ").Append(path),
                RemoteOperation.Write => script.Append("o w ").Append(path).Append(' ').Append(Value(request)),
                _ => script.Append("x ").Append(path).Append(' ').Append(Value(request)),
            };
            script.Append('\n');
        }

        return script.Append("echo ").Append(Quote(trailer)).Append('\n').ToString();
    }

    /// <summary>The trailer line that ends batch <paramref name="sequence"/> of the session whose secret is <paramref name="nonce"/>.</summary>
    public static string Trailer(string nonce, long sequence) => string.Create(CultureInfo.InvariantCulture, $"Z {nonce} {sequence}");

    /// <summary><c>LENGTH 'FORMAT'</c>: the value's length and its bytes as <c>printf</c> octal escapes.</summary>
    private static string Value(RemoteRequest request)
    {
        var value = request.Value ?? throw new ArgumentException($"A {request.Operation} needs a value.", nameof(request));
        var format = new StringBuilder(value.Length * 4 + 2).Append('\'');
        foreach (var b in value)
        {
            format.Append('\\').Append(Convert.ToString(b, 8).PadLeft(3, '0'));
        }

        return string.Create(CultureInfo.InvariantCulture, $"{value.Length} {format.Append('\'')}");
    }

    /// <summary>
    /// Splits a whole batch answer into its records and checks its trailer: each record is a header line
    /// <c>D &lt;length&gt;</c> (the operation's output) or <c>E &lt;length&gt;</c> (its error text), then
    /// exactly that many bytes; after the last one, the line <paramref name="trailer"/> and nothing more.
    /// </summary>
    /// <exception cref="FormatException">The answer is not <paramref name="expected"/> well-formed records and the trailer.</exception>
    public static IReadOnlyList<RemoteRecord> ParseBatch(ReadOnlySpan<byte> answer, int expected, string trailer)
    {
        using var stream = new MemoryStream(answer.ToArray(), writable: false);
        var records = ReadBatch(stream, expected, trailer);
        return stream.Position == stream.Length ? records : throw new FormatException($"{stream.Length - stream.Position} byte(s) follow the trailer.");
    }

    /// <summary>Reads <paramref name="expected"/> records and the trailer line from <paramref name="answer"/>, blocking until they have arrived.</summary>
    /// <exception cref="FormatException">A header, a length or the trailer is wrong.</exception>
    /// <exception cref="EndOfStreamException">The stream ended before the trailer.</exception>
    public static IReadOnlyList<RemoteRecord> ReadBatch(Stream answer, int expected, string trailer)
    {
        var records = new List<RemoteRecord>(expected);
        while (records.Count < expected)
        {
            var header = ReadLine(answer, records.Count + 1);
            if (header == "X")
            {
                if (ReadHex(answer, records.Count + 1) is { } content)
                {
                    records.Add(new RemoteRecord(true, content));
                    continue;
                }

                // The read failed part way: its error record follows.
                header = ReadLine(answer, records.Count + 1);
            }

            var kind = header.Length > 2 ? header[0] : '?';
            if ((kind != 'D' && kind != 'E') || header[1] != ' '
                || !int.TryParse(header.AsSpan(2), NumberStyles.None, CultureInfo.InvariantCulture, out var length) || length > MaxRecordLength)
            {
                throw new FormatException($"Record {records.Count + 1}: malformed header '{Printable(header)}' (expected 'D|E <length>').");
            }

            var bytes = new byte[length];
            answer.ReadExactly(bytes);
            records.Add(new RemoteRecord(kind == 'D', bytes));
        }

        var end = ReadLine(answer, expected + 1);
        return end == trailer ? records : throw new FormatException($"After {expected} record(s): expected the batch's trailer, got '{Printable(end)}'.");
    }

    /// <summary>
    /// The body of an <c>X</c> record (a read's content as <c>od -An -v -tx1</c> prints it: lines of
    /// two-digit hex bytes) up to its end line: <c>.</c> (the bytes) or <c>!</c> (null: an error record follows).
    /// </summary>
    private static byte[]? ReadHex(Stream answer, int record)
    {
        var bytes = new List<byte>();
        while (true)
        {
            var line = ReadLine(answer, record);
            if (line is "." or "!")
            {
                return line == "." ? [.. bytes] : null;
            }

            foreach (var pair in line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                if (pair.Length != 2 || !byte.TryParse(pair, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var value) || bytes.Count > LocalHostFileSystem.MaxWriteLength)
                {
                    throw new FormatException($"Record {record}: malformed read content '{Printable(line)}'.");
                }

                bytes.Add(value);
            }
        }
    }

    /// <summary>One header or trailer line, at most 80 bytes, without its newline.</summary>
    private static string ReadLine(Stream answer, int record)
    {
        var line = new StringBuilder();
        while (true)
        {
            var next = answer.ReadByte();
            if (next < 0)
            {
                throw new EndOfStreamException($"The answer ended at record {record}.");
            }

            if (next == '\n')
            {
                return line.ToString();
            }

            if (line.Length == 80)
            {
                throw new FormatException($"Record {record}: expected a header line, got '{Printable(line.ToString())}...'.");
            }

            line.Append((char)next);
        }
    }

    private static string Printable(string text) => new([.. text.Select(c => c is >= ' ' and <= '~' ? c : '?')]);
}
