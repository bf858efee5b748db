using Lathe.Tensors.Quantized;

namespace Lathe.Models;

/// <summary>Stacks the quantized weights of layers that read the same input (q/k/v, gate/up) into one matrix, so
/// inference quantizes the activation once and dispatches one GEMM; each layer's own matrix then borrows its rows.</summary>
internal static class QuantizedFusion
{
    /// <summary>The stacked matrix, or null when the layers are not all quantized to one type without biases.</summary>
    public static unsafe QuantizedMatrix? Stack(params LinearLayer[] layers)
    {
        var parts = new QuantizedMatrix[layers.Length];
        for (int i = 0; i < layers.Length; i++)
        {
            if (layers[i].Quantized is not { } m || m.Type != layers[0].Quantized!.Type || layers[i].Bias is not null) return null;
            parts[i] = m;
        }
        var fused = QuantizedMatrix.Stack(parts);
        long offset = 0;
        foreach (var layer in layers)
        {
            var m = layer.Quantized!;
            layer.Quantized = QuantizedMatrix.Borrow(fused.Data + offset, m.ByteLength, m.Rows, m.Columns, m.Type, fused);
            offset += m.ByteLength;
            m.Dispose();
        }
        return fused;
    }
}
