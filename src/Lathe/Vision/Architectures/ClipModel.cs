using System.Text.Json;
using System.Text.Json.Nodes;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Vision.Training;

namespace Lathe.Vision.Architectures;

/// <summary>A CLIP's shape — config.json with model_type "clip" and Hugging Face CLIPConfig's layout: "vision_config"
/// (a <see cref="VitConfig"/>, encoder only), "text_config" (a gpt2 <see cref="ModelConfig"/>), "projection_dim" and
/// "logit_scale_init_value".</summary>
public sealed record ClipConfig
{
    public const string Type = "clip";
    /// <summary>ln(1/0.07): CLIP's initial temperature (Radford et al. 2021, §2.5).</summary>
    public const float DefaultLogitScale = 2.6592600f;
    /// <summary>ln 100: the logit scale is clamped here so logits are never scaled by more than 100 (§2.5).</summary>
    public static readonly float MaxLogitScale = MathF.Log(100f);

    /// <summary>The image tower: patch 7 (16 patches + the class token) keeps a CPU run short; width 96, depth 4.</summary>
    public VitConfig Vision { get; init; } = new() { Patch = 7, Width = 96, Depth = 4, Heads = 3, Intermediate = 384, Labels = 0 };
    /// <summary>The text tower: a small GPT-2 over the caption tokenizer's vocabulary (vocab_size is set from it).</summary>
    public ModelConfig Text { get; init; } = new()
    {
        ModelType = "gpt2", VocabSize = 512, MaxPositions = 24, Embd = 64, Layers = 2, Heads = 2, KvHeads = 2, Intermediate = 256,
    };
    /// <summary>Width of the joint embedding space.</summary>
    public int ProjectionDim { get; init; } = 64;
    public float LogitScaleInit { get; init; } = DefaultLogitScale;

    public ClipConfig Validate()
    {
        if (Vision.Labels != 0) throw new ArgumentException($"clip config: vision_config.num_labels must be 0 (an encoder), got {Vision.Labels}");
        Vision.Validate();
        if (Text.ModelType != "gpt2") throw new ArgumentException($"clip config: text_config.model_type '{Text.ModelType}' is not gpt2");
        Text.Validate();
        if (ProjectionDim <= 0) throw new ArgumentException($"clip config: projection_dim {ProjectionDim} must be positive");
        if (!float.IsFinite(LogitScaleInit) || LogitScaleInit > MaxLogitScale)
            throw new ArgumentException($"clip config: logit_scale_init_value {LogitScaleInit} must be a number ≤ ln 100");
        return this;
    }

    public string ToJson()
    {
        var o = new JsonObject
        {
            ["model_type"] = Type,
            ["projection_dim"] = ProjectionDim,
            ["logit_scale_init_value"] = LogitScaleInit,
            ["vision_config"] = JsonNode.Parse(Vision.ToJson()),
            ["text_config"] = JsonNode.Parse(Text.ToJson()),
        };
        return o.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>Parses config.json text and validates it; a missing or malformed section is an error naming it.</summary>
    public static ClipConfig FromJson(string json)
    {
        JsonObject o;
        try { o = JsonNode.Parse(json) as JsonObject ?? throw new InvalidDataException("clip config: not a JSON object"); }
        catch (JsonException e) { throw new InvalidDataException($"clip config: not valid JSON ({e.Message})"); }
        var vision = o["vision_config"] as JsonObject ?? throw new InvalidDataException("clip config: vision_config is missing");
        var text = o["text_config"] as JsonObject ?? throw new InvalidDataException("clip config: text_config is missing");
        try
        {
            return new ClipConfig
            {
                Vision = VitConfig.FromJson(vision.ToJsonString()),
                Text = ModelConfig.Parse(text.ToJsonString()),
                ProjectionDim = o["projection_dim"]?.GetValue<int>() ?? 64,
                LogitScaleInit = o["logit_scale_init_value"]?.GetValue<float>() ?? DefaultLogitScale,
            }.Validate();
        }
        catch (Exception e) when (e is ArgumentException or FormatException or InvalidOperationException)
        {
            throw new InvalidDataException(e.Message.StartsWith("clip config", StringComparison.Ordinal) ? e.Message : "clip config: " + e.Message);
        }
    }
}

/// <summary>CLIP (Radford et al. 2021, "Learning Transferable Visual Models From Natural Language Supervision"): an image
/// tower (a ViT encoder, pooled, then a linear projection without bias) and a text tower (a GPT-2 Transformer read at
/// its end-of-text token after the final LayerNorm, as CLIP's text encoder is, then a linear projection without bias)
/// map images and captions into one space where both are L2-normalised; a learned logit scale (initialised to
/// ln(1/0.07), clamped at ln 100) sharpens their cosine similarities. Trained with <see cref="ContrastiveLoss"/>.
/// Parameters carry Hugging Face CLIPModel's top-level names: vision_model.*, visual_projection.weight, text_model.*
/// (here GPT-2's own names under the prefix), text_projection.weight, logit_scale.</summary>
public sealed class ClipModel : IVisionModel
{
    readonly VitModel _vision;
    readonly CausalLM _text;
    readonly Tensor _visualProjection;   // (D, Wv)
    readonly Tensor _textProjection;     // (D, Wt)
    readonly List<ModelParameter> _parameters;
    int[] _eotRows = [];

