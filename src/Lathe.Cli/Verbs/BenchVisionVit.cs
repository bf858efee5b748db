using Lathe.Tensors;
using Lathe.Tensors.Threading;
using Lathe.Vision.Architectures;
using Lathe.Vision.Training;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe bench vision --model vit`: full training steps (forward, cross-entropy, backward, clipping, AdamW)
/// of the ViT — 28×28×1 images, patch 4 → 49 patches + a class token, width 192, depth 6, 3 heads, MLP 4×,
/// 10 classes — on random images and labels (speed does not depend on the pixels). Prints the median step after
/// warm-up as JSON last: images_per_s, step_ms, peak_rss_mb, threads. The PyTorch peer is
/// scripts/bench/vision_peer_vit.py (same model and step); scripts/bench/vision-compare.sh interleaves the two.</summary>
internal static class BenchVisionVit
{
    /// <summary>The benchmark model (the issue's, and the peer's).</summary>
    public static VitConfig Config => new()
    {
        ImageSize = 28, Channels = 1, Patch = 4, Width = 192, Depth = 6, Heads = 3, Intermediate = 768, Labels = 10,
        Pooling = "cls", Positions = "learned",
    };

    public static int Run(int threads, int steps, int warmup, int batch)
    {
        ComputePool.SetSharedThreads(threads);
        var config = Config;
        using var model = new VitModel(config, seed: 1);
        using var images = Tensor.Zeros(batch, 1, 28, 28);
        new Philox(7).FillUniform(images.AsSpan(), 0, 1);
        var rng = new Philox(8);
        var labels = new int[batch];
        for (int i = 0; i < batch; i++) labels[i] = rng.NextInt(10);
        var options = new VisionTrainingOptions { Steps = steps + warmup, BatchSize = batch, LearningRate = 1e-3f, WarmupSteps = 1, WeightDecay = 0.05f };
        using var trainer = new VisionTrainer(model.Parameters, options, runDir: null);
        BenchSupport.ResetPeakRss();
        var (median, allocated) = BenchSupport.TimeSteps(() => trainer.TrainStep(() => model.Loss(images, labels)), warmup, steps);
        long parameters = model.Parameters.Sum(p => (long)p.Value.Length);
        BenchSupport.PrintJson(("bench", "vision"), ("model", "vit"), ("batch", batch), ("tokens", config.Tokens), ("parameters", parameters),
            ("threads", threads), ("steps", steps), ("step_ms", median * 1e3), ("images_per_s", batch / median),
            ("allocated_bytes_per_step", allocated), ("loss", trainer.LastLoss), ("peak_rss_mb", BenchSupport.PeakRssMb()));
        return 0;
    }
}
