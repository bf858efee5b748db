using System.Runtime.CompilerServices;
using static Lathe.Tensors.Quantized.KQuants.KQuantSearch;

namespace Lathe.Tensors.Quantized.KQuants;

/// <summary>Q2_K super-blocks as ggml writes them (block_q2_K, 84 bytes): scales[16] (low nibble the sub-block scale,
/// high nibble its min), qs[64] (2-bit quants, four per byte, values j, j+32, j+64, j+96 of each 128), fp16 d, fp16 dmin.
/// Value = d·scale·q − dmin·min over 16 sub-blocks of 16.</summary>
internal static unsafe class Q2K
{
    const int ScalesAt = 0, QsAt = 16, DAt = 80, DminAt = 82;

    /// <summary>ggml's quantize_row_q2_K_ref for one super-block: per sub-block a min-and-scale search weighted by |x|
    /// (absolute error), scales and mins then quantized to 4 bits against their maxima.</summary>
    public static void QuantizeReference(float* x, byte* y)
    {
        byte* L = stackalloc byte[256];
        byte* laux = stackalloc byte[16];
        float* weights = stackalloc float[16];
        float* mins = stackalloc float[16];
        float* scales = stackalloc float[16];
        float maxScale = 0, maxMin = 0;
        for (int j = 0; j < 16; j++)
        {
            for (int l = 0; l < 16; l++) weights[l] = MathF.Abs(x[16 * j + l]);
            scales[j] = MakeQkx(16, 3, x + 16 * j, weights, L + 16 * j, out mins[j], laux, -0.5f, 0.1f, 15, true);
            if (scales[j] > maxScale) maxScale = scales[j];
            if (mins[j] > maxMin) maxMin = mins[j];
        }
        byte* sc = y + ScalesAt;
        ushort d, dmin;
        if (maxScale > 0)
        {
            float iscale = 15f / maxScale;
            for (int j = 0; j < 16; j++) sc[j] = (byte)NearestInt(iscale * scales[j]);
            d = ToHalf(maxScale / 15f);
        }
        else
        {
            for (int j = 0; j < 16; j++) sc[j] = 0;
            d = ToHalf(0f);
        }
        if (maxMin > 0)
        {
            float iscale = 15f / maxMin;
            for (int j = 0; j < 16; j++) sc[j] = (byte)(sc[j] | (NearestInt(iscale * mins[j]) << 4));
            dmin = ToHalf(maxMin / 15f);
        }
        else dmin = ToHalf(0f);
        Finish(x, y, L, d, dmin);
    }

    /// <summary>ggml's quantize_row_q2_K_impl (quantize_q2_K with quant_weights) for one super-block: weights
    /// qw·√(σ² + x²) with σ² the super-block's mean square, a wider squared-error search (make_qkx3), and the 4-bit
    /// scales and mins fitted by make_qp_quants weighted by each sub-block's total weight.</summary>
    public static void QuantizeWeighted(float* x, float* qw, byte* y)
    {
        byte* L = stackalloc byte[256];
        byte* laux = stackalloc byte[16];
        byte* ls = stackalloc byte[16];
        byte* lm = stackalloc byte[16];
        float* weight = stackalloc float[16];
        float* mins = stackalloc float[16];
        float* scales = stackalloc float[16];
        float* sw = stackalloc float[16];
        float sumx2 = 0;
        for (int j = 0; j < 256; j++) sumx2 += x[j] * x[j];
        float sigma2 = sumx2 / 256;
        for (int j = 0; j < 16; j++)
        {
            for (int l = 0; l < 16; l++) weight[l] = qw[16 * j + l] * MathF.Sqrt(sigma2 + x[16 * j + l] * x[16 * j + l]);
            sw[j] = 0;
            for (int l = 0; l < 16; l++) sw[j] += weight[l];
            scales[j] = MakeQkx(16, 3, x + 16 * j, weight, L + 16 * j, out mins[j], laux, -0.9f, 0.05f, 36, false);
        }
        float dm = MakeQp(16, 15, scales, ls, sw);
        float mm = MakeQp(16, 15, mins, lm, sw);
        for (int j = 0; j < 16; j++) y[ScalesAt + j] = (byte)(ls[j] | (lm[j] << 4));
        Finish(x, y, L, ToHalf(dm), ToHalf(mm));
    }

    // Stores d and dmin, re-rounds every value against its sub-block's stored (quantized) scale and min, packs.
    static void Finish(float* x, byte* y, byte* L, ushort d, ushort dmin)
    {
        Unsafe.WriteUnaligned(y + DAt, d);
        Unsafe.WriteUnaligned(y + DminAt, dmin);
        byte* sc = y + ScalesAt;
        for (int j = 0; j < 16; j++)
        {
            float dl = FromHalf(d) * (sc[j] & 0xF);
            if (dl == 0) continue;
            float ml = FromHalf(dmin) * (sc[j] >> 4);
            for (int i = 0; i < 16; i++)
            {
                int l = NearestInt((x[16 * j + i] + ml) / dl);
                L[16 * j + i] = (byte)(l > 3 ? 3 : l < 0 ? 0 : l);
            }
        }
        KPacking.Pack2Bit(L, y + QsAt);
    }
}
