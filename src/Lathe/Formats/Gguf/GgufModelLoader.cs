using Lathe.Models;
using Lathe.Tensors.Quantized;

namespace Lathe.Formats;

/// <summary>A linear weight of a GGUF file in its stored ggml type, handed to a <see cref="GgufLoadOptions.TakeWeight"/>
/// callback before it would be dequantized. <see cref="Data"/> holds <see cref="Rows"/> rows of <see cref="Cols"/>
/// values each (the engine's (out, in) layout, rows already in Lathe's order — see <see cref="GgufRope"/>), every row
/// <see cref="GgufWeight.RowBytes"/> long.</summary>
public sealed record GgufWeight(string ParameterName, string TensorName, GgmlType Type, int Rows, int Cols, byte[] Data)
{
    /// <summary>Bytes per row in <see cref="Type"/>.</summary>
    public int RowBytes => (int)GgufModelLoader.TypeBytes(Type, Cols);
}

/// <summary>How <see cref="GgufModelLoader"/> builds a model.</summary>
public sealed record GgufLoadOptions
{
    /// <summary>Context (KV cache and RoPE table size); 0 = the file's llama.context_length capped at
    /// <see cref="DefaultContextCap"/>, since the cache is preallocated to the full context.</summary>
    public int ContextLength { get; init; }

    public const int DefaultContextCap = 4096;

    /// <summary>Called for every 2-D linear weight (attention and MLP projections, output head) before it is converted;
    /// returning true means the callee keeps it (e.g. as a quantized matrix) and the model's F32 parameter is left
    /// zero. Null: every weight is dequantized into the model's F32 parameters.</summary>
    public Func<GgufWeight, bool>? TakeWeight { get; init; }
}

/// <summary>Builds a Lathe <see cref="LlamaModel"/> from a llama-architecture GGUF file (llama.cpp's tensor names and
/// metadata keys), or a <see cref="Gpt2Model"/> from a gpt2-architecture one. F32, F16, Q8_0 and Q4_0 tensors are read; the q/k projections are un-permuted from ggml's RoPE row
/// order to Hugging Face's (<see cref="GgufRope"/>). Every inconsistency is a one-line error naming the file and tensor
/// or key.</summary>
public static class GgufModelLoader
{
    /// <summary>Reads the model shape from the <c>llama.*</c> or <c>gpt2.*</c> metadata.</summary>
    public static ModelConfig ReadConfig(GgufFile file, int contextLength = 0)
    {
        string arch = file.Metadata.TryGetValue("general.architecture", out var a) && a is string s ? s
            : throw new InvalidDataException($"{file.Path}: metadata 'general.architecture' is missing.");
        return arch switch
        {
            "llama" => ReadLlamaConfig(file, contextLength),
            "gpt2" => ReadGpt2Config(file),
            _ => throw new InvalidDataException($"{file.Path}: general.architecture '{arch}' is not supported (llama, gpt2)."),
        };
    }

    /// <summary>GPT-2 as llama.cpp's "gpt2" architecture (what <see cref="GgufExport"/> writes): learned positions, so the
    /// context is the file's; the head must be tied to token_embd (Lathe's GPT-2 always ties).</summary>
    static ModelConfig ReadGpt2Config(GgufFile file)
    {
        if (HasTensor(file, "output.weight"))
            throw new InvalidDataException($"{file.Path}: tensor 'output.weight': a gpt2 head separate from token_embd is not supported.");
        int heads = Int(file, "gpt2.attention.head_count");
        int? headDim = HeadDim(file, "gpt2", Int(file, "gpt2.embedding_length"), heads);
        int vocab = file.Metadata.TryGetValue("tokenizer.ggml.tokens", out var tokens) && tokens is object[] list ? list.Length
            : HasTensor(file, "token_embd.weight") ? (int)file.Get("token_embd.weight").Dims[^1]
            : throw new InvalidDataException($"{file.Path}: tensor 'token_embd.weight' is missing.");
        var config = new ModelConfig
        {
            ModelType = "gpt2",
            VocabSize = vocab,
            MaxPositions = Int(file, "gpt2.context_length"),
            Embd = Int(file, "gpt2.embedding_length"),
            Layers = Int(file, "gpt2.block_count"),
            Heads = heads,
            KvHeads = heads,
            Intermediate = Int(file, "gpt2.feed_forward_length"),
            NormEps = (float)Real(file, "gpt2.attention.layer_norm_epsilon", 1e-5),
            TieEmbeddings = true,
        };
        if (headDim is int d) config = config with { HeadDim = d };
        try { return config.Validate(); }
        catch (InvalidDataException e) { throw new InvalidDataException($"{file.Path}: {e.Message}"); }
    }

