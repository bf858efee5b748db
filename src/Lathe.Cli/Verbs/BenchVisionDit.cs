using Lathe.Tensors;
using Lathe.Tensors.Threading;
using Lathe.Vision.Architectures;
using Lathe.Vision.Diffusion;
using Lathe.Vision.Training;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe bench vision --model dit`: training steps of the DiT — 4×7×7 latents, patch 1 → 49 tokens,
/// width 256, depth 6, 4 heads, MLP 4×, adaLN-Zero on timestep + class (10 classes + null), ε-prediction MSE with a
/// linear schedule over T = 1000, AdamW — on random latents (speed does not depend on their values); median step time
/// after warm-up, in-process. The PyTorch peer is scripts/bench/vision_peer_dit.py (same model, same step).</summary>
internal static class BenchVisionDit
{
    public static int Run(int threads, int steps, int warmup, int batch)
    {
        ComputePool.SetSharedThreads(threads);
        var config = new DitConfig { InChannels = 4, InputSize = 7, PatchSize = 1, HiddenSize = 256, Depth = 6, Heads = 4, MlpRatio = 4, Classes = 10 };
        using var model = new DitModel(config, seed: 1);
        var options = new VisionTrainingOptions { Steps = steps + warmup, BatchSize = batch, LearningRate = 1e-4f, WarmupSteps = 0, WeightDecay = 0f };
        using var trainer = new VisionTrainer(model.Parameters, options, runDir: null);
        using var objective = new DiffusionObjective(new Ddpm(NoiseSchedule.Linear()));
        var rng = new Philox(42);
        using var x0 = Tensor.Zeros(batch, 4, 7, 7);
        rng.FillNormal(x0.AsSpan());
        var labels = new int[batch];
        for (int i = 0; i < batch; i++) labels[i] = rng.NextInt(10);
        BenchSupport.ResetPeakRss();
        var (median, allocatedPerStep) = BenchSupport.TimeSteps(() => trainer.TrainStep(() => objective.Loss(model, x0, labels, rng)), warmup, steps);
        double imagesPerSecond = batch / median;
        long parameters = model.Parameters.Sum(p => (long)p.Value.Length);
        Console.Error.WriteLine($"bench vision dit: {parameters / 1e6:F2}M params, batch {batch}, 49 tokens, {threads} threads: median step {median * 1e3:F1} ms over {steps}, " +
            $"{imagesPerSecond:F0} images/s, loss {trainer.LastLoss:F4}, {allocatedPerStep} B allocated/step (managed, this thread)");
        BenchSupport.PrintJson(("bench", "vision"), ("model", "dit"), ("threads", threads), ("batch", batch), ("steps", steps),
            ("params_m", parameters / 1e6), ("step_ms", median * 1e3), ("images_per_s", imagesPerSecond),
            ("peak_rss_mb", BenchSupport.PeakRssMb()), ("alloc_bytes_per_step", allocatedPerStep));
        return 0;
    }
}
