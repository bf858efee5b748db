using System.CommandLine;
using Lathe.Models;
using Lathe.Tensors.Threading;
using Lathe.Training;
using Lathe.Distributed;
using Lathe.Training.Distributed;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe bench train`: training throughput of a preset on random tokens — full steps (forward,
/// backward, clipping, AdamW) — as tokens/s (median step after warm-up), peak RSS and MFU.</summary>
/// <remarks>Under mpirun each rank trains
/// its own batch (data parallel); tokens/s then counts all ranks, the step is the slowest rank's, and the time the
/// compute thread waited for gradient collectives (what overlap with the backward did not hide) is reported per step.</remarks>
internal static class BenchTrain
{
    /// <summary>The machine's fp32 peak the MFU is measured against (2 cores, AVX-512 FMA), GFLOP/s.</summary>
    const double PeakGflops = 430;

    public static Command Create()
    {
        var preset = new Option<string>("--preset") { Description = "Model preset (S, M, gpt2-tiny, …).", DefaultValueFactory = _ => "S" };
        var threads = new Option<int>("--threads") { Description = "Compute threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var steps = new Option<int>("--steps") { Description = "Timed steps.", DefaultValueFactory = _ => 10 };
        var warmup = new Option<int>("--warmup") { Description = "Untimed warm-up steps.", DefaultValueFactory = _ => 3 };
        var batch = new Option<int>("--batch-size") { Description = "B (default: 8 for S and M)." };
        var block = new Option<int>("--block-size") { Description = "T (default: 256 for S and M)." };
        var zero = new Option<int>("--zero") { Description = "Under mpirun: 1 shards AdamW's state (ZeRO-1), 0 all-reduces whole gradients.", DefaultValueFactory = _ => 1 };
        var bucketMb = new Option<double>("--bucket-mb") { Description = "Under mpirun: gradient bucket size, MB.", DefaultValueFactory = _ => DataParallel.DefaultBucketMb };
        var command = new Command("train", "Training-step throughput of a preset; prints tokens/s, peak RSS and MFU as JSON last.")
        {
            preset, threads, steps, warmup, batch, block, zero, bucketMb,
        };
        command.SetAction(r => Run(r.GetValue(preset)!, r.GetValue(threads), r.GetValue(steps), r.GetValue(warmup), r.GetValue(batch), r.GetValue(block),
            r.GetValue(zero), r.GetValue(bucketMb)));
        return command;
    }

    /// <summary>The benchmark shapes (scripts/bench/train-torch.py uses the same).</summary>
    static (int B, int T) Shape(string preset, ModelConfig c) => preset switch
    {
        "S" => (8, 256),
        "M" => (8, 256),
        _ => (4, Math.Min(128, c.MaxPositions)),
    };

    static int Run(string preset, int threads, int steps, int warmup, int batch, int block, int zero, double bucketMb)
    {
        if (threads <= 0 || steps <= 0 || warmup < 0) throw new UserInputException("bench train: --threads and --steps must be positive, --warmup ≥ 0");
        if (zero is not (0 or 1) || !(bucketMb > 0)) throw new UserInputException("bench train: --zero must be 0 or 1 and --bucket-mb positive");
        ComputePool.SetSharedThreads(threads);
        var config = ModelConfig.FromPresetOrFile(preset);
        var (B, T) = Shape(preset, config);
        if (batch > 0) B = batch;
        if (block > 0) T = block;
        // Random tokens: throughput does not depend on the text.
        var rng = new Lathe.Tensors.Philox(42);
        var distributed = new ParallelChoice(zero == 1, bucketMb).Join();
        var world = distributed?.World ?? SingleProcess.Instance;
        var tokens = new int[Math.Max(world.Size * B * T * (steps + warmup) + 1, 4 * B * T)];
        for (int i = 0; i < tokens.Length; i++)
            do tokens[i] = rng.NextInt(config.ModelType == "t5" ? config.VocabSize - 100 : config.VocabSize);   // T5: the top 100 ids are sentinels
            while (config.ModelType == "bert" && config.IsBertSpecial(tokens[i]));   // corpus text holds no [CLS]/[SEP]/[MASK]/[PAD]
        var options = new TrainingOptions { Steps = steps + warmup, BatchSize = B, BlockSize = T, WarmupSteps = 1, EvalEvery = 0, CheckpointEvery = 0, LearningRate = 3e-4f };
        using var model = LanguageModel.Create(config, 1);
        using var trainer = new Trainer(model, options, new TokenStreamSource(tokens, T), null, null, null, distributed: distributed);
        trainer.VerifyReplicas();
        var waits = new List<double>(steps);
        int step = 0;
        var (median, allocatedPerStep) = BenchSupport.TimeSteps(() =>
        {
            trainer.TrainStep();
            if (++step > warmup && trainer.DataParallel is { } dp) waits.Add(dp.LastWaitSeconds);
        }, warmup, steps);
        // The job moves at its slowest rank's pace.
        median = world.AllGather(median).Max();
        double waitMs = waits.Count > 0 ? world.AllGather(BenchSupport.Median(waits)).Max() * 1e3 : 0;
        double peakRss = world.AllGather(BenchSupport.PeakRssMb()).Max();
        double optimizerMb = (trainer.DataParallel?.OptimizerFloats ?? 2L * trainer.Trainable.Sum(p => p.Value.Length)) * 4 / 1e6;
        if (!world.IsRoot) return 0;
        double tokensPerSecond = world.Size * B * T / median;
        double flopsPerToken = 3 * trainer.Objective.ForwardFlopsPerToken(model, T);   // forward + backward ≈ 3× forward
        double mfu = tokensPerSecond * flopsPerToken / (PeakGflops * 1e9);
        string ranks = world.Size > 1 ? $" × {world.Size} ranks ({(zero == 1 ? "ZeRO-1" : "all-reduce")}, waiting {waitMs:F1} ms/step for gradients)" : "";
        Console.Error.WriteLine($"bench train {preset}: {model.ParameterCount / 1e6:F2}M params, B={B} T={T}, {threads} threads{ranks}: median step {median * 1e3:F1} ms over {steps}, " +
            $"{tokensPerSecond:F0} tok/s, {tokensPerSecond * flopsPerToken / 1e9:F1} GFLOP/s, optimizer state {optimizerMb:F1} MB per rank, {allocatedPerStep} B allocated/step (managed, this thread)");
        BenchSupport.PrintJson(("bench", "train"), ("preset", preset), ("ranks", world.Size), ("threads", threads), ("batch", B), ("block", T), ("steps", steps),
            ("params_m", model.ParameterCount / 1e6), ("step_ms", median * 1e3), ("tokens_per_s", tokensPerSecond), ("comm_wait_ms_per_step", waitMs),
            ("zero", world.Size > 1 && zero == 1), ("optimizer_mb_per_rank", optimizerMb), ("peak_rss_mb", peakRss),
            ("mfu", mfu), ("alloc_bytes_per_step", allocatedPerStep));
        return 0;
    }
}
