using System.Text.Json;
using System.Text.Json.Serialization;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Vision.Data;

namespace Lathe.Vision.Architectures;

/// <summary>config.json of the convolutional VAE (model_type "vae").</summary>
public sealed record VaeConfig
{
    [JsonPropertyName("model_type")] public string ModelType { get; init; } = VaeModel.Type;
    [JsonPropertyName("in_channels")] public int InChannels { get; init; } = 1;
    /// <summary>Image side; must be a multiple of 4 (two stride-2 stages): 28 → latents of side 7.</summary>
    [JsonPropertyName("image_size")] public int ImageSize { get; init; } = 28;
    [JsonPropertyName("latent_channels")] public int LatentChannels { get; init; } = 4;
    /// <summary>Channels of the first stage (c); the inner stages have 2c.</summary>
    [JsonPropertyName("base_channels")] public int BaseChannels { get; init; } = 32;
    [JsonPropertyName("norm_num_groups")] public int Groups { get; init; } = 8;
    /// <summary>β, the weight of KL(q(z|x) ‖ N(0, I)) beside the reconstruction term.</summary>
    [JsonPropertyName("kl_weight")] public float KlWeight { get; init; } = 1f;
    /// <summary>1 / std of the training set's latent means (Stable Diffusion's scaling_factor): what a latent model
    /// multiplies latents by so they have unit variance. Set after training.</summary>
    [JsonPropertyName("scaling_factor")] public float ScalingFactor { get; init; } = 1f;
    /// <summary>"bce": the decoder outputs a logit per pixel and the reconstruction term is the binary cross-entropy
    /// against [0, 1] pixels, summed over pixels.</summary>
    [JsonPropertyName("reconstruction_loss")] public string ReconstructionLoss { get; init; } = "bce";

    public int LatentSize => ImageSize / 4;

    /// <summary>Checks the fields, naming the first bad one.</summary>
    public VaeConfig Validate()
    {
        if (ModelType != VaeModel.Type) throw new InvalidDataException($"VAE config: model_type '{ModelType}' is not '{VaeModel.Type}'");
        if (InChannels <= 0 || LatentChannels <= 0) throw new ArgumentException($"VAE config: in_channels {InChannels} and latent_channels {LatentChannels} must be positive");
        if (ImageSize <= 0 || ImageSize % 4 != 0) throw new ArgumentException($"VAE config: image_size {ImageSize} must be a positive multiple of 4");
        if (Groups <= 0 || BaseChannels <= 0 || BaseChannels % Groups != 0)
            throw new ArgumentException($"VAE config: base_channels {BaseChannels} must be a positive multiple of norm_num_groups {Groups}");
        if (!(KlWeight >= 0) || float.IsInfinity(KlWeight)) throw new ArgumentException($"VAE config: kl_weight {KlWeight} must be a number ≥ 0");
        if (!(ScalingFactor > 0) || float.IsInfinity(ScalingFactor)) throw new ArgumentException($"VAE config: scaling_factor {ScalingFactor} must be positive");
        if (ReconstructionLoss != "bce") throw new ArgumentException($"VAE config: reconstruction_loss '{ReconstructionLoss}' is not 'bce'");
        return this;
    }
}

/// <summary>The three terms of the VAE's loss for a batch, on the active tape: reconstruction (BCE summed over pixels,
/// mean over images), KL (summed over latent elements, mean over images) and Total = Reconstruction + β·KL.</summary>
public readonly record struct VaeLoss(Tensor Total, Tensor Reconstruction, Tensor Kl);

/// <summary>Test-set figures of a VAE: mean squared error per pixel of the reconstruction from the posterior mean
/// (pixels in [0, 1]), reconstruction BCE and KL per image (nats).</summary>
public readonly record struct VaeEvaluation(double ReconstructionMse, double ReconstructionBce, double Kl, int Images);

