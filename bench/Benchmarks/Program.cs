using BenchmarkDotNet.Running;
using VfioMigration.Benchmarks;

// Usage: [--markdown FILE] [BenchmarkDotNet options]. Without --filter every benchmark runs (no prompt).
var arguments = args.ToList();
string? markdown = null;
var at = arguments.IndexOf("--markdown");
if (at >= 0)
{
    if (at + 1 >= arguments.Count)
    {
        Console.Error.WriteLine("--markdown needs a file, e.g. --markdown docs/benchmarks-hot-paths.md");
        return 2;
    }

    markdown = arguments[at + 1];
    arguments.RemoveRange(at, 2);
}

if (!arguments.Contains("--filter"))
{
    arguments.AddRange(["--filter", "*"]);
}

var summaries = BenchmarkSwitcher.FromAssembly(typeof(PlanBenchmarks).Assembly).Run([.. arguments], HotPathsConfig.Create()).ToList();
if (summaries.Count == 0 || summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success)))
{
    Console.Error.WriteLine("benchmarks: a benchmark failed or none ran; see the log above.");
    return 1;
}

if (markdown is not null)
{
    await File.WriteAllTextAsync(markdown, HotPathsPage.Render(summaries, DateTimeOffset.UtcNow));
    Console.Error.WriteLine($"benchmarks: wrote {markdown}");
}

return 0;
