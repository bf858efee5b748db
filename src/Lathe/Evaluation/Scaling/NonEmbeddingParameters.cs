using Lathe.Models;

namespace Lathe.Evaluation.Scaling;

/// <summary>N as the scaling laws count it: the parameters of the transformer blocks and final norm, without the token
/// and position embeddings or an untied output head (Kaplan et al. 2020 §2.1; Hoffmann et al. 2022 likewise).
/// Written from the shapes, not by building the model, so a plan can size models too large to allocate here.</summary>
public static class NonEmbeddingParameters
{
    /// <summary>N for a dense gpt2 or llama config.</summary>
    /// <exception cref="ArgumentException">Another model type, or a Mixture-of-Experts config (whose "N" would need a
    /// choice between total and active parameters).</exception>
    public static long Count(ModelConfig config)
    {
        long c = config.Embd, inner = config.Intermediate, layers = config.Layers;
        if (config.NumExperts > 0)
            throw new ArgumentException($"config: num_local_experts {config.NumExperts}: scaling plans count dense models only.", nameof(config));
        return config.ModelType switch
        {
            // Per block: ln_1 and ln_2 (weight + bias, 2C each), c_attn (C×3C + 3C), attn c_proj (C×C + C),
            // mlp c_fc (C×I + I) and c_proj (I×C + C); then ln_f (2C).
            "gpt2" => layers * (4 * c + 3 * c * c + 3 * c + c * c + c + c * inner + inner + inner * c + c) + 2 * c,
            // Per block: two RMSNorm weights (C each), q and o (C×C), k and v (C×kv·d_head), gate and up (C×I),
            // down (I×C), no biases; then the final norm (C).
            "llama" => layers * (2 * c + 2 * c * c + 2 * c * (long)config.KvHeads * config.HeadDim + 3 * c * inner) + c,
            _ => throw new ArgumentException($"config: model_type '{config.ModelType}': scaling plans count gpt2 and llama models only.", nameof(config)),
        };
    }

    /// <summary>Parameters that cost matrix work per token besides N: the output head (V×C), tied or not. The
    /// embedding lookups cost nothing in comparison.</summary>
    public static long OutputHead(ModelConfig config) => (long)config.VocabSize * config.Embd;
}
