using System.Globalization;
using Lathe.Formats;

namespace Lathe.Compression;

/// <summary>What the rules chose for one tensor: the type llama.cpp's quantizer would write (ggml_type_name spelling,
/// e.g. "q5_0"), the type Lathe stores, and why they differ when they do.</summary>
public readonly record struct TensorTypeChoice(string Name, string LlamaType, GgmlType Stored, string? Substitution);

/// <summary>The facts of a model the mix rules read: layer count (llama.cpp's n_layer) and the query-per-kv-head ratio
/// (n_gqa = heads / kv heads).</summary>
public readonly record struct MixModelShape(int Layers, int Heads, int KvHeads)
{
    public int Gqa => KvHeads > 0 ? Heads / KvHeads : 1;
}

/// <summary>llama.cpp's per-tensor type rules for its presets (src/llama-quant.cpp: llama_tensor_get_type and
/// tensor_type_fallback), so that a Lathe q4_k_m file has the tensor types llama.cpp's has: the output head (and a
/// tied token embedding) in Q6_K, attn_v and ffn_down of the "more bits" layers raised, attn_output raised in the
/// low-bit mixes, and a fallback to a 32-block type when a row does not split into 256-value super-blocks.
/// <para>Rules for architectures and sizes Lathe does not write are left out: Falcon, 8-expert models, the 70B attn_v
/// bump and the IQ/TQ/MXFP4 presets. llama.cpp falls back to Q4_1, Q5_0 and Q5_1, which Lathe does not have: those
/// tensors are stored in Q8_0 (never fewer bits than llama.cpp's choice; the file is somewhat larger), and the choice
/// says so.</para></summary>
public static class QuantizationMix
{
    /// <summary>The type of every tensor of a model under <paramref name="preset"/>. <paramref name="tensors"/> gives
    /// each tensor's GGUF name, ggml dims (Dims[0] = row length) and current type; tensors llama.cpp does not quantize
    /// (1-D, norms, position embeddings) keep their type. <paramref name="hasImatrix"/>: an importance matrix is given
    /// (one Q4_0 rule reads it). <paramref name="pure"/>: llama.cpp's --pure, every weight in the base type (fallbacks
    /// still apply).</summary>
    public static TensorTypeChoice[] Choose(QuantizationPreset preset, IReadOnlyList<(string Name, long[] Dims, GgmlType Type)> tensors,
        MixModelShape shape, bool hasImatrix = false, bool pure = false)
    {
        // llama.cpp walks the tensors in its loader's order (layer number, then name) and counts attn_v and ffn_down
        // as it goes; the counters stand for layer indices in the rules below.
        var order = Enumerable.Range(0, tensors.Count).ToArray();
        Array.Sort(order, (a, b) => CompareLoaderOrder(tensors[a].Name, tensors[b].Name));
        var state = new State
        {
            Preset = preset, Shape = shape, HasImatrix = hasImatrix,
            AttentionVCount = tensors.Count(t => IsAttentionVLike(CategoryOf(t.Name))),
            TiedEmbeddings = !tensors.Any(t => t.Name == "output.weight"),
        };
        var result = new TensorTypeChoice[tensors.Count];
        foreach (int i in order)
        {
            var (name, dims, type) = tensors[i];
            string llama = !AllowsQuantization(name, dims) ? TypeName(type)
                : !preset.IsQuantized ? TypeName(preset.BaseType)
                : Fallback(pure ? TypeName(preset.BaseType) : RuleType(state, name, dims[0]), dims[0]);
            result[i] = Store(name, llama);
        }
        return result;
    }

    /// <summary>llama.cpp's tensor_allows_quantization for the tensors Lathe writes: 2-D and more, the name ends in
    /// "weight", not a norm, not position embeddings or token types.</summary>
    public static bool AllowsQuantization(string name, long[] dims) =>
        dims.Length >= 2 && name.EndsWith("weight", StringComparison.Ordinal) && !name.Contains("_norm.weight", StringComparison.Ordinal)
        && name != "position_embd.weight" && name != "token_types.weight" && !name.Contains("ffn_gate_inp.weight", StringComparison.Ordinal);

    sealed class State
    {
        public required QuantizationPreset Preset;
        public required MixModelShape Shape;
        public required bool HasImatrix;
        public required int AttentionVCount;
        public required bool TiedEmbeddings;
        public int AttentionV, FfnDown;
    }

    enum Category { Other, Output, TokenEmbedding, AttentionQkv, AttentionV, AttentionK, AttentionQ, AttentionOutput, FfnUp, FfnGate, FfnDown }

    // llama.cpp's tensor_get_category: substring tests in this order.
    static Category CategoryOf(string name) =>
        name == "output.weight" ? Category.Output
        : name == "token_embd.weight" ? Category.TokenEmbedding
        : name.Contains("attn_qkv.weight", StringComparison.Ordinal) ? Category.AttentionQkv
        : name.Contains("attn_v.weight", StringComparison.Ordinal) ? Category.AttentionV
        : name.Contains("attn_k.weight", StringComparison.Ordinal) ? Category.AttentionK
        : name.Contains("attn_q.weight", StringComparison.Ordinal) ? Category.AttentionQ
        : name.Contains("attn_output.weight", StringComparison.Ordinal) ? Category.AttentionOutput
        : name.Contains("ffn_up", StringComparison.Ordinal) ? Category.FfnUp
        : name.Contains("ffn_gate", StringComparison.Ordinal) ? Category.FfnGate
        : name.Contains("ffn_down", StringComparison.Ordinal) ? Category.FfnDown
        : Category.Other;

