using System.CommandLine;
using Lathe.Models;
using Lathe.Tensors.Threading;
using Lathe.Training;
using Lathe.Training.Objectives;
using Lathe.Tuning;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe bench finetune`: the fine-tuning step of one method on a preset — forward, backward through the frozen
/// base, clipping and AdamW over the method's parameters — on random tokens, as tokens/s (median step after warm-up)
/// and peak RSS. scripts/bench/finetune-torch.py is the PyTorch peer (full and LoRA) with the same shapes.</summary>
/// <remarks>Peak RSS is the process's high-water mark over the timed steps, reset (Linux clear_refs) after the model
/// is built and, for QLoRA, quantized: a GGUF base loads straight into its quantized form, so the F32 copy the bench
/// builds first is not part of what QLoRA costs. The figure from process start is reported too.</remarks>
internal static class BenchFinetune
{
    public static Command Create()
    {
        var method = new Option<string>("--method") { Description = "full, lora, qlora, prefix, prompt or adapter.", DefaultValueFactory = _ => "lora" };
        var preset = new Option<string>("--preset") { Description = "Model preset (S, M, …) or config.json.", DefaultValueFactory = _ => "S" };
        var threads = new Option<int>("--threads") { Description = "Compute threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var steps = new Option<int>("--steps") { Description = "Timed steps.", DefaultValueFactory = _ => 10 };
        var warmup = new Option<int>("--warmup") { Description = "Untimed warm-up steps.", DefaultValueFactory = _ => 3 };
        var batch = new Option<int>("--batch-size") { Description = "B.", DefaultValueFactory = _ => 8 };
        var block = new Option<int>("--block-size") { Description = "T (prompt tuning: T + virtual tokens must fit the context).", DefaultValueFactory = _ => 256 };
        var rank = new Option<int>("--rank") { Description = "LoRA/QLoRA rank.", DefaultValueFactory = _ => 8 };
        var alpha = new Option<float>("--alpha") { Description = "LoRA/QLoRA alpha.", DefaultValueFactory = _ => 16 };
        var targets = new Option<string?>("--targets") { Description = "LoRA/QLoRA targets: c_attn, all-linear, … (default: PEFT's per architecture)." };
        var quant = new Option<string>("--quant") { Description = "QLoRA base type: q4_0 or q8_0.", DefaultValueFactory = _ => "q4_0" };
        var virtualTokens = new Option<int>("--virtual-tokens") { Description = "Prefix/prompt tuning: virtual tokens.", DefaultValueFactory = _ => 16 };
        var bottleneck = new Option<int>("--bottleneck") { Description = "Adapter bottleneck.", DefaultValueFactory = _ => 64 };
        var command = new Command("finetune", "Fine-tuning-step throughput and peak memory of one method; prints tokens/s and peak RSS as JSON last.")
        {
            method, preset, threads, steps, warmup, batch, block, rank, alpha, targets, quant, virtualTokens, bottleneck,
        };
        command.SetAction(r =>
        {
            var tuning = new TuningOptions
            {
                Method = r.GetValue(method)!, Rank = r.GetValue(rank), Alpha = r.GetValue(alpha), Targets = r.GetValue(targets),
                Quant = FinetuneVerb.ParseQuant(r.GetValue(quant)!),
                VirtualTokens = r.GetValue(virtualTokens), Bottleneck = r.GetValue(bottleneck),
            };
            return Run(tuning, r.GetValue(preset)!, r.GetValue(threads), r.GetValue(steps), r.GetValue(warmup), r.GetValue(batch), r.GetValue(block));
        });
        return command;
    }

    static int Run(TuningOptions tuning, string preset, int threads, int steps, int warmup, int B, int T)
    {
        if (threads <= 0 || steps <= 0 || warmup < 0 || B <= 0 || T <= 0)
            throw new UserInputException("bench finetune: --threads, --steps, --batch-size and --block-size must be positive, --warmup ≥ 0");
        ComputePool.SetSharedThreads(threads);
        var config = ModelConfig.FromPresetOrFile(preset);
        using var model = LanguageModel.Create(config, 1);
        using var method = TuningMethods.Create(model, tuning, seed: 2);
        if (T + method.VirtualTokens > config.MaxPositions) T = config.MaxPositions - method.VirtualTokens;
        var rng = new Lathe.Tensors.Philox(42);
        var tokens = new int[Math.Max(B * T * (steps + warmup) + 1, 4 * B * T)];
        for (int i = 0; i < tokens.Length; i++) tokens[i] = rng.NextInt(config.VocabSize);
        var options = new TrainingOptions
        {
            Steps = steps + warmup, BatchSize = B, BlockSize = T, WarmupSteps = 1, EvalEvery = 0, CheckpointEvery = 0, LearningRate = 2e-4f, WeightDecay = 0,
        };
        using var trainer = new Trainer(model, options, new TokenStreamSource(tokens, T), null, null, null, new SftObjective(method), method.Trainable, method: method);
        double startupPeak = BenchSupport.PeakRssMb();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        BenchSupport.ResetPeakRss();
        double baseRss = BenchSupport.CurrentRssMb();   // the model (quantized for QLoRA), the method, the runtime
        Lathe.Tensors.Storage.BufferPool.ResetPeak();
        long tensorsBefore = Lathe.Tensors.Storage.BufferPool.LiveBytes;
        var (median, allocatedPerStep) = BenchSupport.TimeSteps(() => trainer.TrainStep(), warmup, steps);
        long trainable = 0;
        foreach (var p in method.Trainable) trainable += p.Value.Length;
        double peak = BenchSupport.PeakRssMb();
        double tensorPeak = (Lathe.Tensors.Storage.BufferPool.PeakLiveBytes - tensorsBefore) / 1048576.0;   // the steps' own tensors
        Console.Error.WriteLine($"bench finetune {tuning.Method} {preset}: {model.ParameterCount / 1e6:F2}M params, {trainable:N0} trainable, B={B} T={T}, {threads} threads: " +
            $"median step {median * 1e3:F1} ms over {steps}, {B * T / median:F0} tok/s, peak RSS {peak:F0} MB while training (from {baseRss:F0} MB; {startupPeak:F0} MB peak while building), {allocatedPerStep} B allocated/step");
        BenchSupport.PrintJson(("bench", "finetune"), ("method", method.Name), ("preset", preset), ("targets", tuning.Method is "lora" or "qlora" ? tuning.Targets ?? TuningMethods.DefaultTargets(model) : null),
            ("rank", tuning.Rank), ("threads", threads), ("batch", B), ("block", T), ("steps", steps), ("params_m", model.ParameterCount / 1e6),
            ("trainable_params", trainable), ("step_ms", median * 1e3), ("tokens_per_s", B * T / median), ("peak_rss_mb", peak),
            ("startup_peak_rss_mb", startupPeak), ("rss_before_training_mb", baseRss), ("step_tensor_peak_mb", tensorPeak), ("alloc_bytes_per_step", allocatedPerStep));
        return 0;
    }
}
