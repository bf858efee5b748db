using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Vision.Architectures;
using Lathe.Vision.Data;

namespace Lathe.Vision.Training;

/// <summary>Exact likelihood of a normalising flow in bits per dimension on the discrete [0, 256) scale:
/// bits/dim = −log p(x̃) / (D·ln 2), with x̃ = x + u the uniformly dequantised image and
/// log p(x̃) = log N(f(y); 0, I) + log|det ∂f/∂y| + log|det ∂y/∂x̃| (y the logit pre-processing,
/// <see cref="RealNvpModel.Preprocess"/>). Averaged over u this bounds the discrete model's −log₂ P(x)/D from above
/// (Theis et al. 2016), the figure RealNVP, Glow and PixelCNN papers report.</summary>
public static class FlowObjective
{
    /// <summary>The batch loss: mean bits/dim of the images whose logit-space values are <paramref name="y"/> (B, D) and
    /// whose pre-processing log-determinants sum to <paramref name="preLogDetSum"/> (a constant: it has no parameters).</summary>
    public static Tensor BitsPerDim(RealNvpModel model, Tensor y, double preLogDetSum)
    {
        int b = y.Dim(0), d = model.Dimensions;
        double perBit = 1.0 / (d * Math.Log(2));
        var logDensity = model.LogDensity(y);                                         // (B) nats in the logit space
        return Ops.Affine(Ops.MeanAll(logDensity), (float)-perBit, (float)(-preLogDetSum / b * perBit));
    }

    /// <summary>Bits/dim of the first <paramref name="maxImages"/> images of <paramref name="set"/> (all when ≤ 0), with one
    /// dequantisation draw from <paramref name="seed"/>; per-image log-likelihoods summed in double.</summary>
    public static double Evaluate(RealNvpModel model, ImageSet set, int maxImages = 0, int batchSize = 250, ulong seed = 7)
    {
        CheckImages(model, set, "evaluate");
        int n = maxImages > 0 ? Math.Min(maxImages, set.Count) : set.Count, d = model.Dimensions;
        var noise = new Philox(seed);
        int chunk = Math.Min(batchSize, n);
        using var y = Tensor.Empty(chunk, d);
        var pre = new double[chunk];
        var uniforms = new float[chunk * d];
        double nats = 0;
        using var tape = new Tape();
        for (int start = 0; start < n; start += chunk)
        {
            int m = Math.Min(chunk, n - start);
            noise.FillUniform(uniforms, 0f, 1f);
            model.Preprocess(set.Pixels.AsSpan(start * d, m * d), uniforms, y.AsSpan(), pre.AsSpan(0, m));
            tape.Reset();
            using (tape.Activate())
            using (Tape.NoGrad())
            {
                var ll = model.LogDensity(Ops.Narrow(y, 0, 0, m)).AsSpan();
                for (int i = 0; i < m; i++) nats += ll[i] + pre[i];
            }
        }
        return -nats / ((double)n * d * Math.Log(2));
    }

    /// <summary>Checks that <paramref name="set"/>'s images have the model's shape, naming both otherwise.</summary>
    public static void CheckImages(RealNvpModel model, ImageSet set, string what)
    {
        var c = model.Config;
        if (set.Channels != c.Channels || set.Height != c.ImageSize || set.Width != c.ImageSize)
            throw new ArgumentException($"{what}: images are {set.Channels}×{set.Height}×{set.Width}, the flow models {c.Channels}×{c.ImageSize}×{c.ImageSize}");
    }
}

/// <summary>A RealNVP training run: batches in a seeded order, fresh dequantisation noise per step (seeded by the step,
/// so a resumed run draws the same), the bits/dim loss, one <see cref="VisionTrainer"/>. The caller loops over
/// <see cref="Step"/> and reports; <see cref="Save"/> and <see cref="Resume"/> give crash-safe checkpoints.</summary>
public sealed class FlowTrainingRun : IDisposable
{
    readonly RealNvpModel _model;
    readonly ImageSet _train;
    readonly BatchOrder _order;
    readonly int[] _indices;
    readonly byte[] _pixels;
    readonly double[] _preLogDet;
    readonly float[] _uniforms;
    readonly Tensor _y;
    readonly Philox _noise = new(0);

    public VisionTrainer Trainer { get; }

    public FlowTrainingRun(RealNvpModel model, ImageSet train, VisionTrainingOptions options, string? runDir)
    {
        FlowObjective.CheckImages(model, train, "flow train");
        _model = model;
        _train = train;
        Trainer = new VisionTrainer(model.Parameters, options, runDir);
        _order = new BatchOrder(train.Count, options.Seed);
        _indices = new int[options.BatchSize];
        _pixels = new byte[options.BatchSize * model.Dimensions];
        _preLogDet = new double[options.BatchSize];
        _uniforms = new float[options.BatchSize * model.Dimensions];
        _y = Tensor.Empty(options.BatchSize, model.Dimensions);
    }

    /// <summary>One update on the next batch; returns its bits/dim (before the update).</summary>
    public float Step()
    {
        int b = _indices.Length, d = _model.Dimensions;
        _order.Batch(Trainer.Step, b, _indices);
        for (int i = 0; i < b; i++) _train.Image(_indices[i]).CopyTo(_pixels.AsSpan(i * d, d));
        _noise.Restart(Trainer.Options.Seed * 0x9E3779B97F4A7C15UL + (ulong)Trainer.Step + 1);
        _noise.FillUniform(_uniforms, 0f, 1f);
        _model.Preprocess(_pixels, _uniforms, _y.AsSpan(), _preLogDet);
        double pre = 0;
        foreach (var v in _preLogDet) pre += v;
        return Trainer.TrainStep(() => FlowObjective.BitsPerDim(_model, _y, pre));
    }

    public void Save() => Trainer.Save(_model);

    public bool Resume() => Trainer.Resume();

    public void Dispose()
    {
        Trainer.Dispose();
        _y.Dispose();
    }
}
