namespace Lathe.Tensors;

// Ops that take integer inputs (token ids, targets). The ids are copied onto the node (an int array the
// tape slot keeps and reuses), so the caller's buffer may change after the call.
public static unsafe partial class Ops
{
    /// <summary>Rows of <paramref name="table"/> (V, C) for each id → (ids.Length, C).</summary>
    public static Tensor Embedding(Tensor table, ReadOnlySpan<int> ids)
    {
        if (table.Rank != 2) throw new ArgumentException($"Embedding: table has shape {Tensor.ShapeString(table.Shape)}, expected (V, C).");
        int vocab = table.Shape[0], cols = table.Shape[1];
        for (int i = 0; i < ids.Length; i++)
            if ((uint)ids[i] >= (uint)vocab)
                throw new ArgumentException($"Embedding: id {ids[i]} at position {i} is outside the table of {vocab} rows.");
        var t = Contiguous(table);
        var y = Autograd.Tape.NewResult([ids.Length, cols]);
        for (int i = 0; i < ids.Length; i++)
            new ReadOnlySpan<float>(t.Data + (long)ids[i] * cols, cols).CopyTo(new Span<float>(y.Data + (long)i * cols, cols));
        if (Record(y, &EmbeddingBackward, t))
        {
            y.Ints = EnsureLength(y.Ints, ids.Length);
            ids.CopyTo(y.Ints);
        }
        return y;
    }

    static void EmbeddingBackward(Tensor y)
    {
        var dt = GradOf(y.In0);
        if (dt is null) return;
        int cols = y.Shape[1];
        float* g = y.Grad!.Data, d = dt.Data;
        int[] ids = y.Ints;
        // Rows are added in position order, so repeated ids accumulate deterministically.
        for (int i = 0; i < ids.Length; i++)
        {
            var row = new Span<float>(d + (long)ids[i] * cols, cols);
            System.Numerics.Tensors.TensorPrimitives.Add(row, new ReadOnlySpan<float>(g + (long)i * cols, cols), row);
        }
    }

    /// <summary>Mean softmax cross-entropy of <paramref name="logits"/> (N, V) against <paramref name="targets"/> (N),
    /// skipping rows whose target is <paramref name="ignoreIndex"/>. Returns a scalar; 0 when every row is ignored.</summary>
    public static Tensor CrossEntropy(Tensor logits, ReadOnlySpan<int> targets, int ignoreIndex = -100) =>
        CrossEntropy(logits, targets, default, ignoreIndex);

    /// <summary>Weighted mean softmax cross-entropy: Σ wᵢ·ℓᵢ / Σ wᵢ over rows whose target is not
    /// <paramref name="ignoreIndex"/> (a loss mask is weights of 0 and 1). <paramref name="weights"/> (N, finite,
    /// ≥ 0) or empty for all 1 — then it is exactly the unweighted mean. 0 when the weights sum to 0.</summary>
    public static Tensor CrossEntropy(Tensor logits, ReadOnlySpan<int> targets, ReadOnlySpan<float> weights, int ignoreIndex = -100)
    {
        if (logits.Rank != 2 || logits.Shape[0] != targets.Length)
            throw new ArgumentException($"CrossEntropy: logits {Tensor.ShapeString(logits.Shape)} and {targets.Length} targets do not match (expected (N, V) with N = targets).");
        int n = logits.Shape[0], vocab = logits.Shape[1];
        if (!weights.IsEmpty && weights.Length != n)
            throw new ArgumentException($"CrossEntropy: {weights.Length} weights for {n} rows.");
        for (int i = 0; i < n; i++)
        {
            if (targets[i] != ignoreIndex && (uint)targets[i] >= (uint)vocab)
                throw new ArgumentException($"CrossEntropy: target {targets[i]} at row {i} is outside the vocabulary of {vocab}.");
            if (!weights.IsEmpty && !(weights[i] >= 0f && float.IsFinite(weights[i])))
                throw new ArgumentException($"CrossEntropy: weight {weights[i]} at row {i} must be finite and ≥ 0.");
        }
        var x = Contiguous(logits);
        var y = Autograd.Tape.NewResult([]);
        var losses = Autograd.Tape.NewResult([n]);
        int count;
        double total, weightSum;
        fixed (int* t = targets)
        fixed (float* w = weights)
            total = Kernels.CrossEntropyKernel.Forward(x.Data, t, weights.IsEmpty ? null : w, ignoreIndex, n, vocab, losses.Data, out count, out weightSum);
        *y.Data = weightSum == 0 ? 0f : (float)(total / weightSum);
        if (Record(y, &CrossEntropyBackward, x))
        {
            y.Ints = EnsureLength(y.Ints, n);
            targets.CopyTo(y.Ints);
            y.I0 = ignoreIndex; y.I1 = count;
            y.F0 = (float)weightSum;
            y.B0 = !weights.IsEmpty;
            if (y.B0)
            {
                // The weights are kept for the backward in a buffer the slot reuses from step to step.
                if (y.Extra is not float[] saved || saved.Length < n) y.Extra = saved = new float[n];
                weights.CopyTo(saved);
            }
        }
        return y;
    }

    static void CrossEntropyBackward(Tensor y)
    {
        var dx = GradOfForWrite(y.In0, out bool overwrite);   // the first writer skips clearing the gradient
        if (dx is null) return;
        if (y.I1 == 0 || y.F0 == 0)
        {
            if (overwrite) Kernels.ParallelSpans.Clear(dx.Data, dx.Length);
            return;
        }
        var x = y.In0!;
        fixed (int* t = y.Ints)
        fixed (float* w = y.B0 ? (float[])y.Extra! : null)
            Kernels.CrossEntropyKernel.Backward(x.Data, t, y.I0, dx.Data, x.Shape[0], x.Shape[1], *y.Grad!.Data / y.F0, y.B0 ? w : null, overwrite);
    }

    /// <summary>Inverted dropout: each element is zeroed with probability <paramref name="p"/> and the rest scaled by
    /// 1/(1−p). The mask is a hash of (<paramref name="seed"/>, element index), so it is the same for any thread count
    /// and the backward regenerates it instead of storing it. p = 0 returns <paramref name="x"/>.</summary>
    public static Tensor Dropout(Tensor x, float p, ulong seed)
    {
        if (!(p >= 0f && p < 1f)) throw new ArgumentException($"Dropout: p = {p} must be in [0, 1).");
        if (p == 0f) return x;
        var src = Contiguous(x);
        var y = Autograd.Tape.NewResult(x.Shape);
        Kernels.ElementwiseKernels.Forward(Kernels.ElementwiseKernels.Dropout, src.Data, y.Data, y.Length, p: p, seed: seed);
        if (Record(y, &DropoutBackward, src))
        {
            y.F0 = p;
            y.I0 = (int)(seed & 0xffffffff); y.I1 = (int)(seed >> 32);
        }
        return y;
    }

    static void DropoutBackward(Tensor y)
    {
        var dx = GradOf(y.In0);
        if (dx is null) return;
        ulong seed = (uint)y.I0 | ((ulong)(uint)y.I1 << 32);
        Kernels.ElementwiseKernels.Backward(Kernels.ElementwiseKernels.Dropout, null, null, y.Grad!.Data, dx.Data, y.Length, p: y.F0, seed: seed);
    }
}
