namespace Lathe.Tensors.Quantized;

/// <summary>ggml's k-quant super-block layouts (ggml-common.h: block_q2_K … block_q6_K, 256 values each) and their
/// decoding exactly as ggml's dequantize_row_qX_K: the same float products in the same order, so a decoded weight
/// equals ggml's bit for bit. Byte offsets of each field are named below; the integer scale decoders are shared with
/// the matrix kernels (<see cref="Kernels.KQuantMatMul"/>) so that both read the packed 6-bit scales one way.</summary>
public static unsafe class KBlocks
{
    const int QK = QuantTypes.SuperBlockValues;

    // block_q2_K: scales[16] (low nibble scale, high nibble min), qs[64] (four 2-bit values a byte), d, dmin.
    internal const int Q2Scales = 0, Q2Qs = 16, Q2D = 80, Q2DMin = 82;
    // block_q3_K: hmask[32] (the third bit), qs[64] (low 2 bits), scales[12] (sixteen 6-bit scales, offset 32), d.
    internal const int Q3HMask = 0, Q3Qs = 32, Q3Scales = 96, Q3D = 108;
    // block_q4_K: d, dmin, scales[12] (eight 6-bit scales and eight 6-bit mins), qs[128] (nibbles).
    internal const int Q4D = 0, Q4DMin = 2, Q4Scales = 4, Q4Qs = 16;
    // block_q5_K: as Q4_K with qh[32] (the fifth bit) before the nibbles.
    internal const int Q5D = 0, Q5DMin = 2, Q5Scales = 4, Q5Qh = 16, Q5Qs = 48;
    // block_q6_K: ql[128] (low 4 bits), qh[64] (high 2 bits), scales[16] (int8), d.
    internal const int Q6Ql = 0, Q6Qh = 128, Q6Scales = 192, Q6D = 208;

    /// <summary>Decodes whole super-blocks of a k-quant <paramref name="type"/> into floats, as ggml's
    /// dequantize_row_qX_K does.</summary>
    public static void Dequantize(QuantType type, ReadOnlySpan<byte> blocks, Span<float> x)
    {
        if (!QuantTypes.IsKQuant(type)) throw new ArgumentException($"{QuantTypes.Name(type)} is not a k-quant.", nameof(type));
        int bb = QuantTypes.BlockBytes(type);
        if (x.Length % QK != 0 || (long)x.Length / QK * bb != blocks.Length)
            throw new ArgumentException($"{QuantTypes.Name(type)}: {blocks.Length} bytes do not hold {x.Length} values (whole super-blocks of {QK} expected).");
        fixed (byte* pb = blocks)
        fixed (float* px = x)
            for (int b = 0; b < x.Length / QK; b++)
            {
                byte* blk = pb + (long)b * bb;
                float* y = px + (long)b * QK;
                switch (type)
                {
                    case QuantType.Q2_K: DecodeQ2(blk, y); break;
                    case QuantType.Q3_K: DecodeQ3(blk, y); break;
                    case QuantType.Q4_K: DecodeQ4(blk, y); break;
                    case QuantType.Q5_K: DecodeQ5(blk, y); break;
                    default: DecodeQ6(blk, y); break;
                }
            }
    }

    // The decoders below follow ggml's float expressions term for term (dl·q − ml with dl = d·scale, ml = dmin·min;
    // Q6_K's d·scale·q left to right), which is what makes them bit-exact.
    static void DecodeQ2(byte* blk, float* y)
    {
        float d = HalfBits.ToSingle(*(ushort*)(blk + Q2D)), min = HalfBits.ToSingle(*(ushort*)(blk + Q2DMin));
        for (int v = 0; v < QK; v++)
        {
            int sc = blk[Q2Scales + v / 16];
            float dl = d * (sc & 0xF), ml = min * (sc >> 4);
            y[v] = dl * Q2Code(blk, v) - ml;
        }
    }

    static void DecodeQ3(byte* blk, float* y)
    {
        float d = HalfBits.ToSingle(*(ushort*)(blk + Q3D));
        for (int v = 0; v < QK; v++)
        {
            float dl = d * Q3Scale(blk + Q3Scales, v / 16);
            y[v] = dl * (Q3Code(blk, v) - 4);
        }
    }

