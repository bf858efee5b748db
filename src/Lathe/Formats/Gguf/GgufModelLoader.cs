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

/// <summary>Builds a Lathe model from a GGUF file (llama.cpp's tensor names and metadata keys). What each
/// <c>general.architecture</c> means — its keys and its tensor plan — is one file under Architectures/, listed in
/// <see cref="GgufArchitectures"/>; this class finds and checks every planned tensor, then fills the parameters. Every
/// inconsistency is a one-line error naming the file and tensor or key.</summary>
public static class GgufModelLoader
{
    /// <summary>Reads the model shape from the metadata of the file's architecture (<see cref="GgufArchitectures"/>);
    /// an architecture Lathe does not read is refused by name.</summary>
    public static ModelConfig ReadConfig(GgufFile file, int contextLength = 0) => GgufArchitectures.Of(file).ReadConfig(file, contextLength);

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
        var architecture = GgufArchitectures.Of(file);
        var config = architecture.ReadConfig(file, options.ContextLength);
        // Every tensor is found and its dims checked before the model is allocated: the metadata alone could claim any
        // size, the tensors are bounded by the file (GgufFile checked them against its length).
        var slots = new List<GgufTensorSlot>();
        foreach (var slot in architecture.Plan(config))
        {
            if (!GgufMetadata.HasTensor(file, slot.Tensor)) throw new InvalidDataException($"{file.Path}: tensor '{slot.Tensor}' is missing.");
            var info = file.Get(slot.Tensor);
            if (!info.Dims.AsSpan().SequenceEqual(slot.Dims))
                throw new InvalidDataException($"{file.Path}: tensor '{slot.Tensor}' has dims [{string.Join(", ", info.Dims)}], expected [{string.Join(", ", slot.Dims)}] (ggml order, innermost first).");
            slots.Add(slot);
        }
        // A tensor nothing reads would change llama.cpp's output (or make it refuse the file) but not Lathe's.
        var used = new HashSet<string>(architecture.ConfigTensors, StringComparer.Ordinal);
        foreach (var slot in slots) used.Add(slot.Tensor);
        foreach (var t in file.Tensors)
            if (!used.Contains(t.Name))
                throw new InvalidDataException($"{file.Path}: tensor '{t.Name}' is not used by the {architecture.Name} architecture here (unsupported variant).");
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

    /// <summary>The tensor table of a Lathe model's architecture (<see cref="GgufArchitectures.Of(ModelConfig)"/>); the
    /// LoRA adapter format (<see cref="GgufLoraTargets"/>) maps module names with it.</summary>
    internal static IEnumerable<GgufTensorSlot> Plan(ModelConfig c) => GgufArchitectures.Of(c).Plan(c);

    /// <summary>Copies one (already checked) GGUF tensor, or its slice of rows, into its parameter; q/k rows are
    /// un-permuted.</summary>
    static void Fill(GgufFile file, GgufTensorSlot slot, ModelParameter parameter, Func<GgufWeight, bool>? take)
    {
        var info = file.Get(slot.Tensor);
        var target = parameter.Value.AsSpan();
        int cols = (int)slot.Dims[0], rows = slot.Rows;
        bool sliced = slot.RowCount > 0;
        if (slot.Linear && take is not null)
        {
            // Rows of every ggml type are whole blocks, so a row slice of the bytes is the slice's own tensor.
            int rowBytes = checked((int)TypeBytes(info.Type, cols));
            byte[] raw = sliced ? file.Bytes(info).Slice(checked(slot.RowStart * rowBytes), checked(rows * rowBytes)).ToArray() : file.Bytes(info).ToArray();
            if (slot.RopeHeads > 0) raw = GgufRope.UnpermuteRows(raw, rows, rowBytes, slot.RopeHeads);
            if (take(new GgufWeight(parameter.Name, slot.Tensor, info.Type, rows, cols, raw)))
            {
                target.Clear();
                return;
            }
        }
        float[] values = file.ReadFloats(slot.Tensor);
        if (sliced) values = values.AsSpan(checked(slot.RowStart * cols), checked(rows * cols)).ToArray();
        if (slot.RopeHeads > 0) values = GgufRope.UnpermuteRows(values, rows, cols, slot.RopeHeads);
        values.CopyTo(target);
    }

    /// <summary>Bytes of <paramref name="count"/> values of a ggml type.</summary>
    public static long TypeBytes(GgmlType type, long count) => GgmlTypes.Bytes(type, count);

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
