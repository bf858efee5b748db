namespace Lathe.Tensors;

// Attention read straight from token-major projections — one fused QKV output, or separate q, k, v — and written
// straight into the (B,T,C) layout the output projection reads. The same kernel and arithmetic as Ops.Attention on
// split heads, without the head split's copies: forward, the (B,T,·) → (B,heads,T,D) copies and the (B,H,T,D) →
// (B,T,C) one; backward, their scatters and the reshape copies between them.
public static unsafe partial class Ops
{
    /// <summary>Causal or full attention over <paramref name="qkv"/> (B,T,(H+2·Hkv)·D): per token, the H query heads,
    /// then the Hkv key heads, then the Hkv value heads, each head's D values adjacent — the layout of a fused
    /// projection whose output is viewed as (B,T,3,H,D) when Hkv = H. Returns (B,T,H·D), head h at columns
    /// [h·D, (h+1)·D). Equal, value for value and gradient for gradient, to splitting the heads into (B,H,T,D)
    /// tensors, calling <see cref="Attention"/> with the same arguments and merging the heads back.
    /// <paramref name="segmentStarts"/> (B·T, or empty for none) packs several sequences into each row: query (b, t) sees
    /// no key before segmentStarts[b·T + t] (0 ≤ start ≤ t), so with each sequence's start there it attends only within
    /// its own sequence.</summary>
    public static Tensor AttentionPacked(Tensor qkv, int heads, int kvHeads, bool causal, int window = 0,
        float dropout = 0f, ulong dropoutSeed = 0, ReadOnlySpan<int> segmentStarts = default)
    {
        CheckTokenMajor("AttentionPacked", heads, kvHeads, window, dropout);
        int parts = heads + 2 * kvHeads;
        if (qkv.Rank != 3 || qkv.Shape[2] % parts != 0 || qkv.Shape[2] == 0)
            throw new ArgumentException($"AttentionPacked: qkv {Tensor.ShapeString(qkv.Shape)} must be (B, T, (heads + 2·kv heads)·D) with {heads} + 2·{kvHeads} heads.");
        int B = qkv.Shape[0], T = qkv.Shape[1], D = qkv.Shape[2] / parts;
        CheckSegmentStarts("AttentionPacked", segmentStarts, B, T);
        var c = Contiguous(qkv);
        float scale = 1f / MathF.Sqrt(D);
        var y = Autograd.Tape.NewResult([B, T, heads * D]);
        var lse = Autograd.Tape.NewResult([B, heads, T]);
        var problem = PackedProblem(c, y, lse, heads, kvHeads, scale, causal, window);
        problem.Dropout = dropout;
        problem.DropoutSeed = dropoutSeed;
        var scratch = BackwardScratch(B, heads, T, T, dropout, c);
        problem.SavedP = SavedProbabilities(scratch, B, heads, T);
        fixed (int* starts = segmentStarts)
        {
            problem.SegmentStarts = segmentStarts.IsEmpty ? null : starts;
            Kernels.FlashAttention.Forward(ref problem);
        }
        if (Record(y, &AttentionPackedBackward, c)) SaveForBackward(y, lse, scratch!, heads, kvHeads, scale, causal, window, dropout, dropoutSeed, segmentStarts);
        return y;
    }

    static Kernels.AttentionProblem PackedProblem(Tensor qkv, Tensor o, Tensor lse, int heads, int kvHeads, float scale, bool causal, int window)
    {
        int width = qkv.Shape[2], D = width / (heads + 2 * kvHeads);
        return TokenMajorProblem(qkv.Data, width, qkv.Data + (long)heads * D, qkv.Data + (long)(heads + kvHeads) * D, width,
            o, lse, heads, kvHeads, D, scale, causal, window);
    }

    /// <summary>The problem for queries, keys and values stored token-major: row (b, t) of Q at q + (b·T + t)·qWidth
    /// with head h's D values at h·D; K and V likewise with kvWidth. O is written (B,T,H·D).</summary>
    static Kernels.AttentionProblem TokenMajorProblem(float* q, int qWidth, float* k, float* v, int kvWidth, Tensor o, Tensor lse,
        int heads, int kvHeads, int D, float scale, bool causal, int window)
    {
        int B = o.Shape[0], T = o.Shape[1];
        return new()
        {
            Q = q, K = k, V = v, O = o.Data, L = lse.Data,
            B = B, H = heads, Hkv = kvHeads, T = T, S = T, D = D, Scale = scale, Causal = causal, Window = window,
            QBatch = (long)T * qWidth, QHead = D, QRow = qWidth,
            KBatch = (long)T * kvWidth, KHead = D, KRow = kvWidth,
            OBatch = (long)T * heads * D, OHead = D, ORow = heads * D,
        };
    }

