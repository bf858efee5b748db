using System.Text.Json;
using System.Text.Json.Serialization;
using Lathe.Models;

using Lathe.Tensors;
using Lathe.Vision.Nerf;

namespace Lathe.Vision.Architectures;

/// <summary>config.json of a NeRF (model_type "nerf").</summary>
public sealed record NerfConfig
{
    [JsonPropertyName("model_type")] public string ModelType { get; init; } = NerfModel.Type;
    /// <summary>L of the positions' encoding (the paper: 10).</summary>
    [JsonPropertyName("position_frequencies")] public int PositionFrequencies { get; init; } = 8;
    /// <summary>L of the view directions' encoding (the paper: 4); used when <see cref="ViewDependent"/>.</summary>
    [JsonPropertyName("direction_frequencies")] public int DirectionFrequencies { get; init; } = 4;
    /// <summary>Hidden width of the MLP (the paper: 256).</summary>
    [JsonPropertyName("width")] public int Width { get; init; } = 128;
    /// <summary>Hidden layers of the trunk (the paper: 8).</summary>
    [JsonPropertyName("depth")] public int Depth { get; init; } = 4;
    /// <summary>The trunk layer whose input is [h, γ(x)] — the skip connection (the paper: the 5th of 8); −1 for none.</summary>
    [JsonPropertyName("skip")] public int Skip { get; init; } = 2;
    /// <summary>Colour depends on the view direction (a feature layer, then [feature, γ(d)] → width/2 → RGB) or not.</summary>
    [JsonPropertyName("view_dependent")] public bool ViewDependent { get; init; }
    /// <summary>"softplus" or "relu" on the raw density.</summary>
    [JsonPropertyName("density_activation")] public string DensityActivation { get; init; } = "softplus";
    /// <summary>Stratified samples per ray.</summary>
    [JsonPropertyName("samples")] public int Samples { get; init; } = 64;
    [JsonPropertyName("near")] public float Near { get; init; } = 2f;
    [JsonPropertyName("far")] public float Far { get; init; } = 7f;
    /// <summary>Positions are multiplied by this before the encoding (the scene's box to about [−1, 1]).</summary>
    [JsonPropertyName("position_scale")] public float PositionScale { get; init; } = 1f / 3f;
    /// <summary>The colour seen where rays leave the volume.</summary>
    [JsonPropertyName("background")] public float[] Background { get; init; } = [1f, 1f, 1f];

    public NerfConfig Validate(string where = "nerf config")
    {
        if (ModelType != NerfModel.Type) throw new InvalidDataException($"{where}: model_type '{ModelType}' is not '{NerfModel.Type}'");
        if (PositionFrequencies is < 0 or > 16) throw new ArgumentException($"{where}: position_frequencies {PositionFrequencies} must be in [0, 16]");
        if (DirectionFrequencies is < 0 or > 16) throw new ArgumentException($"{where}: direction_frequencies {DirectionFrequencies} must be in [0, 16]");
        if (Width is < 2 or > 4096) throw new ArgumentException($"{where}: width {Width} must be in [2, 4096]");
        if (Depth is < 1 or > 32) throw new ArgumentException($"{where}: depth {Depth} must be in [1, 32]");
        if (Skip < -1 || Skip == 0 || Skip >= Depth) throw new ArgumentException($"{where}: skip {Skip} must be −1 or a layer in [1, {Depth - 1}]");
        if (DensityActivation is not ("softplus" or "relu")) throw new ArgumentException($"{where}: density_activation '{DensityActivation}' must be softplus or relu");
        if (Samples is < 2 or > 1024) throw new ArgumentException($"{where}: samples {Samples} must be in [2, 1024]");
        if (!(Near >= 0) || !(Far > Near) || float.IsInfinity(Far)) throw new ArgumentException($"{where}: near {Near} and far {Far} must satisfy 0 ≤ near < far");
        if (!(PositionScale > 0) || float.IsInfinity(PositionScale)) throw new ArgumentException($"{where}: position_scale {PositionScale} must be positive");
        if (Background is null || Background.Length != 3) throw new ArgumentException($"{where}: background must be three numbers (RGB in [0, 1])");
        return this;
    }
}

/// <summary>NeRF (Mildenhall et al. 2020, "NeRF: Representing Scenes as Neural Radiance Fields for View Synthesis"): an
/// MLP from the positional encoding γ(x) of a point to its density σ and colour c, rendered along camera rays by the
/// volume-rendering quadrature (<see cref="VolumeRenderer"/>). The trunk is <c>depth</c> ReLU layers of <c>width</c>
/// with γ(x) concatenated again into layer <c>skip</c>; density = softplus (or ReLU) of a linear head; colour = sigmoid
/// of a linear head, or, view-dependent as in the paper, of [feature(h), γ(d)] → ReLU(width/2) → 3. One network,
/// stratified samples (the paper's hierarchical "fine" network is not built here).</summary>
public sealed class NerfModel : IVisionModel
{
    public const string Type = "nerf";

    readonly Tensor[] _layerWeights, _layerBiases;
    readonly Tensor _densityWeight, _densityBias, _rgbWeight, _rgbBias;
    readonly Tensor? _featureWeight, _featureBias, _viewWeight, _viewBias;
    readonly Tensor _background;

