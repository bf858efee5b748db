using Lathe.Models;
using static Lathe.Formats.GgufMetadata;

namespace Lathe.Formats;

/// <summary>llama.cpp's "gemma" architecture (src/models/gemma.cpp): RMSNorm, grouped-query attention with NeoX-style
/// RoPE — rotate_half, Hugging Face's own row order, so the converter did not permute q/k and nothing is un-permuted here —
/// a GeGLU MLP, embeddings scaled by √C and the head tied to token_embd (llama.cpp ignores any output.weight).
/// The norm weights: llama.cpp's converter (conversion/gemma.py, modify_tensors) already added Hugging Face's +1 to every
/// *norm.weight, and llama.cpp multiplies by the stored value, so they load as stored — adding 1 again would be wrong.</summary>
internal sealed class GgufGemma : IGgufArchitecture
{
    public string Name => "gemma";

    public ModelConfig ReadConfig(GgufFile file, int contextLength) => Validated(file, Shape(file, "gemma", contextLength));

    public IEnumerable<GgufTensorSlot> Plan(ModelConfig c) => Slots(c, gemma2: false);

    /// <summary>The keys gemma and gemma2 share, as a config of <paramref name="arch"/>'s model type.</summary>
    internal static ModelConfig Shape(GgufFile file, string arch, int contextLength)
    {
        int embd = Int(file, arch + ".embedding_length");
        int heads = Int(file, arch + ".attention.head_count");
        int? explicitHeadDim = HeadDim(file, arch, embd, heads);
        if (explicitHeadDim is null && embd % heads != 0)
            throw new InvalidDataException($"{file.Path}: {arch}.attention.head_count {heads} does not divide {arch}.embedding_length {embd}.");
        int headDim = explicitHeadDim ?? embd / heads;
        string rotKey = arch + ".rope.dimension_count";
        if (file.Metadata.ContainsKey(rotKey) && Int(file, rotKey) != headDim)
            throw new InvalidDataException($"{file.Path}: {rotKey} {Int(file, rotKey)} differs from the head dimension {headDim} (partial rotary is not supported).");
        if (String(file, arch + ".rope.scaling.type") is { } scaling && scaling != "none")
            throw new InvalidDataException($"{file.Path}: {arch}.rope.scaling.type '{scaling}' is not supported.");
        string epsKey = arch + ".attention.layer_norm_rms_epsilon";   // required by llama.cpp for both
        if (!file.Metadata.ContainsKey(epsKey)) throw new InvalidDataException($"{file.Path}: metadata '{epsKey}' is missing.");
        int fileContext = Int(file, arch + ".context_length");
        var config = new ModelConfig
        {
            ModelType = arch,
            VocabSize = VocabSize(file, arch),
            MaxPositions = contextLength > 0 ? contextLength : Math.Min(fileContext, GgufLoadOptions.DefaultContextCap),
            Embd = embd,
            Layers = Int(file, arch + ".block_count"),
            Heads = heads,
            KvHeads = Int(file, arch + ".attention.head_count_kv", heads),
            Intermediate = Int(file, arch + ".feed_forward_length"),
            NormEps = (float)Real(file, epsKey, 0),
            RopeTheta = Real(file, arch + ".rope.freq_base", 10000),
            TieEmbeddings = true,
        };
        return explicitHeadDim is int hd ? config with { HeadDim = hd } : config;
    }

    /// <summary>The tensors of both: gemma2 adds post_attention_norm and post_ffw_norm, and its ffn_norm is the
    /// pre-MLP norm Hugging Face calls pre_feedforward_layernorm (gemma's is post_attention_layernorm).</summary>
    internal static IEnumerable<GgufTensorSlot> Slots(ModelConfig c, bool gemma2)
    {
        int C = c.Embd, D = c.HeadDim, F = c.Intermediate, V = c.VocabSize;
        yield return new("token_embd.weight", "model.embed_tokens.weight", [C, V]);
        for (int l = 0; l < c.Layers; l++)
        {
            string g = $"blk.{l}.", h = $"model.layers.{l}.";
            yield return new(g + "attn_norm.weight", h + "input_layernorm.weight", [C]);
            yield return new(g + "attn_q.weight", h + "self_attn.q_proj.weight", [C, c.Heads * D], Linear: true);
            yield return new(g + "attn_k.weight", h + "self_attn.k_proj.weight", [C, c.KvHeads * D], Linear: true);
            yield return new(g + "attn_v.weight", h + "self_attn.v_proj.weight", [C, c.KvHeads * D], Linear: true);
            yield return new(g + "attn_output.weight", h + "self_attn.o_proj.weight", [c.Heads * D, C], Linear: true);
            if (gemma2) yield return new(g + "post_attention_norm.weight", h + "post_attention_layernorm.weight", [C]);
            yield return new(g + "ffn_norm.weight", h + (gemma2 ? "pre_feedforward_layernorm.weight" : "post_attention_layernorm.weight"), [C]);
            yield return new(g + "ffn_gate.weight", h + "mlp.gate_proj.weight", [C, F], Linear: true);
            yield return new(g + "ffn_up.weight", h + "mlp.up_proj.weight", [C, F], Linear: true);
            yield return new(g + "ffn_down.weight", h + "mlp.down_proj.weight", [F, C], Linear: true);
            if (gemma2) yield return new(g + "post_ffw_norm.weight", h + "post_feedforward_layernorm.weight", [C]);
        }
        yield return new("output_norm.weight", "model.norm.weight", [C]);
    }
}
