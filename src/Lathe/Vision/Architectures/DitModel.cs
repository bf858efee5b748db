using System.Text.Json;
using System.Text.Json.Serialization;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Vision.Diffusion;
using Lathe.Vision.Layers;

namespace Lathe.Vision.Architectures;

/// <summary>config.json of a DiT (model_type "dit"), with the reference implementation's field names where it has them.</summary>
public sealed record DitConfig
{
    [JsonPropertyName("model_type")] public string ModelType { get; init; } = DitModel.Type;
    /// <summary>Latent channels (4 for the VAE's 4×7×7 latents).</summary>
    [JsonPropertyName("in_channels")] public int InChannels { get; init; } = 4;
    /// <summary>Latent side (7): latents are in_channels × input_size × input_size.</summary>
    [JsonPropertyName("input_size")] public int InputSize { get; init; } = 7;
    [JsonPropertyName("patch_size")] public int PatchSize { get; init; } = 1;
    [JsonPropertyName("hidden_size")] public int HiddenSize { get; init; } = 256;
    [JsonPropertyName("depth")] public int Depth { get; init; } = 6;
    [JsonPropertyName("num_heads")] public int Heads { get; init; } = 4;
    [JsonPropertyName("mlp_ratio")] public int MlpRatio { get; init; } = 4;
    /// <summary>Classes the model is conditioned on; 0 makes an unconditional model.</summary>
    [JsonPropertyName("num_classes")] public int Classes { get; init; } = 10;
    [JsonPropertyName("class_names")] public string[] ClassNames { get; init; } = [];
    /// <summary>Sinusoidal frequencies fed to the timestep MLP.</summary>
    [JsonPropertyName("frequency_embedding_size")] public int FrequencySize { get; init; } = 256;
    [JsonPropertyName("class_dropout_prob")] public float ClassDropout { get; init; } = ClassifierFreeGuidance.LabelDropout;
    /// <summary>"linear" or "cosine" (<see cref="NoiseSchedule"/>).</summary>
    [JsonPropertyName("noise_schedule")] public string NoiseSchedule { get; init; } = Diffusion.NoiseSchedule.LinearKind;
    [JsonPropertyName("diffusion_steps")] public int DiffusionSteps { get; init; } = 1000;
    /// <summary>The factor the VAE's latents were multiplied by before training (Stable Diffusion's scaling_factor);
    /// samples are divided by it before decoding.</summary>
    [JsonPropertyName("latent_scale")] public float LatentScale { get; init; } = 1f;

    /// <summary>Checks the fields, naming the first bad one.</summary>
    public DitConfig Validate()
    {
        if (ModelType != DitModel.Type) throw new InvalidDataException($"DiT config: model_type '{ModelType}' is not '{DitModel.Type}'");
        if (InChannels <= 0 || InputSize <= 0 || PatchSize <= 0 || InputSize % PatchSize != 0)
            throw new ArgumentException($"DiT config: input {InChannels}×{InputSize}×{InputSize} with patch_size {PatchSize} (the side must be a multiple of the patch)");
        if (HiddenSize <= 0 || HiddenSize % 4 != 0) throw new ArgumentException($"DiT config: hidden_size {HiddenSize} must be a positive multiple of 4 (2-D sin-cos positions)");
        if (Heads <= 0 || HiddenSize % Heads != 0) throw new ArgumentException($"DiT config: num_heads {Heads} must divide hidden_size {HiddenSize}");
        if (Depth <= 0 || MlpRatio <= 0) throw new ArgumentException($"DiT config: depth {Depth} and mlp_ratio {MlpRatio} must be positive");
        if (Classes < 0) throw new ArgumentException($"DiT config: num_classes {Classes} must not be negative");
        if (ClassNames.Length != 0 && ClassNames.Length != Classes) throw new ArgumentException($"DiT config: {ClassNames.Length} class_names for num_classes {Classes}");
        if (FrequencySize <= 0 || FrequencySize % 2 != 0) throw new ArgumentException($"DiT config: frequency_embedding_size {FrequencySize} must be a positive even number");
        if (DiffusionSteps <= 0) throw new ArgumentException($"DiT config: diffusion_steps {DiffusionSteps} must be positive");
        if (!(LatentScale > 0) || float.IsInfinity(LatentScale)) throw new ArgumentException($"DiT config: latent_scale {LatentScale} must be a positive number");
        _ = Diffusion.NoiseSchedule.Create(NoiseSchedule, 1);
        return this;
    }
}