    /// <summary>Causal or full attention of queries <paramref name="q"/> (B,T,H·D) over keys and values
    /// <paramref name="k"/>, <paramref name="v"/> (B,T,Hkv·D), all token-major as separate projections write them;
    /// returns (B,T,H·D). Equal, value for value and gradient for gradient, to viewing each as (B,T,heads,D), moving
    /// the heads ahead of the tokens, calling <see cref="Attention"/> and merging the heads back.
    /// <paramref name="segmentStarts"/>: packed sequences, as for <see cref="AttentionPacked"/>. <paramref name="window"/>
    /// &gt; 0: query t sees only keys t − window + 1 … t (a sliding window). <paramref name="scale"/> defaults to 1/√D.
    /// <paramref name="softCap"/> &gt; 0 turns each scaled score x into softCap·tanh(x / softCap) (Gemma 2's
    /// attention-logit soft-capping; inference only: an error when a gradient would be recorded).</summary>
    public static Tensor AttentionTokenMajor(Tensor q, Tensor k, Tensor v, int heads, int kvHeads, bool causal, int window = 0,
        float dropout = 0f, ulong dropoutSeed = 0, ReadOnlySpan<int> segmentStarts = default, float? scale = null, float softCap = 0)
    {
        CheckTokenMajor("AttentionTokenMajor", heads, kvHeads, window, dropout);
        if (!(softCap >= 0) || float.IsInfinity(softCap)) throw new ArgumentException($"AttentionTokenMajor: soft cap {softCap} must be finite and ≥ 0.");
        if (softCap > 0 && Autograd.Tape.IsRecording && (q.NeedsGrad || k.NeedsGrad || v.NeedsGrad))
            throw new NotSupportedException("AttentionTokenMajor: attention-logit soft-capping is inference only (no backward); run under Tape.NoGrad().");
        if (q.Rank != 3 || q.Shape[2] % heads != 0 || q.Shape[2] == 0 || !k.Shape.SequenceEqual(v.Shape) || k.Rank != 3
            || k.Shape[0] != q.Shape[0] || k.Shape[1] != q.Shape[1] || k.Shape[2] != q.Shape[2] / heads * kvHeads)
            throw new ArgumentException($"AttentionTokenMajor: q {Tensor.ShapeString(q.Shape)}, k {Tensor.ShapeString(k.Shape)}, v {Tensor.ShapeString(v.Shape)} must be (B, T, {heads}·D) and two equal (B, T, {kvHeads}·D).");
        int B = q.Shape[0], T = q.Shape[1], D = q.Shape[2] / heads;
        CheckSegmentStarts("AttentionTokenMajor", segmentStarts, B, T);
        var cq = Contiguous(q);
        var ck = Contiguous(k);
        var cv = Contiguous(v);
        float sc = scale ?? 1f / MathF.Sqrt(D);
        var y = Autograd.Tape.NewResult([B, T, heads * D]);
        var lse = Autograd.Tape.NewResult([B, heads, T]);
        var problem = TokenMajorProblem(cq.Data, heads * D, ck.Data, cv.Data, kvHeads * D, y, lse, heads, kvHeads, D, sc, causal, window);
        problem.SoftCap = softCap;
        problem.Dropout = dropout;
        problem.DropoutSeed = dropoutSeed;
        var scratch = BackwardScratch(B, heads, T, T, dropout, cq, ck, cv);
        problem.SavedP = SavedProbabilities(scratch, B, heads, T);
        fixed (int* starts = segmentStarts)
        {
            problem.SegmentStarts = segmentStarts.IsEmpty ? null : starts;
            Kernels.FlashAttention.Forward(ref problem);
        }
        if (Record(y, &AttentionTokenMajorBackward, cq, ck, cv)) SaveForBackward(y, lse, scratch!, heads, kvHeads, sc, causal, window, dropout, dropoutSeed, segmentStarts);
        return y;
    }

    static void CheckTokenMajor(string op, int heads, int kvHeads, int window, float dropout)
    {
        if (!(dropout >= 0f && dropout < 1f)) throw new ArgumentException($"{op}: dropout = {dropout} must be in [0, 1).");
        if (heads <= 0 || kvHeads <= 0 || heads % kvHeads != 0)
            throw new ArgumentException($"{op}: {heads} heads and {kvHeads} kv heads (both positive, heads a multiple of kv heads).");
        if (window < 0) throw new ArgumentException($"{op}: window {window} must be ≥ 0.");
    }

