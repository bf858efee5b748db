namespace Lathe.Tensors.Quantized;

/// <summary>bfloat16 conversion as ggml does it. SKELETON: filled in by the k-quant formats work (issue #19).</summary>
public static class Bf16
{
    public static void FromSingle(ReadOnlySpan<float> x, Span<ushort> bits) => throw new NotSupportedException("bf16: not implemented yet.");

    public static void ToSingle(ReadOnlySpan<ushort> bits, Span<float> x) => throw new NotSupportedException("bf16: not implemented yet.");
}
