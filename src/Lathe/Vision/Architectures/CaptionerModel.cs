using System.Text.Json;
using System.Text.Json.Nodes;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Vision.Layers;

namespace Lathe.Vision.Architectures;

/// <summary>The captioner's config: a ViT encoder, an adapter, a decoder-only language model, whether the encoder is
/// tuned, and the end-of-text id the captions are wrapped in.</summary>
public sealed record CaptionerConfig(VitConfig Vision, VisionAdapterConfig Adapter, ModelConfig Text, bool TuneVision, int EndOfTextId)
{
    public const string Type = "vit-captioner";

    /// <summary>Image tokens the decoder reads before the caption.</summary>
    public int ImageTokens => Adapter.Kind == "resampler" ? Adapter.Queries : Vision.Tokens;

    /// <summary>Checks the parts fit: the adapter reads the encoder's width and writes the decoder's, and the decoder's
    /// context holds the image tokens and a caption.</summary>
    public CaptionerConfig Validate()
    {
        Vision.Validate();
        Adapter.Validate();
        Text.Validate();
        if (Text.ModelType is not ("gpt2" or "llama")) throw new ArgumentException($"captioner: text_config model_type '{Text.ModelType}' must be gpt2 or llama");
        if (Adapter.InputDim != Vision.Width) throw new ArgumentException($"captioner: the adapter reads width {Adapter.InputDim}, the encoder gives {Vision.Width}");
        if (Adapter.OutputDim != Text.Embd) throw new ArgumentException($"captioner: the adapter writes width {Adapter.OutputDim}, the decoder takes {Text.Embd}");
        if (ImageTokens + 2 > Text.MaxPositions) throw new ArgumentException($"captioner: {ImageTokens} image tokens leave no room for a caption in a context of {Text.MaxPositions}");
        if ((uint)EndOfTextId >= (uint)Text.VocabSize) throw new ArgumentException($"captioner: end_of_text_id {EndOfTextId} is outside the vocabulary of {Text.VocabSize}");
        return this;
    }

    public string ToJson()
    {
        var o = new JsonObject
        {
            ["model_type"] = Type,
            ["vision_config"] = JsonNode.Parse(Vision.ToJson()),
            ["adapter"] = JsonNode.Parse(JsonSerializer.Serialize(Adapter)),
            ["text_config"] = JsonNode.Parse(Text.ToJson()),
            ["tune_vision"] = TuneVision,
            ["end_of_text_id"] = EndOfTextId,
            ["image_tokens"] = ImageTokens,
        };
        return o.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }

    public static CaptionerConfig FromJson(string json)
    {
        try
        {
            var o = JsonNode.Parse(json)?.AsObject() ?? throw new InvalidDataException("captioner config: empty");
            JsonNode Field(string name) => o[name] ?? throw new InvalidDataException($"captioner config: field '{name}' is missing");
            var vision = VitConfig.FromJson(Field("vision_config").ToJsonString());
            var adapter = JsonSerializer.Deserialize<VisionAdapterConfig>(Field("adapter").ToJsonString()) ?? throw new InvalidDataException("captioner config: adapter is empty");
            var text = ModelConfig.Parse(Field("text_config").ToJsonString());
            return new CaptionerConfig(vision, adapter, text, o["tune_vision"]?.GetValue<bool>() ?? false, Field("end_of_text_id").GetValue<int>()).Validate();
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException or ArgumentException)
        {
            throw new InvalidDataException($"captioner config: {e.Message}");
        }
    }
}

/// <summary>The multimodal recipe of seed 001 (LLaVA, Liu et al. 2023; Flamingo, Alayrac et al. 2022): a vision encoder
/// (<see cref="VitModel"/>, frozen or tuned), an adapter (<see cref="VisionAdapter"/>) that turns its tokens into tokens
/// in the language model's embedding space, and a decoder-only language model (<see cref="CausalLM"/>, gpt2 or llama)
/// that reads [image tokens ; caption] and writes the caption. Parameter names follow Hugging Face LLaVA:
/// vision_tower.*, multi_modal_projector.*, language_model.* (all stored in the engine's (out, in) layout).
/// Training: <see cref="Training.CaptionObjective"/>; generation: <see cref="Inference.CaptionDecoder"/>.</summary>
public sealed class CaptionerModel : IVisionModel
{
    readonly List<ModelParameter> _parameters = [];
    readonly List<ModelParameter> _adapterParameters;

