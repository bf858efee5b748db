using System.CommandLine;
using System.Diagnostics;
using System.Text;
using Lathe.IO;
using Lathe.Tokenizers;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe bench tokenizer-unigram`: Unigram training on the State of the Union text against SentencePiece's
/// spm_train (Debian `sentencepiece`) at the same vocabulary and thread counts, and the bytes per token each model
/// gives on held-out addresses (every 20th file, by name, is held out). Both see the same text: spm with
/// --normalization_rule_name=identity (so only its whitespace handling applies, which UnigramMetaspace mirrors).
/// Lathe's time includes counting the words. Also encode MB/s: Lathe in-process on the held-out text, spm_encode as
/// one process over ten copies of it. JSON line last.</summary>
internal static class BenchUnigram
{
    public static Command Create()
    {
        var vocab = new Option<int>("--vocab") { Description = "Vocabulary size.", DefaultValueFactory = _ => 8000 };
        var threads = new Option<int[]>("--threads") { Description = "Thread counts to train with.", DefaultValueFactory = _ => [1, 2], AllowMultipleArgumentsPerToken = true };
        var noPeer = new Option<bool>("--no-spm") { Description = "Skip spm_train." };
        var command = new Command("tokenizer-unigram", "Unigram training time and held-out bytes/token on SOTU vs spm_train.") { vocab, threads, noPeer };
        command.SetAction(r => Run(r.GetValue(vocab), r.GetValue(threads)!, r.GetValue(noPeer)));
        return command;
    }

    static int Run(int vocab, int[] threadCounts, bool noPeer)
    {
        if (threadCounts.Length == 0 || threadCounts.Any(t => t < 1)) throw new UserInputException("bench tokenizer-unigram: --threads takes counts ≥ 1.");
        string folder = Path.Combine(NodeModules.Find(), "@stdlib", "datasets", "sotu", "data");
        var files = Directory.GetFiles(folder, "*.txt").Order(StringComparer.Ordinal).ToArray();
        var train = new StringBuilder();
        var heldOut = new StringBuilder();
        for (int i = 0; i < files.Length; i++)
        {
            string text = File.ReadAllText(files[i]).Replace("\r", "");
            (i % 20 == 19 ? heldOut : train).Append(text).Append('\n');
        }
        string trainText = train.ToString(), heldOutText = heldOut.ToString();
        string[] heldOutLines = heldOutText.Split('\n');
        long heldOutBytes = Encoding.UTF8.GetByteCount(heldOutText);
        var fields = new List<(string, object)> { ("bench", "tokenizer-unigram"), ("vocab", vocab), ("train_mb", Encoding.UTF8.GetByteCount(trainText) / 1e6),
            ("heldout_bytes", heldOutBytes) };

        // JIT warm-up on a slice, so the timed runs measure the trainer rather than the compiler.
        new UnigramTrainer(1000).Train(trainText[..Math.Min(trainText.Length, 300_000)].Split('\n'));
        foreach (int t in threadCounts.Distinct())
        {
            UnigramModel? model = null;
            var clock = Stopwatch.StartNew();
            model = new UnigramTrainer(vocab, threads: t).Train(trainText.Split('\n'));
            double seconds = clock.Elapsed.TotalSeconds;
            long tokens = 0;
            var ids = new List<int>();
            foreach (string line in heldOutLines) { ids.Clear(); UnigramMetaspace.Encode(model, line, ids); tokens += ids.Count; }
            // Encode throughput, single thread: the held-out text, words ▁-marked and segmented by Viterbi.
            double encodeMs = BenchSupport.Median(BenchSupport.Time(() =>
            {
                foreach (string line in heldOutLines) { ids.Clear(); UnigramMetaspace.Encode(model, line, ids); }
            }, warmup: 1, minRuns: 5, minSeconds: 0));
            BenchSupport.PrintJson(("bench", "tokenizer-unigram"), ("tool", "lathe"), ("threads", t), ("vocab", model.VocabSize), ("train_s", seconds),
                ("heldout_tokens", tokens), ("bytes_per_token", heldOutBytes / (double)tokens), ("encode_mb_per_s", heldOutBytes / 1e6 / (encodeMs / 1e3)));
            fields.Add(("lathe_encode_mb_per_s", heldOutBytes / 1e6 / (encodeMs / 1e3)));
            fields.Add(($"lathe_{t}t_s", seconds));
            fields.Add(("lathe_bytes_per_token", heldOutBytes / (double)tokens));
        }

        if (!noPeer)
        {
            string dir = Path.Combine(Path.GetTempPath(), $"lathe-spm-{Environment.ProcessId}");
            Directory.CreateDirectory(dir);
            try
            {
                string trainFile = Path.Combine(dir, "train.txt"), testFile = Path.Combine(dir, "heldout.txt");
                File.WriteAllText(trainFile, trainText);
                File.WriteAllText(testFile, heldOutText);
                foreach (int t in threadCounts.Distinct())
                {
                    string prefix = Path.Combine(dir, $"spm{t}");
                    var clock = Stopwatch.StartNew();
                    RunTool("spm_train", [$"--input={trainFile}", $"--model_prefix={prefix}", "--model_type=unigram", $"--vocab_size={vocab}",
                        "--normalization_rule_name=identity", $"--num_threads={t}", "--max_sentence_length=1000000", "--minloglevel=2"]);
                    double seconds = clock.Elapsed.TotalSeconds;
                    string encoded = RunTool("spm_encode", [$"--model={prefix}.model", "--output_format=id", $"--input={testFile}"]);
                    long tokens = encoded.Split((char[])[' ', '\n'], StringSplitOptions.RemoveEmptyEntries).LongLength;
                    // Encode throughput of spm_encode (one process over 10 copies of the held-out text, so start-up and
                    // model loading are a small part), beside Lathe's in-process figure.
                    string bigFile = Path.Combine(dir, "heldout10.txt");
                    if (!File.Exists(bigFile)) File.WriteAllText(bigFile, string.Concat(Enumerable.Repeat(heldOutText, 10)));
                    var encodeClock = Stopwatch.StartNew();
                    RunTool("spm_encode", [$"--model={prefix}.model", "--output_format=id", $"--input={bigFile}"]);
                    double encodeMbPerS = heldOutBytes * 10 / 1e6 / encodeClock.Elapsed.TotalSeconds;
                    fields.Add(("spm_encode_mb_per_s", encodeMbPerS));
                    BenchSupport.PrintJson(("bench", "tokenizer-unigram"), ("tool", "spm_train"), ("threads", t), ("vocab", vocab), ("train_s", seconds),
                        ("heldout_tokens", tokens), ("bytes_per_token", heldOutBytes / (double)tokens), ("encode_mb_per_s", encodeMbPerS));
                    fields.Add(($"spm_{t}t_s", seconds));
                    fields.Add(("spm_bytes_per_token", heldOutBytes / (double)tokens));
                }
            }
            finally { Directory.Delete(dir, recursive: true); }
        }
        fields.Add(("peak_rss_mb", BenchSupport.PeakRssMb()));
        BenchSupport.PrintJson([.. DistinctKeys(fields)]);
        return 0;
    }

    /// <summary>Keeps the first value of each key (bytes per token is the same for every thread count; encode speed is
    /// single-threaded and measured after each training run, the first figure stands).</summary>
    static IEnumerable<(string, object)> DistinctKeys(List<(string Key, object Value)> fields)
    {
        var seen = new HashSet<string>();
        foreach (var field in fields) if (seen.Add(field.Key)) yield return field;
    }

    static string RunTool(string tool, string[] args)
    {
        var info = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args) info.ArgumentList.Add(a);
        Process process;
        try { process = Process.Start(info)!; }
        catch (System.ComponentModel.Win32Exception) { throw new UserInputException($"bench tokenizer-unigram: {tool} not found (Debian package sentencepiece), or pass --no-spm."); }
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException($"{tool} failed (exit {process.ExitCode}): {stderr.Result.Split('\n').FirstOrDefault(l => l.Length > 0)}");
        return stdout;
    }
}
