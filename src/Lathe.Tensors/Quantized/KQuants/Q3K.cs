using System.Runtime.CompilerServices;
using static Lathe.Tensors.Quantized.KQuants.KQuantSearch;

namespace Lathe.Tensors.Quantized.KQuants;

/// <summary>Q3_K super-blocks as ggml writes them (block_q3_K, 110 bytes): hmask[32] (the third bit: value j's in bit
/// j/32 of byte j%32), qs[64] (low two bits, as Q2_K), scales[12] (16 signed 6-bit scales, see
/// <see cref="KPacking.PackScales3"/>), fp16 d. Value = d·scale·(q − 4) over 16 sub-blocks of 16.</summary>
internal static unsafe class Q3K
{
    const int HmaskAt = 0, QsAt = 32, ScalesAt = 96, DAt = 108;

    /// <summary>ggml's quantize_row_q3_K_ref for one super-block: make_q3_quants (weights x², coordinate descent) per
    /// sub-block, the signed scales quantized to 6 bits against the one of largest magnitude.</summary>
    public static void QuantizeReference(float* x, byte* y)
    {
        sbyte* L = stackalloc sbyte[256];
        sbyte* l6 = stackalloc sbyte[16];
        float* scales = stackalloc float[16];
        float maxScale = 0, amax = 0;
        for (int j = 0; j < 16; j++)
        {
            scales[j] = MakeQ3(16, 4, x + 16 * j, L + 16 * j);
            float scale = MathF.Abs(scales[j]);
            if (scale > amax) { amax = scale; maxScale = scales[j]; }
        }
        ushort d;
        if (maxScale != 0)   // C's `if (max_scale)`: NaN counts as set
        {
            float iscale = -32f / maxScale;
            for (int j = 0; j < 16; j++)
            {
                int l = (sbyte)NearestInt(iscale * scales[j]);    // ggml stores it in an int8_t before clamping
                l6[j] = (sbyte)((l > 31 ? 31 : l < -32 ? -32 : l) + 32);
            }
            KPacking.PackScales3(l6, y + ScalesAt);
            d = ToHalf(1 / iscale);
        }
        else
        {
            for (int i = 0; i < 12; i++) y[ScalesAt + i] = 0;
            d = ToHalf(0f);
        }
        Finish(x, y, L, d);
    }

    /// <summary>ggml's quantize_row_q3_K_impl (quantize_q3_K with quant_weights) for one super-block: weights
    /// qw·√(σ² + x²) with σ² twice the mean square, make_qx_quants per sub-block, and the scales fitted to 6 bits by
    /// make_qx_quants weighted by each sub-block's total weight.</summary>
    public static void QuantizeWeighted(float* x, float* qw, byte* y)
    {
        sbyte* L = stackalloc sbyte[256];
        sbyte* ls = stackalloc sbyte[16];
        float* scales = stackalloc float[16];
        float* weight = stackalloc float[16];
        float* sw = stackalloc float[16];
        float sumx2 = 0;
        for (int j = 0; j < 256; j++) sumx2 += x[j] * x[j];
        float sigma2 = 2 * sumx2 / 256;
        for (int j = 0; j < 16; j++)
        {
            for (int l = 0; l < 16; l++) weight[l] = qw[16 * j + l] * MathF.Sqrt(sigma2 + x[16 * j + l] * x[16 * j + l]);
            float sumw = 0;
            for (int l = 0; l < 16; l++) sumw += weight[l];
            sw[j] = sumw;
            scales[j] = MakeQx(16, 4, x + 16 * j, L + 16 * j, weight);
        }
        float dBlock = MakeQx(16, 32, scales, ls, sw);
        KPacking.PackScales3(ls, y + ScalesAt);
        Finish(x, y, L, ToHalf(dBlock));
    }

    // Stores d, re-rounds every value against its sub-block's stored scale, splits off the third bit, packs.
    static void Finish(float* x, byte* y, sbyte* L, ushort d)
    {
        Unsafe.WriteUnaligned(y + DAt, d);
        for (int j = 0; j < 16; j++)
        {
            float dl = FromHalf(d) * KPacking.UnpackScale3(j, y + ScalesAt);
            if (dl == 0) continue;
            for (int i = 0; i < 16; i++)
            {
                int l = NearestInt(x[16 * j + i] / dl);
                L[16 * j + i] = (sbyte)((l > 3 ? 3 : l < -4 ? -4 : l) + 4);
            }
        }
        byte* hmask = y + HmaskAt;
        for (int i = 0; i < 32; i++) hmask[i] = 0;
        for (int j = 0; j < 256; j++)
        {
            if (L[j] > 3)
            {
                hmask[j % 32] |= (byte)(1 << (j / 32));
                L[j] -= 4;
            }
        }
        KPacking.Pack2Bit((byte*)L, y + QsAt);
    }
}
