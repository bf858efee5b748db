namespace Lathe.Tensors.Quantized;

/// <summary>ggml's k-quant quantizers. SKELETON: filled in by the k-quant formats work (issue #19).</summary>
public static class KQuantizer
{
    public static void Quantize(QuantType type, ReadOnlySpan<float> x, Span<byte> blocks, ReadOnlySpan<float> importance)
        => throw new NotSupportedException($"{QuantTypes.Name(type)}: quantization is not implemented yet.");
}
