using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using Lathe.Tensors.Threading;

namespace Lathe.Tensors.Kernels;

/// <summary>Decoding attention over a paged KV cache: each query row reads its sequence's keys and values through a
/// block table instead of from one contiguous (B,Hkv,capacity,D) tensor, so sequences of different lengths share one
/// pool of fixed-size blocks. The blocked <see cref="FlashAttention"/> pays for query tiles and masks one query does not
/// need; this does the three obvious passes (scores, softmax, weighted sum of V) per (row, kv head), each a task on the
/// pool. The query heads that share a kv head (grouped-query attention) go together, so each block of keys and values
/// is read once for all of them, and both products are small GEMMs over a block: scores (G×n) = Q_group·K_blockᵀ
/// (<see cref="GemmFewRows"/>), O_group (G×D) += P_block·V_block (<see cref="BlockGemm"/>) — instead of a dot product and
/// an axpy of length D per key and head. Its slow twin is <see cref="AttentionReference"/> over the keys
/// gathered into order (the tests do that gather).</summary>
public static unsafe class PagedAttention
{
    /// <summary>o (N,H,D) = softmax(q·Kᵀ·scale + bias)·V for N query rows. Row r sees keys 0..visible[r]−1 of its
    /// sequence, whose key s lives in block tables[tableStart[r] + s / blockSize] at offset s mod blockSize of
    /// <paramref name="kPool"/>, <paramref name="vPool"/> (Hkv, blocks, blockSize, D) — head-major, so a sequence whose
    /// blocks were handed out in order reads each head's keys as one contiguous run, as from a contiguous cache. Query row r, head h starts at
    /// q + r·qRow + h·D; output row r at o + r·oRow + h·D. Head h reads kv head h / (H/Hkv).
    /// <paramref name="positionBias"/> (H rows of <paramref name="biasStride"/> values, or null) adds
    /// positionBias[h, visible[r] − 1 − s] — a bias by the query-to-key distance, as ALiBi (Press et al. 2022) and T5's
    /// relative buckets are — to the score of key s. <paramref name="prefixK"/>, <paramref name="prefixV"/> (Hkv, P, D),
    /// when P &gt; 0, are P more keys and values every row sees before its sequence's (prefix tuning); the bias does not
    /// apply to them. <paramref name="window"/> &gt; 0 keeps only the last <paramref name="window"/> keys of each row (its
    /// own included: llama.cpp's standard sliding window, key s hidden when (visible − 1) − s ≥ window); not with a
    /// prefix. <paramref name="softCap"/> &gt; 0 replaces each scaled score x by softCap·tanh(x / softCap) before the bias
    /// (Gemma 2's attention-logit soft-capping).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward(float* q, int qRow, float* kPool, float* vPool, float* o, int oRow, int* tables, int* tableStart,
        int* visible, int N, int H, int Hkv, int D, int blockSize, int blocks, float scale, float* positionBias = null, int biasStride = 0,
        float* prefixK = null, float* prefixV = null, int P = 0, int window = 0, float softCap = 0)
    {
        if (window < 0 || (window > 0 && P > 0) || !(softCap >= 0) || float.IsInfinity(softCap))
            throw new ArgumentException($"PagedAttention: window {window} (≥ 0, not with a prefix of {P}) and soft cap {softCap} (finite, ≥ 0).");
        if (N < 0 || H <= 0 || Hkv <= 0 || H % Hkv != 0 || D <= 0 || blockSize <= 0 || blocks <= 0 || qRow < H * D || oRow < H * D)
            throw new ArgumentException($"PagedAttention: dims N={N}, H={H}, Hkv={Hkv}, D={D}, block size {blockSize}, row strides {qRow}/{oRow} do not fit.");
        if (N > 0 && (q == null || kPool == null || vPool == null || o == null || tables == null || tableStart == null || visible == null
            || (P > 0 && (prefixK == null || prefixV == null)) || P < 0))
            throw new ArgumentException($"PagedAttention: null buffer for N={N}, H={H}, D={D}.");
        long work = 0;
        for (int r = 0; r < N; r++)
        {
            if (visible[r] <= 0) throw new ArgumentException($"PagedAttention: row {r} sees {visible[r]} keys; it must see at least its own.");
            if (positionBias != null && visible[r] > biasStride)
                throw new ArgumentException($"PagedAttention: row {r} sees {visible[r]} keys; the position bias covers distances below {biasStride}.");
            work += visible[r] + P;
        }
        var body = new Body
        {
            Q = q, K = kPool, V = vPool, O = o, Tables = tables, TableStart = tableStart, Visible = visible, Bias = positionBias, BiasStride = biasStride, PrefixK = prefixK, PrefixV = prefixV, P = P,
            QRow = qRow, ORow = oRow, H = H, Hkv = Hkv, D = D, BlockSize = blockSize, Blocks = blocks, Scale = scale,
            Window = window, SoftCap = softCap,
        };
        // A task per (row, kv head) and its G query heads; split the heads further when that leaves the threads idle
        // (one sequence over one or two kv heads).
        int G = H / Hkv, pool = ComputePool.Shared.Threads;
        int splits = Math.Min(G, Math.Max(1, (2 * pool + N * Hkv - 1) / (N * Hkv)));
        body.GroupHeads = (G + splits - 1) / splits;
        body.Splits = (G + body.GroupHeads - 1) / body.GroupHeads;
        int tasks = N * Hkv * body.Splits;
        if (work * H * D < 32 * 1024) for (int i = 0; i < tasks; i++) body.Execute(i);
        else ComputePool.Shared.For(tasks, ref body);
    }

    struct Body : IParallelBody
    {
        public float* Q, K, V, O, Bias, PrefixK, PrefixV;
        public int* Tables, TableStart, Visible;
        public int QRow, ORow, H, Hkv, D, BlockSize, Blocks, BiasStride, P, GroupHeads, Splits, Window;
        public float Scale, SoftCap;

        public void Execute(int task)
        {
            int r = task / (Hkv * Splits), kvh = task / Splits % Hkv, h0 = kvh * (H / Hkv) + task % Splits * GroupHeads;
            int g = Math.Min(GroupHeads, (kvh + 1) * (H / Hkv) - h0), S = Visible[r];
            // A sliding window starts at key `first`; whole blocks are read from the one holding it, and the few keys
            // before it in that block are masked. Key s's score sits at column P + s − lo.
            int first = Window > 0 ? Math.Max(0, S - Window) : 0, lo = first / BlockSize * BlockSize, width = P + S - lo;
            float* q = Q + (long)r * QRow + (long)h0 * D, o = O + (long)r * ORow + (long)h0 * D;   // g heads, D apart
            int* table = Tables + TableStart[r];
            long headOffset = (long)kvh * Blocks * BlockSize * D, blockFloats = (long)BlockSize * D;
            float* scores = Scratch.Get((long)g * width);   // (g, P + S − lo): prefix keys' scores, then the sequence's
            float* pk = PrefixK + (long)kvh * P * D, pv = PrefixV + (long)kvh * P * D;
            if (P > 0) Scores(q, g, pk, P, scores, width);
            // Keys block by block: inside a block a kv head's rows are contiguous.
            for (int s0 = lo; s0 < S; s0 += BlockSize)
                Scores(q, g, K + table[s0 / BlockSize] * blockFloats + headOffset, Math.Min(BlockSize, S - s0), scores + P + s0 - lo, width);
            for (int i = 0; i < g; i++)
            {
                var all = new Span<float>(scores + (long)i * width, width);
                TensorPrimitives.Multiply(all, Scale, all);
                if (SoftCap > 0)
                {
                    TensorPrimitives.Multiply(all, 1f / SoftCap, all);
                    TensorPrimitives.Tanh(all, all);
                    TensorPrimitives.Multiply(all, SoftCap, all);
                }
                float* row = scores + (long)i * width + P;   // key lo at row[0]
                if (Bias != null)
                {
                    float* bias = Bias + (long)(h0 + i) * BiasStride;
                    for (int s = lo; s < S; s++) row[s - lo] += bias[S - 1 - s];
                }
                for (int s = lo; s < first; s++) row[s - lo] = float.NegativeInfinity;   // outside the window: exp gives 0
                float max = TensorPrimitives.Max(all);
                TensorPrimitives.Subtract(all, max, all);
                TensorPrimitives.Exp(all, all);
                TensorPrimitives.Multiply(all, 1f / TensorPrimitives.Sum(all), all);
                new Span<float>(o + (long)i * D, D).Clear();
            }
            // O (g, D) += P (g, n) · V (n, D), block by block.
            if (P > 0) BlockGemm.MulAdd(g, D, P, scores, width, 1, pv, D, o, D);
            for (int s0 = lo; s0 < S; s0 += BlockSize)
                BlockGemm.MulAdd(g, D, Math.Min(BlockSize, S - s0), scores + P + s0 - lo, width, 1,
                    V + table[s0 / BlockSize] * blockFloats + headOffset, D, o, D);
        }

        // scores[i, s] = q_i · k_s for g query heads (D apart) and n keys (D apart), unscaled.
        readonly void Scores(float* q, int g, float* keys, int n, float* scores, int ldScores)
        {
            if (GemmFewRows.Applies(false, true, g, n, D)) { GemmFewRows.MultiplyOnThisThread(g, n, D, q, D, keys, D, scores, ldScores, false); return; }
            for (int i = 0; i < g; i++)
                for (int s = 0; s < n; s++)
                    scores[(long)i * ldScores + s] = TensorPrimitives.Dot(new ReadOnlySpan<float>(q + (long)i * D, D), new ReadOnlySpan<float>(keys + (long)s * D, D));
        }
    }
}
