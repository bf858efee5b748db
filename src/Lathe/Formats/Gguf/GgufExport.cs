using Lathe.Models;
using System.Runtime.InteropServices;
using Lathe.Formats;
using Lathe.Tensors.Quantized;
using Lathe.Tokenizers;

namespace Lathe.Formats;

/// <summary>Writes Lathe models as GGUF v3 files llama.cpp runs: a llama model as architecture "llama" (q/k rows
/// permuted into ggml's RoPE order, <see cref="GgufRope"/>), a gpt2 model as architecture "gpt2" (fused attn_qkv,
/// biases, learned positions), with the byte-level BPE tokenizer as <c>tokenizer.ggml.model = "gpt2"</c>. Each 2-D
/// weight is stored in the type a <see cref="GgufTypePlan"/> gives it (one type for all, or a llama.cpp preset's mix
/// with an importance row per weight); norms, biases and position embeddings are always F32. Also re-encodes the
/// tensors of an existing GGUF file (<see cref="Requantize(GgufFile, string, GgufTypePlan)"/>).</summary>
public static class GgufExport
{
    /// <summary>Writes <paramref name="model"/> and its tokenizer to <paramref name="path"/> (atomically), every 2-D
    /// weight in <paramref name="type"/> (F32 where its blocks do not tile the rows).</summary>
    public static void Save(CausalLM model, Tokenizer tokenizer, string path, GgmlType type, string name = "lathe") =>
        Save(model, tokenizer, path, GgufTypePlan.Uniform(type), name);

    /// <summary>The GGUF tensors <see cref="Save(CausalLM, Tokenizer, string, GgufTypePlan, string)"/> writes for a
    /// model of <paramref name="config"/>: names and ggml dims, in file order (what a type plan is made from).</summary>
    public static IReadOnlyList<(string Name, long[] Dims)> TensorShapes(ModelConfig config) =>
        GgufModelLoader.Plan(config).Select(s => (s.Tensor, s.Dims)).ToList();

    /// <summary>Writes <paramref name="model"/> and its tokenizer to <paramref name="path"/> (atomically), each weight in
    /// the type <paramref name="plan"/> gives it.</summary>
    public static void Save(CausalLM model, Tokenizer tokenizer, string path, GgufTypePlan plan, string name = "lathe")
    {
        var c = model.Config;
        if (c.NumExperts > 0 || c.PositionEmbeddingType is "sinusoidal" or "alibi" || (c.ModelType == "gpt2" && c.PositionEmbeddingType == "rope"))
            throw new InvalidDataException($"GGUF export: {(c.NumExperts > 0 ? "mixture-of-experts layers" : $"position_embedding_type '{c.PositionEmbeddingType}'")} cannot be exported yet");
        if (c.IsGemma) throw new InvalidDataException($"GGUF export: {c.ModelType} models cannot be exported yet (keep the GGUF file they came from)");
        // The Llama variants (ModelConfig.LlamaVariants.cs) would be written as plain llama and run differently there.
        if (c.AttentionQkvBias || c.SlidingWindow > 0 || c.RopeFrequencyDivisors is not null || c.RopeScalingFactor != 1)
            throw new InvalidDataException($"GGUF export: {(c.AttentionQkvBias ? "q/k/v biases (qwen2)" : c.SlidingWindow > 0 ? "sliding_window" : "rope scaling")} cannot be exported yet");
        var w = new GgufWriter();
        string arch = c.ModelType;
        w.Add("general.architecture", arch).Add("general.name", name).Add("general.file_type", plan.FileType);
        if (plan.WritesQuantizationVersion) w.Add("general.quantization_version", QuantizationVersion);
        w.Add("general.alignment", 32u)
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
        // The loader's table names every tensor in llama.cpp's order (token_embd, blocks, output_norm, output).
        foreach (var slot in GgufModelLoader.Plan(c))
        {
            var parameter = p[slot.Parameter];
            if (slot.Dims.Length == 1) { w.AddTensor(slot.Tensor, slot.Dims, GgmlType.F32, Encode(parameter.Value.AsSpan(), GgmlType.F32)); continue; }
            float[] values = parameter.Value.AsSpan().ToArray();
            int cols = (int)slot.Dims[0], rows = (int)slot.Dims[1];
            if (slot.RopeHeads > 0) values = GgufRope.PermuteRows(values, rows, cols, slot.RopeHeads);
            var stored = plan.TypeOf(slot.Tensor, slot.Dims, GgmlType.F32);
            w.AddTensor(slot.Tensor, slot.Dims, stored, EncodeRows(values, cols, stored, plan.ImportanceOf(slot.Tensor)));
        }
        w.Save(path);
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
    public static void Requantize(GgufFile source, string path, GgmlType type) => Requantize(source, path, GgufTypePlan.Uniform(type));

    /// <summary>Re-encodes a GGUF file with each tensor in the type <paramref name="plan"/> gives it (a tensor the plan
    /// leaves alone is copied byte for byte), all metadata copied, general.file_type set to the plan's.</summary>
    public static void Requantize(GgufFile source, string path, GgufTypePlan plan)
    {
        var w = new GgufWriter();
        foreach (var (key, value) in source.Metadata)
        {
            if (key is "general.file_type" or "general.alignment" or "general.quantization_version") continue;
            w.Add(key, value is object[] array ? TypedArray(array, key, source.Path) : value);
        }
        w.Add("general.file_type", plan.FileType);
        if (plan.WritesQuantizationVersion) w.Add("general.quantization_version", QuantizationVersion);
        w.Add("general.alignment", 32u);
        foreach (var t in source.Tensors)
        {
            var stored = plan.TypeOf(t.Name, t.Dims, t.Type);
            byte[] data = stored == t.Type ? source.Bytes(t).ToArray()
                : EncodeRows(source.ReadFloats(t.Name), checked((int)t.Dims[0]), stored, plan.ImportanceOf(t.Name));
            w.AddTensor(t.Name, t.Dims, stored, data);
        }
        w.Save(path);
    }

    /// <summary>ggml's GGML_QNT_VERSION, which llama.cpp's quantizer writes as general.quantization_version.</summary>
    const uint QuantizationVersion = 2;

    /// <summary>Encodes a (rows, <paramref name="cols"/>) weight row by row, each row weighted by
    /// <paramref name="importance"/> (one weight per column) when given; rows are independent, so they are encoded in
    /// parallel and the bytes do not depend on the thread count.</summary>
    static byte[] EncodeRows(float[] values, int cols, GgmlType type, float[]? importance)
    {
        var bytes = new byte[GgufModelLoader.TypeBytes(type, values.Length)];
        if (importance is null) { GgmlTypes.Encode(type, values, bytes); return bytes; }
        if (importance.Length != cols) throw new ArgumentException($"GGUF export: {importance.Length} importance weights for rows of {cols} values.");
        int rows = values.Length / cols;
        long rowBytes = GgmlTypes.Bytes(type, cols);
        Parallel.For(0, rows, r => GgmlTypes.Encode(type, values.AsSpan(r * cols, cols), bytes.AsSpan(checked((int)(r * rowBytes)), (int)rowBytes), importance));
        return bytes;
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
