using System.Text.Json;
using System.Text.Json.Nodes;

namespace VfioMigration.ConsoleMigrator.Tests;

/// <summary>
/// <c>economy</c> on the simulated reference driver: the destination is examples/scenarios/migref.json
/// (driver 2.1 loading 2.0 and 2.1) with four idle migref-small, as scripts/real-kernel/run.sh
/// --planner sets up the real driver; the counts here are the ones that run requires of the kernel.
/// </summary>
[TestClass]
public sealed class EconomyCommandTests
{
    private static readonly string[] IdleSmall =
    [
        "5a000000-0000-4000-8000-00000000000a",
        "5a000000-0000-4000-8000-00000000000b",
        "5a000000-0000-4000-8000-00000000000c",
        "5a000000-0000-4000-8000-00000000000d",
    ];

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task Economy_counts_each_strategys_version_writes_and_questions_per_guest()
    {
        var destination = Path.Combine(Path.GetTempPath(), $"migref-dest-{Guid.NewGuid():N}.json");
        try
        {
            var scenario = JsonNode.Parse(await File.ReadAllTextAsync(Scenario("migref.json"), TestContext.CancellationToken))!;
            scenario["mdevs"] = new JsonArray([.. IdleSmall.Select(uuid => (JsonNode)new JsonObject { ["uuid"] = uuid, ["parent"] = "migref", ["type"] = "migref-small" })]);
            await File.WriteAllTextAsync(destination, scenario.ToJsonString(), TestContext.CancellationToken);

            var run = await ConsoleRun.RunAsync("economy", "--source-scenario", Scenario(Path.Combine("kernel", "migref-source.json")), "--dest-scenario", destination, "--domain", "accepted", "--domain", "refused", "--json");

            Assert.AreEqual(0, run.ExitCode, run.Error);
            using var json = JsonDocument.Parse(run.Out);
            Assert.AreEqual(
                "accepted write-and-ask complete=True writes=3 questions=2 answers=2 pairs=2 most=1 probes=5|"
                + "accepted write-and-test complete=True writes=4 questions=0 answers=0 pairs=0 most=0 probes=4|"
                + "accepted exhaustive complete=True writes=6 questions=0 answers=0 pairs=0 most=0 probes=|"
                + "refused write-and-ask complete=False writes=0 questions=1 answers=1 pairs=1 most=1 probes=1|"
                + "refused write-and-test complete=False writes=5 questions=0 answers=0 pairs=0 most=0 probes=5|"
                + "refused exhaustive complete=False writes=6 questions=0 answers=0 pairs=0 most=0 probes=",
                string.Join('|', json.RootElement.GetProperty("guests").EnumerateArray().SelectMany(guest => guest.GetProperty("strategies").EnumerateArray().Select(s =>
                    $"{guest.GetProperty("guest").GetString()} {s.GetProperty("strategy").GetString()} complete={s.GetProperty("complete").GetBoolean()} "
                    + $"writes={s.GetProperty("versionWrites").GetInt32()} questions={s.GetProperty("questions").GetInt32()} answers={s.GetProperty("answerReads").GetInt32()} "
                    + $"pairs={s.GetProperty("parentVersionPairs").GetInt32()} most={s.GetProperty("mostQuestionsPerPair").GetInt32()} probes={s.GetProperty("plannerProbes")}"))));
        }
        finally
        {
            File.Delete(destination);
        }
    }

    private static string Scenario(string name) => Path.Combine(AppContext.BaseDirectory, "scenarios", name);
}
