using System.Text.Json;
using System.Text.Json.Serialization;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;

namespace Lathe.Vision.Architectures;

/// <summary>config.json of a RealNVP flow (model_type "realnvp").</summary>
public sealed record RealNvpConfig
{
    [JsonPropertyName("model_type")] public string ModelType { get; init; } = "realnvp";
    [JsonPropertyName("num_channels")] public int Channels { get; init; } = 1;
    [JsonPropertyName("image_size")] public int ImageSize { get; init; } = 28;
    /// <summary>Affine coupling layers; the masks cycle checkerboard, its complement, row-parity ("channel"), its complement.</summary>
    [JsonPropertyName("num_couplings")] public int Couplings { get; init; } = 8;
    /// <summary>Width of each coupling's scale/shift MLP (two hidden layers, ReLU).</summary>
    [JsonPropertyName("hidden_size")] public int Hidden { get; init; } = 512;
    /// <summary>The logit pre-processing's α: y = logit(α + (1 − 2α)·x/256) (Dinh et al. 2017, §4.1, α = 0.05).</summary>
    [JsonPropertyName("alpha")] public float Alpha { get; init; } = 0.05f;

    /// <summary>D = C·H·W, the dimensions of one image.</summary>
    [JsonIgnore] public int Dimensions => Channels * ImageSize * ImageSize;

    public RealNvpConfig Validate()
    {
        if (ModelType != "realnvp") throw new InvalidDataException($"realnvp config: model_type '{ModelType}' is not 'realnvp'");
        if (Channels <= 0 || ImageSize <= 1) throw new InvalidDataException($"realnvp config: num_channels {Channels} and image_size {ImageSize} must be positive (image_size ≥ 2)");
        if (Couplings <= 0) throw new InvalidDataException($"realnvp config: num_couplings {Couplings} must be positive");
        if (Hidden <= 0) throw new InvalidDataException($"realnvp config: hidden_size {Hidden} must be positive");
        if (!(Alpha >= 0f && Alpha < 0.5f)) throw new InvalidDataException($"realnvp config: alpha {Alpha} must be in [0, 0.5)");
        return this;
    }
}

/// <summary>RealNVP (Dinh, Sohl-Dickstein and Bengio, "Density estimation using Real NVP", ICLR 2017): an invertible map
/// f from images to a standard normal z, so log p(y) = log N(f(y); 0, I) + log|det ∂f/∂y| exactly. Each affine coupling
/// (eq. 6–9) keeps the masked half m⊙y and transforms the rest:
/// y' = m⊙y + (1−m)⊙(y⊙exp(s(m⊙y)) + t(m⊙y)), whose Jacobian is triangular with log-determinant Σ (1−m)⊙s.
/// Here the image is flattened (B, D) and s, t come from one MLP per coupling (the brief's "small and correct" form of the
/// paper's convolutional ResNets); the masks alternate a checkerboard with a row-parity mask (what the paper's channel
/// mask selects after its 2×2 squeeze: the top or bottom row of each 2×2 block), each followed by its complement.
/// Scales are tanh-bounded with a learned per-dimension gain, s = g⊙tanh(ŝ) (§4.1); the last layers start at zero, so a
/// new flow is the identity. The model works in the logit space y; <see cref="Preprocess"/> maps pixel bytes there with
/// the Jacobian term the likelihood on the pixel scale needs. No batch norm (the paper's is omitted).</summary>
public sealed class RealNvpModel : IVisionModel
{
    readonly List<ModelParameter> _parameters;
    readonly Coupling[] _couplings;

    public RealNvpConfig Config { get; }
    public string ModelType => "realnvp";
    public IReadOnlyList<ModelParameter> Parameters => _parameters;
    /// <summary>D = C·H·W.</summary>
    public int Dimensions => Config.Dimensions;

    sealed class Coupling
    {
        public required Tensor Mask, Complement;               // (D): 1 = conditioning (kept), 0 = transformed; and 1 − mask
        public required Tensor W0, B0, W1, B1, Ws, Bs, Wt, Bt; // MLP: D → H → H → (s: D, t: D)
        public required Tensor Gain;                           // (D): s = gain ⊙ tanh(ŝ)
    }

