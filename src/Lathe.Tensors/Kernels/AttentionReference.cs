namespace Lathe.Tensors.Kernels;

/// <summary>The scalar twin of <see cref="FlashAttention"/>: materialises every score row, sums in double.
/// Same semantics (masks, bias, packed segments, fully masked rows give zero, dropout on the probabilities drawn per
/// (b,h,t,s)).</summary>
internal static unsafe class AttentionReference
{
    static bool Visible(int t, int s, int T, int S, bool causal, int window, int keyLength, int segmentStart)
    {
        if (s >= keyLength || s < segmentStart) return false;
        int last = t + (S - T);
        if (causal && s > last) return false;
        if (window > 0 && s <= last - window) return false;
        return true;
    }

    /// <summary>The keep-scale of probability (b,h,t,s): 1/(1 − p) if its draw is kept, else 0 (1 without dropout).</summary>
    public static double Keep(float dropout, ulong seed, int b, int h, int t, int s, int H, int T, int S)
        => dropout == 0 ? 1 : ReferenceKernels.Uniform(seed, (ulong)((((long)b * H + h) * T + t) * S + s)) >= dropout ? 1.0 / (1.0 - dropout) : 0;

    /// <summary>O = dropout(softmax(Q·Kᵀ·scale + bias + mask))·V, writing the undropped probabilities to p (B,H,T,S).
    /// <paramref name="segmentStarts"/> (B·T, or empty) hides from query (b, t) every key before segmentStarts[b·T + t].
    /// <paramref name="softCap"/> &gt; 0 turns each scaled score x into softCap·tanh(x / softCap) before the bias.</summary>
    public static void Forward(float* q, float* k, float* v, float* bias, bool biasPerBatch, ReadOnlySpan<int> keyLengths,
        float* p, float* o, int B, int H, int Hkv, int T, int S, int D, float scale, bool causal, int window,
        float dropout = 0, ulong seed = 0, ReadOnlySpan<int> segmentStarts = default, float softCap = 0)
    {
        int group = H / Hkv;
        for (int b = 0; b < B; b++)
            for (int h = 0; h < H; h++)
            {
                int kh = h / group;
                float* qb = q + ((long)b * H + h) * T * D, ob = o + ((long)b * H + h) * T * D, pb = p + ((long)b * H + h) * T * S;
                float* kb = k + ((long)b * Hkv + kh) * S * D, vb = v + ((long)b * Hkv + kh) * S * D;
                float* bb = bias == null ? null : bias + ((biasPerBatch ? (long)b * H : 0) + h) * T * S;
                int len = keyLengths.IsEmpty ? S : keyLengths[b];
                for (int t = 0; t < T; t++)
                {
                    float* pr = pb + (long)t * S;
                    float max = float.NegativeInfinity;
                    for (int s = 0; s < S; s++)
                    {
                        if (!Visible(t, s, T, S, causal, window, len, segmentStarts.IsEmpty ? 0 : segmentStarts[b * T + t])) { pr[s] = float.NegativeInfinity; continue; }
                        double dot = 0;
                        for (int d = 0; d < D; d++) dot += (double)qb[(long)t * D + d] * kb[(long)s * D + d];
                        float x = (float)dot * scale;
                        if (softCap > 0) x = (float)(softCap * Math.Tanh((double)x / softCap));
                        pr[s] = x + (bb == null ? 0f : bb[(long)t * S + s]);
                        max = MathF.Max(max, pr[s]);
                    }
                    double sum = 0;
                    for (int s = 0; s < S; s++) sum += float.IsNegativeInfinity(pr[s]) ? 0 : Math.Exp(pr[s] - max);
                    for (int s = 0; s < S; s++) pr[s] = sum == 0 || float.IsNegativeInfinity(pr[s]) ? 0f : (float)(Math.Exp(pr[s] - max) / sum);
                    for (int d = 0; d < D; d++)
                    {
                        double acc = 0;
                        for (int s = 0; s < S; s++) acc += Keep(dropout, seed, b, h, t, s, H, T, S) * pr[s] * vb[(long)s * D + d];
                        ob[(long)t * D + d] = (float)acc;
                    }
                }
            }
    }


    /// <summary>Adds dQ, dK, dV, dBias (any null) from dO, given the probabilities p of <see cref="Forward"/>.</summary>
    public static void Backward(float* q, float* k, float* v, float* p, float* g, float* dq, float* dk, float* dv, float* dbias,
        bool biasPerBatch, int B, int H, int Hkv, int T, int S, int D, float scale, float dropout = 0, ulong seed = 0)
    {
        int group = H / Hkv;
        var dS = new double[S];
        for (int b = 0; b < B; b++)
            for (int h = 0; h < H; h++)
            {
                int kh = h / group;
                long qo = ((long)b * H + h) * T * D, ko = ((long)b * Hkv + kh) * S * D;
                float* pb = p + ((long)b * H + h) * T * S;
                for (int t = 0; t < T; t++)
                {
                    float* pr = pb + (long)t * S, gr = g + qo + (long)t * D;
                    double rowDot = 0;
                    for (int s = 0; s < S; s++)
                    {
                        double dp = 0;
                        for (int d = 0; d < D; d++) dp += (double)gr[d] * v[ko + (long)s * D + d];
                        dS[s] = Keep(dropout, seed, b, h, t, s, H, T, S) * dp;   // through the dropout
                        rowDot += dS[s] * pr[s];
                    }
                    for (int s = 0; s < S; s++)
                    {
                        double ds = pr[s] * (dS[s] - rowDot);
                        double kept = Keep(dropout, seed, b, h, t, s, H, T, S) * pr[s];
                        if (dv != null)
                            for (int d = 0; d < D; d++) dv[ko + (long)s * D + d] += (float)(kept * gr[d]);
                        if (dbias != null) dbias[((biasPerBatch ? (long)b * H : 0) + h) * T * S + (long)t * S + s] += (float)ds;
                        if (dq != null)
                            for (int d = 0; d < D; d++) dq[qo + (long)t * D + d] += (float)(ds * scale * k[ko + (long)s * D + d]);
                        if (dk != null)
                            for (int d = 0; d < D; d++) dk[ko + (long)s * D + d] += (float)(ds * scale * q[qo + (long)t * D + d]);
                    }
                }
            }
    }
}
