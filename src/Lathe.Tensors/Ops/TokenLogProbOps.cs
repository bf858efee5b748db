namespace Lathe.Tensors;

// Per-token log-probabilities of chosen targets: the hot op of DPO and PPO (N = B·T rows, V up to 32k). It is
// cross-entropy without the mean — log p(tᵢ) = −ℓᵢ — so it runs CrossEntropyKernel's forward (its per-row losses)
// and backward (its per-row weights carry the upstream gradient) instead of a second copy of the kernel: the same
// row-parallel, allocation-free passes, deterministic for any thread count (each row is computed by one thread, alone).
public static unsafe partial class Ops
{
    /// <summary>log_softmax(<paramref name="logits"/>)[i, targets[i]] for each row of logits (N, V) → (N). Rows whose
    /// target is <paramref name="ignoreIndex"/> are exactly 0 and get no gradient. Backward:
    /// dlogits[i, :] = gᵢ·(onehot(tᵢ) − softmax(xᵢ)).</summary>
    public static Tensor TokenLogProbs(Tensor logits, ReadOnlySpan<int> targets, int ignoreIndex = -100)
    {
        if (logits.Rank != 2 || logits.Shape[0] != targets.Length)
            throw new ArgumentException($"TokenLogProbs: logits {Tensor.ShapeString(logits.Shape)} and {targets.Length} targets do not match (expected (N, V) with N = targets).");
        int n = logits.Shape[0], vocab = logits.Shape[1];
        for (int i = 0; i < n; i++)
            if (targets[i] != ignoreIndex && (uint)targets[i] >= (uint)vocab)
                throw new ArgumentException($"TokenLogProbs: target {targets[i]} at row {i} is outside the vocabulary of {vocab}.");
        var x = Contiguous(logits);
        var y = Autograd.Tape.NewResult([n]);
        float* py = y.Data;
        fixed (int* t = targets)
            Kernels.CrossEntropyKernel.Forward(x.Data, t, ignoreIndex, n, vocab, py, out _);
        // The kernel wrote −log p (0 for ignored rows); negate only the kept rows so ignored ones stay +0.
        for (int i = 0; i < n; i++)
            if (targets[i] != ignoreIndex) py[i] = -py[i];
        if (Record(y, &TokenLogProbsBackward, x))
        {
            y.Ints = EnsureLength(y.Ints, n);
            targets.CopyTo(y.Ints);
            y.I0 = ignoreIndex;
        }
        return y;
    }

    static void TokenLogProbsBackward(Tensor y)
    {
        var dx = GradOfForWrite(y.In0, out bool overwrite);   // the first writer skips clearing the gradient
        if (dx is null) return;
        var x = y.In0!;
        // The kernel adds (or writes) scale·wᵣ·(softmax − onehot); with wᵣ = gᵣ and scale = −1 that is gᵣ·(onehot − softmax).
        fixed (int* t = y.Ints)
            Kernels.CrossEntropyKernel.Backward(x.Data, t, y.I0, dx.Data, x.Shape[0], x.Shape[1], -1f, y.Grad!.Data, overwrite);
    }
}