/// <summary>The Diffusion Transformer (Peebles &amp; Xie 2023, "Scalable Diffusion Models with Transformers"), predicting ε
/// for latents (N, C, H, W): patchify (a p×p convolution of stride p, here a Linear over each patch) → + fixed 2-D sin-cos
/// positions (<see cref="Positions2d"/>) → depth ×
/// <see cref="DitBlock"/> conditioned on c = timestep embedding + class embedding → final adaLN (shift, scale) + Linear
/// (both zero-initialised) → unpatchify. The timestep embedding is [cos(t·f), sin(t·f)] with f_i = 10000^(−i/half)
/// through Linear–SiLU–Linear; the class table has one extra row, the null class used for classifier-free guidance.
/// Only ε is predicted (learn_sigma off), so the output has the input's channels.</summary>
public sealed class DitModel : IVisionModel, INoisePredictor
{
    public const string Type = "dit";

    readonly List<ModelParameter> _parameters;
    readonly Tensor _patchWeight, _patchBias, _classTable;
    readonly LinearLayer _time0, _time2, _finalModulation, _finalLinear;
    readonly DitBlock[] _blocks;
    readonly Tensor _positions;                    // (T, D), a constant
    Tensor? _frequencies;                          // (N, F) scratch for the timestep features

    public DitConfig Config { get; }
    public string ModelType => Type;
    public IReadOnlyList<ModelParameter> Parameters => _parameters;
    public int Channels => Config.InChannels;
    public int Height => Config.InputSize;
    public int Width => Config.InputSize;
    public bool IsConditional => Config.Classes > 0;
    public int NullLabel => IsConditional ? Config.Classes : -1;
    /// <summary>Tokens per sample: (input_size / patch_size)².</summary>
    public int Tokens => Grid * Grid;
    int Grid => Config.InputSize / Config.PatchSize;
    int PatchDim => Config.InChannels * Config.PatchSize * Config.PatchSize;

    public DitModel(DitConfig config, ulong seed = 1)
    {
        Config = config.Validate();
        var p = new ParameterBuilder(seed);
        int D = config.HiddenSize, P = config.PatchSize;
        // x_embedder.proj is the reference's Conv2d(C, D, p, stride p): weight (D, C, p, p), Xavier over its (D, C·p·p) view.
        _patchWeight = p.Normal("x_embedder.proj.weight", MathF.Sqrt(2f / (PatchDim + D)), decay: true, storedTransposed: false, D, config.InChannels, P, P);
        _patchBias = p.Constant("x_embedder.proj.bias", 0f, D);
        _time0 = LinearLayer.WithBias(p, "t_embedder.mlp.0", config.FrequencySize, D, 0.02f);
        _time2 = LinearLayer.WithBias(p, "t_embedder.mlp.2", D, D, 0.02f);
        _classTable = IsConditional ? p.Normal("y_embedder.embedding_table.weight", 0.02f, decay: false, storedTransposed: false, config.Classes + 1, D) : null!;
        _blocks = new DitBlock[config.Depth];
        for (int i = 0; i < config.Depth; i++) _blocks[i] = new DitBlock(p, $"blocks.{i}", D, config.Heads, config.MlpRatio * D);
        _finalModulation = DitBlock.Zero(p, "final_layer.adaLN_modulation.1", D, 2 * D);
        _finalLinear = DitBlock.Zero(p, "final_layer.linear", D, P * P * config.InChannels);
        _parameters = p.Parameters;
        _positions = Positions2d.SinCos(D, Grid, Grid);
    }

    /// <summary>A model from config.json's text (weights as initialised; <see cref="VisionCheckpoint"/> loads them).</summary>
    public static DitModel FromConfigJson(string json) =>
        new(JsonSerializer.Deserialize<DitConfig>(json) ?? throw new InvalidDataException("DiT config.json is empty"));

    public string ConfigJson() => JsonSerializer.Serialize(Config, new JsonSerializerOptions { WriteIndented = true });

