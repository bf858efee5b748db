using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Lathe.Models;

/// <summary>Shape and hyper-parameters of a decoder model — configuration as data. Read and written as a
/// Hugging Face config.json with the field names of that model type (GPT-2: n_embd, n_layer, n_head,
/// n_positions, layer_norm_epsilon; Llama: hidden_size, num_hidden_layers, num_attention_heads,
/// num_key_value_heads, intermediate_size, max_position_embeddings, rms_norm_eps, rope_theta).</summary>
public sealed partial record ModelConfig
{
    /// <summary>"gpt2", "llama", "bert", "t5", "gemma" or "gemma2".</summary>
    public string ModelType { get; init; } = "gpt2";
    public int VocabSize { get; init; } = 50257;
    /// <summary>Context length: the size of the position table (GPT-2) or the RoPE table (Llama).</summary>
    public int MaxPositions { get; init; } = 1024;
    /// <summary>d_model (C).</summary>
    public int Embd { get; init; } = 768;
    public int Layers { get; init; } = 12;
    public int Heads { get; init; } = 12;
    /// <summary>Key/value heads (grouped-query attention); equal to <see cref="Heads"/> for GPT-2.</summary>
    public int KvHeads { get; init; } = 12;
    /// <summary>MLP hidden width (GPT-2: 4·C).</summary>
    public int Intermediate { get; init; } = 3072;
    public float NormEps { get; init; } = 1e-5f;
    public bool TieEmbeddings { get; init; } = true;
    /// <summary>Dropout on residual branches and embeddings (gpt2 resid_pdrop/embd_pdrop, bert hidden_dropout_prob,
    /// t5 dropout_rate).</summary>
    public float Dropout { get; init; }
    /// <summary>Dropout on attention probabilities (gpt2 attn_pdrop, llama attention_dropout, bert
    /// attention_probs_dropout_prob; t5 uses dropout_rate here too, as Hugging Face's T5 does).</summary>
    public float AttentionDropout { get; init; }
    public double RopeTheta { get; init; } = 10000;
    public float InitStd { get; init; } = 0.02f;

    /// <summary>"layernorm" (GPT-2) or "rmsnorm" (Llama).</summary>
    public string NormType => ModelType is "llama" or "gemma" or "gemma2" ? "rmsnorm" : "layernorm";
    /// <summary>Width of one attention head (D). Hugging Face's <c>head_dim</c>; without it, d_model / heads. Pruning heads
    /// keeps D and d_model while the head count drops, so q/k/v are Heads·D wide and need not equal d_model.</summary>
    public int HeadDim { get => _headDim ?? Embd / Heads; init => _headDim = value; }
    int? _headDim;
    /// <summary>True when <see cref="HeadDim"/> differs from d_model / heads, so config.json must say it.</summary>
    public bool HasExplicitHeadDim => _headDim is int d && (Heads <= 0 || Embd % Heads != 0 || d != Embd / Heads);

    static readonly string[] KnownTypes = ["gpt2", "llama", "bert", "t5", "gemma", "gemma2"];

