namespace VfioMigration.Planner.Sysfs;

/// <summary>The outcome of a sysfs operation that returns nothing: success, or the errno.</summary>
/// <param name="Error">The errno; <see cref="Errno.None"/> on success.</param>
public readonly record struct SysfsResult(Errno Error)
{
    /// <summary>A success.</summary>
    public static SysfsResult Success => default;

    /// <summary>True when the operation succeeded.</summary>
    public bool Succeeded => Error == Errno.None;

    /// <summary>A success carrying <paramref name="value"/>.</summary>
    public static SysfsResult<T> Of<T>(T value) => new(value, Errno.None);

    /// <summary>A failure of a value-returning operation with <paramref name="error"/>.</summary>
    public static SysfsResult<T> Failed<T>(Errno error) => new(default, error);
}

/// <summary>The outcome of a sysfs operation that returns a value: the value, or the errno.</summary>
/// <typeparam name="T">The value's type.</typeparam>
/// <param name="Value">The value; default when the operation failed.</param>
/// <param name="Error">The errno; <see cref="Errno.None"/> on success.</param>
public readonly record struct SysfsResult<T>(T? Value, Errno Error)
{
    /// <summary>True when the operation succeeded (then <see cref="Value"/> is set).</summary>
    public bool Succeeded => Error == Errno.None;
}

/// <summary>
/// One write and what the same open file says afterwards, for per-open attributes such as the
/// reference driver migref's (docs/reference-driver.md): the rest of the file after the write (write
/// and ask's answer) and the reason of a refusal (the file's text at offset 4096).
/// </summary>
/// <param name="Error">The errno of <c>open</c> or of the <c>write</c>, as <see cref="IHostFileSystem.WriteAsync"/> reports it.</param>
/// <param name="Reply">What reading on after a successful write returned (raw, unchecked); null when nothing was read.</param>
/// <param name="Reason">The text at offset 4096 of the same open file (raw, unchecked); null when empty or not read.</param>
public readonly record struct SysfsExchange(Errno Error, string? Reply, string? Reason);