    static bool IsAttentionVLike(Category c) => c is Category.AttentionV or Category.AttentionQkv;

    // The layers that get more bits: the first and last eighth, and every third layer between.
    static bool UseMoreBits(int layer, int layers) => layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2;

    /// <summary>llama_tensor_get_type_impl for the presets of <see cref="QuantizationPresets"/>.</summary>
    static string RuleType(State s, string name, long rowLength)
    {
        string p = s.Preset.Name, type = TypeName(s.Preset.BaseType);
        var category = CategoryOf(name);
        if (category == Category.Output || (s.TiedEmbeddings && category == Category.TokenEmbedding))
        {
            // The head is the most sensitive matrix: Q6_K, or Q8_0 when the base type's blocks do not tile its rows.
            if (rowLength % BlockValues(type) != 0) return "q8_0";
            return type == "q8_0" ? type : "q6_K";
        }
        if (category == Category.TokenEmbedding) return type;
        if (IsAttentionVLike(category))
        {
            int i = s.AttentionV++, n = s.AttentionVCount;
            return p switch
            {
                "q2_k" => s.Shape.Gqa >= 4 ? "q4_K" : "q3_K",
                "q3_k_m" => i < 2 ? "q5_K" : "q4_K",
                "q3_k_l" => "q5_K",
                "q4_k_m" or "q5_k_m" when UseMoreBits(i, n) => "q6_K",
                "q4_k_s" when i < 4 => "q5_K",
                _ => type,
            };
        }
        if (category == Category.FfnDown)
        {
            int i = s.FfnDown++, n = s.Shape.Layers;
            return p switch
            {
                "q2_k" => "q3_K",
                "q3_k_m" => i < n / 16 ? "q5_K" : "q4_K",
                "q3_k_l" => "q5_K",
                "q4_k_m" or "q5_k_m" when UseMoreBits(i, n) => "q6_K",
                "q4_k_s" when i < n / 8 => "q5_K",
                // with an importance matrix llama.cpp guards the first ffn_down layers of Q4_0 with Q4_1
                "q4_0" when s.HasImatrix && i < n / 8 => "q4_1",
                _ => type,
            };
        }
        if (category == Category.AttentionOutput)
            return p switch { "q2_k" => "q3_K", "q3_k_m" => "q4_K", "q3_k_l" => "q5_K", _ => type };
        return type;
    }

    /// <summary>tensor_type_fallback: a 256-block type whose super-blocks do not tile the row becomes a 32-block type;
    /// if even those do not fit, F16.</summary>
    static string Fallback(string type, long rowLength)
    {
        if (rowLength % BlockValues(type) == 0) return type;
        string fallback = type switch
        {
            "q2_K" or "q3_K" => "q4_0",
            "q4_K" => "q5_0",
            "q5_K" => "q5_1",
            "q6_K" => "q8_0",
            _ => type,
        };
        return rowLength % BlockValues(fallback) == 0 ? fallback : "f16";
    }

    static TensorTypeChoice Store(string name, string llama) => llama switch
    {
        "q4_1" or "q5_0" or "q5_1" => new(name, llama, GgmlType.Q8_0, $"llama.cpp writes {llama}, which Lathe lacks: stored as q8_0"),
        _ => new(name, llama, ParseTypeName(llama), null),
    };

    static int BlockValues(string type) => type switch
    {
        "q2_K" or "q3_K" or "q4_K" or "q5_K" or "q6_K" => 256,
        "q4_0" or "q4_1" or "q5_0" or "q5_1" or "q8_0" => 32,
        _ => 1,
    };

    /// <summary>ggml_type_name of a Lathe type ("q4_K", "bf16").</summary>
    public static string TypeName(GgmlType type) => type switch
    {
        GgmlType.Q2_K or GgmlType.Q3_K or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K => type.ToString().ToLowerInvariant()[..2] + "_K",
        _ => type.ToString().ToLowerInvariant(),
    };

    static GgmlType ParseTypeName(string name) => Enum.Parse<GgmlType>(name, ignoreCase: true);

    // llama_model_loader's weight_name_comparer: by the number after "blk." (-1 without one), then by name (ordinal).
    static int CompareLoaderOrder(string a, string b)
    {
        int la = LayerOf(a), lb = LayerOf(b);
        return la != lb ? la.CompareTo(lb) : string.CompareOrdinal(a, b);
    }

    static int LayerOf(string name)
    {
        if (!name.StartsWith("blk.", StringComparison.Ordinal)) return -1;
        int end = name.IndexOf('.', 4);
        return end > 4 && int.TryParse(name.AsSpan(4, end - 4), NumberStyles.None, CultureInfo.InvariantCulture, out int layer) ? layer : -1;
    }
}
