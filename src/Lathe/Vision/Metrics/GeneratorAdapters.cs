using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Vision.Architectures;
using Lathe.Vision.Diffusion;

namespace Lathe.Vision.Metrics;

/// <summary>Sampling settings the adapters pass on to the architectures that have them.</summary>
public sealed record GeneratorSamplingOptions
{
    /// <summary>RealNVP: the standard deviation T of z ~ N(0, T²I). 1 samples the model's own density.</summary>
    public float Temperature { get; init; } = 1f;

    /// <summary>DiT: the sampler, its steps and the classifier-free guidance scale (seed is set per chunk by the adapter).</summary>
    public DiffusionSamplingOptions Diffusion { get; init; } = new();
}

/// <summary>Wraps the generative architectures as <see cref="IImageGenerator"/>s. Every adapter returns the image bytes
/// the architecture's own sampler produces (what a PNG of its samples shows), scaled by 1/255 to [0, 1].</summary>
public static class GeneratorAdapters
{
    /// <summary>The model_types <see cref="Load"/> accepts.</summary>
    public static IReadOnlyList<string> Types => ["dcgan", "realnvp", VaeModel.Type, DitModel.Type];

    /// <summary>Images generated per call of the wrapped sampler (bounds the DiT's guided batch of 2× this).</summary>
    const int Chunk = 250;