    public CaptionerConfig Config { get; }
    public VitModel Vision { get; }
    public VisionAdapter Adapter { get; }
    public CausalLM Language { get; }
    public string ModelType => CaptionerConfig.Type;
    public IReadOnlyList<ModelParameter> Parameters => _parameters;

    /// <summary>What training updates: the adapter and the decoder, and the encoder too when
    /// <see cref="CaptionerConfig.TuneVision"/>.</summary>
    public IReadOnlyList<ModelParameter> Trainable { get; }

    public CaptionerModel(CaptionerConfig config, ulong seed = 1)
    {
        Config = config = (config with { Vision = config.Vision with { Labels = 0 } }).Validate();   // the encoder only
        var pv = new ParameterBuilder(seed);
        Vision = new VitModel(config.Vision, pv, "vision_tower.");
        var pa = new ParameterBuilder(seed + 1);
        Adapter = new VisionAdapter(pa, "multi_modal_projector", config.Adapter);
        _adapterParameters = pa.Parameters;
        Language = CausalLM.Create(config.Text, seed + 2);
        _parameters.AddRange(Vision.Parameters);
        _parameters.AddRange(_adapterParameters);
        // Renamed under language_model.; kept in the engine's layout so every tensor is (out, in) in the file.
        foreach (var p in Language.Parameters) _parameters.Add(new ModelParameter("language_model." + p.Name, p.Value, storedTransposed: false, p.Decay));
        Trainable = config.TuneVision ? _parameters : _parameters.Skip(Vision.Parameters.Count).ToList();
    }

    /// <summary>Builds a model from config.json's text (VisionCheckpoint's loader; weights are loaded after).</summary>
    public static CaptionerModel FromConfigJson(string json) => new(CaptionerConfig.FromJson(json));

    public string ConfigJson() => Config.ToJson();

    /// <summary>Copies a trained ViT's encoder (its classifier, if any, is left out) into the vision tower; the configs
    /// must agree.</summary>
    public void LoadVision(VitModel trained)
    {
        var mine = Vision.Parameters.ToDictionary(p => p.Name["vision_tower.".Length..], StringComparer.Ordinal);
        int copied = 0;
        foreach (var p in trained.Parameters)
        {
            string name = p.Name.StartsWith("vit.", StringComparison.Ordinal) ? p.Name[4..] : p.Name;
            if (!mine.TryGetValue(name, out var dst)) continue;   // the classifier
            if (!dst.Value.Shape.SequenceEqual(p.Value.Shape))
                throw new InvalidDataException($"--vision: tensor '{p.Name}' is {Tensor.ShapeString(p.Value.Shape)}, the captioner's encoder wants {Tensor.ShapeString(dst.Value.Shape)}");
            p.Value.AsSpan().CopyTo(dst.Value.AsSpan());
            copied++;
        }
        if (copied != mine.Count) throw new InvalidDataException($"--vision: the ViT has {copied} of the encoder's {mine.Count} tensors");
    }

    /// <summary>images (N, C, H, W) → image tokens (N, P, C_text) for the decoder. A frozen encoder runs without
    /// recording (no gradient reaches it, and its activations are not kept).</summary>
    public Tensor ImageTokens(Tensor images)
    {
        Tensor features;   // (N, T', W)
        if (Config.TuneVision || !Tape.IsRecording) features = Vision.Encode(images);
        else using (Tape.NoGrad()) features = Vision.Encode(images);
        return Adapter.Forward(features);   // (N, P, C)
    }

    public void Dispose()
    {
        Vision.Dispose();
        foreach (var p in _adapterParameters) { p.Value.Grad?.Dispose(); p.Value.Dispose(); }
        Language.Dispose();
    }
}
