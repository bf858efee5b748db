using Lathe.Models;
using System.Runtime.InteropServices;
using Lathe.Formats;
using Lathe.Tensors.Quantized;
using Lathe.Tokenizers;

namespace Lathe.Formats;

/// <summary>Writes Lathe models as GGUF v3 files llama.cpp runs: a llama model as architecture "llama" (q/k rows
/// permuted into ggml's RoPE order, <see cref="GgufRope"/>), a gpt2 model as architecture "gpt2" (fused attn_qkv,
/// biases, learned positions), with the byte-level BPE tokenizer as <c>tokenizer.ggml.model = "gpt2"</c>. 2-D weights
/// are stored in the requested type when their rows split into 32-value blocks (else F32); norms, biases and position
/// embeddings are always F32. Also re-encodes the tensors of an existing GGUF file (<see cref="Requantize"/>).</summary>
public static class GgufExport
{
    /// <summary>Writes <paramref name="model"/> and its tokenizer to <paramref name="path"/> (atomically).</summary>
    public static void Save(CausalLM model, Tokenizer tokenizer, string path, GgmlType type, string name = "lathe")
    {
        var c = model.Config;
        if (c.NumExperts > 0 || c.PositionEmbeddingType is "sinusoidal" or "alibi" || (c.ModelType == "gpt2" && c.PositionEmbeddingType == "rope"))
            throw new InvalidDataException($"GGUF export: {(c.NumExperts > 0 ? "mixture-of-experts layers" : $"position_embedding_type '{c.PositionEmbeddingType}'")} cannot be exported yet");
        // The Llama variants (ModelConfig.LlamaVariants.cs) would be written as plain llama and run differently there.
        if (c.AttentionQkvBias || c.SlidingWindow > 0 || c.RopeFrequencyDivisors is not null || c.RopeScalingFactor != 1)
            throw new InvalidDataException($"GGUF export: {(c.AttentionQkvBias ? "q/k/v biases (qwen2)" : c.SlidingWindow > 0 ? "sliding_window" : "rope scaling")} cannot be exported yet");
        var w = new GgufWriter();
        string arch = c.ModelType;
        w.Add("general.architecture", arch).Add("general.name", name).Add("general.file_type", FileType(type))
         .Add("general.alignment", 32u)
         .Add(arch + ".context_length", (uint)c.MaxPositions).Add(arch + ".embedding_length", (uint)c.Embd)
         .Add(arch + ".block_count", (uint)c.Layers).Add(arch + ".feed_forward_length", (uint)c.Intermediate)
         .Add(arch + ".attention.head_count", (uint)c.Heads);
        // A model with pruned heads keeps d_model while heads·head_dim shrinks: llama.cpp reads the head width here.
        if (c.HasExplicitHeadDim)
            w.Add(arch + ".attention.key_length", (uint)c.HeadDim).Add(arch + ".attention.value_length", (uint)c.HeadDim);
        if (arch == "llama")
            w.Add("llama.attention.head_count_kv", (uint)c.KvHeads).Add("llama.attention.layer_norm_rms_epsilon", c.NormEps)
             .Add("llama.rope.freq_base", (float)c.RopeTheta).Add("llama.rope.dimension_count", (uint)c.HeadDim)
             .Add("llama.vocab_size", (uint)c.VocabSize);
        else w.Add("gpt2.attention.layer_norm_epsilon", c.NormEps);
        AddTokenizer(w, tokenizer, c.VocabSize);

        var p = new Dictionary<string, ModelParameter>(StringComparer.Ordinal);
        foreach (var parameter in model.Parameters) p[parameter.Name] = parameter;
        if (arch == "llama") AddLlamaTensors(w, c, p, type);
        else AddGpt2Tensors(w, c, p, type);
        w.Save(path);
    }

    static void AddLlamaTensors(GgufWriter w, ModelConfig c, Dictionary<string, ModelParameter> p, GgmlType type)
    {
        Matrix(w, "token_embd.weight", p["model.embed_tokens.weight"], type);
        for (int l = 0; l < c.Layers; l++)
        {
            string g = $"blk.{l}.", h = $"model.layers.{l}.";
            Vector(w, g + "attn_norm.weight", p[h + "input_layernorm.weight"]);
            Matrix(w, g + "attn_q.weight", p[h + "self_attn.q_proj.weight"], type, ropeHeads: c.Heads);
            Matrix(w, g + "attn_k.weight", p[h + "self_attn.k_proj.weight"], type, ropeHeads: c.KvHeads);
            Matrix(w, g + "attn_v.weight", p[h + "self_attn.v_proj.weight"], type);
            Matrix(w, g + "attn_output.weight", p[h + "self_attn.o_proj.weight"], type);
            Vector(w, g + "ffn_norm.weight", p[h + "post_attention_layernorm.weight"]);
            Matrix(w, g + "ffn_gate.weight", p[h + "mlp.gate_proj.weight"], type);
            Matrix(w, g + "ffn_up.weight", p[h + "mlp.up_proj.weight"], type);
            Matrix(w, g + "ffn_down.weight", p[h + "mlp.down_proj.weight"], type);
        }
        Vector(w, "output_norm.weight", p["model.norm.weight"]);
        if (!c.TieEmbeddings) Matrix(w, "output.weight", p["lm_head.weight"], type);
    }

