using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace VfioMigration.Libvirt;

/// <summary>Checks on strings before they become C strings.</summary>
internal static class Arguments
{
    /// <summary>
    /// Rejects null, empty, and text with a NUL character: C would cut the string there, so
    /// <c>"guest\0other"</c> would silently look up <c>"guest"</c>.
    /// </summary>
    internal static void RequireCString([NotNull] string? value, [CallerArgumentExpression(nameof(value))] string? name = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(value, name);
        RejectNul(value, name);
    }

    /// <summary>As <see cref="RequireCString"/>, but null is allowed (libvirt's "use the default").</summary>
    internal static void OptionalCString(string? value, [CallerArgumentExpression(nameof(value))] string? name = null)
    {
        if (value is not null)
        {
            RejectNul(value, name);
        }
    }

    private static void RejectNul(string value, string? name)
    {
        var nul = value.IndexOf('\0', StringComparison.Ordinal);
        if (nul >= 0)
        {
            throw new ArgumentException($"The value contains a NUL character at index {nul}; libvirt would see only the text before it. Pass the text without NUL characters.", name);
        }
    }
}
