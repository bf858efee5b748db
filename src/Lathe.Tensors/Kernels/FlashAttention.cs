using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using Lathe.Tensors.Threading;

namespace Lathe.Tensors.Kernels;

/// <summary>The problem an attention call solves: shapes, masks and bias (see <see cref="FlashAttention"/>).</summary>
internal unsafe struct AttentionProblem
{
    public float* Q, K, V, O, L;          // Q, O (B,H,T,D); K, V (B,Hkv,S,D); L (B,H,T) logsumexp per query
    public float* Bias;                   // null, (H,T,S) or (B,H,T,S)
    public int* KeyLengths;               // null or B lengths
    /// <summary>Null, or (B,T): the first key index query (b, t) may see — its example's start when several examples are
    /// packed into one row (sequence packing), so attention never crosses from one example into another.</summary>
    public int* SegmentStarts;
    public int B, H, Hkv, T, S, D, Window;
    /// <summary>Rows allotted to each (b, kv head) in K and V: a KV cache's capacity (≥ S), or 0 for S.</summary>
    public int KvCapacity;
    public float Scale;
    /// <summary>0, or c &gt; 0: each scaled score x becomes c·tanh(x / c) before the bias is added (Gemma 2's
    /// attention-logit soft-capping). Forward only: the backward refuses it.</summary>
    public float SoftCap;
    public bool Causal, BiasPerBatch;
    /// <summary>Dropout on the attention probabilities (0: none): P[b,h,t,s] is kept, times 1/(1 − p), iff
    /// <see cref="ReferenceKernels.Uniform"/>(DropoutSeed, ((b·H + h)·T + t)·S + s) ≥ p — the rule of
    /// <c>Ops.Dropout</c> over the (B,H,T,S) probability tensor, recomputed by the backward instead of saved.</summary>
    public float Dropout;
    public ulong DropoutSeed;
    /// <summary>Null, or (B,H,T,S) floats for the probabilities P when the problem is one block (T, S ≤
    /// <see cref="FlashAttention.Block"/>) without dropout (<see cref="FlashAttention.CanSaveProbabilities"/>): the
    /// forward writes P there and the backward reads it instead of recomputing Q·Kᵀ and its exps (a ViT's 50 tokens).</summary>
    public float* SavedP;

    /// <summary>Index of P[b,h,t,s0] in the (B,H,T,S) probabilities, for <see cref="Dropout"/>'s draws.</summary>
    public readonly ulong DropoutIndex(int b, int h, int t, int s0) => (ulong)((((long)b * H + h) * T + t) * S + s0);

    /// <summary>Strided layouts (all 0: the contiguous ones above). Q (and dQ) rows of head h in batch b start at
    /// b·QBatch + h·QHead and are QRow apart; K, V (and dK, dV) likewise with the K fields; O (and dO) with the O
    /// fields. A projection's output (B,T,(H+2Hkv)·D) read in place is QBatch = T·(H+2Hkv)·D, QHead = D,
    /// QRow = (H+2Hkv)·D; an output written as (B,T,H·D) is OBatch = T·H·D, OHead = D, ORow = H·D.</summary>
    public long QBatch, QHead, KBatch, KHead, OBatch, OHead;
    public int QRow, KRow, ORow;

    public readonly int QStride => QRow == 0 ? D : QRow;
    public readonly int KStride => KRow == 0 ? D : KRow;
    public readonly int OStride => ORow == 0 ? D : ORow;
    public readonly long QOffset(int b, int h) => QRow == 0 ? ((long)b * H + h) * T * D : b * QBatch + h * QHead;
    public readonly long KOffset(int b, int kvh) =>
        KRow == 0 ? ((long)b * Hkv + kvh) * (KvCapacity > 0 ? KvCapacity : S) * D : b * KBatch + kvh * KHead;
    public readonly long OOffset(int b, int h) => ORow == 0 ? ((long)b * H + h) * T * D : b * OBatch + h * OHead;
    public readonly float* BiasRow(int b, int h, int t) =>
        Bias == null ? null : Bias + (((BiasPerBatch ? (long)b * H : 0) + h) * T + t) * S;