    // Each query's segment start lies in its own row, at or before it: 0 ≤ start ≤ t (it always sees itself).
    static void CheckSegmentStarts(string op, ReadOnlySpan<int> starts, int B, int T)
    {
        if (starts.IsEmpty) return;
        if (starts.Length != B * T) throw new ArgumentException($"{op}: {starts.Length} segment starts for B·T = {B}·{T} queries.");
        for (int i = 0; i < starts.Length; i++)
            if ((uint)starts[i] > (uint)(i % T))
                throw new ArgumentException($"{op}: segment start {starts[i]} of query {i % T} in row {i / T} must be in 0..{i % T}.");
    }

    // The backward's scratch, made before the forward when a backward will be recorded: Δ (B,H,T), then — for one
    // block of queries and keys without dropout (a ViT's 50 tokens) — the probabilities P (B,H,T,S) the forward keeps
    // for it. Every attention op takes it, so they stay equal to each other bit for bit.
    internal static Tensor? BackwardScratch(int B, int heads, int T, int S, float dropout, Tensor in0, Tensor? in1 = null, Tensor? in2 = null, Tensor? in3 = null)
    {
        if (!WillRecord(in0, in1, in2, in3)) return null;
        long delta = (long)B * heads * T;
        bool keepP = Kernels.FlashAttention.CanSaveProbabilities(T, S, dropout);
        return Autograd.Tape.NewResult([checked((int)(delta * (keepP ? 1 + S : 1)))]);
    }

    internal static float* SavedProbabilities(Tensor? scratch, int B, int heads, int T)
    {
        long delta = (long)B * heads * T;
        return scratch is not null && scratch.Length > delta ? scratch.Data + delta : null;
    }

    // Ints: the dropout seed's two halves, then the B·T segment starts if any.
    static void SaveForBackward(Tensor y, Tensor lse, Tensor scratch, int heads, int kvHeads, float scale, bool causal, int window, float dropout, ulong seed,
        ReadOnlySpan<int> segmentStarts)
    {
        y.Saved0 = lse;
        y.Saved1 = scratch;   // Δ scratch for the backward (and the kept P, if any)
        y.F0 = scale;
        y.B1 = causal;
        y.I0 = window;
        y.I1 = heads;
        y.I2 = kvHeads;
        y.F1 = dropout;
        y.Ints = EnsureLength(y.Ints, 2 + segmentStarts.Length);
        y.Ints[0] = (int)(seed & 0xffffffff);
        y.Ints[1] = (int)(seed >> 32);
        segmentStarts.CopyTo(y.Ints.AsSpan(2));
    }

    // The backward kernel call of both token-major ops, with the segment starts saved on the node pinned.
    static void TokenMajorBackward(Tensor y, ref Kernels.AttentionProblem problem, float* dq, float* dk, float* dv)
    {
        problem.Dropout = y.F1;
        problem.DropoutSeed = (uint)y.Ints[0] | ((ulong)(uint)y.Ints[1] << 32);
        fixed (int* ints = y.Ints)
        {
            problem.SegmentStarts = y.Ints.Length > 2 ? ints + 2 : null;
            problem.SavedP = SavedProbabilities(y.Saved1, problem.B, problem.H, problem.T);
            Kernels.FlashAttention.Backward(ref problem, y.Grad!.Data, dq, dk, dv, null, y.Saved1!.Data);
        }
    }

    static void AttentionTokenMajorBackward(Tensor y)
    {
        Tensor q = y.In0!, k = y.In1!, v = y.In2!;
        var dq = GradOf(q);
        var dk = GradOf(k);
        var dv = GradOf(v);
        int heads = y.I1, kvHeads = y.I2, D = q.Shape[2] / heads;
        var problem = TokenMajorProblem(q.Data, heads * D, k.Data, v.Data, kvHeads * D, y, y.Saved0!, heads, kvHeads, D, y.F0, y.B1, y.I0);
        TokenMajorBackward(y, ref problem, dq is null ? null : dq.Data, dk is null ? null : dk.Data, dv is null ? null : dv.Data);
    }

    static void AttentionPackedBackward(Tensor y)
    {
        var qkv = y.In0!;
        var g = GradOf(qkv);
        if (g is null) return;
        var problem = PackedProblem(qkv, y, y.Saved0!, y.I1, y.I2, y.F0, y.B1, y.I0);
        // dQ, dK, dV are the three column ranges of dqkv, in the layout of Q, K, V.
        long D = problem.D;
        TokenMajorBackward(y, ref problem, g.Data, g.Data + y.I1 * D, g.Data + (y.I1 + y.I2) * D);
    }
}
