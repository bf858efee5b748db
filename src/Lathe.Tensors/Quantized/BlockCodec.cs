using System.Runtime.InteropServices;

namespace Lathe.Tensors.Quantized;

/// <summary>One entry point for encoding and decoding a row of any <see cref="QuantType"/>: the GGUF reader and writer,
/// <see cref="QuantizedMatrix"/> and the quantizer all go through here, so a new type is added in one place.</summary>
public static class BlockCodec
{
    /// <summary>Encodes <paramref name="x"/> (a whole number of blocks) into <paramref name="blocks"/> with ggml's
    /// reference quantizer for <paramref name="type"/>; with <paramref name="importance"/> (one weight per column, an
    /// importance matrix's row) the k-quants minimise the importance-weighted error as llama.cpp's quantize_qX_K do.</summary>
    public static void Quantize(QuantType type, ReadOnlySpan<float> x, Span<byte> blocks, ReadOnlySpan<float> importance = default)
    {
        if (!importance.IsEmpty && importance.Length != x.Length)
            throw new ArgumentException($"{QuantTypes.Name(type)}: {importance.Length} importance weights for a row of {x.Length} values.");
        switch (type)
        {
            case QuantType.Q8_0: Q8_0.Quantize(x, blocks); break;
            case QuantType.Q4_0: Q4_0.Quantize(x, blocks); break;
            case QuantType.F16:
                CheckPlain(type, x.Length, blocks.Length);
                var h = MemoryMarshal.Cast<byte, Half>(blocks);
                for (int i = 0; i < x.Length; i++) h[i] = (Half)x[i];
                break;
            case QuantType.BF16: CheckPlain(type, x.Length, blocks.Length); Bf16.FromSingle(x, MemoryMarshal.Cast<byte, ushort>(blocks)); break;
            default: KQuantizer.Quantize(type, x, blocks, importance); break;
        }
    }

    /// <summary>Decodes whole blocks of <paramref name="type"/> into floats.</summary>
    public static void Dequantize(QuantType type, ReadOnlySpan<byte> blocks, Span<float> x)
    {
        switch (type)
        {
            case QuantType.Q8_0: Q8_0.Dequantize(blocks, x); break;
            case QuantType.Q4_0: Q4_0.Dequantize(blocks, x); break;
            case QuantType.F16:
                CheckPlain(type, x.Length, blocks.Length);
                var h = MemoryMarshal.Cast<byte, ushort>(blocks);
                for (int i = 0; i < x.Length; i++) x[i] = HalfBits.ToSingle(h[i]);
                break;
            case QuantType.BF16: CheckPlain(type, x.Length, blocks.Length); Bf16.ToSingle(MemoryMarshal.Cast<byte, ushort>(blocks), x); break;
            default: KBlocks.Dequantize(type, blocks, x); break;
        }
    }

    static void CheckPlain(QuantType type, int values, int bytes)
    {
        if (bytes != 2L * values) throw new ArgumentException($"{QuantTypes.Name(type)}: {bytes} bytes do not hold {values} values ({2L * values} expected).");
    }
}