    /// <summary>The keys query t of batch b may see: [lo, hi). Empty when hi ≤ lo.</summary>
    public readonly void Visible(int b, int t, out int lo, out int hi)
    {
        int last = t + (S - T);
        hi = KeyLengths == null ? S : Math.Min(S, KeyLengths[b]);
        if (Causal) hi = Math.Min(hi, last + 1);
        lo = Window > 0 ? Math.Max(0, last - Window + 1) : 0;
        if (SegmentStarts != null) lo = Math.Max(lo, SegmentStarts[(long)b * T + t]);
    }

    /// <summary>Whether any of queries t0 … t0 + rows − 1 of batch b sees a key in [s0, s0 + cols). A block pair that
    /// fails this is skipped whole (causal blocks above the diagonal, blocks across packed examples).</summary>
    public readonly bool AnyVisible(int b, int t0, int rows, int s0, int cols)
    {
        // From the last query down: under a causal mask it sees the most keys, so the usual block exits at once.
        for (int i = rows - 1; i >= 0; i--)
        {
            Visible(b, t0 + i, out int lo, out int hi);
            if (Math.Max(lo, s0) < Math.Min(hi, s0 + cols)) return true;
        }
        return false;
    }
}

/// <summary>Scaled dot-product attention, block-wise (FlashAttention-2, Dao 2023): for each block of 64 queries the
/// keys are visited in blocks of 64 with an online softmax, so no T×S score matrix is ever held — only a 64×64
/// block per thread. The forward saves O and the logsumexp L per query; the backward recomputes each score block
/// from Q, K and L. Parallel and deterministic: forward tasks own query blocks; the backward computes dK, dV in
/// tasks that own key blocks (looping over every query block, and over the query heads that share a kv head), then
/// dQ and dBias in tasks that own query blocks — so every gradient element has one writer and a fixed order.</summary>
internal static unsafe class FlashAttention
{
    public const int Block = 64;

    /// <summary>The backward keeps the key pass's dS blocks for the query pass up to this many floats (64 MB).</summary>
    internal const long MaxStoredScoreFloats = 16L << 20;

    // Scratch per task: S/P block (Block²), dP block (Block²), a transposed K or V block (D·Block), O accumulator (Block·D),
    // and per-row m, l, D (3·Block).
    static long ScratchFloats(int d) => 2L * Block * Block + 2L * d * Block + 3L * Block;

    struct ForwardBody : IParallelBody
    {
        public AttentionProblem P;
        public int QueryBlocks;

