using VfioMigration.ConsoleMigrator.Cli;

using var cancellation = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancellation.Cancel();
};

return await CommandRunner.RunAsync(args, Console.Out, Console.Error, cancellation.Token, interactive: !Console.IsErrorRedirected).ConfigureAwait(false);
