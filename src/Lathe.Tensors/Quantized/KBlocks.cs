namespace Lathe.Tensors.Quantized;

/// <summary>ggml's k-quant super-block layouts, decoded. SKELETON: filled in by the k-quant kernels work (issue #19).</summary>
public static class KBlocks
{
    public static void Dequantize(QuantType type, ReadOnlySpan<byte> blocks, Span<float> x)
        => throw new NotSupportedException($"{QuantTypes.Name(type)}: decoding is not implemented yet.");
}