    static ModelConfig ReadLlamaConfig(GgufFile file, int contextLength)
    {
        int embd = Int(file, "llama.embedding_length");
        int heads = Int(file, "llama.attention.head_count");
        int kvHeads = file.Metadata.ContainsKey("llama.attention.head_count_kv") ? Int(file, "llama.attention.head_count_kv") : heads;
        int? explicitHeadDim = HeadDim(file, "llama", embd, heads);
        if (explicitHeadDim is null && (heads <= 0 || embd % heads != 0))
            throw new InvalidDataException($"{file.Path}: llama.attention.head_count {heads} does not divide llama.embedding_length {embd}.");
        int headDim = explicitHeadDim ?? embd / heads;
        if (file.Metadata.ContainsKey("llama.rope.dimension_count") && Int(file, "llama.rope.dimension_count") != headDim)
            throw new InvalidDataException($"{file.Path}: llama.rope.dimension_count {Int(file, "llama.rope.dimension_count")} differs from the head dimension {headDim} (partial rotary is not supported).");
        if (file.Metadata.TryGetValue("llama.rope.scaling.type", out var scaling) && scaling is string st && st != "none")
            throw new InvalidDataException($"{file.Path}: llama.rope.scaling.type '{st}' is not supported.");
        int vocab = file.Metadata.ContainsKey("llama.vocab_size") ? Int(file, "llama.vocab_size")
            : file.Metadata.TryGetValue("tokenizer.ggml.tokens", out var tokens) && tokens is object[] list ? list.Length
            : (int)file.Get("token_embd.weight").Dims[^1];
        int fileContext = Int(file, "llama.context_length");
        int context = contextLength > 0 ? contextLength : Math.Min(fileContext, GgufLoadOptions.DefaultContextCap);
        var config = new ModelConfig
        {
            ModelType = "llama",
            VocabSize = vocab,
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
        try { return config.Validate(); }
        catch (InvalidDataException e) { throw new InvalidDataException($"{file.Path}: {e.Message}"); }
    }

    // attention.key_length / value_length: the head width when it is not embedding_length / head_count (pruned heads);
    // null when absent or equal to that. Keys and values of different widths are not supported.
    static int? HeadDim(GgufFile file, string arch, int embd, int heads)
    {
        string kKey = arch + ".attention.key_length", vKey = arch + ".attention.value_length";
        int? k = file.Metadata.ContainsKey(kKey) ? Int(file, kKey) : null, v = file.Metadata.ContainsKey(vKey) ? Int(file, vKey) : null;
        if (k is null && v is null) return null;
        if (k is null || v is null || k != v || k <= 0)
            throw new InvalidDataException($"{file.Path}: {kKey} {k?.ToString() ?? "missing"} and {vKey} {v?.ToString() ?? "missing"} must be equal and positive.");
        return heads > 0 && embd % heads == 0 && k == embd / heads ? null : k;
    }

    /// <summary>Opens <paramref name="path"/> and builds its model.</summary>
    public static CausalLM Load(string path, GgufLoadOptions? options = null)
    {
        using var file = GgufFile.Open(path);
        return Load(file, options);
    }

    /// <summary>Builds the model of an open GGUF file; the file may be disposed afterwards unless a
    /// <see cref="GgufLoadOptions.TakeWeight"/> callee keeps views of it (it gets copies, so it need not).</summary>
    public static CausalLM Load(GgufFile file, GgufLoadOptions? options = null)
    {
        options ??= new GgufLoadOptions();
        var config = ReadConfig(file, options.ContextLength);
        // Every tensor is found and its dims checked before the model is allocated: the metadata alone could claim any
        // size, the tensors are bounded by the file (GgufFile checked them against its length).
        var slots = new List<Slot>();
        foreach (var slot in Plan(config))
        {
            if (!HasTensor(file, slot.Tensor)) throw new InvalidDataException($"{file.Path}: tensor '{slot.Tensor}' is missing.");
            var info = file.Get(slot.Tensor);
            if (!info.Dims.AsSpan().SequenceEqual(slot.Dims))
                throw new InvalidDataException($"{file.Path}: tensor '{slot.Tensor}' has dims [{string.Join(", ", info.Dims)}], expected [{string.Join(", ", slot.Dims)}] (ggml order, innermost first).");
            slots.Add(slot);
        }
        var model = CausalLM.Create(config, seed: 0);
        try
        {
            var byName = new Dictionary<string, ModelParameter>(StringComparer.Ordinal);
            foreach (var p in model.Parameters) byName[p.Name] = p;
            foreach (var slot in slots) Fill(file, slot, byName[slot.Parameter], options.TakeWeight);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>One GGUF tensor and the parameter it becomes: ggml dims, whether it is a linear weight (offered to
    /// <see cref="GgufLoadOptions.TakeWeight"/>), and the head count of a q/k projection whose rows are un-permuted.
    /// Internal so that the LoRA adapter format (<see cref="GgufLoraTargets"/>) maps module names with this same table.</summary>
    internal readonly record struct Slot(string Tensor, string Parameter, long[] Dims, bool Linear = false, int RopeHeads = 0);

    internal static IEnumerable<Slot> Plan(ModelConfig c)
    {
        int C = c.Embd, D = c.HeadDim, F = c.Intermediate, V = c.VocabSize;
        if (c.ModelType == "gpt2")
        {
            // llama.cpp's gpt2 tensors; Lathe keeps Conv1D weights (out, in) in memory, which is ggml's row layout.
            yield return new("token_embd.weight", "transformer.wte.weight", [C, V]);
            yield return new("position_embd.weight", "transformer.wpe.weight", [C, c.MaxPositions]);
            for (int l = 0; l < c.Layers; l++)
            {
                string g = $"blk.{l}.", h = $"transformer.h.{l}.";
                yield return new(g + "attn_norm.weight", h + "ln_1.weight", [C]);
                yield return new(g + "attn_norm.bias", h + "ln_1.bias", [C]);
                yield return new(g + "attn_qkv.weight", h + "attn.c_attn.weight", [C, 3 * c.Heads * D], Linear: true);
                yield return new(g + "attn_qkv.bias", h + "attn.c_attn.bias", [3 * c.Heads * D]);
                yield return new(g + "attn_output.weight", h + "attn.c_proj.weight", [c.Heads * D, C], Linear: true);
                yield return new(g + "attn_output.bias", h + "attn.c_proj.bias", [C]);
                yield return new(g + "ffn_norm.weight", h + "ln_2.weight", [C]);
                yield return new(g + "ffn_norm.bias", h + "ln_2.bias", [C]);
                yield return new(g + "ffn_up.weight", h + "mlp.c_fc.weight", [C, F], Linear: true);
                yield return new(g + "ffn_up.bias", h + "mlp.c_fc.bias", [F]);
                yield return new(g + "ffn_down.weight", h + "mlp.c_proj.weight", [F, C], Linear: true);
                yield return new(g + "ffn_down.bias", h + "mlp.c_proj.bias", [C]);
            }
            yield return new("output_norm.weight", "transformer.ln_f.weight", [C]);
            yield return new("output_norm.bias", "transformer.ln_f.bias", [C]);
            yield break;
        }
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

    /// <summary>Copies one (already checked) GGUF tensor into its parameter; q/k rows are un-permuted.</summary>
    static void Fill(GgufFile file, Slot slot, ModelParameter parameter, Func<GgufWeight, bool>? take)
    {
        var info = file.Get(slot.Tensor);
        var target = parameter.Value.AsSpan();
        int cols = (int)slot.Dims[0], rows = slot.Dims.Length == 2 ? (int)slot.Dims[1] : 1;
        if (slot.Linear && take is not null)
        {
            byte[] raw = file.Bytes(info).ToArray();
            if (slot.RopeHeads > 0) raw = GgufRope.UnpermuteRows(raw, rows, checked((int)TypeBytes(info.Type, cols)), slot.RopeHeads);
            if (take(new GgufWeight(parameter.Name, slot.Tensor, info.Type, rows, cols, raw)))
            {
                target.Clear();
                return;
            }
        }
        float[] values = file.ReadFloats(slot.Tensor);
        if (slot.RopeHeads > 0) values = GgufRope.UnpermuteRows(values, rows, cols, slot.RopeHeads);
        values.CopyTo(target);
    }

    /// <summary>Bytes of <paramref name="count"/> values of a ggml type.</summary>
    public static long TypeBytes(GgmlType type, long count) => GgmlTypes.Bytes(type, count);

    static bool HasTensor(GgufFile file, string name)
    {
        foreach (var t in file.Tensors) if (t.Name == name) return true;
        return false;
    }

    /// <summary>An integer metadata value of any GGUF integer type, range-checked to int.</summary>
    internal static int Int(GgufFile file, string key)
    {
        if (!file.Metadata.TryGetValue(key, out var v)) throw new InvalidDataException($"{file.Path}: metadata '{key}' is missing.");
        long n = v switch
        {
            byte b => b, sbyte sb => sb, ushort us => us, short s => s, uint u => u, int i => i,
            ulong ul => ul > int.MaxValue ? -1 : (long)ul, long l => l,
            _ => throw new InvalidDataException($"{file.Path}: metadata '{key}' is a {v.GetType().Name}, not an integer."),
        };
        if (n <= 0 || n > int.MaxValue) throw new InvalidDataException($"{file.Path}: metadata '{key}' = {v} is out of range.");
        return (int)n;
    }

    static double Real(GgufFile file, string key, double fallback)
    {
        if (!file.Metadata.TryGetValue(key, out var v)) return fallback;
        double d = v switch
        {
            float f => f, double x => x,
            _ => throw new InvalidDataException($"{file.Path}: metadata '{key}' is a {v.GetType().Name}, not a float."),
        };
        if (!(d > 0) || double.IsInfinity(d)) throw new InvalidDataException($"{file.Path}: metadata '{key}' = {d} must be positive.");
        return d;
    }

    /// <summary>Loads a GGUF model (<see cref="GgufModelLoader"/>) keeping its F16/Q8_0/Q4_0 linear weights in their stored
    /// type: the bytes become each layer's <see cref="QuantizedMatrix"/> instead of being decoded to F32 (F32 tensors stay
    /// F32). A head tied to token_embd is given token_embd's own type, as llama.cpp computes it. Inference only.</summary>
    public static CausalLM LoadQuantized(string path, int contextLength = 0)
    {
        var taken = new Dictionary<string, QuantizedMatrix>(StringComparer.Ordinal);
        try
        {
            using var file = GgufFile.Open(path);
            var options = new GgufLoadOptions
            {
                ContextLength = contextLength,
                TakeWeight = w =>
                {
                    if (ToQuantType(w.Type) is not { } type) return false;
                    taken[w.ParameterName] = QuantizedMatrix.FromBytes(w.Data, w.Rows, w.Cols, type);
                    return true;
                },
            };
            var model = Load(file, options);
            QuantType? embeddingType = file.Tensors.Any(t => t.Name == "token_embd.weight") ? ToQuantType(file.Get("token_embd.weight").Type) : null;
            foreach (var layer in model.Linears)
            {
                if (layer.Weight.Name is { } name && taken.Remove(name, out var m)) { layer.Quantized = m; layer.Weight.Dispose(); }
                else if (layer.SharesWeight && embeddingType is { } t && layer.Weight.Dim(1) % QuantTypes.BlockValues(t) == 0)
                    // The tied head multiplies token_embd's own bytes (V rows of C values, never rope-permuted): a k-quant
                    // re-encoded from its decoded values would not give them back.
                    layer.Quantized = QuantizedMatrix.FromBytes(file.Bytes(file.Get("token_embd.weight")), layer.Weight.Dim(0), layer.Weight.Dim(1), t);
            }
            model.PrepareQuantized();
            Lathe.Tensors.Storage.BufferPool.Trim();
            return model;
        }
        finally
        {
            foreach (var m in taken.Values) m.Dispose();   // anything not attached to a layer
        }
    }

    static QuantType? ToQuantType(GgmlType type) => GgmlTypes.ToQuantType(type);
}