/// <summary>A convolutional variational autoencoder (Kingma &amp; Welling 2014) whose latent space the DiT works in:
/// encoder C×28×28 → conv3×3 (c) → [GroupNorm, SiLU, conv4×4 stride 2] to 2c×14×14 and 2c×7×7 → GroupNorm, SiLU, conv3×3
/// → mean and log-variance of a 4×7×7 diagonal Gaussian q(z|x) (the first and second halves of the channels, as Stable
/// Diffusion's DiagonalGaussianDistribution); z = mean + exp(logvar/2)·ε (the reparameterisation trick); decoder
/// conv3×3 (2c) → [GroupNorm, SiLU, ConvTranspose4×4 stride 2] to 2c×14×14 and c×28×28 → GroupNorm, SiLU, conv3×3 → one
/// logit per pixel. Loss = BCE(sigmoid(logits), x) + β·KL(q(z|x) ‖ N(0, I)), KL = ½Σ(μ² + σ² − 1 − log σ²) (their
/// appendix B).</summary>
public sealed class VaeModel : IVisionModel
{
    public const string Type = "vae";

    sealed class Conv(ParameterBuilder p, string name, int cin, int cout, int k, bool transposed)
    {
        // PyTorch layouts: Conv2d (out, in, k, k), ConvTranspose2d (in, out, k, k); std √(1/fan_in) of the conv's own fan-in.
        public readonly Tensor Weight = transposed
            ? p.Normal(name + ".weight", MathF.Sqrt(1f / (cin * k * k / 4f)), decay: true, storedTransposed: false, cin, cout, k, k)
            : p.Normal(name + ".weight", MathF.Sqrt(1f / (cin * k * k)), decay: true, storedTransposed: false, cout, cin, k, k);
        public readonly Tensor Bias = p.Constant(name + ".bias", 0f, cout);
    }

    sealed class Norm(ParameterBuilder p, string name, int channels)
    {
        public readonly Tensor Weight = p.Constant(name + ".weight", 1f, channels);
        public readonly Tensor Bias = p.Constant(name + ".bias", 0f, channels);
    }

    readonly List<ModelParameter> _parameters;
    readonly Conv _encIn, _encDown0, _encDown1, _encOut, _decIn, _decUp0, _decUp1, _decOut;
    readonly Norm _encNorm0, _encNorm1, _encNormOut, _decNorm0, _decNorm1, _decNormOut;
    Tensor? _noise;

    public VaeConfig Config { get; private set; }
    public string ModelType => Type;
    public IReadOnlyList<ModelParameter> Parameters => _parameters;

    public VaeModel(VaeConfig config, ulong seed = 1)
    {
        Config = config.Validate();
        var p = new ParameterBuilder(seed);
        int c = config.BaseChannels, c2 = 2 * c, L = config.LatentChannels;
        _encIn = new Conv(p, "encoder.conv_in", config.InChannels, c, 3, false);
        _encNorm0 = new Norm(p, "encoder.down.0.norm", c);
        _encDown0 = new Conv(p, "encoder.down.0.conv", c, c2, 4, false);
        _encNorm1 = new Norm(p, "encoder.down.1.norm", c2);
        _encDown1 = new Conv(p, "encoder.down.1.conv", c2, c2, 4, false);
        _encNormOut = new Norm(p, "encoder.norm_out", c2);
        _encOut = new Conv(p, "encoder.conv_out", c2, 2 * L, 3, false);
        _decIn = new Conv(p, "decoder.conv_in", L, c2, 3, false);
        _decNorm0 = new Norm(p, "decoder.up.0.norm", c2);
        _decUp0 = new Conv(p, "decoder.up.0.conv", c2, c2, 4, true);
        _decNorm1 = new Norm(p, "decoder.up.1.norm", c2);
        _decUp1 = new Conv(p, "decoder.up.1.conv", c2, c, 4, true);
        _decNormOut = new Norm(p, "decoder.norm_out", c);
        _decOut = new Conv(p, "decoder.conv_out", c, config.InChannels, 3, false);
        _parameters = p.Parameters;
    }

    public static VaeModel FromConfigJson(string json) =>
        new(JsonSerializer.Deserialize<VaeConfig>(json) ?? throw new InvalidDataException("VAE config.json is empty"));

    public string ConfigJson() => JsonSerializer.Serialize(Config, new JsonSerializerOptions { WriteIndented = true });

