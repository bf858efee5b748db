using Lathe.Models;
using static Lathe.Formats.GgufMetadata;

namespace Lathe.Formats;

/// <summary>llama.cpp's "llama" architecture (Llama 1/2/3, Mistral, and the many files converted as llama): RMSNorm,
/// grouped-query attention with ggml's adjacent-pair RoPE — the converter permuted the q/k rows for it, so they are
/// un-permuted back to Hugging Face's rotate_half order (<see cref="GgufRope"/>) — and a SwiGLU MLP.
/// Llama 3's RoPE frequency scaling comes as the optional F32 tensor rope_freqs.weight (one divisor per frequency, what
/// the converter computes from rope_scaling's factor, low/high frequency factors and original context); linear scaling
/// as rope.scaling.type "linear" with rope.scaling.factor. Mistral's <c>llama.attention.sliding_window</c> is not
/// read: llama.cpp does not read it for this architecture and attends over the whole context, so Lathe does too
/// (Hugging Face's MistralForCausalLM would slide the window; past the window the two differ).</summary>
internal sealed class GgufLlama : IGgufArchitecture
{
    public string Name => "llama";

    public ModelConfig ReadConfig(GgufFile file, int contextLength)
    {
        var config = ReadLayoutConfig(file, "llama", contextLength, VocabSize(file, "llama"));
        if (HasTensor(file, "rope_freqs.weight")) config = config with { RopeFrequencyDivisors = RopeFrequencyDivisors(file, config.HeadDim) };
        return Validated(file, config);
    }

    public IReadOnlyList<string> ConfigTensors => ["rope_freqs.weight"];

    public IEnumerable<GgufTensorSlot> Plan(ModelConfig c) => Layout(c, ggmlRopeOrder: true);

    /// <summary>The keys every Llama-layout architecture shares (<c>ARCH.embedding_length</c>, head counts, RMS epsilon,
    /// rope base and scaling, context), as a llama <see cref="ModelConfig"/>; not yet validated.</summary>
    internal static ModelConfig ReadLayoutConfig(GgufFile file, string arch, int contextLength, int vocab)
    {
        int embd = Int(file, arch + ".embedding_length");
        int heads = Int(file, arch + ".attention.head_count");
        int kvHeads = Int(file, arch + ".attention.head_count_kv", heads);
        int? explicitHeadDim = HeadDim(file, arch, embd, heads);
        if (explicitHeadDim is null && (heads <= 0 || embd % heads != 0))
            throw new InvalidDataException($"{file.Path}: {arch}.attention.head_count {heads} does not divide {arch}.embedding_length {embd}.");
        int headDim = explicitHeadDim ?? embd / heads;
        string rotKey = arch + ".rope.dimension_count";
        if (file.Metadata.ContainsKey(rotKey) && Int(file, rotKey) != headDim)
            throw new InvalidDataException($"{file.Path}: {rotKey} {Int(file, rotKey)} differs from the head dimension {headDim} (partial rotary is not supported).");
        int fileContext = Int(file, arch + ".context_length");
        int context = contextLength > 0 ? contextLength : Math.Min(fileContext, GgufLoadOptions.DefaultContextCap);
        var config = new ModelConfig
        {
            ModelType = "llama",
            VocabSize = vocab,
            MaxPositions = context,
            Embd = embd,
            Layers = Int(file, arch + ".block_count"),
            Heads = heads,
            KvHeads = kvHeads,
            Intermediate = Int(file, arch + ".feed_forward_length"),
            NormEps = (float)Real(file, arch + ".attention.layer_norm_rms_epsilon", 1e-5),
            RopeTheta = Real(file, arch + ".rope.freq_base", 10000),
            RopeScalingFactor = LinearRopeScaling(file, arch),
            TieEmbeddings = !HasTensor(file, "output.weight"),
        };
        if (explicitHeadDim is int hd) config = config with { HeadDim = hd };
        return config;
    }

    // llama.cpp reads rope.scaling.type (default "linear") and rope.scaling.factor (or the older rope.scale_linear);
    // a factor f divides positions by f. YaRN and LongRoPE change more than positions and are refused by name.
    static double LinearRopeScaling(GgufFile file, string arch)
    {
        string typeKey = arch + ".rope.scaling.type";
        string type = String(file, typeKey) ?? "linear";
        if (type == "none") return 1;
        if (type != "linear") throw new InvalidDataException($"{file.Path}: {typeKey} '{type}' is not supported (none, linear).");
        string factorKey = file.Metadata.ContainsKey(arch + ".rope.scaling.factor") ? arch + ".rope.scaling.factor" : arch + ".rope.scale_linear";
        if (!file.Metadata.TryGetValue(factorKey, out var v) || v is float and 0f) return 1;   // 0 or absent: no scaling
        return Real(file, factorKey, 1);
    }

    // rope_freqs.weight: F32, one divisor per rotary frequency (head dim / 2).
    static float[] RopeFrequencyDivisors(GgufFile file, int headDim)
    {
        var info = file.Get("rope_freqs.weight");
        if (info.Type != GgmlType.F32 || info.Dims.Length != 1 || info.Dims[0] != headDim / 2)
            throw new InvalidDataException($"{file.Path}: tensor 'rope_freqs.weight' must be F32 [{headDim / 2}] (one divisor per rotary frequency), not {info.Type} [{string.Join(", ", info.Dims)}].");
        float[] divisors = file.ReadFloats("rope_freqs.weight");
        foreach (float d in divisors)
            if (!(d > 0) || float.IsInfinity(d)) throw new InvalidDataException($"{file.Path}: tensor 'rope_freqs.weight' holds {d}; divisors must be positive and finite.");
        return divisors;
    }

    /// <summary>The Llama tensor layout shared by llama and qwen2 (q/k/v biases when the config has them). q/k rows are
    /// un-permuted only when the converter wrote them for ggml's adjacent-pair RoPE (<paramref name="ggmlRopeOrder"/>:
    /// llama; qwen2 uses NEOX RoPE, Hugging Face's order, and is stored as is).</summary>
    internal static IEnumerable<GgufTensorSlot> Layout(ModelConfig c, bool ggmlRopeOrder)
    {
        int C = c.Embd, D = c.HeadDim, F = c.Intermediate, V = c.VocabSize;
        int qHeads = ggmlRopeOrder ? c.Heads : 0, kHeads = ggmlRopeOrder ? c.KvHeads : 0;
        yield return new("token_embd.weight", "model.embed_tokens.weight", [C, V]);
        for (int l = 0; l < c.Layers; l++)
        {
            string g = $"blk.{l}.", h = $"model.layers.{l}.";
            yield return new(g + "attn_norm.weight", h + "input_layernorm.weight", [C]);
            yield return new(g + "attn_q.weight", h + "self_attn.q_proj.weight", [C, c.Heads * D], Linear: true, RopeHeads: qHeads);
            yield return new(g + "attn_k.weight", h + "self_attn.k_proj.weight", [C, c.KvHeads * D], Linear: true, RopeHeads: kHeads);
            yield return new(g + "attn_v.weight", h + "self_attn.v_proj.weight", [C, c.KvHeads * D], Linear: true);
            if (c.AttentionQkvBias)   // qwen2 only (NEOX order): a llama file's biases are unplanned tensors, refused
            {
                yield return new(g + "attn_q.bias", h + "self_attn.q_proj.bias", [c.Heads * D]);
                yield return new(g + "attn_k.bias", h + "self_attn.k_proj.bias", [c.KvHeads * D]);
                yield return new(g + "attn_v.bias", h + "self_attn.v_proj.bias", [c.KvHeads * D]);
            }
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