    /// <summary>Checks the dimensions fit together; throws <see cref="InvalidDataException"/> with one line naming the field.</summary>
    public ModelConfig Validate()
    {
        if (Array.IndexOf(KnownTypes, ModelType) < 0) Fail("model_type", $"'{ModelType}' is not one of {string.Join(", ", KnownTypes)}");
        if (ModelType == "bert") return ValidateBert();
        if (ModelType == "t5") return ValidateT5();
        Positive(VocabSize, "vocab_size");
        Positive(MaxPositions, ModelType == "gpt2" ? "n_positions" : "max_position_embeddings");
        Positive(Embd, ModelType == "gpt2" ? "n_embd" : "hidden_size");
        Positive(Layers, ModelType == "gpt2" ? "n_layer" : "num_hidden_layers");
        Positive(Heads, ModelType == "gpt2" ? "n_head" : "num_attention_heads");
        Positive(KvHeads, "num_key_value_heads");
        Positive(Intermediate, ModelType == "gpt2" ? "n_inner" : "intermediate_size");
        if (_headDim is int hd) Positive(hd, "head_dim");
        else if (Embd % Heads != 0)
            Fail(ModelType == "gpt2" ? "n_head" : "num_attention_heads", $"{Heads} heads do not divide d_model {Embd}");
        if (Heads % KvHeads != 0) Fail("num_key_value_heads", $"{KvHeads} kv heads do not divide {Heads} heads");
        if (ModelType == "gpt2" && KvHeads != Heads) Fail("num_key_value_heads", "gpt2 has no grouped-query attention (must equal n_head)");
        if (ModelType == "llama" && HeadDim % 2 != 0) Fail(HasExplicitHeadDim ? "head_dim" : "hidden_size", $"head dim {HeadDim} must be even for RoPE");
        if (!(NormEps > 0)) Fail(ModelType == "gpt2" ? "layer_norm_epsilon" : "rms_norm_eps", $"{NormEps} must be > 0");
        if (!(Dropout >= 0 && Dropout < 1)) Fail("dropout", $"{Dropout} must be in [0, 1)");
        if (!(AttentionDropout >= 0 && AttentionDropout < 1)) Fail(ModelType switch { "gpt2" => "attn_pdrop", "bert" => "attention_probs_dropout_prob", _ => "attention_dropout" }, $"{AttentionDropout} must be in [0, 1)");
        if (!(RopeTheta > 0)) Fail("rope_theta", $"{RopeTheta} must be > 0");
        if (!(InitStd > 0)) Fail("initializer_range", $"{InitStd} must be > 0");
        ValidateMoE();
        ValidateGemma();
        ValidateLlamaVariants();
        return this;
    }

    /// <summary>Checks a training/eval context length fits the position table.</summary>
    public void ValidateContext(int blockSize)
    {
        if (blockSize <= 0) throw new InvalidDataException($"block size {blockSize} must be positive");
        if (blockSize > MaxPositions)
            Fail(ModelType is "gpt2" or "t5" ? "n_positions" : "max_position_embeddings", $"context {blockSize} exceeds the position table {MaxPositions}");
    }

    static void Positive(int v, string field) { if (v <= 0) Fail(field, $"{v} must be positive"); }

    static void Fail(string field, string why) => throw new InvalidDataException($"config: {field}: {why}");

    // ── Hugging Face config.json ─────────────────────────────────────────────────────────────────

