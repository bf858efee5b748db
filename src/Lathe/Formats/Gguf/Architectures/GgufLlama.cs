using Lathe.Models;
using static Lathe.Formats.GgufMetadata;

namespace Lathe.Formats;

/// <summary>llama.cpp's "llama" architecture (Llama 1/2/3, Mistral, and the many files converted as llama): RMSNorm,
/// grouped-query attention with ggml's adjacent-pair RoPE — the converter permuted the q/k rows for it, so they are
/// un-permuted back to Hugging Face's rotate_half order (<see cref="GgufRope"/>) — and a SwiGLU MLP.</summary>
internal sealed class GgufLlama : IGgufArchitecture
{
    public string Name => "llama";

    public ModelConfig ReadConfig(GgufFile file, int contextLength)
    {
        int embd = Int(file, "llama.embedding_length");
        int heads = Int(file, "llama.attention.head_count");
        int kvHeads = Int(file, "llama.attention.head_count_kv", heads);
        int? explicitHeadDim = HeadDim(file, "llama", embd, heads);
        if (explicitHeadDim is null && (heads <= 0 || embd % heads != 0))
            throw new InvalidDataException($"{file.Path}: llama.attention.head_count {heads} does not divide llama.embedding_length {embd}.");
        int headDim = explicitHeadDim ?? embd / heads;
        if (file.Metadata.ContainsKey("llama.rope.dimension_count") && Int(file, "llama.rope.dimension_count") != headDim)
            throw new InvalidDataException($"{file.Path}: llama.rope.dimension_count {Int(file, "llama.rope.dimension_count")} differs from the head dimension {headDim} (partial rotary is not supported).");
        if (file.Metadata.TryGetValue("llama.rope.scaling.type", out var scaling) && scaling is string st && st != "none")
            throw new InvalidDataException($"{file.Path}: llama.rope.scaling.type '{st}' is not supported.");
        int fileContext = Int(file, "llama.context_length");
        int context = contextLength > 0 ? contextLength : Math.Min(fileContext, GgufLoadOptions.DefaultContextCap);
        var config = new ModelConfig
        {
            ModelType = "llama",
            VocabSize = VocabSize(file, "llama"),
            MaxPositions = context,
            Embd = embd,
            Layers = Int(file, "llama.block_count"),
            Heads = heads,
            KvHeads = kvHeads,
            Intermediate = Int(file, "llama.feed_forward_length"),
            NormEps = (float)Real(file, "llama.attention.layer_norm_rms_epsilon", 1e-5),
            RopeTheta = Real(file, "llama.rope.freq_base", 10000),
            TieEmbeddings = !HasTensor(file, "output.weight"),
        };
        if (explicitHeadDim is int hd) config = config with { HeadDim = hd };
        return Validated(file, config);
    }

    public IEnumerable<GgufTensorSlot> Plan(ModelConfig c)
    {
        int C = c.Embd, D = c.HeadDim, F = c.Intermediate, V = c.VocabSize;
        yield return new("token_embd.weight", "model.embed_tokens.weight", [C, V]);
        for (int l = 0; l < c.Layers; l++)
        {
            string g = $"blk.{l}.", h = $"model.layers.{l}.";
            yield return new(g + "attn_norm.weight", h + "input_layernorm.weight", [C]);
            yield return new(g + "attn_q.weight", h + "self_attn.q_proj.weight", [C, c.Heads * D], Linear: true, RopeHeads: c.Heads);
            yield return new(g + "attn_k.weight", h + "self_attn.k_proj.weight", [C, c.KvHeads * D], Linear: true, RopeHeads: c.KvHeads);
            yield return new(g + "attn_v.weight", h + "self_attn.v_proj.weight", [C, c.KvHeads * D], Linear: true);
            yield return new(g + "attn_output.weight", h + "self_attn.o_proj.weight", [c.Heads * D, C], Linear: true);
            yield return new(g + "ffn_norm.weight", h + "post_attention_layernorm.weight", [C]);
            yield return new(g + "ffn_gate.weight", h + "mlp.gate_proj.weight", [C, F], Linear: true);
            yield return new(g + "ffn_up.weight", h + "mlp.up_proj.weight", [C, F], Linear: true);
            yield return new(g + "ffn_down.weight", h + "mlp.down_proj.weight", [F, C], Linear: true);
        }
        yield return new("output_norm.weight", "model.norm.weight", [C]);
        if (!c.TieEmbeddings) yield return new("output.weight", "lm_head.weight", [C, V], Linear: true);
    }
}
