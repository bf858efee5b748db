using System.CommandLine;
using System.Diagnostics;
using Lathe.Data;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe bench data`: throughput of reading + cleaning + exact and near dedup over a real corpus,
/// in MB of source bytes per second, and the process's peak resident memory.</summary>
internal static class BenchData
{
    public static Command Create()
    {
        var corpus = new Option<string>("--corpus") { Description = "spam (SpamAssassin mail, ~6,000 messages) or sotu (State of the Union texts).", DefaultValueFactory = _ => "spam" };
        var threads = new Option<int>("--threads") { Description = "Worker threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var command = new Command("data", "Clean + dedup throughput (MB/s of source) and peak RSS; prints JSON last.") { corpus, threads };
        command.SetAction(r => Run(r.GetValue(corpus)!, r.GetValue(threads)));
        return command;
    }

    static int Run(string corpus, int threads)
    {
        if (threads < 1) throw new UserInputException($"bench data: --threads must be positive (got {threads})");
        string datasets = Path.Combine(Lathe.IO.NodeModules.Find(), "@stdlib", "datasets");
        string path = corpus switch
        {
            "spam" => Path.Combine(datasets, "spam-assassin", "data"),
            "sotu" => Path.Combine(datasets, "sotu", "data"),
            _ => throw new UserInputException($"bench data: --corpus must be spam or sotu (got {corpus})"),
        };
        if (!Directory.Exists(path)) throw new UserInputException($"bench data: corpus folder {path} not found (run scripts/install-peers.sh)");
        var format = corpus == "spam" ? SourceFormat.Mail : SourceFormat.Text;
        var options = new PrepareOptions { Threads = threads };
        string spool = Path.Combine(Path.GetTempPath(), $".lathe-bench-data.{Environment.ProcessId}.tmp");

        CorpusStats Pass()
        {
            var stats = new CorpusStats();
            foreach (var _ in CorpusPipeline.CleanAndDedup(CorpusSource.Open(path, stats.Source, format, "*.txt"), options, stats, spool)) { }
            return stats;
        }

        Pass(); // warm-up: JIT and the file cache, so the timed pass measures the pipeline, not the disk
        var clock = Stopwatch.StartNew();
        var s = Pass();
        double seconds = clock.Elapsed.TotalSeconds;
        double mb = s.Source.BytesRead / 1e6, rate = mb / seconds;
        Console.Error.WriteLine($"bench data {corpus}: {s.Cleaning.DocumentsIn:N0} docs, {mb:F1} MB in {seconds:F2} s = {rate:F1} MB/s; " +
            $"kept {s.DocumentsKept:N0} ({s.ExactDuplicates:N0} exact, {s.NearDuplicates:N0} near duplicates); threads {threads}");
        BenchSupport.PrintJson(("bench", "data"), ("corpus", corpus), ("threads", threads), ("documents", s.Cleaning.DocumentsIn),
            ("kept", s.DocumentsKept), ("exact_duplicates", s.ExactDuplicates), ("near_duplicates", s.NearDuplicates),
            ("mb", mb), ("seconds", seconds), ("mb_per_s", rate), ("peak_rss_mb", BenchSupport.PeakRssMb()));
        return 0;
    }
}
