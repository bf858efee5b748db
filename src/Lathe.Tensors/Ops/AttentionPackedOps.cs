namespace Lathe.Tensors;

// Attention read straight from a fused QKV projection and written straight into the (B,T,C) layout the output
// projection reads. The same kernel and arithmetic as Ops.Attention on split heads, without the head split's
// copies: forward, one (B,T,3C) → (3,B,H,T,D) copy and one (B,H,T,D) → (B,T,C) copy; backward, their scatters
// and the reshape copies between them.
public static unsafe partial class Ops
{
    /// <summary>Causal or full attention over <paramref name="qkv"/> (B,T,(H+2·Hkv)·D): per token, the H query heads,
    /// then the Hkv key heads, then the Hkv value heads, each head's D values adjacent — the layout of a fused
    /// projection whose output is viewed as (B,T,3,H,D) when Hkv = H. Returns (B,T,H·D), head h at columns
    /// [h·D, (h+1)·D). Equal, value for value and gradient for gradient, to splitting the heads into (B,H,T,D)
    /// tensors, calling <see cref="Attention"/> with the same arguments and merging the heads back.</summary>
    public static Tensor AttentionPacked(Tensor qkv, int heads, int kvHeads, bool causal, int window = 0,
        float dropout = 0f, ulong dropoutSeed = 0)
    {
        if (!(dropout >= 0f && dropout < 1f)) throw new ArgumentException($"AttentionPacked: dropout = {dropout} must be in [0, 1).");
        if (heads <= 0 || kvHeads <= 0 || heads % kvHeads != 0)
            throw new ArgumentException($"AttentionPacked: {heads} heads and {kvHeads} kv heads (both positive, heads a multiple of kv heads).");
        if (window < 0) throw new ArgumentException($"AttentionPacked: window {window} must be ≥ 0.");
        int parts = heads + 2 * kvHeads;
        if (qkv.Rank != 3 || qkv.Shape[2] % parts != 0 || qkv.Shape[2] == 0)
            throw new ArgumentException($"AttentionPacked: qkv {Tensor.ShapeString(qkv.Shape)} must be (B, T, (heads + 2·kv heads)·D) with {heads} + 2·{kvHeads} heads.");
        int B = qkv.Shape[0], T = qkv.Shape[1], D = qkv.Shape[2] / parts;
        var c = Contiguous(qkv);
        float scale = 1f / MathF.Sqrt(D);
        var y = Autograd.Tape.NewResult([B, T, heads * D]);
        var lse = Autograd.Tape.NewResult([B, heads, T]);
        var problem = PackedProblem(c, y, lse, heads, kvHeads, scale, causal, window);
        problem.Dropout = dropout;
        problem.DropoutSeed = dropoutSeed;
        Kernels.FlashAttention.Forward(ref problem);
        if (Record(y, &AttentionPackedBackward, c))
        {
            y.Saved0 = lse;
            y.Saved1 = Autograd.Tape.NewResult([B, heads, T]);   // Δ scratch for the backward
            y.F0 = scale;
            y.B1 = causal;
            y.I0 = window;
            y.I1 = heads;
            y.I2 = kvHeads;
            y.F1 = dropout;
            y.Ints = EnsureLength(y.Ints, 2);
            y.Ints[0] = (int)(dropoutSeed & 0xffffffff);
            y.Ints[1] = (int)(dropoutSeed >> 32);
        }
        return y;
    }

    static Kernels.AttentionProblem PackedProblem(Tensor qkv, Tensor o, Tensor lse, int heads, int kvHeads, float scale, bool causal, int window)
    {
        int B = qkv.Shape[0], T = qkv.Shape[1], width = qkv.Shape[2], D = width / (heads + 2 * kvHeads);
        return new()
        {
            Q = qkv.Data, K = qkv.Data + (long)heads * D, V = qkv.Data + (long)(heads + kvHeads) * D, O = o.Data, L = lse.Data,
            B = B, H = heads, Hkv = kvHeads, T = T, S = T, D = D, Scale = scale, Causal = causal, Window = window,
            QBatch = (long)T * width, QHead = D, QRow = width,
            KBatch = (long)T * width, KHead = D, KRow = width,
            OBatch = (long)T * heads * D, OHead = D, ORow = heads * D,
        };
    }

    static void AttentionPackedBackward(Tensor y)
    {
        var qkv = y.In0!;
        var g = GradOf(qkv);
        if (g is null) return;
        var problem = PackedProblem(qkv, y, y.Saved0!, y.I1, y.I2, y.F0, y.B1, y.I0);
        problem.Dropout = y.F1;
        problem.DropoutSeed = (uint)y.Ints[0] | ((ulong)(uint)y.Ints[1] << 32);
        // dQ, dK, dV are the three column ranges of dqkv, in the layout of Q, K, V.
        long D = problem.D;
        Kernels.FlashAttention.Backward(ref problem, y.Grad!.Data, g.Data, g.Data + y.I1 * D, g.Data + (y.I1 + y.I2) * D, null, y.Saved1!.Data);
    }
}
