using System.Text.Json;
using System.Text.Json.Serialization;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Vision.Layers;

namespace Lathe.Vision.Architectures;

/// <summary>A ViT's shape and hyper-parameters — config.json with model_type "vit" and Hugging Face ViTConfig's field
/// names where it has them (image_size, num_channels, patch_size, hidden_size, num_hidden_layers, num_attention_heads,
/// intermediate_size, hidden_dropout_prob, layer_norm_eps, initializer_range, num_labels), plus Lathe's "pooling"
/// (cls | mean) and "position_embedding" (learned | sincos).</summary>
public sealed record VitConfig
{
    [JsonPropertyName("model_type")] public string ModelType { get; init; } = "vit";
    [JsonPropertyName("image_size")] public int ImageSize { get; init; } = 28;
    [JsonPropertyName("num_channels")] public int Channels { get; init; } = 1;
    [JsonPropertyName("patch_size")] public int Patch { get; init; } = 4;
    [JsonPropertyName("hidden_size")] public int Width { get; init; } = 192;
    [JsonPropertyName("num_hidden_layers")] public int Depth { get; init; } = 6;
    [JsonPropertyName("num_attention_heads")] public int Heads { get; init; } = 3;
    /// <summary>MLP hidden width (mlp ratio × width).</summary>
    [JsonPropertyName("intermediate_size")] public int Intermediate { get; init; } = 768;
    /// <summary>"cls": a learned class token, whose final state is the pooled output; "mean": the mean of the patch tokens.</summary>
    [JsonPropertyName("pooling")] public string Pooling { get; init; } = "cls";
    /// <summary>"learned" (a parameter, HF's position_embeddings) or "sincos" (the fixed 2-D table of <see cref="Positions2d"/>).</summary>
    [JsonPropertyName("position_embedding")] public string Positions { get; init; } = "learned";
    /// <summary>Classes of the classifier head; 0 for an encoder only.</summary>
    [JsonPropertyName("num_labels")] public int Labels { get; init; } = 10;
    /// <summary>Dropout on the embeddings and on each residual branch during training.</summary>
    [JsonPropertyName("hidden_dropout_prob")] public float Dropout { get; init; }
    [JsonPropertyName("layer_norm_eps")] public float NormEps { get; init; } = 1e-12f;
    [JsonPropertyName("initializer_range")] public float InitStd { get; init; } = 0.02f;

    /// <summary>Patches along one side.</summary>
    [JsonIgnore] public int Grid => ImageSize / Patch;
    /// <summary>Tokens per image in the encoder: the patches, plus the class token with cls pooling.</summary>
    [JsonIgnore] public int Tokens => Grid * Grid + (Pooling == "cls" ? 1 : 0);

    /// <summary>Checks the fields fit together; throws <see cref="ArgumentException"/> naming the first bad one.</summary>
    public VitConfig Validate()
    {
        if (ModelType != "vit") throw new ArgumentException($"vit config: model_type '{ModelType}' is not 'vit'");
        Positive(ImageSize, "image_size"); Positive(Channels, "num_channels"); Positive(Patch, "patch_size");
        Positive(Width, "hidden_size"); Positive(Depth, "num_hidden_layers"); Positive(Heads, "num_attention_heads");
        Positive(Intermediate, "intermediate_size");
        if (ImageSize % Patch != 0) throw new ArgumentException($"vit config: patch_size {Patch} does not divide image_size {ImageSize}");
        if (Width % Heads != 0) throw new ArgumentException($"vit config: hidden_size {Width} is not a multiple of num_attention_heads {Heads}");
        if (Pooling is not ("cls" or "mean")) throw new ArgumentException($"vit config: pooling '{Pooling}' is not one of cls, mean");
        if (Positions is not ("learned" or "sincos")) throw new ArgumentException($"vit config: position_embedding '{Positions}' is not one of learned, sincos");
        if (Positions == "sincos" && Width % 4 != 0) throw new ArgumentException($"vit config: sincos positions need hidden_size {Width} to be a multiple of 4");
        if (Labels < 0) throw new ArgumentException($"vit config: num_labels {Labels} must not be negative");
        if (!(Dropout >= 0 && Dropout < 1)) throw new ArgumentException($"vit config: hidden_dropout_prob {Dropout} must be in [0, 1)");
        if (!(NormEps > 0)) throw new ArgumentException($"vit config: layer_norm_eps {NormEps} must be positive");
        if (!(InitStd > 0)) throw new ArgumentException($"vit config: initializer_range {InitStd} must be positive");
        return this;
    }

