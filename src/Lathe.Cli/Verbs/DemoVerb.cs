using Lathe.Data;
using System.CommandLine;
using System.IO.Compression;
using System.Text;
using Lathe.Formats;
using Lathe.Inference;
using Lathe.Models;
using Lathe.Tokenizers;
using Lathe.Tensors.Threading;
using Lathe.Training;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe demo`, the main job: the bundled corpus → BPE tokenizer → token shards → a small GPT
/// pre-trained for a few minutes → checkpoint, loss curve and samples.</summary>
internal static class DemoVerb
{
    // No trailing spaces: GPT-2 pre-tokenization attaches a space to the word after it.
    static readonly string[] Prompts = ["Call me Ishmael.", "The whale", "Queequeg was"];

    public static Command Create()
    {
        var output = new Option<string>("--out") { Description = "Run folder.", DefaultValueFactory = _ => "runs/demo" };
        var config = new Option<string>("--config") { Description = "Model preset or config.json.", DefaultValueFactory = _ => "gpt2-tiny" };
        var tokens = new Option<int>("--sample-tokens") { Description = "Tokens per sample.", DefaultValueFactory = _ => 100 };
        var temperature = new Option<float>("--temperature") { Description = "Sampling temperature (0 = greedy).", DefaultValueFactory = _ => 0.8f };
        var vocab = new Option<int>("--vocab") { Description = "BPE vocabulary size (special tokens included).", DefaultValueFactory = _ => 1024 };
        var minutes = new Option<double>("--minutes") { Description = "Training budget when --steps is 0: the step count is set from the measured speed of a few steps.", DefaultValueFactory = _ => 3.0 };
        var o = new TrainingOptionSet(steps: 0, batch: 16, block: 128, lr: 2e-3f, warmup: 60, evalEvery: 100);
        var command = new Command("demo", "The main job: bundled corpus → tokenizer → shards → pre-train a small GPT (a few minutes) → samples.")
        {
            output, config, tokens, temperature, vocab, minutes,
        };
        o.AddTo(command);
        command.SetAction(r => Run(r.GetValue(output)!, r.GetValue(config)!, o.Read(r, allowZeroSteps: true), o.Threads(r), r.GetValue(tokens), r.GetValue(temperature), r.GetValue(vocab), r.GetValue(minutes)));
        return command;
    }

    static int Run(string runDir, string configName, TrainingOptions options, int threads, int sampleTokens, float temperature, int vocabSize, double minutes)
    {
        if (!(minutes > 0)) throw new UserInputException($"demo: --minutes {minutes} must be positive");
        ComputePool.SetSharedThreads(threads);
        if (Checkpoint.Find(runDir) is not null)
            throw new UserInputException($"demo: {runDir} already holds a run; remove it or pass --out");
        // 1. Corpus.
        var (text, source) = LoadCorpus();
        Console.Error.WriteLine($"demo: corpus {source}: {text.Length:N0} characters");
        // 2. Tokenizer: byte-level BPE learned from the corpus.
        string dataDir = Path.Combine(runDir, "data");
        Directory.CreateDirectory(dataDir);
        string tokenizerPath = Path.Combine(dataDir, "tokenizer.json");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var tokenizer = new BpeTrainer(vocabSize).Train([text]);
        TokenizerJson.Save(tokenizer, tokenizerPath);
        int[] ids = tokenizer.Encode(text).ToArray();
        Console.Error.WriteLine($"demo: tokenizer: byte-level BPE, vocabulary {tokenizer.VocabSize} ({clock.Elapsed.TotalSeconds:F1} s) → {ids.Length:N0} tokens, " +
            $"{(double)Encoding.UTF8.GetByteCount(text) / ids.Length:F2} bytes/token ({tokenizerPath})");
        // 3. Shards: the last 5% is validation.
        int split = ids.Length - ids.Length / 20;
        TokenShards.Write(Path.Combine(dataDir, "moby_train_000.bin"), ids.AsSpan(0, split));
        TokenShards.Write(Path.Combine(dataDir, "moby_val_000.bin"), ids.AsSpan(split));
        Console.Error.WriteLine($"demo: shards: {split:N0} train + {ids.Length - split:N0} val tokens in {dataDir}");
        // 4. Pre-train.
        var config = ModelConfig.FromPresetOrFile(configName);
        config = config with { VocabSize = tokenizer.VocabSize };
        if (options.Steps == 0)
        {
            int steps = CalibrateSteps(config, options, ids, minutes);
            options = options with
            {
                Steps = steps, WarmupSteps = Math.Min(options.WarmupSteps, steps / 5),
                EvalEvery = Math.Min(options.EvalEvery, Math.Max(1, steps / 10)), EvalBatches = 2, CheckpointEvery = Math.Min(options.CheckpointEvery, Math.Max(1, steps / 4)),
            };
        }
        int exit = PretrainVerb.Run(config, dataDir, runDir, resume: false, options, threads, [], vocabSizeGiven: false);
        if (exit != 0) return exit;
        // 5. Samples.
        using var model = Checkpoint.LoadModel(runDir);
        Console.Error.WriteLine($"demo: samples (temperature {temperature}):");
        var sb = new StringBuilder();
        for (int i = 0; i < Prompts.Length; i++)
        {
            using var generator = new Generator(model);
            int[] continuation = generator.Generate(tokenizer.Encode(Prompts[i]).ToArray(), sampleTokens,
                new SamplingOptions { Temperature = temperature, TopK = 0, TopP = 1, MinP = 0, Seed = options.Seed + (ulong)i }).ToArray();
            sb.Append("--- ").Append(Prompts[i]).Append(tokenizer.Decode(continuation)).Append('\n');
        }
        Console.Out.Write(sb.ToString());
        Console.Error.WriteLine($"demo: checkpoint {Path.Combine(runDir, Checkpoint.Folder)}, loss curve {Path.Combine(runDir, "loss.html")}");
        return 0;
    }

    // Times a few steps of a throwaway copy of the run and sizes the run to the budget, so the demo takes
    // about the same wall time on any machine (the run itself is then fixed and reproducible).
    static int CalibrateSteps(ModelConfig config, TrainingOptions options, int[] ids, double minutes)
    {
        var probe = options with { Steps = 11, EvalEvery = 0 };
        using var model = CausalLM.Create(config, options.Seed);
        using var trainer = new Trainer(model, probe, new TokenStreamSource(ids, options.BlockSize), null, null, null);
        for (int i = 0; i < 3; i++) trainer.TrainStep();   // JIT tiers and first-touch memory
        // The median of several steps: on a shared machine single steps swing widely.
        var times = new double[8];
        for (int i = 0; i < times.Length; i++)
        {
            long start = System.Diagnostics.Stopwatch.GetTimestamp();
            trainer.TrainStep();
            times[i] = System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalSeconds;
        }
        Array.Sort(times);
        double perStep = (times[3] + times[4]) / 2;
        // Evaluation and checkpoints cost roughly 10% on top of the steps.
        int steps = Math.Max(20, (int)(minutes * 60 * 0.9 / perStep));
        Console.Error.WriteLine($"demo: {perStep * 1e3:F0} ms per step → {steps} steps for a {minutes:0.#}-minute budget");
        return steps;
    }

    // The corpus that ships in the repo (data/corpus/moby-dick.txt.gz), else the Moby-Dick chapters of the npm peers.
    static (string Text, string Source) LoadCorpus()
    {
        string root = RepoPaths.Root();
        string gz = Path.Combine(root, "data", "corpus", "moby-dick.txt.gz");
        if (File.Exists(gz))
        {
            using var s = new GZipStream(File.OpenRead(gz), CompressionMode.Decompress);
            return (new StreamReader(s, Encoding.UTF8).ReadToEnd(), gz);
        }
        string modules = Lathe.IO.NodeModules.TryFind() ?? Path.Combine(root, ".peers", "node_modules");
        string chapters = Path.Combine(modules, "@stdlib", "datasets", "moby-dick", "data");
        if (!Directory.Exists(chapters))
            throw new FileNotFoundException($"demo: no corpus: neither {gz} nor {chapters} (run scripts/install-peers.sh)");
        var sb = new StringBuilder();
        for (int n = 0; ; n++)
        {
            string f = Path.Combine(chapters, $"chapter_{n}.txt");
            if (!File.Exists(f)) { if (n == 0) continue; break; }
            sb.Append(File.ReadAllText(f)).Append("\n\n");
        }
        return (sb.ToString(), chapters);
    }
}
