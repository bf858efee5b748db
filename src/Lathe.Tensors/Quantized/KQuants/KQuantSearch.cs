using System.Runtime.CompilerServices;

namespace Lathe.Tensors.Quantized.KQuants;

/// <summary>The scale searches ggml's k-quant quantizers share (ggml-quants.c: nearest_int, make_qx_quants,
/// make_q3_quants, make_qkx2/3_quants, make_qp_quants). Byte-exact output is the contract, so every expression keeps
/// ggml's single-precision operations in ggml's order — (w·x)·l, not w·(x·l) — and its integer truncations (a quant
/// stored in a byte wraps as C's uint8_t does). The reference library is built without FMA contraction and without
/// reassociation (plain SSE scalar arithmetic), which is what RyuJIT emits for these loops too.</summary>
internal static unsafe class KQuantSearch
{
    /// <summary>ggml's GROUP_MAX_EPS: a group whose largest magnitude is below this is all zero.</summary>
    public const float GroupMaxEps = 1e-15f;

    /// <summary>Round half to even through the float adder: 1.5·2²³ pushes the fraction out of the mantissa, whose low
    /// 23 bits then hold the integer offset by 2²². Valid for |v| ≤ 2²²−1; outside it the result is garbage, but the
    /// same garbage ggml computes (it asserts only in debug builds), which matters for byte-exactness on huge inputs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int NearestInt(float v)
    {
        float shifted = v + 12582912f;
        return (BitConverter.SingleToInt32Bits(shifted) & 0x007fffff) - 0x00400000;
    }

    /// <summary>ggml's GGML_FP32_TO_FP16: round to nearest even (as .NET's Half conversion), but every NaN becomes the
    /// quiet NaN 0x7E00 with the input's sign.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort ToHalf(float f)
    {
        if (float.IsNaN(f)) return (ushort)(0x7E00 | ((BitConverter.SingleToUInt32Bits(f) >> 16) & 0x8000));
        return BitConverter.HalfToUInt16Bits((Half)f);
    }

    /// <summary>The fp16 bits widened back, exactly.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float FromHalf(ushort bits) => HalfBits.ToSingle(bits);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static int Clamp(int lo, int hi, int l) => l > hi ? hi : l < lo ? lo : l;   // ggml's MAX(lo, MIN(hi, l))