    /// <summary>Sets config.json's scaling_factor (after training, from <see cref="LatentScale"/>).</summary>
    public void SetScalingFactor(float factor) => Config = (Config with { ScalingFactor = factor }).Validate();

    Tensor Stage(Norm norm, Conv conv, Tensor x, int stride, int padding, bool transposed)
    {
        var h = Ops.Silu(Ops.GroupNorm(x, Config.Groups, norm.Weight, norm.Bias));
        return transposed ? Ops.ConvTranspose2d(h, conv.Weight, conv.Bias, stride, padding) : Ops.Conv2d(h, conv.Weight, conv.Bias, stride, padding);
    }

    /// <summary>The posterior's mean and log-variance, each (N, L, S/4, S/4), for images x (N, C, S, S) in [0, 1].</summary>
    public (Tensor Mean, Tensor LogVar) Encode(Tensor x)
    {
        int S = Config.ImageSize, L = Config.LatentChannels;
        if (x.Rank != 4 || x.Dim(1) != Config.InChannels || x.Dim(2) != S || x.Dim(3) != S)
            throw new ArgumentException($"VAE: image batch {Tensor.ShapeString(x.Shape)} is not (N, {Config.InChannels}, {S}, {S})");
        var h = Ops.Conv2d(x, _encIn.Weight, _encIn.Bias, 1, 1);                 // (N,c,S,S)
        h = Stage(_encNorm0, _encDown0, h, 2, 1, false);                          // (N,2c,S/2,S/2)
        h = Stage(_encNorm1, _encDown1, h, 2, 1, false);                          // (N,2c,S/4,S/4)
        h = Stage(_encNormOut, _encOut, h, 1, 1, false);                          // (N,2L,S/4,S/4)
        return (Ops.Contiguous(Ops.Narrow(h, 1, 0, L)), Ops.Contiguous(Ops.Narrow(h, 1, L, L)));
    }

    /// <summary>Pixel logits (N, C, S, S) for latents z (N, L, S/4, S/4).</summary>
    public Tensor DecodeLogits(Tensor z)
    {
        int s = Config.LatentSize;
        if (z.Rank != 4 || z.Dim(1) != Config.LatentChannels || z.Dim(2) != s || z.Dim(3) != s)
            throw new ArgumentException($"VAE: latent batch {Tensor.ShapeString(z.Shape)} is not (N, {Config.LatentChannels}, {s}, {s})");
        var h = Ops.Conv2d(z, _decIn.Weight, _decIn.Bias, 1, 1);                 // (N,2c,S/4,S/4)
        h = Stage(_decNorm0, _decUp0, h, 2, 1, true);                             // (N,2c,S/2,S/2)
        h = Stage(_decNorm1, _decUp1, h, 2, 1, true);                             // (N,c,S,S)
        return Stage(_decNormOut, _decOut, h, 1, 1, false);                       // (N,C,S,S)
    }

    /// <summary>Images in [0, 1] (N, C, S, S) for latents z: sigmoid of the logits.</summary>
    public Tensor Decode(Tensor z) => Ops.Sigmoid(DecodeLogits(z));

    /// <summary>The loss on the active tape for images x (N, C, S, S) in [0, 1], with the reparameterisation noise ε drawn
    /// from <paramref name="rng"/>.</summary>
    public VaeLoss Loss(Tensor x, Philox rng)
    {
        var (mean, logVar) = Encode(x);
        if (_noise is null || !_noise.Shape.SequenceEqual(mean.Shape)) { _noise?.Dispose(); _noise = Tensor.Zeros(mean.Shape); }
        rng.FillNormal(_noise.AsSpan());
        return Loss(x, mean, logVar, _noise);
    }