    public ClipConfig Config { get; }
    public string ModelType => ClipConfig.Type;
    public IReadOnlyList<ModelParameter> Parameters => _parameters;
    /// <summary>The learned log of the logit scale, shape (1).</summary>
    public Tensor LogitScale { get; }
    /// <summary>The image tower's encoder.</summary>
    public VitModel Vision => _vision;
    /// <summary>The text tower.</summary>
    public CausalLM Text => _text;

    /// <summary>A freshly initialised CLIP from <paramref name="seed"/>: the towers as their own architectures initialise
    /// them, projections N(0, width^−½) (CLIP's scheme), the logit scale at logit_scale_init_value.</summary>
    public ClipModel(ClipConfig config, ulong seed = 1)
    {
        Config = config.Validate();
        var p = new ParameterBuilder(seed);
        _vision = new VitModel(config.Vision, p, "vision_model.");
        _visualProjection = p.Normal("visual_projection.weight", 1f / MathF.Sqrt(config.Vision.Width), decay: true, storedTransposed: false,
            config.ProjectionDim, config.Vision.Width);
        _text = CausalLM.Create(config.Text, seed ^ 0x7E47UL);
        foreach (var tp in _text.Parameters)
            p.Parameters.Add(new ModelParameter("text_model." + tp.Name, tp.Value, tp.StoredTransposed, tp.Decay));
        _textProjection = p.Normal("text_projection.weight", 1f / MathF.Sqrt(config.Text.Embd), decay: true, storedTransposed: false,
            config.ProjectionDim, config.Text.Embd);
        LogitScale = p.Constant("logit_scale", config.LogitScaleInit, 1);
        _parameters = p.Parameters;
    }

    /// <summary>Builds a model from config.json's text (VisionCheckpoint's loader; weights are loaded after).</summary>
    public static ClipModel FromConfigJson(string json) => new(ClipConfig.FromJson(json));

    public string ConfigJson() => Config.ToJson();

    /// <summary>images (N, C, H, W) → L2-normalised image embeddings (N, D).</summary>
    public Tensor ImageEmbeddings(Tensor images)
    {
        var pooled = _vision.Features(images);                       // (N,Wv)
        return ContrastiveLoss.Normalize(Ops.Linear(pooled, _visualProjection));   // (N,D)
    }

    /// <summary>Token ids (B, T) row-major, each row a caption ending in end-of-text (then padding), and each row's
    /// length up to and including its first end-of-text → L2-normalised text embeddings (B, D). Causal attention means
    /// the padding after end-of-text never reaches it.</summary>
    public Tensor TextEmbeddings(ReadOnlySpan<int> ids, ReadOnlySpan<int> lengths, int T)
    {
        int B = lengths.Length;
        if (ids.Length != B * T) throw new ArgumentException($"clip: {ids.Length} ids are not {B} rows of {T}");
        if (T > Config.Text.MaxPositions) throw new ArgumentException($"clip: captions of {T} tokens exceed the text tower's n_positions {Config.Text.MaxPositions}");
        if (_eotRows.Length != B) _eotRows = new int[B];
        for (int b = 0; b < B; b++)
        {
            if (lengths[b] < 1 || lengths[b] > T) throw new ArgumentException($"clip: caption {b} has length {lengths[b]}, not in 1..{T}");
            _eotRows[b] = b * T + lengths[b] - 1;
        }
        var hidden = _text.Hidden(_text.Embed(ids, B, T), B, T);      // (B·T, Wt), after ln_f
        var eot = Ops.GatherRows(hidden, _eotRows);                   // (B,Wt): the state at each end-of-text
        return ContrastiveLoss.Normalize(Ops.Linear(eot, _textProjection));   // (B,D)
    }

    /// <summary>The symmetric contrastive loss of a batch of matching (image, caption) pairs.</summary>
    public Tensor Loss(Tensor images, ReadOnlySpan<int> ids, ReadOnlySpan<int> lengths, int T) =>
        ContrastiveLoss.Forward(ImageEmbeddings(images), TextEmbeddings(ids, lengths, T), LogitScale);

    /// <summary>Copies a trained ViT's encoder weights (a "vit" checkpoint, with or without its classifier) into the
    /// image tower; its vision config must match this model's (architecture fields; the classifier is ignored).</summary>
    public void LoadVisionTower(string vitDir)
    {
        using var vit = VisionCheckpoint.Load<VitModel>(vitDir, "a ViT");
        var src = vit.Config with { Labels = 0, Dropout = Config.Vision.Dropout };
        if (src != Config.Vision)
            throw new InvalidDataException($"{vitDir}: its ViT ({src.Width} wide, {src.Depth} deep, patch {src.Patch}) does not match the CLIP's vision_config ({Config.Vision.Width} wide, {Config.Vision.Depth} deep, patch {Config.Vision.Patch})");
        var byName = new Dictionary<string, ModelParameter>(StringComparer.Ordinal);
        foreach (var q in vit.Parameters) byName[q.Name.StartsWith("vit.", StringComparison.Ordinal) ? q.Name[4..] : q.Name] = q;
        foreach (var p in _vision.Parameters)
        {
            string name = p.Name["vision_model.".Length..];
            if (!byName.TryGetValue(name, out var q)) throw new InvalidDataException($"{vitDir}: tensor '{name}' is missing");
            q.Value.AsSpan().CopyTo(p.Value.AsSpan());
        }
    }

    public void Dispose()
    {
        _vision.Dispose();
        _text.Dispose();
        foreach (var t in new[] { _visualProjection, _textProjection, LogitScale }) { t.Grad?.Dispose(); t.Dispose(); }
    }
}
