using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Lathe.Models;

// T5 (Raffel et al. 2020) fields of the config, read and written with Hugging Face T5Config's names. The shared
// fields carry what means the same: Embd = d_model, Layers = num_layers (encoder), Heads = KvHeads = num_heads,
// Intermediate = d_ff, NormEps = layer_norm_epsilon, Dropout = dropout_rate, InitStd = initializer_factor,
// MaxPositions = n_positions (nominal: relative position bias has no table, it only bounds the context).
public sealed partial record ModelConfig
{
    /// <summary>T5: size of each attention head (d_kv); independent of d_model / num_heads.</summary>
    public int DKv { get; init; } = 64;
    /// <summary>T5: number of decoder blocks (num_decoder_layers; defaults to num_layers).</summary>
    public int DecoderLayers { get; init; } = 6;
    /// <summary>T5: relative position buckets (relative_attention_num_buckets).</summary>
    public int RelativeBuckets { get; init; } = 32;
    /// <summary>T5: distance beyond which relative positions share the last bucket (relative_attention_max_distance).</summary>
    public int RelativeMaxDistance { get; init; } = 128;
    /// <summary>T5: "relu" (DenseReluDense wi → ReLU → wo, T5 v1.0) or "gated-gelu" (wi_0, wi_1 → gelu_new(·)⊙· → wo, v1.1).</summary>
    public string FeedForwardProj { get; init; } = "relu";
    /// <summary>T5: the token the decoder input starts with (decoder_start_token_id; the pad id in T5).</summary>
    public int DecoderStartTokenId { get; init; }
    /// <summary>T5: end-of-sequence id appended to encoder inputs and decoder targets (eos_token_id).</summary>
    public int EosTokenId { get; init; } = 1;

    /// <summary>Whether the T5 feed-forward is gated (wi_0/wi_1).</summary>
    public bool GatedFeedForward => FeedForwardProj == "gated-gelu";

    ModelConfig ValidateT5()
    {
        Positive(VocabSize, "vocab_size");
        Positive(MaxPositions, "n_positions");
        Positive(Embd, "d_model");
        Positive(DKv, "d_kv");
        Positive(Intermediate, "d_ff");
        Positive(Layers, "num_layers");
        Positive(DecoderLayers, "num_decoder_layers");
        Positive(Heads, "num_heads");
        if (KvHeads != Heads) Fail("num_key_value_heads", "t5 has no grouped-query attention (must equal num_heads)");
        if (RelativeBuckets < 2) Fail("relative_attention_num_buckets", $"{RelativeBuckets} must be ≥ 2");
        if (RelativeMaxDistance <= RelativeBuckets / 2)
            Fail("relative_attention_max_distance", $"{RelativeMaxDistance} must exceed the exact range of {RelativeBuckets / 2} buckets");
        if (FeedForwardProj is not ("relu" or "gated-gelu")) Fail("feed_forward_proj", $"'{FeedForwardProj}' is not one of relu, gated-gelu");
        if (!(NormEps > 0)) Fail("layer_norm_epsilon", $"{NormEps} must be > 0");
        if (!(Dropout >= 0 && Dropout < 1)) Fail("dropout_rate", $"{Dropout} must be in [0, 1)");
        if (!(InitStd > 0)) Fail("initializer_factor", $"{InitStd} must be > 0");
        if ((uint)DecoderStartTokenId >= (uint)VocabSize) Fail("decoder_start_token_id", $"{DecoderStartTokenId} is outside the vocabulary of {VocabSize}");
        if ((uint)EosTokenId >= (uint)VocabSize) Fail("eos_token_id", $"{EosTokenId} is outside the vocabulary of {VocabSize}");
        return this;
    }

