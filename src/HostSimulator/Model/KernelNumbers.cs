using VfioMigration.Planner.Sysfs;

namespace VfioMigration.HostSimulator.Model;

/// <summary>The kernel's number parsing for sysfs stores.</summary>
internal static class KernelNumbers
{
    /// <summary>
    /// <c>kstrtoul(buf, 0, &amp;value)</c>: an optional <c>+</c>, then <c>0x</c> hex, <c>0</c> octal or
    /// decimal digits, then at most one newline. EINVAL for anything else, ERANGE on overflow.
    /// </summary>
    public static Errno ParseUnsignedLong(ReadOnlySpan<byte> text, out ulong value)
    {
        value = 0;
        if (text.Length > 0 && text[^1] == (byte)'\n')
        {
            text = text[..^1];
        }

        if (text.Length > 0 && text[0] == (byte)'+')
        {
            text = text[1..];
        }

        var radix = 10u;
        if (text.Length > 1 && text[0] == (byte)'0' && (text[1] | 0x20) == (byte)'x' && text.Length > 2 && IsDigit(text[2], 16))
        {
            radix = 16;
            text = text[2..];
        }
        else if (text.Length > 1 && text[0] == (byte)'0')
        {
            radix = 8;
            text = text[1..];
        }

        if (text.Length == 0)
        {
            return Errno.EINVAL;
        }

        foreach (var b in text)
        {
            if (!IsDigit(b, radix))
            {
                return Errno.EINVAL;
            }

            var digit = b <= (byte)'9' ? (uint)(b - '0') : (uint)((b | 0x20) - 'a' + 10);
            if (value > (ulong.MaxValue - digit) / radix)
            {
                return Errno.ERANGE;
            }

            value = (value * radix) + digit;
        }

        return Errno.None;
    }

    private static bool IsDigit(byte b, uint radix) =>
        radix switch
        {
            16 => b is >= (byte)'0' and <= (byte)'9' || (b | 0x20) is >= (byte)'a' and <= (byte)'f',
            8 => b is >= (byte)'0' and <= (byte)'7',
            _ => b is >= (byte)'0' and <= (byte)'9',
        };
}