    static void Positive(int v, string name)
    {
        if (v <= 0) throw new ArgumentException($"vit config: {name} {v} must be positive");
    }

    static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Parses config.json text (missing fields take their defaults), then validates it.</summary>
    public static VitConfig FromJson(string json)
    {
        try { return (JsonSerializer.Deserialize<VitConfig>(json) ?? throw new InvalidDataException("vit config: empty")).Validate(); }
        catch (JsonException e) { throw new InvalidDataException($"vit config: not valid ({e.Message})"); }
    }
}

/// <summary>The Vision Transformer (Dosovitskiy et al. 2021, "An Image is Worth 16x16 Words"): patch embedding, a class
/// token (or none, for mean pooling), learned or fixed 2-D sin-cos positions, pre-LN encoder blocks, a final LayerNorm,
/// and a linear classifier on the pooled token. Parameters carry Hugging Face ViTForImageClassification's names
/// (vit.embeddings.cls_token, vit.embeddings.position_embeddings, vit.embeddings.patch_embeddings.projection.*,
/// vit.encoder.layer.N.*, vit.layernorm.*, classifier.*) — an encoder only (num_labels 0) drops the "vit." prefix as
/// ViTModel does. Other models build on <see cref="Encode"/> and <see cref="Pool"/> (CLIP's image tower, the captioner).</summary>
public sealed class VitModel : IVisionModel
{
    readonly PatchEmbedding _patches;
    readonly Tensor? _cls;          // (1, 1, C)
    readonly Tensor _positions;     // (1, T', C) learned, or (T', C) fixed (not a parameter)
    readonly bool _ownsPositions;
    readonly EncoderBlock[] _blocks;
    readonly NormLayer _norm;
    readonly LinearLayer? _classifier;
    readonly List<ModelParameter> _parameters;
    Tensor? _zeros;                 // (N, 1, C) zeros the class token is broadcast onto; reused while N stays
    int _dropoutCalls;

    public VitConfig Config { get; }
    public string ModelType => "vit";
    public IReadOnlyList<ModelParameter> Parameters => _parameters;

    /// <summary>True during training: dropout (hidden_dropout_prob) is applied. Off by default.</summary>
    public bool Training { get; set; }
    /// <summary>The dropout masks' seed; a training loop sets it per step so a run (and its resume) is reproducible.</summary>
    public ulong DropoutSeed { get; set; }

    /// <summary>A freshly initialised model (HF ViT init: matrices, class token and positions N(0, initializer_range),
    /// biases 0, norms 1) from <paramref name="seed"/>.</summary>
    public VitModel(VitConfig config, ulong seed = 1) : this(config, new ParameterBuilder(seed), null) { }

    /// <summary>Registers the model into <paramref name="p"/> under <paramref name="prefix"/> (null: "vit." with a
    /// classifier, "" without) — for models that embed a ViT and own the builder.</summary>
    internal VitModel(VitConfig config, ParameterBuilder p, string? prefix)
    {
        Config = config.Validate();
        var c = config;
        string pre = prefix ?? (c.Labels > 0 ? "vit." : "");
        int first = p.Parameters.Count;
        float std = c.InitStd;
        if (c.Pooling == "cls") _cls = p.Normal(pre + "embeddings.cls_token", std, decay: false, storedTransposed: false, 1, 1, c.Width);
        if (c.Positions == "learned")
            _positions = p.Normal(pre + "embeddings.position_embeddings", std, decay: false, storedTransposed: false, 1, c.Tokens, c.Width);
        else { _positions = Positions2d.SinCos(c.Width, c.Grid, c.Grid, extraTokens: c.Tokens - c.Grid * c.Grid); _ownsPositions = true; }
        _patches = new PatchEmbedding(p, pre + "embeddings.patch_embeddings.projection", c.Channels, c.Patch, c.Width, std);
        _blocks = new EncoderBlock[c.Depth];
        for (int l = 0; l < c.Depth; l++)
            _blocks[l] = new EncoderBlock(p, $"{pre}encoder.layer.{l}", c.Width, c.Heads, c.Intermediate, c.NormEps, std);
        _norm = new NormLayer(p, pre + "layernorm", c.Width, rms: false, c.NormEps);
        if (c.Labels > 0) _classifier = LinearLayer.WithBias(p, "classifier", c.Width, c.Labels, std);
        _parameters = p.Parameters.GetRange(first, p.Parameters.Count - first);
    }

