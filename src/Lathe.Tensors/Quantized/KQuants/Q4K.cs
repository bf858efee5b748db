using System.Runtime.CompilerServices;
using static Lathe.Tensors.Quantized.KQuants.KQuantSearch;

namespace Lathe.Tensors.Quantized.KQuants;

/// <summary>Q4_K and Q5_K super-blocks as ggml writes them: fp16 d, fp16 dmin, scales[12] (eight 6-bit scales and
/// mins, <see cref="KPacking.PackScaleMin6"/>), then for Q5_K qh[32] (the fifth bit: value 64·c + j's in bit 2c of
/// byte j, value 64·c + 32 + j's in bit 2c+1), then qs[128] (low nibble values 64·c + j, high nibble 64·c + 32 + j).
/// Value = d·scale·q − dmin·min over 8 sub-blocks of 32; the two types differ only in nmax (15 or 31) and the
/// reference search's range. 144 (Q4_K) or 176 (Q5_K) bytes.</summary>
internal static unsafe class Q4K
{
    const int DAt = 0, DminAt = 2, ScalesAt = 4;

    /// <summary>ggml's quantize_row_q4_K_ref (<paramref name="nmax"/> 15) or quantize_row_q5_K_ref (31) for one
    /// super-block: per sub-block a min-and-scale search weighted by rms(x) + |x| (make_qkx2: Q4_K scans 21 inverse
    /// scales from nmax − 1, Q5_K 16 from nmax − 0.5), then scales and mins to 6 bits against their maxima.</summary>
    public static void QuantizeReference(int nmax, float* x, byte* y)
    {
        byte* L = stackalloc byte[256];
        byte* laux = stackalloc byte[32];
        byte* ls = stackalloc byte[8];
        byte* lm = stackalloc byte[8];
        float* weights = stackalloc float[32];
        float* mins = stackalloc float[8];
        float* scales = stackalloc float[8];
        float rmin = nmax == 15 ? -1f : -0.5f;
        int nstep = nmax == 15 ? 20 : 15;
        float maxScale = 0, maxMin = 0;
        for (int j = 0; j < 8; j++)
        {
            float sumx2 = 0;
            for (int l = 0; l < 32; l++) sumx2 += x[32 * j + l] * x[32 * j + l];
            float avx = MathF.Sqrt(sumx2 / 32);
            for (int l = 0; l < 32; l++) weights[l] = avx + MathF.Abs(x[32 * j + l]);
            scales[j] = MakeQkx(32, nmax, x + 32 * j, weights, L + 32 * j, out mins[j], laux, rmin, 0.1f, nstep, false);
            if (scales[j] > maxScale) maxScale = scales[j];
            if (mins[j] > maxMin) maxMin = mins[j];
        }
        float invScale = maxScale > 0 ? 63f / maxScale : 0f;
        float invMin = maxMin > 0 ? 63f / maxMin : 0f;
        for (int j = 0; j < 8; j++)
        {
            byte s = (byte)NearestInt(invScale * scales[j]);   // uint8_t in ggml: wraps before the clamp
            byte m = (byte)NearestInt(invMin * mins[j]);
            ls[j] = s > 63 ? (byte)63 : s;
            lm[j] = m > 63 ? (byte)63 : m;
        }
        KPacking.PackScaleMin6(ls, lm, y + ScalesAt);
        Finish(nmax, x, y, L, ToHalf(maxScale / 63f), ToHalf(maxMin / 63f));
    }

    /// <summary>ggml's quantize_row_q4_K_impl / quantize_row_q5_K_impl (quantize_qX_K with quant_weights) for one
    /// super-block: weights qw·√(σ² + x²) with σ² twice the mean square, make_qkx3's 37-step squared-error search, and
    /// the 6-bit scales and mins fitted by make_qp_quants weighted by each sub-block's total weight.</summary>
    public static void QuantizeWeighted(int nmax, float* x, float* qw, byte* y)
    {
        byte* L = stackalloc byte[256];
        byte* laux = stackalloc byte[32];
        byte* ls = stackalloc byte[8];
        byte* lm = stackalloc byte[8];
        float* weights = stackalloc float[32];
        float* mins = stackalloc float[8];
        float* scales = stackalloc float[8];
        float* sw = stackalloc float[8];
        float sumx2 = 0;
        for (int l = 0; l < 256; l++) sumx2 += x[l] * x[l];
        float sigma2 = 2 * sumx2 / 256;
        for (int j = 0; j < 8; j++)
        {
            for (int l = 0; l < 32; l++) weights[l] = qw[32 * j + l] * MathF.Sqrt(sigma2 + x[32 * j + l] * x[32 * j + l]);
            float sumw = 0;
            for (int l = 0; l < 32; l++) sumw += weights[l];
            sw[j] = sumw;
            scales[j] = MakeQkx(32, nmax, x + 32 * j, weights, L + 32 * j, out mins[j], laux, -0.9f, 0.05f, 36, false);
        }
        float dBlock = MakeQp(8, 63, scales, ls, sw);
        float mBlock = MakeQp(8, 63, mins, lm, sw);
        if (nmax == 31)
        {
            // Only quantize_row_q5_K_impl clamps here (make_qp_quants can wrap a negative quant to a large byte).
            for (int j = 0; j < 8; j++)
            {
                if (ls[j] > 63) ls[j] = 63;
                if (lm[j] > 63) lm[j] = 63;
            }
        }
        KPacking.PackScaleMin6(ls, lm, y + ScalesAt);
        Finish(nmax, x, y, L, ToHalf(dBlock), ToHalf(mBlock));
    }

    // Stores d and dmin, re-rounds every value against its sub-block's stored scale and min, packs nibbles (and
    // Q5_K's fifth bits).
    static void Finish(int nmax, float* x, byte* y, byte* L, ushort d, ushort dmin)
    {
        Unsafe.WriteUnaligned(y + DAt, d);
        Unsafe.WriteUnaligned(y + DminAt, dmin);
        for (int j = 0; j < 8; j++)
        {
            KPacking.UnpackScaleMin6(j, y + ScalesAt, out int sc, out int m);
            float dl = FromHalf(d) * sc;
            if (dl == 0) continue;
            float dm = FromHalf(dmin) * m;
            for (int i = 0; i < 32; i++)
            {
                int l = NearestInt((x[32 * j + i] + dm) / dl);
                L[32 * j + i] = (byte)(l > nmax ? nmax : l < 0 ? 0 : l);
            }
        }
        if (nmax == 15)
        {
            byte* qs = y + 16;
            for (int j = 0; j < 256; j += 64)
                for (int l = 0; l < 32; l++) qs[j / 2 + l] = (byte)(L[j + l] | (L[j + l + 32] << 4));
            return;
        }
        byte* qh = y + 16;
        byte* ql = y + 48;
        for (int i = 0; i < 32; i++) qh[i] = 0;
        for (int c = 0; c < 4; c++)
        {
            for (int j = 0; j < 32; j++)
            {
                int l1 = L[64 * c + j], l2 = L[64 * c + j + 32];
                if (l1 > 15) { l1 -= 16; qh[j] |= (byte)(1 << (2 * c)); }
                if (l2 > 15) { l2 -= 16; qh[j] |= (byte)(2 << (2 * c)); }
                ql[32 * c + j] = (byte)(l1 | (l2 << 4));
            }
        }
    }
}