    public RealNvpModel(RealNvpConfig config, ulong seed = 1)
    {
        Config = config.Validate();
        int d = config.Dimensions, h = config.Hidden;
        var p = new ParameterBuilder(seed);
        _couplings = new Coupling[config.Couplings];
        for (int k = 0; k < config.Couplings; k++)
        {
            string n = $"couplings.{k}";
            // nn.Linear's default scale, 1/√fan_in, as a normal std; the output layers start at zero (identity flow).
            var mask = MaskOf(config, k);
            _couplings[k] = new Coupling
            {
                Mask = Tensor.FromArray(mask, d),
                Complement = Tensor.FromArray(mask.Select(v => 1f - v).ToArray(), d),
                W0 = p.Normal(n + ".net.0.weight", 1f / MathF.Sqrt(d), decay: true, storedTransposed: false, h, d),
                B0 = p.Constant(n + ".net.0.bias", 0f, h),
                W1 = p.Normal(n + ".net.1.weight", 1f / MathF.Sqrt(h), decay: true, storedTransposed: false, h, h),
                B1 = p.Constant(n + ".net.1.bias", 0f, h),
                Ws = p.Constant(n + ".scale.weight", 0f, d, h),
                Bs = p.Constant(n + ".scale.bias", 0f, d),
                Wt = p.Constant(n + ".shift.weight", 0f, d, h),
                Bt = p.Constant(n + ".shift.bias", 0f, d),
                Gain = p.Constant(n + ".scale_gain", 1f, d),
            };
        }
        _parameters = p.Parameters;
    }

    /// <summary>Coupling <paramref name="k"/>'s mask over the flattened (C, H, W) image: 1 where the pixel conditions,
    /// 0 where it is transformed. Order: checkerboard ((i + j) even), its complement, even rows, odd rows, and round.</summary>
    public static float[] MaskOf(RealNvpConfig config, int k)
    {
        int side = config.ImageSize;
        var mask = new float[config.Dimensions];
        bool checkerboard = (k / 2) % 2 == 0, flip = k % 2 == 1;
        for (int c = 0; c < config.Channels; c++)
            for (int i = 0; i < side; i++)
                for (int j = 0; j < side; j++)
                {
                    bool on = checkerboard ? (i + j) % 2 == 0 : i % 2 == 0;
                    mask[(c * side + i) * side + j] = on ^ flip ? 1f : 0f;
                }
        return mask;
    }

    public static RealNvpModel FromConfigJson(string json)
    {
        RealNvpConfig config;
        try { config = JsonSerializer.Deserialize<RealNvpConfig>(json) ?? throw new InvalidDataException("realnvp config: empty"); }
        catch (JsonException e) { throw new InvalidDataException($"realnvp config: {e.Message}"); }
        return new RealNvpModel(config);
    }

    public string ConfigJson() => JsonSerializer.Serialize(Config, new JsonSerializerOptions { WriteIndented = true });

    // s and t of one coupling from the conditioning half: (B, D) → (B, D), (B, D), both zero on the conditioning half.
    static (Tensor S, Tensor T) ScaleShift(Coupling c, Tensor x)
    {
        var xa = Ops.Mul(x, c.Mask);                                   // (B, D) the kept half
        var h = Ops.Relu(Ops.Linear(xa, c.W0, c.B0));                  // (B, H)
        h = Ops.Relu(Ops.Linear(h, c.W1, c.B1));                       // (B, H)
        var s = Ops.Mul(Ops.Mul(Ops.Tanh(Ops.Linear(h, c.Ws, c.Bs)), c.Gain), c.Complement); // (B, D)
        var t = Ops.Mul(Ops.Linear(h, c.Wt, c.Bt), c.Complement);      // (B, D)
        return (s, t);
    }

    /// <summary>z = f(y) and log|det ∂f/∂y| per image: y (B, D) in the logit space → z (B, D), logDet (B).</summary>
    public (Tensor Z, Tensor LogDet) Forward(Tensor y)
    {
        CheckInput(y);
        Tensor x = y, logDet = null!;
        for (int k = 0; k < _couplings.Length; k++)
        {
            var (s, t) = ScaleShift(_couplings[k], x);
            x = Ops.Add(Ops.Mul(x, Ops.Exp(s)), t);                     // kept half: x·1 + 0
            var ld = Ops.Sum(s, 1);                                     // (B)
            logDet = k == 0 ? ld : Ops.Add(logDet, ld);
        }
        return (x, logDet);
    }

    /// <summary>y = f⁻¹(z): each coupling undone in reverse order, x = (x' − t)⊙exp(−s) with s, t from the kept half
    /// (unchanged by the coupling, so computed exactly as in the forward).</summary>
    public Tensor Inverse(Tensor z)
    {
        CheckInput(z);
        Tensor x = z;
        for (int k = _couplings.Length - 1; k >= 0; k--)
        {
            var (s, t) = ScaleShift(_couplings[k], x);
            x = Ops.Mul(Ops.Sub(x, t), Ops.Exp(Ops.Scale(s, -1f)));
        }
        return x;
    }

