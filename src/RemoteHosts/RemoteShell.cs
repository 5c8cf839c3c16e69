using System.Globalization;
using System.Text;
using VfioMigration.Planner.Sysfs;

namespace VfioMigration.RemoteHosts;

/// <summary>What one batched operation does on the remote host.</summary>
internal enum RemoteOperation
{
    /// <summary>Read a whole file, at most one page and a byte, once it is known to be a regular file (the shell's <c>read</c>, no process).</summary>
    Read,

    /// <summary>List a directory (the shell's glob, no process; a file is ENOTDIR); the names are joined by <c>/</c>, which no name holds.</summary>
    List,

    /// <summary>Read a symbolic link (<c>readlink -v</c>, started only when the path is a link).</summary>
    ReadLink,

    /// <summary>Write a value with one <c>write()</c> (the shell's <c>printf</c>, or <c>dd</c> for a value with a newline before its end); one record, the errno text on failure.</summary>
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
/// The remote side of the SSH file system, in bash and GNU coreutils only: one long-lived
/// <c>bash -s</c> per host whose standard input receives the <see cref="Prologue"/> once and then one
/// <see cref="BatchScript"/> per round trip, and the framed answer each batch prints.
/// docs/remote-hosts.md describes the protocol.
/// </summary>
internal static class RemoteShell
{
    /// <summary>The command that runs the session: bash, without start-up files, reading its script from standard input for as long as the channel lives.</summary>
    public const string SessionCommand = "LC_ALL=C BASH_ENV= exec bash --norc --noprofile -s";

    /// <summary>The largest record accepted (a listing of <see cref="LocalHostFileSystem.MaxListingEntries"/> long names fits).</summary>
    public const int MaxRecordLength = 32 << 20;

