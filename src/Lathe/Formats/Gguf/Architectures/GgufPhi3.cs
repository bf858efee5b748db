using Lathe.Models;
using static Lathe.Formats.GgufMetadata;

namespace Lathe.Formats;

/// <summary>llama.cpp's "phi3" architecture (Phi-3-mini-4k and its kin): the Llama block with q|k|v stacked in one
/// <c>attn_qkv.weight</c> and gate|up stacked in one <c>ffn_up.weight</c> (gate rows first: Hugging Face's
/// gate_up_proj, chunked in two), NEOX RoPE (Hugging Face's row order), keys under <c>phi3.*</c>. The stacked tensors
/// are split on load into Llama's q/k/v and gate/up parameters — row slices, so quantized bytes split as they are — and
/// the model runs as a Lathe llama model (its quantized path stacks them again for speed).
/// <c>phi3.attention.sliding_window</c> is read by llama.cpp and then disabled ("Phi SWA is currently disabled"), so
/// Lathe ignores it too. The 128k models' LongRoPE (rope_factors_long/short.weight) is refused by name.</summary>
internal sealed class GgufPhi3 : IGgufArchitecture
{
    public string Name => "phi3";

    public ModelConfig ReadConfig(GgufFile file, int contextLength)
    {
        foreach (string t in (string[])["rope_factors_long.weight", "rope_factors_short.weight"])
            if (HasTensor(file, t))
                throw new InvalidDataException($"{file.Path}: tensor '{t}': Phi-3's LongRoPE scaling (the 128k-context models) is not supported.");
        var config = GgufLlama.ReadLayoutConfig(file, "phi3", contextLength, VocabSize(file, "phi3"));
        // llama.cpp's phi3 allocates attn_output as [embd, embd]: heads·D must be the width.
        if (config.Heads * config.HeadDim != config.Embd)
            throw new InvalidDataException($"{file.Path}: phi3.attention.head_count {config.Heads} × head dim {config.HeadDim} must equal phi3.embedding_length {config.Embd}.");
        return Validated(file, config);
    }

    public IEnumerable<GgufTensorSlot> Plan(ModelConfig c)
    {
        int C = c.Embd, D = c.HeadDim, F = c.Intermediate, V = c.VocabSize, q = c.Heads * D, kv = c.KvHeads * D;
        yield return new("token_embd.weight", "model.embed_tokens.weight", [C, V]);
        for (int l = 0; l < c.Layers; l++)
        {
            string g = $"blk.{l}.", h = $"model.layers.{l}.";
            long[] qkv = [C, q + 2 * kv], gateUp = [C, 2 * F];
            yield return new(g + "attn_norm.weight", h + "input_layernorm.weight", [C]);
            yield return new(g + "attn_qkv.weight", h + "self_attn.q_proj.weight", qkv, Linear: true, RowStart: 0, RowCount: q);
            yield return new(g + "attn_qkv.weight", h + "self_attn.k_proj.weight", qkv, Linear: true, RowStart: q, RowCount: kv);
            yield return new(g + "attn_qkv.weight", h + "self_attn.v_proj.weight", qkv, Linear: true, RowStart: q + kv, RowCount: kv);
            yield return new(g + "attn_output.weight", h + "self_attn.o_proj.weight", [q, C], Linear: true);
            yield return new(g + "ffn_norm.weight", h + "post_attention_layernorm.weight", [C]);
            yield return new(g + "ffn_up.weight", h + "mlp.gate_proj.weight", gateUp, Linear: true, RowStart: 0, RowCount: F);
            yield return new(g + "ffn_up.weight", h + "mlp.up_proj.weight", gateUp, Linear: true, RowStart: F, RowCount: F);
            yield return new(g + "ffn_down.weight", h + "mlp.down_proj.weight", [F, C], Linear: true);
        }
        yield return new("output_norm.weight", "model.norm.weight", [C]);
        if (!c.TieEmbeddings) yield return new("output.weight", "lm_head.weight", [C, V], Linear: true);
    }
}