    static void DecodeQ4(byte* blk, float* y)
    {
        float d = HalfBits.ToSingle(*(ushort*)(blk + Q4D)), min = HalfBits.ToSingle(*(ushort*)(blk + Q4DMin));
        for (int v = 0; v < QK; v++)
        {
            ScaleMin(blk + Q4Scales, v / 32, out int sc, out int m);
            float dl = d * sc, ml = min * m;
            y[v] = dl * Q4Code(blk, v) - ml;
        }
    }

    static void DecodeQ5(byte* blk, float* y)
    {
        float d = HalfBits.ToSingle(*(ushort*)(blk + Q5D)), min = HalfBits.ToSingle(*(ushort*)(blk + Q5DMin));
        for (int v = 0; v < QK; v++)
        {
            ScaleMin(blk + Q5Scales, v / 32, out int sc, out int m);
            float dl = d * sc, ml = min * m;
            y[v] = dl * Q5Code(blk, v) - ml;
        }
    }

    static void DecodeQ6(byte* blk, float* y)
    {
        float d = HalfBits.ToSingle(*(ushort*)(blk + Q6D));
        for (int v = 0; v < QK; v++)
            y[v] = d * (sbyte)blk[Q6Scales + v / 16] * (Q6Code(blk, v) - 32);
    }

    /// <summary>Q2_K value v's 2-bit code (0..3): values 128n + 32j + l take bits 2j..2j+1 of qs[32n + l].</summary>
    internal static int Q2Code(byte* blk, int v) => (blk[Q2Qs + 32 * (v / 128) + v % 32] >> (2 * (v % 128 / 32))) & 3;

    /// <summary>Q3_K value v's 3-bit code u (0..7; the value is u − 4): two bits from qs as Q2_K, the third from bit
    /// 4n + j of hmask[l].</summary>
    internal static int Q3Code(byte* blk, int v)
    {
        int low = (blk[Q3Qs + 32 * (v / 128) + v % 32] >> (2 * (v % 128 / 32))) & 3;
        int high = (blk[Q3HMask + v % 32] >> (v / 32)) & 1;
        return low | high << 2;
    }

    /// <summary>Q4_K value v's nibble (0..15): byte 32·(v/64) + v%32, low nibble for the first 32 of each 64.</summary>
    internal static int Q4Code(byte* blk, int v) => (blk[Q4Qs + 32 * (v / 64) + v % 32] >> (4 * (v % 64 / 32))) & 0xF;

    /// <summary>Q5_K value v's 5-bit code (0..31): the Q4_K nibble plus bit v/32 of qh[v % 32] as 16.</summary>
    internal static int Q5Code(byte* blk, int v)
        => ((blk[Q5Qs + 32 * (v / 64) + v % 32] >> (4 * (v % 64 / 32))) & 0xF) | ((blk[Q5Qh + v % 32] >> (v / 32)) & 1) << 4;

    /// <summary>Q6_K value v's 6-bit code (0..63; the value is u − 32): in each 128-value half n, value 32j + l takes
    /// the low or high nibble of ql[64n + l (+32 for odd j)] and bits 2j..2j+1 of qh[32n + l].</summary>
    internal static int Q6Code(byte* blk, int v)
    {
        int n = v / 128, j = v % 128 / 32, l = v % 32;
        int low = (blk[Q6Ql + 64 * n + l + 32 * (j & 1)] >> (4 * (j >> 1))) & 0xF;
        int high = (blk[Q6Qh + 32 * n + l] >> (2 * j)) & 3;
        return low | high << 4;
    }

    /// <summary>Q3_K's sub-block scale <paramref name="i"/> (0..15) minus its offset 32: the low 4 bits are nibbles of
    /// bytes 0..7, the high 2 bits come from bytes 8..11 (ggml's kmask unpacking).</summary>
    internal static int Q3Scale(byte* scales, int i)
    {
        int low = i < 8 ? scales[i] & 0xF : scales[i - 8] >> 4;
        int high = (scales[8 + i % 4] >> (2 * (i / 4))) & 3;
        return (low | high << 4) - 32;
    }

    /// <summary>Q4_K/Q5_K's 6-bit scale and min of sub-block <paramref name="j"/> (0..7), as ggml's get_scale_min_k4.</summary>
    internal static void ScaleMin(byte* q, int j, out int scale, out int min)
    {
        if (j < 4) { scale = q[j] & 63; min = q[j + 4] & 63; }
        else { scale = (q[j + 4] & 0xF) | (q[j - 4] >> 6) << 4; min = (q[j + 4] >> 4) | (q[j] >> 6) << 4; }
    }
}