        public void Execute(int task)
        {
            int qb = task % QueryBlocks, bh = task / QueryBlocks;
            int b = bh / P.H, h = bh % P.H, kvh = h / (P.H / P.Hkv);
            int t0 = qb * Block, rows = Math.Min(Block, P.T - t0), D = P.D, S = P.S, qld = P.QStride, kld = P.KStride, old = P.OStride;
            float* scratch = Scratch.Get(ScratchFloats(D));
            float* s = scratch, kt = scratch + 2L * Block * Block, acc = kt + (long)D * Block, m = acc + (long)Block * D, l = m + Block;
            float* q = P.Q + P.QOffset(b, h) + (long)t0 * qld, k = P.K + P.KOffset(b, kvh), v = P.V + P.KOffset(b, kvh);
            new Span<float>(acc, rows * D).Clear();
            int loAll = int.MaxValue, hiAll = 0;
            for (int i = 0; i < rows; i++)
            {
                m[i] = float.NegativeInfinity; l[i] = 0;
                P.Visible(b, t0 + i, out int lo, out int hi);
                if (hi > lo) { loAll = Math.Min(loAll, lo); hiAll = Math.Max(hiAll, hi); }
            }
            for (int s0 = loAll / Block * Block; s0 < hiAll; s0 += Block)
            {
                int cols = Math.Min(Block, S - s0);
                // Packed examples can leave a key block between loAll and hiAll that no query of this block sees;
                // without segments each query's keys are one run, so their union has no such gap.
                if (P.SegmentStarts != null && !P.AnyVisible(b, t0, rows, s0, cols)) continue;
                // s = Q·Kᵀ for this block: transpose the K block to D×cols, then row-major products.
                BlockGemm.Transpose(k + (long)s0 * kld, cols, D, kld, kt);
                new Span<float>(s, rows * cols).Clear();
                BlockGemm.MulAdd(rows, cols, D, q, qld, 1, kt, cols, s, cols);
                bool any = false;
                for (int i = 0; i < rows; i++)
                {
                    var row = new Span<float>(s + (long)i * cols, cols);
                    if (!ScaleAndMask(ref P, b, h, t0 + i, s0, row, out float blockMax)) { row.Clear(); continue; }
                    float mNew = MathF.Max(m[i], blockMax);
                    float alpha = MathF.Exp(m[i] - mNew);   // 0 when m was −∞
                    l[i] = l[i] * alpha + FloatExp.ExpShiftedSum(row, mNew, row);   // masked entries: exp(−∞) = 0
                    if (alpha != 1f) TensorPrimitives.Multiply(new Span<float>(acc + (long)i * D, D), alpha, new Span<float>(acc + (long)i * D, D));
                    m[i] = mNew;
                    any = true;
                    // The normaliser l counts every probability; only the V products see the dropped ones.
                    if (P.Dropout > 0) DropRow(P.DropoutSeed, P.DropoutIndex(b, h, t0 + i, s0), P.Dropout, s + (long)i * cols, cols);
                }
                if (any) BlockGemm.MulAdd(rows, D, cols, s, cols, 1, v + (long)s0 * kld, kld, acc, D);
            }
            float* o = P.O + P.OOffset(b, h) + (long)t0 * old;
            float* lse = P.L + ((long)b * P.H + h) * P.T + t0;
            // One key block (S ≤ Block): s holds exp(S − m) for every key, so P = s / l; kept for the backward.
            float* saved = P.SavedP == null ? null : P.SavedP + (((long)b * P.H + h) * P.T + t0) * S;
            for (int i = 0; i < rows; i++)
            {
                var oi = new Span<float>(o + (long)i * old, D);
                if (saved != null)
                {
                    var pi = new Span<float>(saved + (long)i * S, S);
                    if (l[i] == 0) pi.Clear();
                    else TensorPrimitives.Multiply(new ReadOnlySpan<float>(s + (long)i * S, S), 1f / l[i], pi);
                }
                if (l[i] == 0) { oi.Clear(); lse[i] = float.NegativeInfinity; continue; }
                TensorPrimitives.Multiply(new ReadOnlySpan<float>(acc + (long)i * D, D), 1f / l[i], oi);
                lse[i] = m[i] + MathF.Log(l[i]);
            }
        }
    }

    /// <summary>Scales a row of raw scores, adds the bias and sets invisible keys to −∞; gives the row's maximum.
    /// False when the block holds no visible key for this query.</summary>
    static bool ScaleAndMask(ref AttentionProblem p, int b, int h, int t, int s0, Span<float> row, out float max)
    {
        max = float.NegativeInfinity;
        p.Visible(b, t, out int lo, out int hi);
        int from = Math.Max(lo - s0, 0), to = Math.Min(hi - s0, row.Length);
        if (to <= from) return false;
        float* bias = p.BiasRow(b, h, t);
        if (bias != null) bias += s0;
        if (Vector512.IsHardwareAccelerated && row.Length % 16 == 0 && p.SoftCap == 0)
        {
            // One pass in registers: the same products and sums as the span calls below, lane by lane.
            fixed (float* r = row)
            {
                var scale = Vector512.Create(p.Scale);
                var lanes = Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
                var maxv = Vector512.Create(float.NegativeInfinity);
                for (int j = 0; j < row.Length; j += 16)
                {
                    var v = Vector512.Load(r + j) * scale;
                    if (bias != null) v += Vector512.Load(bias + j);
                    var index = lanes + Vector512.Create(j);
                    var visible = Vector512.GreaterThanOrEqual(index, Vector512.Create(from)) & Vector512.LessThan(index, Vector512.Create(to));
                    v = Vector512.ConditionalSelect(visible.AsSingle(), v, Vector512.Create(float.NegativeInfinity));
                    v.Store(r + j);
                    maxv = Vector512.Max(maxv, v);
                }
                max = VectorReduce.Max(maxv);
            }
            return true;
        }
        TensorPrimitives.Multiply(row, p.Scale, row);
        if (p.SoftCap > 0)
        {
            TensorPrimitives.Multiply(row, 1f / p.SoftCap, row);
            TensorPrimitives.Tanh(row, row);
            TensorPrimitives.Multiply(row, p.SoftCap, row);
        }
        if (bias != null) TensorPrimitives.Add(row, new ReadOnlySpan<float>(bias, row.Length), row);
        row[..from].Fill(float.NegativeInfinity);
        row[to..].Fill(float.NegativeInfinity);
        max = TensorPrimitives.Max(row);
        return true;
    }