    /// <summary>make_qx_quants with rmse_type 1 (the only one the k-quants use): symmetric quants L ∈ [0, 2·nmax) for
    /// x ≈ scale·(L − nmax), the scale fitted by weighted least squares over 19 trial inverse scales −(nmax ± 0.1·is)/max.
    /// Weights are <paramref name="qw"/>, or x² when it is null. Returns the scale.</summary>
    public static float MakeQx(int n, int nmax, float* x, sbyte* L, float* qw)
    {
        float max = 0, amax = 0;
        for (int i = 0; i < n; i++)
        {
            float ax = MathF.Abs(x[i]);
            if (ax > amax) { amax = ax; max = x[i]; }
        }
        if (amax < GroupMaxEps)
        {
            for (int i = 0; i < n; i++) L[i] = 0;
            return 0f;
        }
        float iscale = -nmax / max;
        float sumlx = 0, suml2 = 0;
        for (int i = 0; i < n; i++)
        {
            int l = Clamp(-nmax, nmax - 1, NearestInt(iscale * x[i]));
            L[i] = (sbyte)(l + nmax);
            float w = qw != null ? qw[i] : x[i] * x[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        float scale = suml2 != 0 ? sumlx / suml2 : 0f;
        float best = scale * sumlx;
        for (int step = -9; step <= 9; step++)
        {
            if (step == 0) continue;
            iscale = -(nmax + 0.1f * step) / max;
            sumlx = suml2 = 0;
            for (int i = 0; i < n; i++)
            {
                int l = Clamp(-nmax, nmax - 1, NearestInt(iscale * x[i]));
                float w = qw != null ? qw[i] : x[i] * x[i];
                sumlx += w * x[i] * l;
                suml2 += w * l * l;
            }
            if (suml2 > 0 && sumlx * sumlx > best * suml2)
            {
                for (int i = 0; i < n; i++)
                    L[i] = (sbyte)(nmax + Clamp(-nmax, nmax - 1, NearestInt(iscale * x[i])));
                scale = sumlx / suml2;
                best = scale * sumlx;
            }
        }
        return scale;
    }

    /// <summary>make_q3_quants with do_rmse (Q3_K's reference): start from the max-based scale, then up to five passes of
    /// coordinate descent, each value re-rounded against the least-squares scale of the others (weights x²).
    /// L ends in [0, 2·nmax). Returns the scale.</summary>
    public static float MakeQ3(int n, int nmax, float* x, sbyte* L)
    {
        float max = 0, amax = 0;
        for (int i = 0; i < n; i++)
        {
            float ax = MathF.Abs(x[i]);
            if (ax > amax) { amax = ax; max = x[i]; }
        }
        if (amax < GroupMaxEps)
        {
            for (int i = 0; i < n; i++) L[i] = 0;
            return 0f;
        }
        float iscale = -nmax / max;
        float sumlx = 0, suml2 = 0;
        for (int i = 0; i < n; i++)
        {
            int l = Clamp(-nmax, nmax - 1, NearestInt(iscale * x[i]));
            L[i] = (sbyte)l;
            float w = x[i] * x[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        for (int pass = 0; pass < 5; pass++)
        {
            int changed = 0;
            for (int i = 0; i < n; i++)
            {
                float w = x[i] * x[i];
                float slx = sumlx - w * x[i] * L[i];
                if (slx > 0)
                {
                    float sl2 = suml2 - w * L[i] * L[i];
                    int newL = Clamp(-nmax, nmax - 1, NearestInt(x[i] * sl2 / slx));
                    if (newL != L[i])
                    {
                        slx += w * x[i] * newL;
                        sl2 += w * newL * newL;
                        if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2)
                        {
                            L[i] = (sbyte)newL; sumlx = slx; suml2 = sl2;
                            changed++;
                        }
                    }
                }
            }
            if (changed == 0) break;
        }
        for (int i = 0; i < n; i++) L[i] = (sbyte)(L[i] + nmax);
        return suml2 > 0f ? sumlx / suml2 : 0f;
    }

    /// <summary>make_qkx2_quants and make_qkx3_quants with explicit weights (they then differ only in the degenerate
    /// test, max == min against max ≤ min, which agree because min ≤ x[0] ≤ max by construction, NaN included):
    /// asymmetric quants L ∈ [0, nmax] for x ≈ scale·L − the_min, scanning nstep+1 trial inverse scales
    /// (rmin + rdelta·is + nmax)/(max − min) and keeping the one whose weighted least-squares (scale, min) fit has the
    /// smallest weighted error (|·| if <paramref name="useMad"/>, else squared). Returns the scale; the_min ≥ 0.</summary>
    public static float MakeQkx(int n, int nmax, float* x, float* weights, byte* L, out float theMin, byte* Laux,
                                float rmin, float rdelta, int nstep, bool useMad)
    {
        float min = x[0], max = x[0];
        float sumW = weights[0];
        float sumX = sumW * x[0];
        for (int i = 1; i < n; i++)
        {
            if (x[i] < min) min = x[i];
            if (x[i] > max) max = x[i];
            float w = weights[i];
            sumW += w;
            sumX += w * x[i];
        }
        if (min > 0) min = 0;
        if (max == min)
        {
            for (int i = 0; i < n; i++) L[i] = 0;
            theMin = -min;
            return 0f;
        }
        float iscale = nmax / (max - min);
        float scale = 1 / iscale;
        float bestError = 0;
        for (int i = 0; i < n; i++)
        {
            L[i] = (byte)Clamp(0, nmax, NearestInt(iscale * (x[i] - min)));
            float diff = scale * L[i] + min - x[i];
            diff = useMad ? MathF.Abs(diff) : diff * diff;
            bestError += weights[i] * diff;
        }
        for (int step = 0; step <= nstep; step++)
        {
            iscale = (rmin + rdelta * step + nmax) / (max - min);
            float sumL = 0, sumL2 = 0, sumXL = 0;
            for (int i = 0; i < n; i++)
            {
                int l = Clamp(0, nmax, NearestInt(iscale * (x[i] - min)));
                Laux[i] = (byte)l;
                float w = weights[i];
                sumL += w * l;
                sumL2 += w * l * l;
                sumXL += w * l * x[i];
            }
            float D = sumW * sumL2 - sumL * sumL;
            if (D > 0)
            {
                float thisScale = (sumW * sumXL - sumX * sumL) / D;
                float thisMin = (sumL2 * sumX - sumL * sumXL) / D;
                if (thisMin > 0)
                {
                    thisMin = 0;
                    thisScale = sumXL / sumL2;
                }
                float error = 0;
                for (int i = 0; i < n; i++)
                {
                    float diff = thisScale * Laux[i] + thisMin - x[i];
                    diff = useMad ? MathF.Abs(diff) : diff * diff;
                    error += weights[i] * diff;
                }
                if (error < bestError)
                {
                    for (int i = 0; i < n; i++) L[i] = Laux[i];
                    bestError = error;
                    scale = thisScale;
                    min = thisMin;
                }
            }
        }
        theMin = -min;
        return scale;
    }

    /// <summary>make_qp_quants: non-negative quants L ∈ [0, nmax] of the sub-block scales or mins x ≥ 0, weighted by
    /// <paramref name="quantWeights"/>: the best of nine trial inverse scales (nmax + 0.1·is)/max by weighted squared
    /// error, then up to five passes of coordinate descent. Returns the super-block scale.</summary>
    public static float MakeQp(int n, int nmax, float* x, byte* L, float* quantWeights)
    {
        float max = 0;
        for (int i = 0; i < n; i++) max = max > x[i] ? max : x[i];
        if (max < GroupMaxEps)
        {
            for (int i = 0; i < n; i++) L[i] = 0;
            return 0f;
        }
        float iscale = nmax / max;
        for (int i = 0; i < n; i++) L[i] = (byte)NearestInt(iscale * x[i]);
        float scale = 1 / iscale;
        float bestMse = 0;
        for (int i = 0; i < n; i++)
        {
            float diff = x[i] - scale * L[i];
            bestMse += quantWeights[i] * diff * diff;
        }
        for (int step = -4; step <= 4; step++)
        {
            if (step == 0) continue;
            float iscaleStep = (0.1f * step + nmax) / max;
            float scaleStep = 1 / iscaleStep;
            float mse = 0;
            for (int i = 0; i < n; i++)
            {
                int l = Math.Min(nmax, NearestInt(iscaleStep * x[i]));
                float diff = x[i] - scaleStep * l;
                mse += quantWeights[i] * diff * diff;
            }
            if (mse < bestMse)
            {
                bestMse = mse;
                iscale = iscaleStep;
            }
        }
        float sumlx = 0, suml2 = 0;
        for (int i = 0; i < n; i++)
        {
            int l = Math.Min(nmax, NearestInt(iscale * x[i]));
            L[i] = (byte)l;
            float w = quantWeights[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        for (int pass = 0; pass < 5; pass++)
        {
            int changed = 0;
            for (int i = 0; i < n; i++)
            {
                float w = quantWeights[i];
                float slx = sumlx - w * x[i] * L[i];
                float sl2 = suml2 - w * L[i] * L[i];
                if (slx > 0 && sl2 > 0)
                {
                    int newL = Math.Min(nmax, NearestInt(x[i] * sl2 / slx));
                    if (newL != L[i])
                    {
                        slx += w * x[i] * newL;
                        sl2 += w * newL * newL;
                        if (slx * slx * suml2 > sumlx * sumlx * sl2)
                        {
                            L[i] = (byte)newL; sumlx = slx; suml2 = sl2;
                            changed++;
                        }
                    }
                }
            }
            if (changed == 0) break;
        }
        return suml2 > 0f ? sumlx / suml2 : 0f;
    }
}