    /// <summary>Loads the generator in <paramref name="dir"/> (a checkpoint or run folder). A folder without a vision
    /// config, or one holding a model that is not a generator, is an <see cref="InvalidDataException"/> naming it.</summary>
    public static IImageGenerator Load(string dir, GeneratorSamplingOptions? options = null)
    {
        options ??= new GeneratorSamplingOptions();
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"{dir}: no such folder");
        string type = VisionCheckpoint.ModelTypeOf(dir) ?? throw new InvalidDataException($"{dir}: no config.json with a model_type (nor checkpoint/config.json)");
        return type switch
        {
            "dcgan" => new Dcgan(VisionCheckpoint.Load<DcganModel>(dir, "a DCGAN")),
            "realnvp" => new RealNvp(VisionCheckpoint.Load<RealNvpModel>(dir, "a RealNVP flow"), options.Temperature),
            VaeModel.Type => new Vae(VisionCheckpoint.Load<VaeModel>(dir, "a VAE")),
            DitModel.Type => new Dit(LatentDiffusion.Load(dir), options.Diffusion),
            _ => throw new InvalidDataException($"{dir}: holds a '{type}' model, not a generator ({string.Join(", ", Types)})"),
        };
    }

    /// <summary>count images of bytes (C, H, W each) → a tensor (count, C, H, W) of byte / 255.</summary>
    public static Tensor FromBytes(ReadOnlySpan<byte> bytes, int count, int channels, int height, int width)
    {
        if (bytes.Length != count * channels * height * width)
            throw new ArgumentException($"generator: {bytes.Length} bytes are not {count} images of {channels}×{height}×{width}");
        var t = Tensor.Empty(count, channels, height, width);
        var dst = t.AsSpan();
        for (int i = 0; i < bytes.Length; i++) dst[i] = bytes[i] * (1f / 255f);
        return t;
    }

    internal static void CheckRequest(IImageGenerator g, int count, ReadOnlySpan<int> labels)
    {
        if (count <= 0) throw new ArgumentException($"{g.ModelType} sample: count {count} must be positive");
        if (g.ClassConditional && labels.Length != count)
            throw new ArgumentException($"{g.ModelType} sample: a class-conditional generator needs {count} labels, got {labels.Length}");
        if (!g.ClassConditional && labels.Length != 0)
            throw new ArgumentException($"{g.ModelType} sample: an unconditional generator takes no labels, got {labels.Length}");
    }

    /// <summary>The class-conditional DCGAN: z ~ N(0, I), G(z, label) in [−1, 1] rounded to bytes by its sampler.</summary>
    sealed class Dcgan(DcganModel model) : IImageGenerator
    {
        public string ModelType => model.ModelType;
        public bool ClassConditional => true;
        public int Classes => model.Config.Classes;
        public (int Channels, int Height, int Width) ImageShape => (model.Config.Channels, model.Config.ImageSize, model.Config.ImageSize);

        public Tensor Sample(int count, ReadOnlySpan<int> labels, ulong seed)
        {
            CheckRequest(this, count, labels);
            var (c, h, w) = ImageShape;
            return FromBytes(model.Sample(labels, seed), count, c, h, w);
        }

        public void Dispose() => model.Dispose();
    }

    /// <summary>The unconditional RealNVP flow: z ~ N(0, T²I) inverted through the couplings.</summary>
    sealed class RealNvp(RealNvpModel model, float temperature) : IImageGenerator
    {
        public string ModelType => model.ModelType;
        public bool ClassConditional => false;
        public int Classes => 0;
        public (int Channels, int Height, int Width) ImageShape => (model.Config.Channels, model.Config.ImageSize, model.Config.ImageSize);

        public Tensor Sample(int count, ReadOnlySpan<int> labels, ulong seed)
        {
            CheckRequest(this, count, labels);
            var (c, h, w) = ImageShape;
            return FromBytes(model.Sample(count, seed, temperature), count, c, h, w);
        }

        public void Dispose() => model.Dispose();
    }

    /// <summary>Float images in [0, 1] rounded to bytes and back (v ← round(255·v)/255), so every generator is scored on
    /// what its PNG would show.</summary>
    static void Quantise(Span<float> pixels)
    {
        for (int i = 0; i < pixels.Length; i++) pixels[i] = MathF.Round(Math.Clamp(pixels[i], 0f, 1f) * 255f) * (1f / 255f);
    }

    /// <summary>The VAE's samples from its prior: z ~ N(0, I) of shape (L, S/4, S/4) — the prior of its KL term, before any
    /// latent scaling used for diffusion — decoded to sigmoid(logits).</summary>
    sealed class Vae(VaeModel model) : IImageGenerator
    {
        public string ModelType => model.ModelType;
        public bool ClassConditional => false;
        public int Classes => 0;
        public (int Channels, int Height, int Width) ImageShape => (model.Config.InChannels, model.Config.ImageSize, model.Config.ImageSize);

        public Tensor Sample(int count, ReadOnlySpan<int> labels, ulong seed)
        {
            CheckRequest(this, count, labels);
            var (c, h, w) = ImageShape;
            int l = model.Config.LatentChannels, s = model.Config.LatentSize, per = c * h * w;
            var result = Tensor.Empty(count, c, h, w);
            var rng = new Philox(seed);
            using var z = Tensor.Empty(Math.Min(Chunk, count), l, s, s);
            using var tape = new Tape();
            for (int start = 0; start < count; start += Chunk)
            {
                int n = Math.Min(Chunk, count - start);
                rng.FillNormal(z.AsSpan()[..(n * l * s * s)]);
                tape.Reset();
                using (tape.Activate())
                using (Tape.NoGrad())
                {
                    var images = model.Decode(n == z.Dim(0) ? z : Ops.Contiguous(Ops.Narrow(z, 0, 0, n)));   // (n, C, H, W)
                    images.AsSpan().CopyTo(result.AsSpan().Slice(start * per, n * per));
                }
            }
            Quantise(result.AsSpan());
            return result;
        }

        public void Dispose() => model.Dispose();
    }

    /// <summary>The class-conditional latent DiT (DDIM with classifier-free guidance by default), decoded by its VAE. Chunk
    /// k of <see cref="Chunk"/> images is drawn with seed + k, so a count's samples do not depend on memory limits.</summary>
    sealed class Dit(LatentDiffusion diffusion, DiffusionSamplingOptions options) : IImageGenerator
    {
        public string ModelType => diffusion.Dit.ModelType;
        public bool ClassConditional => diffusion.Dit.IsConditional;
        public int Classes => diffusion.Dit.IsConditional ? diffusion.Dit.Config.Classes : 0;
        public (int Channels, int Height, int Width) ImageShape => (diffusion.Vae.Config.InChannels, diffusion.Vae.Config.ImageSize, diffusion.Vae.Config.ImageSize);

        public Tensor Sample(int count, ReadOnlySpan<int> labels, ulong seed)
        {
            CheckRequest(this, count, labels);
            var (c, h, w) = ImageShape;
            int per = c * h * w;
            var result = Tensor.Empty(count, c, h, w);
            var none = new int[Math.Min(Chunk, count)];   // an unconditional DiT ignores the labels; only their count matters
            for (int start = 0, k = 0; start < count; start += Chunk, k++)
            {
                int n = Math.Min(Chunk, count - start);
                using var images = diffusion.Generate(ClassConditional ? labels.Slice(start, n) : none.AsSpan(0, n), options with { Seed = seed + (ulong)k });
                images.AsSpan().CopyTo(result.AsSpan().Slice(start * per, n * per));
            }
            Quantise(result.AsSpan());
            return result;
        }

        public void Dispose() => diffusion.Dispose();
    }
}