    static void AddGpt2Tensors(GgufWriter w, ModelConfig c, Dictionary<string, ModelParameter> p, GgmlType type)
    {
        Matrix(w, "token_embd.weight", p["transformer.wte.weight"], type);
        Matrix(w, "position_embd.weight", p["transformer.wpe.weight"], GgmlType.F32);
        for (int l = 0; l < c.Layers; l++)
        {
            string g = $"blk.{l}.", h = $"transformer.h.{l}.";
            Vector(w, g + "attn_norm.weight", p[h + "ln_1.weight"]);
            Vector(w, g + "attn_norm.bias", p[h + "ln_1.bias"]);
            // Lathe keeps Conv1D weights as (out, in) in memory, which is ggml's row layout; qkv rows are q | k | v as
            // llama.cpp's gpt2 graph slices them.
            Matrix(w, g + "attn_qkv.weight", p[h + "attn.c_attn.weight"], type);
            Vector(w, g + "attn_qkv.bias", p[h + "attn.c_attn.bias"]);
            Matrix(w, g + "attn_output.weight", p[h + "attn.c_proj.weight"], type);
            Vector(w, g + "attn_output.bias", p[h + "attn.c_proj.bias"]);
            Vector(w, g + "ffn_norm.weight", p[h + "ln_2.weight"]);
            Vector(w, g + "ffn_norm.bias", p[h + "ln_2.bias"]);
            Matrix(w, g + "ffn_up.weight", p[h + "mlp.c_fc.weight"], type);
            Vector(w, g + "ffn_up.bias", p[h + "mlp.c_fc.bias"]);
            Matrix(w, g + "ffn_down.weight", p[h + "mlp.c_proj.weight"], type);
            Vector(w, g + "ffn_down.bias", p[h + "mlp.c_proj.bias"]);
        }
        Vector(w, "output_norm.weight", p["transformer.ln_f.weight"]);
        Vector(w, "output_norm.bias", p["transformer.ln_f.bias"]);
    }

    static void Vector(GgufWriter w, string name, ModelParameter p) =>
        w.AddTensor(name, [p.Value.Dim(0)], GgmlType.F32, Encode(p.Value.AsSpan(), GgmlType.F32));

    static void Matrix(GgufWriter w, string name, ModelParameter p, GgmlType type, int ropeHeads = 0)
    {
        int rows = p.Value.Dim(0), cols = p.Value.Dim(1);
        float[] values = p.Value.AsSpan().ToArray();
        if (ropeHeads > 0) values = GgufRope.PermuteRows(values, rows, cols, ropeHeads);
        var stored = StoredType(type, cols);
        w.AddTensor(name, [cols, rows], stored, Encode(values, stored));
    }

    /// <summary>The type a weight with rows of <paramref name="cols"/> values is stored in: the wanted one, or F32 when
    /// the type's blocks do not tile the rows.</summary>
    public static GgmlType StoredType(GgmlType wanted, long cols) =>
        cols % GgmlTypes.BlockValues(wanted) != 0 ? GgmlType.F32 : wanted;

    /// <summary>Encodes float values in a ggml type's layout (ggml's reference rounding, <see cref="GgmlTypes.Encode"/>).</summary>
    public static byte[] Encode(ReadOnlySpan<float> values, GgmlType type)
    {
        var bytes = new byte[GgufModelLoader.TypeBytes(type, values.Length)];
        GgmlTypes.Encode(type, values, bytes);
        return bytes;
    }

    /// <summary>The values a ggml type stores for <paramref name="values"/> (encode then decode): what a file of that
    /// type holds, for measuring what quantization costs without writing a file.</summary>
    public static void RoundTrip(Span<float> values, GgmlType type)
    {
        if (type == GgmlType.F32) return;
        byte[] bytes = Encode(values, type);
        GgmlTypes.Decode(type, bytes, values);
    }

    /// <summary>Rounds every weight of <paramref name="model"/> that <see cref="Save"/> would store in
    /// <paramref name="type"/> through that type, in place (norms, biases and position embeddings stay F32).</summary>
    public static void RoundTripWeights(CausalLM model, GgmlType type)
    {
        foreach (var p in model.Parameters)
        {
            if (p.Value.Rank != 2 || p.Name == "transformer.wpe.weight") continue;
            RoundTrip(p.Value.AsSpan(), StoredType(type, p.Value.Dim(1)));
        }
    }

