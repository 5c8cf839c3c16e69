using Microsoft.Extensions.Logging;

namespace VfioMigration.ConsoleMigrator.Cli;

/// <summary>
/// The console's log output: one line per entry on the command's standard error
/// (<c>warn: Category[1016] message</c>), the message escaped whole by <see cref="TerminalText"/>
/// (a host string with a line feed cannot forge a second line).
/// </summary>
internal sealed class StderrLoggerProvider(TextWriter stderr) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new StderrLogger(stderr, categoryName);

    public void Dispose()
    {
    }

    private sealed class StderrLogger(TextWriter stderr, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var level = logLevel switch
            {
                LogLevel.Trace => "trce",
                LogLevel.Debug => "dbug",
                LogLevel.Information => "info",
                LogLevel.Warning => "warn",
                LogLevel.Error => "fail",
                _ => "crit",
            };
            var message = formatter(state, exception) + (exception is null ? string.Empty : $" ({exception.GetType().Name}: {exception.Message})");
            stderr.WriteLine($"{level}: {category}[{eventId.Id}] {TerminalText.Escape(message)}");
        }
    }
}
