using Lathe.Formats;
using Lathe.Tensors.Quantized;

namespace Lathe.Models;

/// <summary>Turns a model's linear layers into quantized ones for inference: every attention projection, MLP matrix and
/// the lm_head get a <see cref="QuantizedMatrix"/> made by ggml's reference quantizers; embeddings and norms stay F32
/// (as llama.cpp keeps norms F32).</summary>
public static class ModelQuantizer
{
    /// <summary>Quantizes <paramref name="model"/>'s linear layers in place to <paramref name="type"/>. With
    /// <paramref name="releaseFloatWeights"/> the F32 weights of quantized layers are freed (except one shared with the
    /// embedding) and the model can no longer be trained or saved.</summary>
    public static void Quantize(CausalLM model, QuantType type, bool releaseFloatWeights = false)
    {
        foreach (var layer in model.Linears)
        {
            var w = layer.Weight;
            int rows = w.Dim(0), columns = w.Dim(1);
            if (columns % QuantTypes.BlockValues(type) != 0)
                throw new ArgumentException($"quantize: '{w.Name}' has {columns} input features, not a multiple of the {type} block size {QuantTypes.BlockValues(type)}.");
            var quantized = QuantizedMatrix.FromFloat(w.AsSpan(), rows, columns, type);
            layer.Quantized?.Dispose();
            layer.Quantized = quantized;
        }
        model.PrepareQuantized();
        if (releaseFloatWeights)
        {
            foreach (var layer in model.Linears)
                if (!layer.SharesWeight) layer.Weight.Dispose();
            Lathe.Tensors.Storage.BufferPool.Trim();   // give the freed weights back to the OS, not to the tensor pool
        }
    }

    /// <summary>Loads a GGUF model (<see cref="GgufModelLoader"/>) keeping its F16/Q8_0/Q4_0 linear weights in their stored
    /// type: the bytes become each layer's <see cref="QuantizedMatrix"/> instead of being decoded to F32 (F32 tensors stay
    /// F32). A head tied to token_embd is given token_embd's own type, as llama.cpp computes it. Inference only.</summary>
    public static CausalLM LoadGguf(string path, int contextLength = 0)
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
            var model = GgufModelLoader.Load(file, options);
            QuantType? embeddingType = file.Tensors.Any(t => t.Name == "token_embd.weight") ? ToQuantType(file.Get("token_embd.weight").Type) : null;
            foreach (var layer in model.Linears)
            {
                if (layer.Weight.Name is { } name && taken.Remove(name, out var m)) { layer.Quantized = m; layer.Weight.Dispose(); }
                else if (layer.SharesWeight && embeddingType is { } t && layer.Weight.Dim(1) % QuantTypes.BlockValues(t) == 0)
                    // The tied head: re-encoding the decoded token_embd gives back its bytes (the block maximum fixes d).
                    layer.Quantized = QuantizedMatrix.FromFloat(layer.Weight.AsSpan(), layer.Weight.Dim(0), layer.Weight.Dim(1), t);
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

    static QuantType? ToQuantType(GgmlType type) => type switch
    {
        GgmlType.F16 => QuantType.F16,
        GgmlType.Q8_0 => QuantType.Q8_0,
        GgmlType.Q4_0 => QuantType.Q4_0,
        _ => null,
    };
}