    static ModelConfig ParseT5(JsonObject node)
    {
        int layers = Int(node, "num_layers") ?? 6;
        int heads = Int(node, "num_heads") ?? 8;
        string proj = Str(node, "feed_forward_proj") ?? "relu";
        return new ModelConfig
        {
            ModelType = "t5",
            VocabSize = Int(node, "vocab_size") ?? 32128,
            MaxPositions = Int(node, "n_positions") ?? 512,
            Embd = Int(node, "d_model") ?? 512,
            DKv = Int(node, "d_kv") ?? 64,
            Intermediate = Int(node, "d_ff") ?? 2048,
            Layers = layers,
            DecoderLayers = Int(node, "num_decoder_layers") ?? layers,
            Heads = heads,
            KvHeads = heads,
            RelativeBuckets = Int(node, "relative_attention_num_buckets") ?? 32,
            RelativeMaxDistance = Int(node, "relative_attention_max_distance") ?? 128,
            NormEps = (float)(Dbl(node, "layer_norm_epsilon") ?? 1e-6),
            Dropout = (float)(Dbl(node, "dropout_rate") ?? 0.1),
            InitStd = (float)(Dbl(node, "initializer_factor") ?? 1.0),
            FeedForwardProj = proj,
            // HF: tied unless the config says otherwise (v1.1 checkpoints, gated-gelu, say false).
            TieEmbeddings = Bool(node, "tie_word_embeddings") ?? true,
            DecoderStartTokenId = Int(node, "decoder_start_token_id") ?? 0,
            EosTokenId = Int(node, "eos_token_id") ?? 1,
        };
    }

    string T5Json()
    {
        var o = new JsonObject
        {
            ["architectures"] = new JsonArray("T5ForConditionalGeneration"),
            ["model_type"] = "t5",
            ["vocab_size"] = VocabSize,
            ["n_positions"] = MaxPositions,
            ["d_model"] = Embd,
            ["d_kv"] = DKv,
            ["d_ff"] = Intermediate,
            ["num_layers"] = Layers,
            ["num_decoder_layers"] = DecoderLayers,
            ["num_heads"] = Heads,
            ["relative_attention_num_buckets"] = RelativeBuckets,
            ["relative_attention_max_distance"] = RelativeMaxDistance,
            ["dropout_rate"] = Dropout,
            ["layer_norm_epsilon"] = NormEps,
            ["initializer_factor"] = InitStd,
            ["feed_forward_proj"] = FeedForwardProj,
            ["is_encoder_decoder"] = true,
            ["tie_word_embeddings"] = TieEmbeddings,
            ["pad_token_id"] = DecoderStartTokenId,   // T5 starts the decoder with its pad token (HF convention)
            ["eos_token_id"] = EosTokenId,
            ["decoder_start_token_id"] = DecoderStartTokenId,
            ["torch_dtype"] = "float32",
        };
        return o.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }

    /// <summary>T5 overrides by HF name, plus the pretrain flags' generic names (n_embd → d_model, n_layer → both
    /// stacks, n_head → num_heads, intermediate_size → d_ff); null when the field is not a T5 one.</summary>
    ModelConfig? WithT5(string field, string value)
    {
        int I() => int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v
            : throw new InvalidDataException($"config: {field}: '{value}' is not an integer");
        return field switch
        {
            "d_model" or "n_embd" or "hidden_size" => this with { Embd = I() },
            "d_kv" => this with { DKv = I() },
            "d_ff" or "intermediate_size" or "n_inner" => this with { Intermediate = I() },
            "num_layers" => this with { Layers = I() },
            "n_layer" or "num_hidden_layers" => this with { Layers = I(), DecoderLayers = I() },
            "num_decoder_layers" => this with { DecoderLayers = I() },
            "num_heads" or "n_head" or "num_attention_heads" => this with { Heads = I(), KvHeads = I() },
            "n_positions" or "max_position_embeddings" => this with { MaxPositions = I() },
            "relative_attention_num_buckets" => this with { RelativeBuckets = I() },
            "relative_attention_max_distance" => this with { RelativeMaxDistance = I() },
            "feed_forward_proj" => this with { FeedForwardProj = value },
            "eos_token_id" => this with { EosTokenId = I() },
            "decoder_start_token_id" => this with { DecoderStartTokenId = I() },
            _ => null,
        };
    }
}
