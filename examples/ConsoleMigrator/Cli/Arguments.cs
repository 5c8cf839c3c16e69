namespace VfioMigration.ConsoleMigrator.Cli;

/// <summary>Thrown for a command line the program cannot run; the message says what is wrong.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>What one option of a command accepts.</summary>
/// <param name="Name">The long name, with its dashes (<c>--connect</c>).</param>
/// <param name="ValueName">The value placeholder for help (<c>URI</c>); null for a flag.</param>
/// <param name="Help">One line of help.</param>
/// <param name="Repeatable">Whether the option may be given several times.</param>
/// <param name="Required">Whether the command cannot run without it.</param>
internal sealed record OptionSpec(string Name, string? ValueName, string Help, bool Repeatable = false, bool Required = false)
{
    public bool IsFlag => ValueName is null;
}

/// <summary>A parsed command line: option values and positionals, checked against the command's specs.</summary>
internal sealed class Arguments
{
    private readonly Dictionary<string, List<string>> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _flags = new(StringComparer.Ordinal);

    private Arguments(IReadOnlyList<string> positionals) => Positionals = positionals;

    /// <summary>The arguments that are not options, in order.</summary>
    public IReadOnlyList<string> Positionals { get; }

    /// <summary>Parses <paramref name="args"/> against <paramref name="specs"/>: <c>--name value</c>, <c>--name=value</c>, flags, and <c>--</c> to end options.</summary>
    /// <exception cref="UsageException">An unknown option, a missing or blank value, a repeated single option or a missing required option.</exception>
    public static Arguments Parse(IReadOnlyList<string> args, IReadOnlyList<OptionSpec> specs)
    {
        var byName = specs.ToDictionary(s => s.Name, StringComparer.Ordinal);
        var positionals = new List<string>();
        var values = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        var flags = new HashSet<string>(StringComparer.Ordinal);
        var optionsEnded = false;
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (optionsEnded || !arg.StartsWith('-') || arg == "-")
            {
                positionals.Add(arg);
                continue;
            }

            if (arg == "--")
            {
                optionsEnded = true;
                continue;
            }

            var equals = arg.IndexOf('=', StringComparison.Ordinal);
            var name = equals > 0 ? arg[..equals] : arg;
            if (!byName.TryGetValue(name, out var spec))
            {
                throw new UsageException($"unknown option '{name}'.");
            }

            if (spec.IsFlag)
            {
                if (equals > 0)
                {
                    throw new UsageException($"option '{name}' takes no value.");
                }

                flags.Add(name);
                continue;
            }

            string value;
            if (equals > 0)
            {
                value = arg[(equals + 1)..];
            }
            else if (i + 1 < args.Count)
            {
                value = args[++i];
            }
            else
            {
                throw new UsageException($"option '{name}' needs a value ({spec.ValueName}).");
            }

            if (string.IsNullOrWhiteSpace(value))
            {
                throw new UsageException($"option '{name}' needs a value ({spec.ValueName}); it was empty.");
            }

            if (!values.TryGetValue(name, out var list))
            {
                values[name] = list = [];
            }
            else if (!spec.Repeatable)
            {
                throw new UsageException($"option '{name}' may be given only once.");
            }

            list.Add(value);
        }

        var missing = specs.FirstOrDefault(s => s.Required && !values.ContainsKey(s.Name));
        if (missing is not null)
        {
            throw new UsageException($"option '{missing.Name} {missing.ValueName}' is required.");
        }

        var parsed = new Arguments(positionals);
        foreach (var (key, list) in values)
        {
            parsed._values[key] = list;
        }

        parsed._flags.UnionWith(flags);
        return parsed;
    }

    /// <summary>The single value of an option, or null when it was not given.</summary>
    public string? Value(string name) => _values.TryGetValue(name, out var list) ? list[0] : null;

    /// <summary>The value of a required option (the parser already checked it is there).</summary>
    public string Required(string name) => Value(name) ?? throw new UsageException($"option '{name}' is required.");

    /// <summary>Every value of a repeatable option, in the order given.</summary>
    public IReadOnlyList<string> Values(string name) => _values.TryGetValue(name, out var list) ? list : [];

    /// <summary>Whether a flag was given.</summary>
    public bool Flag(string name) => _flags.Contains(name);
}
