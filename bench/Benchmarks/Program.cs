using BenchmarkDotNet.Running;

BenchmarkSwitcher.FromAssembly(typeof(VfioMigration.Benchmarks.PlanBenchmarks).Assembly).Run(args);
