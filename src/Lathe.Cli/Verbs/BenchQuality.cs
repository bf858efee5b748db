using Lathe.Data;
using System.CommandLine;
using System.Diagnostics;
using Lathe.Evaluation;
using Lathe.Models;
using Lathe.Tensors.Threading;
using Lathe.Training;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe bench quality`: train a preset on real shards for a fixed wall-clock budget, then score the whole
/// validation stream — the Lathe half of the equal-wall-time comparison with scripts/bench/quality-torch.py, which
/// trains the same model on the same batches, in the same order, with the same optimiser and schedule.</summary>
internal static class BenchQuality
{
    public static Command Create()
    {
        var data = new Option<string>("--data") { Description = "Folder of token shards (data prepare's output).", Required = true };
        var preset = new Option<string>("--preset") { Description = "Model preset (S, M, …).", DefaultValueFactory = _ => "S" };
        var seconds = new Option<double>("--seconds") { Description = "Training wall-clock budget.", DefaultValueFactory = _ => 120 };
        var threads = new Option<int>("--threads") { Description = "Compute threads.", DefaultValueFactory = _ => 2 };
        var lr = new Option<float>("--lr") { Description = "Peak learning rate (constant after warm-up).", DefaultValueFactory = _ => 1e-3f };
        var warmup = new Option<int>("--warmup") { Description = "Linear warm-up steps.", DefaultValueFactory = _ => 50 };
        var batch = new Option<int>("--batch-size") { DefaultValueFactory = _ => 8 };
        var block = new Option<int>("--block-size") { DefaultValueFactory = _ => 256 };
        var command = new Command("quality", "Train for a wall-clock budget on real data and report the validation loss (JSON last).")
        {
            data, preset, seconds, threads, lr, warmup, batch, block,
        };
        command.SetAction(r => Run(r.GetValue(data)!, r.GetValue(preset)!, r.GetValue(seconds), r.GetValue(threads), r.GetValue(lr),
            r.GetValue(warmup), r.GetValue(batch), r.GetValue(block)));
        return command;
    }

    static int Run(string dataDir, string preset, double seconds, int threads, float lr, int warmup, int B, int T)
    {
        if (threads <= 0 || !(seconds > 0) || B <= 0 || T <= 0) throw new UserInputException("bench quality: --threads, --seconds, --batch-size and --block-size must be positive");
        ComputePool.SetSharedThreads(threads);
        var (train, validation) = TokenShards.LoadFolder(dataDir);
        var config = ModelConfig.FromPresetOrFile(preset);
        int maxId = 0;
        foreach (int t in train) maxId = Math.Max(maxId, t);
        if (maxId >= config.VocabSize) throw new UserInputException($"bench quality: the data holds token id {maxId}; preset {preset} has vocab_size {config.VocabSize}");
        // Constant rate after warm-up (min fraction 1): neither side's schedule depends on how far it gets.
        var options = new TrainingOptions
        {
            Steps = int.MaxValue / 2, BatchSize = B, BlockSize = T, WarmupSteps = warmup, LearningRate = lr, MinLrFraction = 1f,
            EvalEvery = 0, CheckpointEvery = 0, Seed = 1337,
        };
        using var model = LanguageModel.Create(config, options.Seed);
        using var trainer = new Trainer(model, options, new TokenStreamSource(train, T), null, null, null);
        var clock = Stopwatch.StartNew();
        float last = float.NaN;
        int steps = 0;
        while (clock.Elapsed.TotalSeconds < seconds) { last = trainer.TrainStep(); steps++; }
        double trained = clock.Elapsed.TotalSeconds;
        var (sum, count) = LossEvaluator.Evaluate(model, validation, B, T);
        Console.Error.WriteLine($"bench quality {preset}: {steps} steps in {trained:F1} s, last train loss {last:F4}, validation loss {sum / count:F4} over {count} tokens");
        BenchSupport.PrintJson(("bench", "quality"), ("framework", "lathe"), ("preset", preset), ("threads", threads), ("seconds", trained), ("steps", steps),
            ("tokens", (long)steps * B * T), ("train_loss", last), ("val_loss", sum / count), ("val_tokens", count));
        return 0;
    }
}