    /// <summary>
    /// Defined once per session; an operation starts no process unless it must (docs/remote-hosts.md):
    /// <c>beneath PATH</c> resolves PATH into <c>$p</c> and refuses, as ENOENT, a result outside the root
    /// <c>$R</c>: the shell's <c>cd -P</c> enters the directory part (whose failure message gives the
    /// errno; skipped when the last operation of the batch entered the same one, <c>$Q</c>), and the last
    /// component is then <c>$b</c>, a name in that directory; a link to a directory is entered too
    /// (<c>$b</c> is <c>.</c>); anything else is resolved by <c>realpath -e</c> (<c>$b</c> is the result).
    /// Every later test and open uses <c>$b</c>, so a path is resolved once. <c>regular PATH</c>
    /// refuses anything at <c>$b</c> that is not a regular file (EISDIR for a directory, ENXIO for a FIFO,
    /// device node or socket) before it is opened. <c>rd N</c> reads at most N bytes of its standard input
    /// with <c>read -d ''</c> into <c>$a</c>, the runs of bytes between NUL bytes, and their total with the
    /// NULs into <c>$c</c>; <c>pr</c> prints them as a success record, the NULs put back; <c>f FILE</c>
    /// prints an error record of FILE. <c>v LENGTH FORMAT</c> writes the value on standard output with one
    /// <c>write()</c>: the <c>printf</c> builtin (bash's standard output is line-buffered: one write at the
    /// end, or at a newline that ends the value), or <c>dd</c> when a newline comes before the last byte.
    /// <c>r</c> reads, <c>l</c> lists (names joined by <c>/</c>), <c>k</c> reads a link (<c>readlink</c>,
    /// only for a link), <c>w</c> writes, <c>x</c> writes and asks (three records; <c>dd</c> reads the
    /// text at offset 4096).
    /// </summary>
    private const string Functions = """
        beneath() {
          q=${1%/*} n=${1##*/}
          if [ "$Q" != "$q" ]; then Q=; cd -P -- "${q:-/}" || return 1; Q=$q; fi
          if [ -z "$n" ]; then b=. p=$PWD
          elif [ ! -h "$n" ]; then b=$n p=${PWD%/}/$n
          elif Q= && cd -P -- "$n" 2>/dev/null; then b=. p=$PWD
          else p=$(realpath -e -- "$1") || return 1; b=$p
          fi
          case $R in /) ;; *) case $p in "$R"|"$R"/*) ;; *) printf '%s: %s\n' "$1" 'No such file or directory' >&2; return 1 ;; esac ;; esac
        }
        regular() {
          if [ -f "$b" ]; then return; fi
          if [ -d "$b" ]; then printf '%s: %s\n' "$1" 'Is a directory' >&2
          elif [ -e "$b" ]; then printf '%s: %s\n' "$1" 'No such device or address' >&2
          else printf '%s: %s\n' "$1" 'No such file or directory' >&2
          fi
          return 1
        }
        rd() {
          a=() c=0
          while [ $c -lt $1 ]; do
            if ! IFS= read -r -d '' -n $(($1 - c)) s; then a+=("$s"); c=$((c + ${#s})); return; fi
            a+=("$s")
            if [ ${#s} -eq $(($1 - c)) ]; then c=$1; return; fi
            c=$((c + ${#s} + 1))
          done
          a+=('')
        }
        pr() { printf 'D %s\n%s' $c "${a[0]}"; if [ ${#a[@]} -gt 1 ]; then printf '\0%s' "${a[@]:1}"; fi; }
        f() { m=; while IFS= read -r l || [ -n "$l" ]; do m=$m$l'
        '; done <"$1"; printf 'E %s\n%s' "${#m}" "$m"; }
        v() { case $2 in *'\012'?*) printf "$2" >"$t/v" && dd if="$t/v" bs="$1" count=1 iflag=fullblock status=none ;; *) printf "$2" ;; esac; }
        r() { if { beneath "$1" && regular "$1"; } 2>"$t/e" && rd 4097 2>"$t/e" <"$b" && [ ! -s "$t/e" ]; then pr; else f "$t/e"; fi; }
        l() {
          if beneath "$1" 2>"$t/e" && ls1 "$1" 2>"$t/e"; then printf 'D %s\n%s' ${#s} "$s"; else f "$t/e"; fi
        }
        ls1() {
          if [ ! -d "$b" ]; then
            if [ -e "$b" ]; then printf '%s: %s\n' "$1" 'Not a directory' >&2; else printf '%s: %s\n' "$1" 'No such file or directory' >&2; fi
            return 1
          fi
          if [ ! -r "$b" ] || [ ! -x "$b" ]; then printf '%s: %s\n' "$1" 'Permission denied' >&2; return 1; fi
          a=("$b"/*); s=
          if [ ${#a[@]} -gt 0 ]; then printf -v s '%s/' "${a[@]##*/}"; fi
        }
        k() {
          q=${1%/*}
          if { beneath "${q:-/}" && Q= && cd -P -- "$b" && k1 "${1##*/}"; } 2>"$t/e"; then rd 4097 <"$t/o"; pr; else f "$t/e"; fi
        }
        k1() {
          if [ -h "$1" ]; then readlink -v -- "$1" >"$t/o"; return; fi
          if [ -e "$1" ]; then printf '%s: %s\n' "$1" 'Invalid argument' >&2
          else printf '%s: %s\n' "$1" 'No such file or directory' >&2; fi
          return 1
        }
        w() { if { beneath "$1" && regular "$1"; } 2>"$t/e" && w1 "$2" "$3" 2>"$t/e"; then echo 'D 0'; else f "$t/e"; fi; }
        w1() { if { :; } 3<>"$b" 2>/dev/null; then v "$1" "$2" 1<>"$b"; else v "$1" "$2" >"$b"; fi; }
        x() {
          if ! { beneath "$1" && regular "$1"; } 2>"$t/e"; then f "$t/e"; echo 'D 0'; echo 'D 0'; return; fi
          if ! { :; } 3<>"$b" 2>/dev/null; then if w1 "$2" "$3" 2>"$t/e"; then echo 'D 0'; else f "$t/e"; fi; echo 'D 0'; echo 'D 0'; return; fi
          exec 3<>"$b"
          if v "$2" "$3" >&3 2>"$t/e"; then echo 'D 0'; rd 4096 <&3 2>/dev/null; pr; n=$((4096 - $2 - c)); else f "$t/e"; echo 'D 0'; n=4096; fi
          : >"$t/s"
          if [ $n -ge 0 ]; then dd bs=4096 count=1 iflag=skip_bytes,fullblock skip=$n status=none <&3 >"$t/s" 2>/dev/null; fi
          exec 3<&-
          rd 4096 <"$t/s"; pr
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
        .Append("unset GLOBIGNORE CDPATH; set +f; shopt -s nullglob dotglob; shopt -u failglob\n")
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
                RemoteOperation.Read => script.Append("r ").Append(path),
                RemoteOperation.List => script.Append("l ").Append(path),
                RemoteOperation.ReadLink => script.Append("k ").Append(path),
                RemoteOperation.Write => script.Append("w ").Append(path).Append(' ').Append(Value(request)),
                _ => script.Append("x ").Append(path).Append(' ').Append(Value(request)),
            };
            script.Append('\n');
        }

        // Q= forgets the directory the shell stands in, so that the next batch resolves its paths afresh.
        return script.Append("Q=; echo ").Append(Quote(trailer)).Append('\n').ToString();
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
