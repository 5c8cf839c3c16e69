using VfioMigration.ConsoleMigrator.Cli;

using var signals = SignalCancellation.Register(TerminalText.Writer(Console.Error));
var code = await ConsoleApp.RunAsync(args, Console.Out, Console.Error, signals.Token, Terminals.Detect()).ConfigureAwait(false);
return signals.ExitCode(code);