    /// <summary>log p(y) in nats per image (B) in the logit space: log N(z; 0, I) + log|det ∂f/∂y|, with
    /// log N(z; 0, I) = −½Σz² − (D/2)·log 2π.</summary>
    public Tensor LogDensity(Tensor y)
    {
        var (z, logDet) = Forward(y);
        var prior = Ops.Affine(Ops.Sum(Ops.Mul(z, z), 1), -0.5f, (float)(-0.5 * Dimensions * Math.Log(2 * Math.PI)));
        return Ops.Add(prior, logDet);
    }

    /// <summary>Pre-processing of Dinh et al. (§4.1) for images of bytes <paramref name="pixels"/> (count × D, count =
    /// <paramref name="logDet"/>.Length): uniform dequantisation x̃ = x + u with u ∈ [0, 1) given in
    /// <paramref name="uniforms"/> (count × D), then y = logit(p), p = α + (1 − 2α)·x̃/256, written into <paramref name="y"/>.
    /// Returns into <paramref name="logDet"/> each image's log|det ∂y/∂x̃| = Σ_d [log(1 − 2α) − log 256 − log p_d − log(1 − p_d)]
    /// (the map is elementwise, so its Jacobian is diagonal), so that log p(x̃) = log p(y) + logDet is the density on the
    /// [0, 256)^D pixel scale. Computed in double.</summary>
    public void Preprocess(ReadOnlySpan<byte> pixels, ReadOnlySpan<float> uniforms, Span<float> y, Span<double> logDet)
    {
        int d = Dimensions, count = logDet.Length;
        if (pixels.Length < count * d || uniforms.Length < count * d || y.Length < count * d)
            throw new ArgumentException($"realnvp: pre-processing {count} images of {d} values needs that many pixels, uniforms and outputs");
        double a = Config.Alpha, constant = Math.Log(1 - 2 * a) - Math.Log(256);
        for (int b = 0; b < count; b++)
        {
            double sum = 0;
            for (int j = b * d; j < (b + 1) * d; j++)
            {
                double p = a + (1 - 2 * a) * (pixels[j] + (double)uniforms[j]) / 256.0;
                y[j] = (float)Math.Log(p / (1 - p));
                sum += constant - Math.Log(p) - Math.Log(1 - p);
            }
            logDet[b] = sum;
        }
    }

    /// <summary>Pixel bytes of logit-space images: x = 256·(σ(y) − α)/(1 − 2α), floored and clamped to [0, 255].</summary>
    public void Postprocess(ReadOnlySpan<float> y, Span<byte> pixels)
    {
        double a = Config.Alpha;
        for (int i = 0; i < y.Length; i++)
        {
            double p = 1 / (1 + Math.Exp(-y[i]));
            double x = Math.Floor(256 * (p - a) / (1 - 2 * a));
            pixels[i] = (byte)Math.Clamp(x, 0, 255);
        }
    }

    /// <summary>Draws <paramref name="count"/> images: z ~ N(0, T²I) with T = <paramref name="temperature"/>, y = f⁻¹(z),
    /// pixels by <see cref="Postprocess"/>. Returns count × D bytes (C, H, W each).</summary>
    public byte[] Sample(int count, ulong seed, float temperature = 1f)
    {
        if (count <= 0) throw new ArgumentException($"sample: count {count} must be positive");
        if (!(temperature > 0)) throw new ArgumentException($"sample: temperature {temperature} must be positive");
        var bytes = new byte[count * Dimensions];
        var rng = new Lathe.Tensors.Philox(seed);
        const int Chunk = 64;
        using var noise = Tensor.Empty(Math.Min(Chunk, count), Dimensions);
        using var tape = new Tape();
        for (int start = 0; start < count; start += Chunk)
        {
            int n = Math.Min(Chunk, count - start);
            tape.Reset();
            using (tape.Activate())
            using (Tape.NoGrad())
            {
                var z = Ops.Narrow(noise, 0, 0, n);                     // (n, D)
                rng.FillNormal(noise.AsSpan()[..(n * Dimensions)], 0f, temperature);
                var y = Inverse(z);
                Postprocess(y.AsSpan(), bytes.AsSpan(start * Dimensions, n * Dimensions));
            }
        }
        return bytes;
    }

    void CheckInput(Tensor x)
    {
        if (x.Rank != 2 || x.Dim(1) != Dimensions)
            throw new ArgumentException($"realnvp: input {Tensor.ShapeString(x.Shape)} is not (B, {Dimensions}) (images of {Config.Channels}×{Config.ImageSize}×{Config.ImageSize})");
    }

    public void Dispose()
    {
        foreach (var p in _parameters) p.Value.Dispose();
        foreach (var c in _couplings) { c.Mask.Dispose(); c.Complement.Dispose(); }
    }
}
