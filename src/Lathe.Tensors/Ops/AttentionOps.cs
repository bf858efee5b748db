namespace Lathe.Tensors;

// Scaled dot-product attention: O = softmax(Q·Kᵀ·scale + bias + mask)·V, per batch and head, with
// grouped-query heads (head h reads kv head h / (H/Hkv)), a causal mask offset for cached keys, an
// optional sliding window, per-batch key lengths (padding) and an additive bias (ALiBi, T5 buckets).
public static unsafe partial class Ops
{
    /// <summary>Attention of <paramref name="q"/> (B,H,T,D) over <paramref name="k"/>, <paramref name="v"/> (B,Hkv,S,D).
    /// Causal: query t sees key s iff s ≤ t + (S − T). <paramref name="window"/> &gt; 0 also hides keys
    /// s ≤ t + (S − T) − window. <paramref name="keyLengths"/> (one per batch) hides keys s ≥ length.
    /// <paramref name="bias"/> is (H,T,S) shared over the batch or (B,H,T,S). A query that sees no key gets 0.</summary>
    public static Tensor Attention(Tensor q, Tensor k, Tensor v, bool causal, float? scale = null, Tensor? bias = null,
        ReadOnlySpan<int> keyLengths = default, int window = 0)
    {
        if (q.Rank != 4 || k.Rank != 4 || v.Rank != 4)
            throw new ArgumentException($"Attention: q {Tensor.ShapeString(q.Shape)}, k {Tensor.ShapeString(k.Shape)}, v {Tensor.ShapeString(v.Shape)} must be rank 4 (B, H, T, D).");
        int B = q.Shape[0], H = q.Shape[1], T = q.Shape[2], D = q.Shape[3];
        int Hkv = k.Shape[1], S = k.Shape[2];
        if (!k.Shape.SequenceEqual(v.Shape) || k.Shape[0] != B || k.Shape[3] != D || Hkv == 0 || H % Hkv != 0)
            throw new ArgumentException($"Attention: q {Tensor.ShapeString(q.Shape)}, k {Tensor.ShapeString(k.Shape)}, v {Tensor.ShapeString(v.Shape)} do not fit (k and v equal, same B and D, H a multiple of Hkv).");
        bool biasPerBatch = false;
        if (bias is not null)
        {
            bool shared = bias.Rank == 3 && bias.Shape[0] == H && bias.Shape[1] == T && bias.Shape[2] == S;
            biasPerBatch = bias.Rank == 4 && bias.Shape[0] == B && bias.Shape[1] == H && bias.Shape[2] == T && bias.Shape[3] == S;
            if (!shared && !biasPerBatch)
                throw new ArgumentException($"Attention: bias {Tensor.ShapeString(bias.Shape)} must be ({H}, {T}, {S}) or ({B}, {H}, {T}, {S}).");
        }
        if (!keyLengths.IsEmpty && keyLengths.Length != B)
            throw new ArgumentException($"Attention: {keyLengths.Length} key lengths for a batch of {B}.");
        if (window < 0) throw new ArgumentException($"Attention: window {window} must be ≥ 0.");
        var cq = Contiguous(q);
        var ck = Contiguous(k);
        var cv = Contiguous(v);
        var cb = bias is null ? null : Contiguous(bias);
        float sc = scale ?? 1f / MathF.Sqrt(D);
        var y = Autograd.Tape.NewResult(q.Shape);
        var p = Autograd.Tape.NewResult([B, H, T, S]);
        if (Record(y, &AttentionBackward, cq, ck, cv, cb))
        {
            y.Saved0 = p;
            y.F0 = sc;
            y.B0 = biasPerBatch;
            y.Ints = EnsureLength(y.Ints, keyLengths.Length);
            keyLengths.CopyTo(y.Ints);
        }
        AttentionForwardInterim(cq.Data, ck.Data, cv.Data, cb is null ? null : cb.Data, biasPerBatch, keyLengths, p.Data, y.Data,
            B, H, Hkv, T, S, D, sc, causal, window);
        return y;
    }

    static bool Visible(int t, int s, int T, int S, bool causal, int window, int keyLength)
    {
        if (s >= keyLength) return false;
        int last = t + (S - T);
        if (causal && s > last) return false;
        if (window > 0 && s <= last - window) return false;
        return true;
    }

    // INTERIM: materialises P (B,H,T,S) in a tape slot; the block-wise kernel replaces it.
    static void AttentionForwardInterim(float* q, float* k, float* v, float* bias, bool biasPerBatch, ReadOnlySpan<int> keyLengths,
        float* p, float* o, int B, int H, int Hkv, int T, int S, int D, float scale, bool causal, int window)
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
                        if (!Visible(t, s, T, S, causal, window, len)) { pr[s] = float.NegativeInfinity; continue; }
                        double dot = 0;
                        for (int d = 0; d < D; d++) dot += (double)qb[(long)t * D + d] * kb[(long)s * D + d];
                        pr[s] = (float)dot * scale + (bb == null ? 0f : bb[(long)t * S + s]);
                        max = MathF.Max(max, pr[s]);
                    }
                    double sum = 0;
                    for (int s = 0; s < S; s++) sum += float.IsNegativeInfinity(pr[s]) ? 0 : Math.Exp(pr[s] - max);
                    for (int s = 0; s < S; s++) pr[s] = sum == 0 || float.IsNegativeInfinity(pr[s]) ? 0f : (float)(Math.Exp(pr[s] - max) / sum);
                    for (int d = 0; d < D; d++)
                    {
                        double acc = 0;
                        for (int s = 0; s < S; s++) acc += (double)pr[s] * vb[(long)s * D + d];
                        ob[(long)t * D + d] = (float)acc;
                    }
                }
            }
    }

    static void AttentionBackward(Tensor y)
    {
        Tensor q = y.In0!, k = y.In1!, v = y.In2!;
        var dq = GradOf(q);
        var dk = GradOf(k);
        var dv = GradOf(v);
        var dbias = GradOf(y.In3);
        int B = q.Shape[0], H = q.Shape[1], T = q.Shape[2], D = q.Shape[3], Hkv = k.Shape[1], S = k.Shape[2];
        int group = H / Hkv;
        float scale = y.F0;
        float* p = y.Saved0!.Data, g = y.Grad!.Data;
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
                    // dP[s] = dO[t]·V[s]; dS = P ∘ (dP − Σ P∘dP)
                    double rowDot = 0;
                    for (int s = 0; s < S; s++)
                    {
                        double dp = 0;
                        for (int d = 0; d < D; d++) dp += (double)gr[d] * v.Data[ko + (long)s * D + d];
                        dS[s] = dp;
                        rowDot += dp * pr[s];
                    }
                    for (int s = 0; s < S; s++)
                    {
                        double ds = pr[s] * (dS[s] - rowDot);
                        if (dv is not null && pr[s] != 0)
                            for (int d = 0; d < D; d++) dv.Data[ko + (long)s * D + d] += pr[s] * gr[d];
                        if (ds == 0) continue;
                        if (dbias is not null) dbias.Data[((y.B0 ? (long)b * H : 0) + h) * T * S + (long)t * S + s] += (float)ds;
                        if (dq is not null)
                            for (int d = 0; d < D; d++) dq.Data[qo + (long)t * D + d] += (float)(ds * scale * k.Data[ko + (long)s * D + d]);
                        if (dk is not null)
                            for (int d = 0; d < D; d++) dk.Data[ko + (long)s * D + d] += (float)(ds * scale * q.Data[qo + (long)t * D + d]);
                    }
                }
            }
    }
}
