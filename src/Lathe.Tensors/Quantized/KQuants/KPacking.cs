namespace Lathe.Tensors.Quantized.KQuants;

/// <summary>Bit layouts the k-quant super-blocks share (ggml-common.h).</summary>
internal static unsafe class KPacking
{
    /// <summary>2-bit quants (Q2_K, and the low bits of Q3_K): in each run of 128 values, byte l holds values l, l+32,
    /// l+64, l+96 in bits 0–1, 2–3, 4–5, 6–7.</summary>
    public static void Pack2Bit(byte* L, byte* qs)
    {
        for (int j = 0; j < 256; j += 128)
            for (int l = 0; l < 32; l++)
                qs[j / 4 + l] = (byte)(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
    }

    /// <summary>The 6-bit scales and mins of Q4_K and Q5_K in 12 bytes: sub-blocks 0–3 take the low 6 bits of bytes
    /// 0–3 (scale) and 4–7 (min); sub-blocks 4–7 put their low nibbles in bytes 8–11 and their top two bits in bits
    /// 6–7 of bytes 0–3 (scale) and 4–7 (min).</summary>
    public static void PackScaleMin6(byte* ls, byte* lm, byte* scales)
    {
        for (int j = 0; j < 8; j++)
        {
            byte s = ls[j], m = lm[j];
            if (j < 4)
            {
                scales[j] = s;
                scales[j + 4] = m;
            }
            else
            {
                scales[j + 4] = (byte)((s & 0xF) | ((m & 0xF) << 4));
                scales[j - 4] |= (byte)((s >> 4) << 6);
                scales[j] |= (byte)((m >> 4) << 6);
            }
        }
    }

    /// <summary>Sub-block <paramref name="j"/>'s 6-bit scale and min back out of <see cref="PackScaleMin6"/>'s bytes
    /// (ggml's get_scale_min_k4).</summary>
    public static void UnpackScaleMin6(int j, byte* q, out int scale, out int min)
    {
        if (j < 4)
        {
            scale = q[j] & 63;
            min = q[j + 4] & 63;
        }
        else
        {
            scale = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
            min = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
        }
    }

    /// <summary>Q3_K's 16 6-bit scales (biased by 32) in 12 bytes: low nibbles of sub-blocks 0–7 in bytes 0–7 (low
    /// half) and of 8–15 in bytes 0–7 (high half); the top two bits of sub-block j in bits 2·(j/4) of byte 8 + j%4.</summary>
    public static void PackScales3(sbyte* l6, byte* scales)
    {
        for (int i = 0; i < 12; i++) scales[i] = 0;
        for (int j = 0; j < 16; j++)
        {
            int l = l6[j];
            if (j < 8) scales[j] = (byte)(l & 0xF);
            else scales[j - 8] |= (byte)((l & 0xF) << 4);
            l >>= 4;
            scales[j % 4 + 8] |= (byte)(l << (2 * (j / 4)));
        }
    }

    /// <summary>Sub-block <paramref name="j"/>'s signed scale (−32…31) out of <see cref="PackScales3"/>'s bytes.</summary>
    public static int UnpackScale3(int j, byte* scales)
    {
        int sc = j < 8 ? scales[j] & 0xF : scales[j - 8] >> 4;
        return (sc | (((scales[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
    }
}
