namespace Lathe.Tensors;

// Scaled dot-product attention: O = softmax(Q·Kᵀ·scale + bias + mask)·V, per batch and head, with
// grouped-query heads (head h reads kv head h / (H/Hkv)), a causal mask offset for cached keys, an
// optional sliding window, per-batch key lengths (padding) and an additive bias (ALiBi, T5 buckets).
public static unsafe partial class Ops
{
    /// <summary>Attention of <paramref name="q"/> (B,H,T,D) over <paramref name="k"/>, <paramref name="v"/> (B,Hkv,S,D).
    /// Causal: query t sees key s iff s ≤ t + (S − T). <paramref name="window"/> &gt; 0 also hides keys
    /// s ≤ t + (S − T) − window. <paramref name="keyLengths"/> (one per batch) hides keys s ≥ length.
    /// <paramref name="bias"/> is (H,T,S) shared over the batch or (B,H,T,S). A query that sees no key gets 0.
    /// <paramref name="dropout"/> &gt; 0 drops attention probabilities (after the softmax, before V) as
    /// <see cref="Dropout"/> would over the (B,H,T,S) probability tensor with <paramref name="dropoutSeed"/>; the
    /// backward regenerates the mask from the seed. Callers pass it only when training.</summary>
    public static Tensor Attention(Tensor q, Tensor k, Tensor v, bool causal, float? scale = null, Tensor? bias = null,
        ReadOnlySpan<int> keyLengths = default, int window = 0, float dropout = 0f, ulong dropoutSeed = 0)
    {
        if (!(dropout >= 0f && dropout < 1f)) throw new ArgumentException($"Attention: dropout = {dropout} must be in [0, 1).");
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
        for (int i = 0; i < keyLengths.Length; i++)
            if (keyLengths[i] < 0 || keyLengths[i] > S)
                throw new ArgumentException($"Attention: key length {keyLengths[i]} of batch {i} is outside 0..{S}.");
        var cq = Contiguous(q);
        var ck = Contiguous(k);
        var cv = Contiguous(v);
        var cb = bias is null ? null : Contiguous(bias);
        float sc = scale ?? 1f / MathF.Sqrt(D);
        var y = Autograd.Tape.NewResult(q.Shape);
        var lse = Autograd.Tape.NewResult([B, H, T]);
        var scratch = BackwardScratch(B, H, T, S, dropout, cq, ck, cv, cb);
        fixed (int* lengths = keyLengths)
        {
            var problem = Problem(cq, ck, cv, cb, y, lse, keyLengths.IsEmpty ? null : lengths, sc, causal, biasPerBatch, window);
            problem.Dropout = dropout;
            problem.DropoutSeed = dropoutSeed;
            problem.SavedP = SavedProbabilities(scratch, B, H, T);
            Kernels.FlashAttention.Forward(ref problem);
        }
        if (Record(y, &AttentionBackward, cq, ck, cv, cb))
        {
            y.Saved0 = lse;
            y.Saved1 = scratch;   // Δ scratch for the backward (and the kept P, if any)
            y.F0 = sc;
            y.B0 = biasPerBatch;
            y.B1 = causal;
            y.I0 = window;
            y.I1 = keyLengths.Length;
            y.F1 = dropout;
            // Ints: the key lengths, then the dropout seed's two halves.
            y.Ints = EnsureLength(y.Ints, keyLengths.Length + 2);
            keyLengths.CopyTo(y.Ints);
            y.Ints[keyLengths.Length] = (int)(dropoutSeed & 0xffffffff);
            y.Ints[keyLengths.Length + 1] = (int)(dropoutSeed >> 32);
        }
        return y;
    }

    static Kernels.AttentionProblem Problem(Tensor q, Tensor k, Tensor v, Tensor? bias, Tensor o, Tensor lse, int* keyLengths,
        float scale, bool causal, bool biasPerBatch, int window) => new()
    {
        Q = q.Data, K = k.Data, V = v.Data, O = o.Data, L = lse.Data, Bias = bias is null ? null : bias.Data, KeyLengths = keyLengths,
        B = q.Shape[0], H = q.Shape[1], T = q.Shape[2], D = q.Shape[3], Hkv = k.Shape[1], S = k.Shape[2],
        Scale = scale, Causal = causal, BiasPerBatch = biasPerBatch, Window = window,
    };

    static void AttentionBackward(Tensor y)
    {
        Tensor q = y.In0!, k = y.In1!, v = y.In2!;
        var dq = GradOf(q);
        var dk = GradOf(k);
        var dv = GradOf(v);
        var dbias = GradOf(y.In3);
        fixed (int* lengths = y.Ints)
        {
            var problem = Problem(q, k, v, y.In3, y, y.Saved0!, y.I1 == 0 ? null : lengths, y.F0, y.B1, y.B0, y.I0);
            problem.Dropout = y.F1;
            problem.DropoutSeed = (uint)y.Ints![y.I1] | ((ulong)(uint)y.Ints[y.I1 + 1] << 32);
            problem.SavedP = SavedProbabilities(y.Saved1, problem.B, problem.H, problem.T);
            Kernels.FlashAttention.Backward(ref problem, y.Grad!.Data, dq is null ? null : dq.Data, dk is null ? null : dk.Data,
                dv is null ? null : dv.Data, dbias is null ? null : dbias.Data, y.Saved1!.Data);
        }
    }
}
