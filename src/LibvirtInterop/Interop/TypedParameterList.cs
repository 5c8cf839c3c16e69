namespace VfioMigration.Libvirt.Interop;

/// <summary>
/// A <c>virTypedParameterPtr</c> array grown by <c>virTypedParamsAdd*</c> and released with
/// <c>virTypedParamsFree</c>. libvirt owns the layout; we only pass the pointer and count back.
/// </summary>
internal sealed unsafe class TypedParameterList : IDisposable
{
    private nint parameters;
    private int count;
    private int capacity;

    /// <summary>The array, or zero while empty.</summary>
    internal nint Parameters => parameters;

    /// <summary>The number of parameters added.</summary>
    internal int Count => count;

    /// <summary>Adds a string parameter (<c>virTypedParamsAddString</c>).</summary>
    internal void AddString(string name, string value)
    {
        fixed (nint* array = &parameters)
        fixed (int* length = &count, max = &capacity)
        {
            Proxy.virTypedParamsAddString(array, length, max, name, value);
        }
    }

    /// <summary>Adds an unsigned 64-bit parameter (<c>virTypedParamsAddULLong</c>).</summary>
    internal void AddULong(string name, ulong value)
    {
        fixed (nint* array = &parameters)
        fixed (int* length = &count, max = &capacity)
        {
            Proxy.virTypedParamsAddULLong(array, length, max, name, value);
        }
    }

    /// <summary>Frees the array and every string in it.</summary>
    public void Dispose()
    {
        if (parameters != 0)
        {
            NativeMethods.virTypedParamsFree(parameters, count);
            parameters = 0;
            count = 0;
            capacity = 0;
        }
    }
}
