using Lathe.Models;
using Lathe.Tensors.Quantized;

namespace Lathe.Compression;

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
}
