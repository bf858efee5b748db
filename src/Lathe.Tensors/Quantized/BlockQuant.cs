using System.Runtime.CompilerServices;

namespace Lathe.Tensors.Quantized;

/// <summary>ggml's 8-bit block format Q8_0: blocks of 32 values stored as a float16 scale d followed by 32 signed
/// bytes q, value = d·q. Quantization (ggml's reference): d = max|x| / 127, q = round(x / d).</summary>
public static unsafe class Q8_0
{
    public const int BlockValues = 32;
    public const int BlockBytes = 2 + 32;

    public static long Bytes(long values) => values / BlockValues * BlockBytes;

    public static void Quantize(ReadOnlySpan<float> x, Span<byte> blocks)
    {
        Check(x.Length, blocks.Length);
        for (int b = 0; b < x.Length / BlockValues; b++)
        {
            var v = x.Slice(b * BlockValues, BlockValues);
            var block = blocks.Slice(b * BlockBytes, BlockBytes);
            float amax = 0;
            foreach (float f in v) amax = MathF.Max(amax, MathF.Abs(f));
            float d = amax / 127f;
            float id = d != 0 ? 1f / d : 0f;
            Unsafe.WriteUnaligned(ref block[0], (Half)d);
            for (int i = 0; i < BlockValues; i++) block[2 + i] = (byte)(sbyte)MathF.Round(v[i] * id, MidpointRounding.AwayFromZero);
        }
    }

    public static void Dequantize(ReadOnlySpan<byte> blocks, Span<float> x)
    {
        Check(x.Length, blocks.Length);
        for (int b = 0; b < x.Length / BlockValues; b++)
        {
            var block = blocks.Slice(b * BlockBytes, BlockBytes);
            float d = (float)Unsafe.ReadUnaligned<Half>(ref Unsafe.AsRef(in block[0]));
            for (int i = 0; i < BlockValues; i++) x[b * BlockValues + i] = d * (sbyte)block[2 + i];
        }
    }

    static void Check(int values, int bytes) => BlockLayout.Check("Q8_0", BlockValues, BlockBytes, values, bytes);
}

/// <summary>ggml's 4-bit block format Q4_0: blocks of 32 values stored as a float16 scale d followed by 16 bytes;
/// byte j holds value j in its low nibble and value j+16 in its high nibble, value = d·(q − 8). Quantization
/// (ggml's reference): the value of largest magnitude m gives d = m / −8, q = min(15, trunc(x/d + 8.5)).</summary>
public static unsafe class Q4_0
{
    public const int BlockValues = 32;
    public const int BlockBytes = 2 + 16;

    public static long Bytes(long values) => values / BlockValues * BlockBytes;

    public static void Quantize(ReadOnlySpan<float> x, Span<byte> blocks)
    {
        Check(x.Length, blocks.Length);
        for (int b = 0; b < x.Length / BlockValues; b++)
        {
            var v = x.Slice(b * BlockValues, BlockValues);
            var block = blocks.Slice(b * BlockBytes, BlockBytes);
            float amax = 0, max = 0;
            foreach (float f in v)
                if (MathF.Abs(f) > amax) { amax = MathF.Abs(f); max = f; }
            float d = max / -8f;
            float id = d != 0 ? 1f / d : 0f;
            Unsafe.WriteUnaligned(ref block[0], (Half)d);
            for (int j = 0; j < 16; j++)
            {
                int lo = Math.Min(15, (int)(v[j] * id + 8.5f));
                int hi = Math.Min(15, (int)(v[j + 16] * id + 8.5f));
                block[2 + j] = (byte)(lo | (hi << 4));
            }
        }
    }

    public static void Dequantize(ReadOnlySpan<byte> blocks, Span<float> x)
    {
        Check(x.Length, blocks.Length);
        for (int b = 0; b < x.Length / BlockValues; b++)
        {
            var block = blocks.Slice(b * BlockBytes, BlockBytes);
            float d = (float)Unsafe.ReadUnaligned<Half>(ref Unsafe.AsRef(in block[0]));
            for (int j = 0; j < 16; j++)
            {
                x[b * BlockValues + j] = d * ((block[2 + j] & 0x0F) - 8);
                x[b * BlockValues + j + 16] = d * ((block[2 + j] >> 4) - 8);
            }
        }
    }

    static void Check(int values, int bytes) => BlockLayout.Check("Q4_0", BlockValues, BlockBytes, values, bytes);
}

/// <summary>The size rule every block format shares: whole blocks, and exactly the bytes they take.</summary>
internal static class BlockLayout
{
    public static void Check(string format, int blockValues, int blockBytes, int values, int bytes)
    {
        if (values % blockValues != 0) throw new ArgumentException($"{format}: {values} values is not a whole number of {blockValues}-value blocks.");
        if (bytes != values / blockValues * blockBytes) throw new ArgumentException($"{format}: {bytes} bytes do not hold {values} values ({values / blockValues * blockBytes} expected).");
    }
}