    /// <summary>Re-encodes a GGUF file: every 2-D tensor whose name ends in ".weight" (except position_embd) to
    /// <paramref name="type"/> (F32 where blocks do not tile its rows), everything else and all metadata copied, with
    /// general.file_type updated. Row order is unchanged (it stays ggml's).</summary>
    public static void Requantize(GgufFile source, string path, GgmlType type)
    {
        var w = new GgufWriter();
        foreach (var (key, value) in source.Metadata)
        {
            if (key is "general.file_type" or "general.alignment") continue;
            w.Add(key, value is object[] array ? TypedArray(array, key, source.Path) : value);
        }
        w.Add("general.file_type", FileType(type)).Add("general.alignment", 32u);
        foreach (var t in source.Tensors)
        {
            bool weight = t.Dims.Length == 2 && t.Name.EndsWith(".weight", StringComparison.Ordinal) && t.Name != "position_embd.weight";
            var stored = weight ? StoredType(type, t.Dims[0]) : t.Type;
            byte[] data = stored == t.Type ? source.Bytes(t).ToArray() : Encode(source.ReadFloats(t.Name), stored);
            w.AddTensor(t.Name, t.Dims, stored, data);
        }
        w.Save(path);
    }

    // The reader gives arrays as object[]; the writer needs a typed array to know the element type.
    static Array TypedArray(object[] items, string key, string file)
    {
        if (items.Length == 0) return Array.Empty<uint>();
        var elementType = items[0].GetType();
        if (elementType == typeof(object[])) throw new InvalidDataException($"{file}: metadata '{key}' is a nested array, which re-encoding does not copy.");
        var typed = Array.CreateInstance(elementType, items.Length);
        for (int i = 0; i < items.Length; i++) typed.SetValue(items[i], i);
        return typed;
    }

    /// <summary>llama.cpp's general.file_type for an all-of-one-type file (LLAMA_FTYPE_*).</summary>
    static uint FileType(GgmlType type) => type switch { GgmlType.F32 => 0u, GgmlType.F16 => 1u, GgmlType.Q4_0 => 2u, _ => 7u };

    /// <summary>tokenizer.ggml.* for a byte-level BPE tokenizer with the GPT-2 pre-tokenizer, padded with unused tokens
    /// to the model's vocabulary size (llama.cpp wants one token per embedding row).</summary>
    static void AddTokenizer(GgufWriter w, Tokenizer tokenizer, int vocab)
    {
        if (tokenizer.PreTokenizer is not Gpt2PreTokenizer)
            throw new InvalidDataException($"GGUF export: the tokenizer's pre-tokenizer ({tokenizer.PreTokenizer.GetType().Name}) has no llama.cpp equivalent here (GPT-2's is supported).");
        if (tokenizer.VocabSize > vocab)
            throw new InvalidDataException($"GGUF export: the tokenizer has {tokenizer.VocabSize} tokens but the model's vocab_size is {vocab}.");
        var specials = new Dictionary<int, string>();
        foreach (var (text, id) in tokenizer.SpecialTokens) specials[id] = text;
        var tokens = new string[vocab];
        var types = new int[vocab];
        for (int id = 0; id < vocab; id++)
        {
            if (specials.TryGetValue(id, out string? special)) { tokens[id] = special; types[id] = (int)GgmlTokenType.Control; }
            else if (id < tokenizer.Model.VocabSize) { tokens[id] = tokenizer.Model.IdToToken(id)!; types[id] = (int)GgmlTokenType.Normal; }
            else { tokens[id] = $"[PAD{id}]"; types[id] = (int)GgmlTokenType.Unused; }
        }
        var merges = new string[tokenizer.Model.MergeCount];
        for (int m = 0; m < merges.Length; m++)
        {
            var (l, r) = tokenizer.Model.Merges[m];
            merges[m] = tokenizer.Model.IdToToken(l) + " " + tokenizer.Model.IdToToken(r);
        }
        w.Add("tokenizer.ggml.model", "gpt2").Add("tokenizer.ggml.pre", "gpt-2")
         .Add("tokenizer.ggml.tokens", tokens).Add("tokenizer.ggml.token_type", types).Add("tokenizer.ggml.merges", merges)
         .Add("tokenizer.ggml.add_bos_token", false);
        if (tokenizer.EndOfTextId >= 0)
            w.Add("tokenizer.ggml.bos_token_id", (uint)tokenizer.EndOfTextId).Add("tokenizer.ggml.eos_token_id", (uint)tokenizer.EndOfTextId);
    }
}