    /// <summary>row[j] ×= z(index + j): 1/(1 − p) where the draw keeps it, else 0.</summary>
    internal static void DropRow(ulong seed, ulong index, float p, float* row, int cols)
    {
        float keep = 1f / (1f - p);
        int j = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; j + 16 <= cols; j += 16)
                (Vector512.Load(row + j) * KeepScale(seed, index + (ulong)j, p, keep)).Store(row + j);
        for (; j < cols; j++) row[j] *= ReferenceKernels.Uniform(seed, index + (ulong)j) >= p ? keep : 0f;
    }

    /// <summary>dp[j] = P[j]·(z·dp[j] − Δ) and P[j] = z·P[j], z the keep-scale of index + j.</summary>
    static void DropoutScoreRow(ulong seed, ulong index, float p, float* pRow, float* dpRow, float delta, int cols)
    {
        float keep = 1f / (1f - p);
        int j = 0;
        if (Vector512.IsHardwareAccelerated)
            for (var d = Vector512.Create(delta); j + 16 <= cols; j += 16)
            {
                var z = KeepScale(seed, index + (ulong)j, p, keep);
                var pv = Vector512.Load(pRow + j);
                (pv * (z * Vector512.Load(dpRow + j) - d)).Store(dpRow + j);
                (z * pv).Store(pRow + j);
            }
        for (; j < cols; j++)
        {
            float z = ReferenceKernels.Uniform(seed, index + (ulong)j) >= p ? keep : 0f;
            dpRow[j] = pRow[j] * (z * dpRow[j] - delta);
            pRow[j] *= z;
        }
    }

    /// <summary>Sixteen keep-scales for indices index..index+15: <see cref="ReferenceKernels.Uniform"/> lane by lane
    /// (SplitMix64's finaliser in 64-bit lanes), compared with p.</summary>
    static Vector512<float> KeepScale(ulong seed, ulong index, float p, float keep)
    {
        var lanes = Vector512.Create(1UL, 2, 3, 4, 5, 6, 7, 8);
        var golden = Vector512.Create(0x9E3779B97F4A7C15UL);
        var lo = Mix(Vector512.Create(seed) + (Vector512.Create(index) + lanes) * golden);
        var hi = Mix(Vector512.Create(seed) + (Vector512.Create(index + 8) + lanes) * golden);
        // The top 24 bits of each 64-bit draw, as float in [0, 1): narrow the two halves to 16 int lanes.
        var bits = Vector512.Narrow(lo >> 40, hi >> 40).AsInt32();
        var u = Vector512.ConvertToSingle(bits) * Vector512.Create(1f / (1 << 24));
        return Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(u, Vector512.Create(p)), Vector512.Create(keep), Vector512<float>.Zero);
    }

    static Vector512<ulong> Mix(Vector512<ulong> z)
    {
        z = (z ^ (z >> 30)) * Vector512.Create(0xBF58476D1CE4E5B9UL);
        z = (z ^ (z >> 27)) * Vector512.Create(0x94D049BB133111EBUL);
        return z ^ (z >> 31);
    }

    /// <summary>Whether the forward can keep P for the backward (<see cref="AttentionProblem.SavedP"/>): one block of
    /// queries and keys, no dropout (whose backward rewrites P).</summary>
    public static bool CanSaveProbabilities(int t, int s, float dropout) => t <= Block && s <= Block && dropout == 0;

    static void CheckSavedP(ref AttentionProblem p)
    {
        if (p.SavedP != null && !CanSaveProbabilities(p.T, p.S, p.Dropout))
            throw new ArgumentException($"FlashAttention: probabilities are kept only for one block without dropout (T = {p.T}, S = {p.S}, dropout {p.Dropout}).");
    }

    public static void Forward(ref AttentionProblem p, ComputePool? pool = null)
    {
        CheckSavedP(ref p);
        var body = new ForwardBody { P = p, QueryBlocks = (p.T + Block - 1) / Block };
        (pool ?? ComputePool.Shared).For(p.B * p.H * body.QueryBlocks, ref body);
    }

    // ── Backward ─────────────────────────────────────────────────────────────────────────────────

    struct BackwardBody : IParallelBody
    {
        public AttentionProblem P;
        public float* DO, DQ, DK, DV, DBias, Delta;   // Delta (B,H,T) = rowsum(dO ∘ O)
        // When set, the key pass leaves each block's scaled dS here (block (b, h, qb, kb) at
        // ((b·H + h)·QueryBlocks + qb)·KeyBlocks + kb, Block² floats) with a byte flag for blocks it found non-empty,
        // and the query pass reads dQ += dS·K from it instead of recomputing the scores.
        public float* DS;
        public byte* DSFilled;
        public int QueryBlocks, KeyBlocks;
        public bool KeyPass;

        readonly long DSBlock(int b, int h, int qb, int kb) => (((long)b * P.H + h) * QueryBlocks + qb) * KeyBlocks + kb;

        public void Execute(int task)
        {
            if (KeyPass) KeyBlockTask(task);
            else QueryBlockTask(task);
        }

        // Computes, for query block (b, h, t0) against key block s0: P (in s, or s pointed at the forward's saved P)
        // and dS (in dp, unscaled). False if empty.
        bool ScoreBlock(int b, int h, int kvh, int t0, int rows, int s0, int cols, ref float* s, float* dp, float* kt, float* vt)
        {
            // A block pair no query sees (above the causal diagonal, across packed examples) gives nothing: skip its products.
            if (!P.AnyVisible(b, t0, rows, s0, cols)) return false;
            int D = P.D, qld = P.QStride, kld = P.KStride, old = P.OStride;
            float* q = P.Q + P.QOffset(b, h) + (long)t0 * qld, dO = DO + P.OOffset(b, h) + (long)t0 * old;
            float* lse = P.L + ((long)b * P.H + h) * P.T + t0, delta = Delta + ((long)b * P.H + h) * P.T + t0;
            bool any = false;
            if (P.SavedP != null)
            {
                // One block, P kept by the forward (rows no key is visible to are zeros there).
                s = P.SavedP + (((long)b * P.H + h) * P.T + t0) * P.S;
                for (int i = 0; i < rows && !any; i++) any = !float.IsNegativeInfinity(lse[i]);
            }
            else
            {
                BlockGemm.Transpose(P.K + P.KOffset(b, kvh) + (long)s0 * kld, cols, D, kld, kt);
                new Span<float>(s, rows * cols).Clear();
                BlockGemm.MulAdd(rows, cols, D, q, qld, 1, kt, cols, s, cols);
                for (int i = 0; i < rows; i++)
                {
                    var row = new Span<float>(s + (long)i * cols, cols);
                    if (float.IsNegativeInfinity(lse[i]) || !ScaleAndMask(ref P, b, h, t0 + i, s0, row, out _)) { row.Clear(); continue; }
                    FloatExp.ExpShiftedSum(row, lse[i], row);     // P = exp(S − L)
                    any = true;
                }
            }
            if (!any) return false;
            // dP = dO·Vᵀ; dS = P ∘ (dP − Δ)
            BlockGemm.Transpose(P.V + P.KOffset(b, kvh) + (long)s0 * kld, cols, D, kld, vt);
            new Span<float>(dp, rows * cols).Clear();
            BlockGemm.MulAdd(rows, cols, D, dO, old, 1, vt, cols, dp, cols);
            for (int i = 0; i < rows; i++)
            {
                float* dpi = dp + (long)i * cols, pi = s + (long)i * cols;
                if (P.Dropout > 0)
                {
                    // With keep-scale z: dS = P ∘ (z·dP − Δ), and dV takes z·P, left in s.
                    DropoutScoreRow(P.DropoutSeed, P.DropoutIndex(b, h, t0 + i, s0), P.Dropout, pi, dpi, delta[i], cols);
                    continue;
                }
                int j = 0;
                if (Vector512.IsHardwareAccelerated)
                    for (var d = Vector512.Create(delta[i]); j + 16 <= cols; j += 16)
                        ((Vector512.Load(dpi + j) - d) * Vector512.Load(pi + j)).Store(dpi + j);
                for (; j < cols; j++) dpi[j] = (dpi[j] - delta[i]) * pi[j];
            }
            return true;
        }

        void KeyBlockTask(int task)
        {
            int kb = task % KeyBlocks, bkv = task / KeyBlocks;
            int b = bkv / P.Hkv, kvh = bkv % P.Hkv, group = P.H / P.Hkv;
            int s0 = kb * Block, cols = Math.Min(Block, P.S - s0), D = P.D, qld = P.QStride, kld = P.KStride, old = P.OStride;
            float* scratch = Scratch.Get(ScratchFloats(D));
            float* s = scratch, dp = s + (long)Block * Block, kt = dp + (long)Block * Block, vt = kt + (long)D * Block;
            float* dk = DK == null ? null : DK + P.KOffset(b, kvh) + (long)s0 * kld;
            float* dv = DV == null ? null : DV + P.KOffset(b, kvh) + (long)s0 * kld;
            for (int h = kvh * group; h < (kvh + 1) * group; h++)
                for (int qb = 0; qb < QueryBlocks; qb++)
                {
                    int t0 = qb * Block, rows = Math.Min(Block, P.T - t0);
                    long stored = DS == null ? -1 : DSBlock(b, h, qb, kb);
                    float* ds = DS == null ? dp : DS + stored * Block * Block;
                    float* p = s;
                    bool filled = ScoreBlock(b, h, kvh, t0, rows, s0, cols, ref p, ds, kt, vt);
                    if (DS != null) DSFilled[stored] = filled ? (byte)1 : (byte)0;
                    if (!filled) continue;
                    // dV += Pᵀ·dO ; dK += scale·dSᵀ·Q   (Aᵀ through strides: A(i,p) = X[p·cols + i])
                    if (dv != null) BlockGemm.MulAdd(cols, D, rows, p, 1, cols, DO + P.OOffset(b, h) + (long)t0 * old, old, dv, kld);
                    if (dk != null || DS != null)
                        TensorPrimitives.Multiply(new ReadOnlySpan<float>(ds, rows * cols), P.Scale, new Span<float>(ds, rows * cols));
                    if (dk != null) BlockGemm.MulAdd(cols, D, rows, ds, 1, cols, P.Q + P.QOffset(b, h) + (long)t0 * qld, qld, dk, kld);
                }
        }

        void QueryBlockTask(int task)
        {
            int qb = task % QueryBlocks, h = task / QueryBlocks;
            int kvh = h / (P.H / P.Hkv), t0 = qb * Block, rows = Math.Min(Block, P.T - t0), D = P.D, qld = P.QStride, kld = P.KStride;
            float* scratch = Scratch.Get(ScratchFloats(D));
            float* s = scratch, dp = s + (long)Block * Block, kt = dp + (long)Block * Block, vt = kt + (long)D * Block;
            for (int b = 0; b < P.B; b++)
                for (int kb = 0; kb < KeyBlocks; kb++)
                {
                    int s0 = kb * Block, cols = Math.Min(Block, P.S - s0);
                    if (DS != null)
                    {
                        // dQ += dS·K from the key pass's blocks: the same products in the same order as below.
                        long stored = DSBlock(b, h, qb, kb);
                        if (DSFilled[stored] != 0)
                            BlockGemm.MulAdd(rows, D, cols, DS + stored * Block * Block, cols, 1, P.K + P.KOffset(b, kvh) + (long)s0 * kld, kld, DQ + P.QOffset(b, h) + (long)t0 * qld, qld);
                        continue;
                    }
                    float* p = s;
                    if (!ScoreBlock(b, h, kvh, t0, rows, s0, cols, ref p, dp, kt, vt)) continue;
                    if (DBias != null)
                        for (int i = 0; i < rows; i++)
                        {
                            float* db = DBias + (((P.BiasPerBatch ? (long)b * P.H : 0) + h) * P.T + t0 + i) * P.S + s0;
                            TensorPrimitives.Add(new ReadOnlySpan<float>(db, cols), new ReadOnlySpan<float>(dp + (long)i * cols, cols), new Span<float>(db, cols));
                        }
                    if (DQ != null)
                    {
                        // dQ += scale·dS·K
                        TensorPrimitives.Multiply(new ReadOnlySpan<float>(dp, rows * cols), P.Scale, new Span<float>(dp, rows * cols));
                        BlockGemm.MulAdd(rows, D, cols, dp, cols, 1, P.K + P.KOffset(b, kvh) + (long)s0 * kld, kld, DQ + P.QOffset(b, h) + (long)t0 * qld, qld);
                    }
                }
        }
    }

    struct DeltaBody : IParallelBody
    {
        public AttentionProblem P;
        public float* DO, Delta;

        public void Execute(int bh)
        {
            int b = bh / P.H, h = bh % P.H;
            float* o = P.O + P.OOffset(b, h), g = DO + P.OOffset(b, h), d = Delta + (long)bh * P.T;
            for (int t = 0; t < P.T; t++)
                d[t] = TensorPrimitives.Dot(new ReadOnlySpan<float>(g + (long)t * P.OStride, P.D), new ReadOnlySpan<float>(o + (long)t * P.OStride, P.D));
        }
    }

    /// <summary>Adds the gradients of O = attention(Q, K, V) into dQ, dK, dV and dBias (any may be null).
    /// <paramref name="delta"/> is scratch of B·H·T floats.</summary>
    public static void Backward(ref AttentionProblem p, float* dO, float* dq, float* dk, float* dv, float* dbias, float* delta, ComputePool? pool = null)
    {
        CheckSavedP(ref p);
        if (p.SoftCap != 0) throw new NotSupportedException("FlashAttention: a soft cap has no backward (inference only).");
        pool ??= ComputePool.Shared;
        // Δ = rowsum(dO ∘ O), one (b, h) per task (on one thread it held the other idle for ~1% of a ViT step).
        var deltaBody = new DeltaBody { P = p, DO = dO, Delta = delta };
        pool.For(p.B * p.H, ref deltaBody);
        var body = new BackwardBody
        {
            P = p, DO = dO, DQ = dq, DK = dk, DV = dv, DBias = dbias, Delta = delta,
            QueryBlocks = (p.T + Block - 1) / Block, KeyBlocks = (p.S + Block - 1) / Block,
        };
        // Keep dS between the passes when both run and it is small (the query pass then skips two of its three block
        // products); dBias needs dS unscaled, so it keeps the recomputing path.
        long dsBlocks = (long)p.B * p.H * body.QueryBlocks * body.KeyBlocks;
        if (dq != null && dbias == null && (dk != null || dv != null) && dsBlocks * Block * Block <= MaxStoredScoreFloats)
        {
            body.DS = Scratch.GetForCall(dsBlocks * Block * Block + (dsBlocks + 3) / 4);
            body.DSFilled = (byte*)(body.DS + dsBlocks * Block * Block);
        }
        if (dk != null || dv != null)
        {
            body.KeyPass = true;
            pool.For(p.B * p.Hkv * body.KeyBlocks, ref body);
        }
        if (dq != null || dbias != null)
        {
            body.KeyPass = false;
            pool.For(p.H * body.QueryBlocks, ref body);
        }
    }
}
