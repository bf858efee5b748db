using System.CommandLine;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe bench …`: benchmarks of hot paths; each prints its figures as one JSON line last.</summary>
internal static class BenchVerb
{
    public static Command Create()
    {
        var bench = new Command("bench", "Benchmarks of hot paths; each prints a JSON line last.");
        bench.Subcommands.Add(BenchGemm.Create());
        bench.Subcommands.Add(BenchKernels.Create());
        bench.Subcommands.Add(BenchData.Create());
        bench.Subcommands.Add(BenchTokenizer.Create());
        bench.Subcommands.Add(BenchUnigram.Create());
        bench.Subcommands.Add(BenchTrain.Create());
        bench.Subcommands.Add(BenchEval.Create());
        bench.Subcommands.Add(BenchFinetune.Create());
        bench.Subcommands.Add(BenchQuality.Create());
        bench.Subcommands.Add(BenchDecode.Create());
        bench.Subcommands.Add(BenchMemBw.Create());
        bench.Subcommands.Add(BenchQuant.Create());
        bench.Subcommands.Add(BenchKQuantize.Create());
        bench.Subcommands.Add(BenchServe.Create());
        bench.Subcommands.Add(BenchSpeculative.Create());
        bench.Subcommands.Add(BenchGrammar.Create());
        bench.Subcommands.Add(BenchAlign.Create());
        bench.Subcommands.Add(BenchDistill.Create());
        bench.Subcommands.Add(BenchKg.Create());
        bench.Subcommands.Add(BenchComm.Create());
        bench.Subcommands.Add(BenchPrune.Create());
        bench.Subcommands.Add(BenchFuzz.Create());
        bench.Subcommands.Add(BenchKill.Create());
        bench.Subcommands.Add(BenchVision.Create());
        return bench;
    }
}