    /// <summary>Builds a model from config.json's text (VisionCheckpoint's loader; weights are loaded after).</summary>
    public static VitModel FromConfigJson(string json) => new(VitConfig.FromJson(json));

    public string ConfigJson() => Config.ToJson();

    /// <summary>Every dense projection (per block: query, key, value, attention output, intermediate, output; then the
    /// classifier) — where adapters attach.</summary>
    public IEnumerable<LinearLayer> Linears()
    {
        foreach (var b in _blocks)
            foreach (var l in b.Linears) yield return l;
        if (_classifier is not null) yield return _classifier;
    }

    /// <summary>The encoder blocks, in order.</summary>
    public IReadOnlyList<EncoderBlock> Blocks => _blocks;

    /// <summary>images (N, C, H, W) → final-normed tokens (N, T', C): the class token first (cls pooling), then the
    /// patches in row-major grid order. Images of the wrong channel count or size are an error naming them.</summary>
    public Tensor Encode(Tensor images)
    {
        CheckImages(images);
        _dropoutCalls = 0;
        var c = Config;
        int N = images.Dim(0);
        var x = _patches.Forward(images);                                           // (N,T,C)
        if (_cls is not null)
        {
            if (_zeros is null || _zeros.Dim(0) != N) { _zeros?.Dispose(); _zeros = Tensor.Zeros(N, 1, c.Width); }
            x = Ops.Concat([Ops.Add(_zeros, _cls), x], 1);                           // (N,1+T,C)
        }
        x = Dropout(Ops.Add(x, _positions));                                        // + (1,T',C) or (T',C) broadcast
        foreach (var block in _blocks) x = block.Forward(x, c.Dropout > 0 && Training ? Dropout : null);
        return _norm.Forward(x);                                                    // (N,T',C)
    }

    /// <summary>tokens (N, T', C) from <see cref="Encode"/> → (N, C): the class token's state (cls) or the mean over
    /// the tokens (mean).</summary>
    public Tensor Pool(Tensor tokens)
    {
        int N = tokens.Dim(0), C = tokens.Dim(2);
        return _cls is not null ? Ops.Reshape(Ops.Narrow(tokens, 1, 0, 1), N, C) : Ops.Mean(tokens, 1);
    }

    /// <summary>The pooled features (N, C) of images — what a Fréchet distance is computed on.</summary>
    public Tensor Features(Tensor images) => Pool(Encode(images));

    /// <summary>images (N, C, H, W) → class scores (N, labels).</summary>
    public Tensor Logits(Tensor images)
    {
        if (_classifier is null) throw new InvalidOperationException("vit: this model is an encoder only (num_labels 0); it has no logits");
        return _classifier.Forward(Features(images));
    }

    /// <summary>pooled features (N, C) from <see cref="Features"/> → class scores (N, labels): the head alone, so one
    /// forward pass gives both (the generator scorer needs features and predictions of the same images).</summary>
    public Tensor LogitsFromFeatures(Tensor features) =>
        (_classifier ?? throw new InvalidOperationException("vit: this model is an encoder only (num_labels 0); it has no logits")).Forward(features);

    /// <summary>Mean cross-entropy of the logits of <paramref name="images"/> against <paramref name="labels"/>.</summary>
    public Tensor Loss(Tensor images, ReadOnlySpan<int> labels) => Ops.CrossEntropy(Logits(images), labels);

    /// <summary>Checks images are (N, C, H, W) with the config's channels and size, naming what is wrong.</summary>
    public void CheckImages(Tensor images)
    {
        var c = Config;
        if (images.Rank != 4 || images.Dim(1) != c.Channels || images.Dim(2) != c.ImageSize || images.Dim(3) != c.ImageSize)
            throw new ArgumentException($"vit: images {Tensor.ShapeString(images.Shape)} do not fit the model, which takes (N, {c.Channels}, {c.ImageSize}, {c.ImageSize})");
    }

    Tensor Dropout(Tensor x)
    {
        if (!Training || Config.Dropout == 0) return x;
        ulong seed = DropoutSeed * 0x9E3779B97F4A7C15UL + (ulong)(++_dropoutCalls);
        return Ops.Dropout(x, Config.Dropout, seed);
    }

    public void Dispose()
    {
        foreach (var p in _parameters) { p.Value.Grad?.Dispose(); p.Value.Dispose(); }
        if (_ownsPositions) _positions.Dispose();
        _zeros?.Dispose();
    }
}
