using Microsoft.Data.Sqlite;
using VfioMigration.ConsoleMigrator.Commands;

namespace VfioMigration.ConsoleMigrator.Tests;

/// <summary>Points every command these tests run (in-process and child processes) at a state directory of their own, never the machine's.</summary>
[TestClass]
public static class StateDirectory
{
    private static string? _directory;

    [AssemblyInitialize]
    public static void UseATemporaryStateDirectory(TestContext context)
    {
        _directory = Directory.CreateTempSubdirectory("vfio-console-state-").FullName;
        Environment.SetEnvironmentVariable(StateOption.EnvironmentVariable, _directory);
    }

    [AssemblyCleanup]
    public static void DeleteTheStateDirectory()
    {
        Environment.SetEnvironmentVariable(StateOption.EnvironmentVariable, null);
        SqliteConnection.ClearAllPools();
        if (_directory is not null)
        {
            Directory.Delete(_directory, recursive: true);
        }
    }
}