    /// <summary>The loss with a given ε (N, L, s, s): z = mean + exp(logvar/2)·ε.</summary>
    public VaeLoss Loss(Tensor x, Tensor mean, Tensor logVar, Tensor noise)
    {
        int N = x.Dim(0);
        var z = Ops.Add(mean, Ops.Mul(Ops.Exp(Ops.Scale(logVar, 0.5f)), noise));
        var logits = DecodeLogits(z);
        // BCE with logits: −[x·log σ(l) + (1 − x)·log(1 − σ(l))] = softplus(l) − x·l.
        var reconstruction = Ops.Scale(Ops.SumAll(Ops.Sub(Ops.Softplus(logits), Ops.Mul(x, logits))), 1f / N);
        var kl = KlDivergence(mean, logVar, N);
        var total = Config.KlWeight == 0 ? reconstruction : Ops.Add(reconstruction, Ops.Scale(kl, Config.KlWeight));
        return new VaeLoss(total, reconstruction, kl);
    }

    // ½·Σ(μ² + e^{logvar} − 1 − logvar) / N
    static Tensor KlDivergence(Tensor mean, Tensor logVar, int N)
    {
        var terms = Ops.Sub(Ops.Add(Ops.Mul(mean, mean), Ops.Exp(logVar)), logVar);
        return Ops.Affine(Ops.SumAll(terms), 0.5f / N, -0.5f * mean.Length / N);
    }

    /// <summary>The posterior means of <paramref name="images"/> (Count × L·s·s floats, item by item), without gradients,
    /// <paramref name="batchSize"/> images at a time.</summary>
    public float[] EncodeMeans(ImageSet images, int batchSize = 256)
    {
        int s = Config.LatentSize, size = Config.LatentChannels * s * s;
        var means = new float[(long)images.Count * size];
        using var tape = new Tape();
        var indices = new int[batchSize];
        for (int start = 0; start < images.Count; start += batchSize)
        {
            int n = Math.Min(batchSize, images.Count - start);
            for (int i = 0; i < n; i++) indices[i] = start + i;
            using var x = images.Batch(indices.AsSpan(0, n));
            tape.Reset();
            using (tape.Activate())
            using (Tape.NoGrad())
                Encode(x).Mean.AsSpan().CopyTo(means.AsSpan(start * size, n * size));
        }
        return means;
    }

    /// <summary>1 / the standard deviation of every element of <paramref name="latents"/> (Stable Diffusion's
    /// scaling_factor, computed here over the whole set rather than one batch).</summary>
    public static float LatentScale(ReadOnlySpan<float> latents)
    {
        double sum = 0, sumSq = 0;
        foreach (float v in latents) { sum += v; sumSq += (double)v * v; }
        double mean = sum / latents.Length, variance = sumSq / latents.Length - mean * mean;
        return (float)(1 / Math.Sqrt(Math.Max(variance, 1e-12)));
    }

    /// <summary>Reconstruction MSE (from the posterior mean), BCE and KL per image over <paramref name="images"/>.</summary>
    public VaeEvaluation Evaluate(ImageSet images, int batchSize = 256)
    {
        using var tape = new Tape();
        var indices = new int[batchSize];
        double squared = 0, bce = 0, kl = 0;
        for (int start = 0; start < images.Count; start += batchSize)
        {
            int n = Math.Min(batchSize, images.Count - start);
            for (int i = 0; i < n; i++) indices[i] = start + i;
            using var x = images.Batch(indices.AsSpan(0, n));
            tape.Reset();
            using (tape.Activate())
            using (Tape.NoGrad())
            {
                var (mean, logVar) = Encode(x);
                var logits = DecodeLogits(mean);
                var recon = Ops.Sigmoid(logits).AsSpan();
                var px = x.AsSpan();
                var lg = logits.AsSpan();
                for (int i = 0; i < px.Length; i++)
                {
                    double d = recon[i] - px[i];
                    squared += d * d;
                    bce += Softplus(lg[i]) - px[i] * lg[i];
                }
                kl += KlDivergence(mean, logVar, 1).Item();
            }
        }
        return new VaeEvaluation(squared / ((double)images.Count * images.PixelsPerImage), bce / images.Count, kl / images.Count, images.Count);
    }

    static double Softplus(double v) => v > 0 ? v + Math.Log(1 + Math.Exp(-v)) : Math.Log(1 + Math.Exp(v));

    public void Dispose()
    {
        foreach (var p in _parameters) p.Value.Dispose();
        _noise?.Dispose();
    }
}
