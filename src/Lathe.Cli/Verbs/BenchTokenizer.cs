using System.CommandLine;
using System.Text;
using Lathe.Formats;
using Lathe.IO;
using Lathe.Tokenizers;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe bench tokenizer`: GPT-2 encode throughput on Moby-Dick (single thread; cold = a fresh tokenizer
/// per run so no piece is cached, warm = one tokenizer reused) and byte-level BPE training time on the State of the
/// Union text. In-process, median of runs; JSON line last.</summary>
internal static class BenchTokenizer
{
    public static Command Create()
    {
        var vocab = new Option<int[]>("--vocab") { Description = "Training vocabulary sizes.", DefaultValueFactory = _ => [8192, 30000], AllowMultipleArgumentsPerToken = true };
        var runs = new Option<int>("--runs") { Description = "Timed runs per figure.", DefaultValueFactory = _ => 5 };
        var writeJson = new Option<string?>("--write-gpt2-json") { Description = "Also write GPT-2 as tokenizer.json here (for the Hugging Face peer)." };
        var command = new Command("tokenizer", "GPT-2 encode MB/s on Moby-Dick and BPE training time on SOTU.") { vocab, runs, writeJson };
        command.SetAction(r => Run(r.GetValue(vocab)!, r.GetValue(runs), r.GetValue(writeJson)));
        return command;
    }

    static int Run(int[] vocabs, int runs, string? writeJson)
    {
        if (runs < 1) throw new UserInputException($"bench tokenizer: --runs must be at least 1 (got {runs}).");
        string modules = NodeModules.Find();
        string moby = string.Concat(Directory.GetFiles(Path.Combine(modules, "@stdlib", "datasets", "moby-dick", "data"), "chapter_*.txt")
            .OrderBy(f => int.Parse(Path.GetFileNameWithoutExtension(f)["chapter_".Length..])).Select(File.ReadAllText));
        double mb = Encoding.UTF8.GetByteCount(moby) / 1e6;
        var gpt2 = Gpt2Vocabulary.FromNodeModules(modules);
        if (writeJson is not null) TokenizerJson.Save(gpt2, writeJson);
        int tokens = 0;
        var cold = BenchSupport.Time(() =>
        {
            var fresh = new Tokenizer(gpt2.Model, gpt2.PreTokenizer, gpt2.SpecialTokens);
            tokens = fresh.Encode(moby, allowSpecial: false).Count;
        }, warmup: 1, minRuns: runs, minSeconds: 0);
        var warm = BenchSupport.Time(() => tokens = gpt2.Encode(moby, allowSpecial: false).Count, warmup: 1, minRuns: runs, minSeconds: 0);
        double coldMs = BenchSupport.Median(cold), warmMs = BenchSupport.Median(warm);
        BenchSupport.PrintJson(("bench", "tokenizer"), ("task", "gpt2-encode"), ("tokens", tokens), ("cold_ms", coldMs), ("cold_mb_per_s", mb / (coldMs / 1e3)),
            ("warm_ms", warmMs), ("warm_mb_per_s", mb / (warmMs / 1e3)));

        // tiktoken encodings, each encoded cold (a fresh tokenizer over the loaded ranks: empty caches).
        var tiktokenMs = new Dictionary<string, double>();
        foreach (var (name, encoding) in new[] { ("cl100k", TiktokenRanks.Cl100kFromNodeModules(modules)), ("o200k", TiktokenRanks.O200kFromNodeModules(modules)) })
        {
            int count = 0;
            double ms = BenchSupport.Median(BenchSupport.Time(() =>
            {
                var fresh = new Tokenizer(encoding.Model, encoding.PreTokenizer, encoding.SpecialTokens);
                count = fresh.Encode(moby, allowSpecial: false).Count;
            }, warmup: 1, minRuns: runs, minSeconds: 0));
            tiktokenMs[name] = ms;
            BenchSupport.PrintJson(("bench", "tokenizer"), ("task", name + "-encode"), ("tokens", count), ("cold_ms", ms), ("cold_mb_per_s", mb / (ms / 1e3)));
        }

        string sotu = string.Concat(Directory.GetFiles(Path.Combine(modules, "@stdlib", "datasets", "sotu", "data"), "*.txt").Order(StringComparer.Ordinal).Select(File.ReadAllText));
        var fields = new List<(string, object)> { ("bench", "tokenizer"), ("encode_mb_per_s", mb / (coldMs / 1e3)), ("encode_warm_mb_per_s", mb / (warmMs / 1e3)),
            ("cl100k_encode_mb_per_s", mb / (tiktokenMs["cl100k"] / 1e3)), ("o200k_encode_mb_per_s", mb / (tiktokenMs["o200k"] / 1e3)) };
        new BpeTrainer(1000).Train([sotu[..Math.Min(sotu.Length, 1_000_000)]]);   // JIT warm-up
        foreach (int v in vocabs.Distinct())
        {
            int size = 0;
            double ms = BenchSupport.Median(BenchSupport.Time(() => size = new BpeTrainer(v).Train([sotu]).VocabSize, warmup: 0, minRuns: 3, minSeconds: 0));
            BenchSupport.PrintJson(("bench", "tokenizer"), ("task", "bpe-train"), ("vocab", size), ("input_mb", Encoding.UTF8.GetByteCount(sotu) / 1e6), ("ms", ms));
            fields.Add(($"train_{v}_ms", ms));
        }
        fields.Add(("peak_rss_mb", BenchSupport.PeakRssMb()));
        BenchSupport.PrintJson([.. fields]);
        return 0;
    }
}