    public NerfConfig Config { get; }
    public string ModelType => Type;
    public IReadOnlyList<ModelParameter> Parameters { get; }

    /// <summary>Features of an encoded position and direction.</summary>
    public int PositionFeatures => PositionalEncoding.Width(Config.PositionFrequencies);
    public int DirectionFeatures => PositionalEncoding.Width(Config.DirectionFrequencies);

    /// <summary>A freshly initialised model: ReLU layers He-normal (std √(2/in)), heads std √(1/in), biases zero.</summary>
    public NerfModel(NerfConfig config, ulong seed = 1)
    {
        Config = config.Validate();
        var p = new ParameterBuilder(seed);
        int w = Config.Width, dp = PositionFeatures;
        _layerWeights = new Tensor[Config.Depth];
        _layerBiases = new Tensor[Config.Depth];
        for (int i = 0; i < Config.Depth; i++)
        {
            int inF = i == 0 ? dp : i == Config.Skip ? w + dp : w;
            _layerWeights[i] = p.Normal($"layers.{i}.weight", MathF.Sqrt(2f / inF), true, false, w, inF);
            _layerBiases[i] = p.Constant($"layers.{i}.bias", 0f, w);
        }
        _densityWeight = p.Normal("density.weight", MathF.Sqrt(1f / w), true, false, 1, w);
        _densityBias = p.Constant("density.bias", 0f, 1);
        if (Config.ViewDependent)
        {
            _featureWeight = p.Normal("feature.weight", MathF.Sqrt(1f / w), true, false, w, w);
            _featureBias = p.Constant("feature.bias", 0f, w);
            _viewWeight = p.Normal("view.weight", MathF.Sqrt(2f / (w + DirectionFeatures)), true, false, w / 2, w + DirectionFeatures);
            _viewBias = p.Constant("view.bias", 0f, w / 2);
            _rgbWeight = p.Normal("rgb.weight", MathF.Sqrt(1f / (w / 2)), true, false, 3, w / 2);
        }
        else _rgbWeight = p.Normal("rgb.weight", MathF.Sqrt(1f / w), true, false, 3, w);
        _rgbBias = p.Constant("rgb.bias", 0f, 3);
        Parameters = p.Parameters;
        _background = Tensor.FromArray(Config.Background, 3);
    }

    /// <summary>Builds a model from config.json's text (weights initialised; the checkpoint loader overwrites them).</summary>
    public static NerfModel FromConfigJson(string json)
    {
        NerfConfig config;
        try { config = JsonSerializer.Deserialize<NerfConfig>(json) ?? throw new InvalidDataException("nerf config.json: empty"); }
        catch (JsonException e) { throw new InvalidDataException($"nerf config.json: {e.Message}"); }
        return new NerfModel(config);
    }

    public string ConfigJson() => JsonSerializer.Serialize(Config, new JsonSerializerOptions { WriteIndented = true });

    /// <summary>Density and colour at N points: <paramref name="positions"/> γ(x) (N, 3 + 6L_x) and, for a view-dependent
    /// model, <paramref name="directions"/> γ(d) (N, 3 + 6L_d). Returns σ (N,1) and c (N,3).</summary>
    public (Tensor Sigma, Tensor Rgb) Field(Tensor positions, Tensor? directions)
    {
        var h = positions;                                                             // (N, Dp)
        for (int i = 0; i < Config.Depth; i++)
        {
            if (i == Config.Skip) h = Ops.Concat([h, positions], 1);                  // (N, W + Dp)
            h = Ops.Relu(Ops.Linear(h, _layerWeights[i], _layerBiases[i]));          // (N, W)
        }
        var raw = Ops.Linear(h, _densityWeight, _densityBias);                         // (N, 1)
        var sigma = Config.DensityActivation == "relu" ? Ops.Relu(raw) : Ops.Softplus(raw);
        Tensor rgb;
        if (Config.ViewDependent)
        {
            if (directions is null) throw new ArgumentException("NerfModel: a view-dependent model needs encoded directions");
            var feature = Ops.Linear(h, _featureWeight!, _featureBias);                // (N, W)
            var hv = Ops.Relu(Ops.Linear(Ops.Concat([feature, directions], 1), _viewWeight!, _viewBias)); // (N, W/2)
            rgb = Ops.Sigmoid(Ops.Linear(hv, _rgbWeight, _rgbBias));                   // (N, 3)
        }
        else rgb = Ops.Sigmoid(Ops.Linear(h, _rgbWeight, _rgbBias));                   // (N, 3)
        return (sigma, rgb);
    }

    /// <summary>The colours (R,3) of a prepared batch of rays: the field at its R·S sample points, composited.</summary>
    public Tensor Render(RayBatch batch)
    {
        int rays = batch.Capacity, samples = Config.Samples;
        var (sigma, rgb) = Field(batch.Positions, Config.ViewDependent ? batch.Directions : null);
        return VolumeRenderer.Composite(Ops.Reshape(sigma, rays, samples), Ops.Reshape(rgb, rays, samples, 3), batch.Deltas, _background);
    }

    public void Dispose()
    {
        foreach (var p in Parameters) p.Value.Dispose();
        _background.Dispose();
    }
}