    /// <summary>Reads a config.json (GPT-2 or Llama field names) and validates it.</summary>
    public static ModelConfig Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"config: {path} not found");
        try { return Parse(File.ReadAllText(path)); }
        catch (JsonException e) { throw new InvalidDataException($"config: {path}: not valid JSON ({e.Message.Split('\n')[0]})"); }
    }

    /// <summary>Parses config.json text and validates it.</summary>
    public static ModelConfig Parse(string json)
    {
        // A duplicated field is a JsonException (JsonNode would otherwise throw an ArgumentException on first read).
        var node = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { AllowDuplicateProperties = false }) as JsonObject ?? throw new InvalidDataException("config: not a JSON object");
        string type = Str(node, "model_type") ?? "gpt2";
        if (type == "mixtral") type = "llama";   // Mixtral = Llama + the MoE fields of ModelConfig.MoE.cs
        if (type is "gemma" or "gemma2")
            throw new InvalidDataException($"config: model_type: '{type}' is read from GGUF files only (Lathe's Gemma norm weights hold 1 + Hugging Face's weight)");
        string variant = type;                   // qwen2, mistral: Llama + the fields of ModelConfig.LlamaVariants.cs
        if (type is "qwen2" or "mistral") type = "llama";
        if (type == "bert") return ParseBert(node).Validate();
        if (type == "t5") return ParseT5(node).Validate();
        ModelConfig c;
        if (type == "llama")
        {
            int heads = Int(node, "num_attention_heads") ?? 32;
            c = new ModelConfig
            {
                ModelType = type,
                VocabSize = Int(node, "vocab_size") ?? 32000,
                MaxPositions = Int(node, "max_position_embeddings") ?? 2048,
                Embd = Int(node, "hidden_size") ?? 4096,
                Layers = Int(node, "num_hidden_layers") ?? 32,
                Heads = heads,
                KvHeads = Int(node, "num_key_value_heads") ?? heads,
                Intermediate = Int(node, "intermediate_size") ?? 11008,
                NormEps = (float)(Dbl(node, "rms_norm_eps") ?? 1e-6),
                TieEmbeddings = Bool(node, "tie_word_embeddings") ?? false,
                // Hugging Face's Llama has only attention_dropout; Lathe's residual dropout travels as resid_pdrop.
                Dropout = (float)(Dbl(node, "resid_pdrop") ?? 0),
                AttentionDropout = (float)(Dbl(node, "attention_dropout") ?? 0),
                RopeTheta = Dbl(node, "rope_theta") ?? 10000,
                InitStd = (float)(Dbl(node, "initializer_range") ?? 0.02),
            };
        }
        else
        {
            int embd = Int(node, "n_embd") ?? 768;
            int heads = Int(node, "n_head") ?? 12;
            c = new ModelConfig
            {
                ModelType = type,
                VocabSize = Int(node, "vocab_size") ?? 50257,
                MaxPositions = Int(node, "n_positions") ?? 1024,
                Embd = embd,
                Layers = Int(node, "n_layer") ?? 12,
                Heads = heads,
                KvHeads = heads,
                Intermediate = Int(node, "n_inner") ?? 4 * embd,
                NormEps = (float)(Dbl(node, "layer_norm_epsilon") ?? 1e-5),
                TieEmbeddings = Bool(node, "tie_word_embeddings") ?? true,
                Dropout = (float)(Dbl(node, "resid_pdrop") ?? 0),
                AttentionDropout = (float)(Dbl(node, "attn_pdrop") ?? 0),
                InitStd = (float)(Dbl(node, "initializer_range") ?? 0.02),
            };
        }
        // Kept only when it says something d_model / heads does not, so an equal config reads back equal.
        if (Int(node, "head_dim") is int headDim && (c.Heads <= 0 || c.Embd % c.Heads != 0 || headDim != c.Embd / c.Heads)) c = c with { HeadDim = headDim };
        if (type == "llama") c = ParseLlamaVariants(node, variant, c);
        c = ParseMoE(node, c);
        return c.Validate();
    }

    /// <summary>The config.json text, with the field names Hugging Face transformers reads for this model type.</summary>
    public string ToJson()
    {
        if (ModelType == "bert") return BertToJson();
        if (ModelType == "t5") return T5Json();
        if (IsGemma) throw new NotSupportedException($"config: a {ModelType} model is not written as config.json (its norm weights hold 1 + Hugging Face's weight); keep the GGUF file");
        var o = new JsonObject();
        if (ModelType == "llama")
        {
            o["architectures"] = new JsonArray("LlamaForCausalLM");
            o["model_type"] = "llama";
            o["vocab_size"] = VocabSize;
            o["max_position_embeddings"] = MaxPositions;
            o["hidden_size"] = Embd;
            o["num_hidden_layers"] = Layers;
            o["num_attention_heads"] = Heads;
            o["num_key_value_heads"] = KvHeads;
            if (HasExplicitHeadDim) o["head_dim"] = HeadDim;
            o["intermediate_size"] = Intermediate;
            o["hidden_act"] = "silu";
            o["rms_norm_eps"] = NormEps;
            o["rope_theta"] = RopeTheta;
            o["tie_word_embeddings"] = TieEmbeddings;
            o["attention_dropout"] = AttentionDropout;
            if (Dropout != 0) o["resid_pdrop"] = Dropout;
            WriteLlamaVariants(o);
        }
        else
        {
            o["architectures"] = new JsonArray("GPT2LMHeadModel");
            o["model_type"] = "gpt2";
            o["vocab_size"] = VocabSize;
            o["n_positions"] = MaxPositions;
            o["n_ctx"] = MaxPositions;
            o["n_embd"] = Embd;
            o["n_layer"] = Layers;
            o["n_head"] = Heads;
            if (HasExplicitHeadDim) o["head_dim"] = HeadDim;   // not a GPT2Config field: written only for pruned heads
            o["n_inner"] = Intermediate;
            o["activation_function"] = "gelu_new";
            o["layer_norm_epsilon"] = NormEps;
            o["tie_word_embeddings"] = TieEmbeddings;
            o["resid_pdrop"] = Dropout;
            o["embd_pdrop"] = Dropout;
            o["attn_pdrop"] = AttentionDropout;
        }
        WriteMoE(o);
        o["initializer_range"] = InitStd;
        o["torch_dtype"] = "float32";
        return o.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }

    /// <summary>Applies a command-line override "field=value" by its config.json name (n_layer, hidden_size, …).</summary>
    public ModelConfig With(string field, string value)
    {
        int I() => int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v
            : throw new InvalidDataException($"config: {field}: '{value}' is not an integer");
        double D() => double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) ? v
            : throw new InvalidDataException($"config: {field}: '{value}' is not a number");
        if (WithMoE(field, value) is { } moe) return moe;
        if (ModelType == "t5" && WithT5(field, value) is { } t5) return t5;
        return field switch
        {
            _ when ModelType == "bert" && WithBert(field, value) is { } bert => bert,
            "vocab_size" => this with { VocabSize = I() },
            "n_positions" or "max_position_embeddings" => this with { MaxPositions = I() },
            "n_embd" or "hidden_size" => this with { Embd = I(), Intermediate = ModelType == "gpt2" ? 4 * I() : Intermediate },
            "n_layer" or "num_hidden_layers" => this with { Layers = I() },
            "n_head" or "num_attention_heads" => this with { Heads = I(), KvHeads = ModelType == "gpt2" ? I() : KvHeads },
            "num_key_value_heads" => this with { KvHeads = I() },
            "n_inner" or "intermediate_size" => this with { Intermediate = I() },
            "dropout" or "resid_pdrop" => this with { Dropout = (float)D() },
            "attention_dropout" or "attn_pdrop" => this with { AttentionDropout = (float)D() },
            "rope_theta" => this with { RopeTheta = D() },
            _ => throw new InvalidDataException($"config: unknown field '{field}'"),
        };
    }

    // ── Presets (embedded JSON under Models/Presets) ─────────────────────────────────────────────

    /// <summary>Names of the bundled presets.</summary>
    public static IReadOnlyList<string> PresetNames()
    {
        var names = new List<string>();
        foreach (var r in typeof(ModelConfig).Assembly.GetManifestResourceNames())
            if (r.StartsWith(PresetPrefix, StringComparison.Ordinal)) names.Add(r[PresetPrefix.Length..^5]);
        names.Sort(StringComparer.Ordinal);
        return names;
    }

    const string PresetPrefix = "Lathe.Models.Presets.";

    /// <summary>A bundled preset by name (gpt2-tiny, S, M, …) or a config.json path.</summary>
    public static ModelConfig FromPresetOrFile(string nameOrPath)
    {
        using var stream = typeof(ModelConfig).Assembly.GetManifestResourceStream(PresetPrefix + nameOrPath + ".json");
        if (stream is not null) return Parse(new StreamReader(stream).ReadToEnd());
        if (File.Exists(nameOrPath)) return Load(nameOrPath);
        if (Directory.Exists(nameOrPath) && File.Exists(Path.Combine(nameOrPath, "config.json"))) return Load(Path.Combine(nameOrPath, "config.json"));
        throw new FileNotFoundException($"config: '{nameOrPath}' is neither a preset ({string.Join(", ", PresetNames())}) nor a config.json file");
    }

    static string? Str(JsonObject o, string k) => o[k] is JsonValue v && v.TryGetValue(out string? s) ? s : null;
    static int? Int(JsonObject o, string k)
    {
        if (o[k] is null) return null;
        if (o[k] is JsonValue v && v.TryGetValue(out int i)) return i;
        throw new InvalidDataException($"config: {k}: '{o[k]!.ToJsonString()}' is not an integer");
    }
    static double? Dbl(JsonObject o, string k)
    {
        if (o[k] is null) return null;
        if (o[k] is JsonValue v && v.TryGetValue(out double d)) return d;
        throw new InvalidDataException($"config: {k}: '{o[k]!.ToJsonString()}' is not a number");
    }
    static bool? Bool(JsonObject o, string k)
    {
        if (o[k] is null) return null;
        if (o[k] is JsonValue v && v.TryGetValue(out bool b)) return b;
        throw new InvalidDataException($"config: {k}: '{o[k]!.ToJsonString()}' is not true/false");
    }
}