    /// <summary>ε̂ (N, C, H, W) for noisy latents x (N, C, H, W) at timesteps t with classes <paramref name="labels"/>.</summary>
    public Tensor PredictNoise(Tensor x, ReadOnlySpan<int> t, ReadOnlySpan<int> labels)
    {
        int N = x.Dim(0), C = Config.InChannels, S = Config.InputSize;
        if (x.Rank != 4 || x.Dim(1) != C || x.Dim(2) != S || x.Dim(3) != S)
            throw new ArgumentException($"DiT: input {Tensor.ShapeString(x.Shape)} is not (N, {C}, {S}, {S})");
        if (t.Length != N || (IsConditional && labels.Length != N))
            throw new ArgumentException($"DiT: {t.Length} timesteps and {labels.Length} labels for {N} samples");
        var c = _time2.Forward(Ops.Silu(_time0.Forward(TimestepFeatures(t))));                                 // (N,F) → (N,D)
        if (IsConditional) c = Ops.Add(c, ClassEmbedding(labels));
        var h = Ops.Add(Ops.Linear(Patchify(x), Ops.Reshape(_patchWeight, Config.HiddenSize, PatchDim), _patchBias), _positions);   // (N,T,C·p·p) → (N,T,D)
        foreach (var block in _blocks) h = block.Forward(h, c);
        var mod = _finalModulation.Forward(Ops.Silu(c));                                                       // (N,2D): shift, scale
        int D = Config.HiddenSize;
        h = Ops.AdaLayerNorm(h, Ops.Contiguous(Ops.Narrow(mod, 1, 0, D)), Ops.Contiguous(Ops.Narrow(mod, 1, D, D)), DitBlock.NormEps);
        return Unpatchify(_finalLinear.Forward(h));                                                            // (N,T,p·p·C) → (N,C,H,W)
    }

    Tensor ClassEmbedding(ReadOnlySpan<int> labels)
    {
        for (int i = 0; i < labels.Length; i++)
            if ((uint)labels[i] > (uint)Config.Classes)
                throw new ArgumentException($"DiT: label {labels[i]} is outside 0-{Config.Classes - 1} (or {Config.Classes}, the null class)");
        return Ops.Embedding(_classTable, labels);                                                             // (N,D)
    }

    // (N, F): [cos(t·f_0 … t·f_{h−1}), sin(…)], f_i = exp(−ln(10000)·i/h), h = F/2 (DiT's timestep_embedding).
    Tensor TimestepFeatures(ReadOnlySpan<int> t)
    {
        int N = t.Length, F = Config.FrequencySize, half = F / 2;
        if (_frequencies is null || _frequencies.Dim(0) != N)
        {
            _frequencies?.Dispose();
            _frequencies = Tensor.Zeros(N, F);
        }
        var s = _frequencies.AsSpan();
        for (int b = 0; b < N; b++)
            for (int i = 0; i < half; i++)
            {
                // In double, rounded once: the reference's float32 arguments reach 1000, where a float32 product is off by 6e-5.
                double arg = t[b] * Math.Exp(-Math.Log(10000.0) * i / half);
                s[b * F + i] = (float)Math.Cos(arg);
                s[b * F + half + i] = (float)Math.Sin(arg);
            }
        return _frequencies;
    }

    // (N, C, H, W) → (N, h·w, C·p·p): each patch's values in (c, i, j) order, the order of the patch convolution's weight.
    Tensor Patchify(Tensor x)
    {
        int N = x.Dim(0), C = Config.InChannels, P = Config.PatchSize, g = Grid;
        if (P == 1) return Ops.Reshape(Ops.Permute(x, 0, 2, 3, 1), N, g * g, C);
        var v = Ops.Reshape(x, N, C, g, P, g, P);
        return Ops.Reshape(Ops.Permute(v, 0, 2, 4, 1, 3, 5), N, g * g, PatchDim);
    }

    // (N, h·w, p·p·C) → (N, C, H, W): the reference's unpatchify (patch values in (i, j, c) order).
    Tensor Unpatchify(Tensor y)
    {
        int N = y.Dim(0), C = Config.InChannels, P = Config.PatchSize, g = Grid;
        if (P == 1) return Ops.Contiguous(Ops.Permute(Ops.Reshape(y, N, g, g, C), 0, 3, 1, 2));
        var v = Ops.Reshape(y, N, g, g, P, P, C);
        return Ops.Reshape(Ops.Permute(v, 0, 5, 1, 3, 2, 4), N, C, g * P, g * P);
    }

    public void Dispose()
    {
        foreach (var p in _parameters) p.Value.Dispose();
        _positions.Dispose();
        _frequencies?.Dispose();
    }
}
