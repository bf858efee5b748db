using Lathe.Tensors;

namespace Lathe.Alignment;

/// <summary>What the clipped policy loss logs: TRL's <c>policy/clipfrac</c> and <c>policy/approxkl</c>.</summary>
public readonly record struct PolicyStats(float ClipFraction, float ApproxKl);

/// <summary>PPO's clipped surrogate losses (Schulman et al. 2017, eq. 7) over response tokens, as TRL's PPO
/// computes them. Inputs are flattened (N = B·T) per-token values; masked means are Σ x·m / Σ m over the mask
/// (1 on response tokens, 0 on prompt and padding). Each returns a scalar on the active tape.</summary>
public static class PpoLosses
{
    /// <summary>Policy loss: masked mean of max(−A·r, −A·clip(r, 1−ε, 1+ε)) with r = exp(log π − log π_old) per token.
    /// <paramref name="logProbs"/> (N) carries the gradient; <paramref name="oldLogProbs"/>, <paramref name="advantages"/>
    /// and <paramref name="mask"/> are (N) constants from the rollout; <paramref name="clip"/> is ε. Stats: the
    /// fraction of tokens where the clipped term wins, and ½·masked mean of (log π − log π_old)².</summary>
    public static Tensor ClippedPolicyLoss(Tensor logProbs, ReadOnlySpan<float> oldLogProbs, ReadOnlySpan<float> advantages,
        ReadOnlySpan<float> mask, float clip, out PolicyStats stats)
    {
        const string Op = "ClippedPolicyLoss";
        LossInputs.RequireTape(Op);
        int n = LossInputs.Vector(Op, "logProbs", logProbs);
        if (!(clip > 0f && float.IsFinite(clip))) throw new ArgumentException($"{Op}: clip = {clip} must be finite and > 0.");
        LossInputs.Finite(Op, "oldLogProbs", oldLogProbs, n);
        LossInputs.Finite(Op, "advantages", advantages, n);
        double maskSum = LossInputs.MaskSum(Op, mask, n);

        var lp = Ops.Contiguous(logProbs).AsSpan();
        var ratio = Ops.Exp(Ops.Add(logProbs, NegatedOldLogProbs(lp, oldLogProbs, mask)));   // (N)
        var negA = LossInputs.Constant(advantages, -1f);
        var unclipped = Ops.Mul(ratio, negA);
        var clipped = Ops.Mul(Ops.Clamp(ratio, 1f - clip, 1f + clip), negA);
        // Pessimistic bound: the larger loss. Where r is inside the clip range the two are equal; the tie goes to the
        // unclipped term, whose gradient is then the same as the clipped one's.
        var loss = LossInputs.MaskedMean(Ops.Maximum(unclipped, clipped), mask, maskSum);

        var u = unclipped.AsSpan();
        var c = clipped.AsSpan();
        double clippedMass = 0, kl = 0;
        for (int i = 0; i < n; i++)
        {
            if (c[i] > u[i]) clippedMass += mask[i];
            double d = lp[i] - oldLogProbs[i];
            kl += 0.5 * d * d * mask[i];
        }
        stats = new PolicyStats((float)(clippedMass / maskSum), (float)(kl / maskSum));
        return loss;
    }

    /// <summary>−log π_old as a tape constant, with −log π at masked-out positions: there the ratio is exactly 1, so
    /// whatever padding holds (a log-prob of 0 against an old one of −100, say) cannot overflow exp into an ∞ that the
    /// mask's 0 would turn into a NaN gradient.</summary>
    static unsafe Tensor NegatedOldLogProbs(ReadOnlySpan<float> logProbs, ReadOnlySpan<float> oldLogProbs, ReadOnlySpan<float> mask)
    {
        var t = Lathe.Tensors.Autograd.Tape.NewResult([logProbs.Length]);
        float* p = t.Data;
        for (int i = 0; i < logProbs.Length; i++) p[i] = -(mask[i] == 0f ? logProbs[i] : oldLogProbs[i]);
        return t;
    }

    /// <summary>Value loss: ½·masked mean of max((V − R)², (V_clip − R)²) with V_clip = V_old + clip(V − V_old, −c, c),
    /// the form of OpenAI baselines' ppo2 (equal to TRL's clamp(V, V_old − c, V_old + c) up to rounding).
    /// <paramref name="values"/> (N) carries the gradient; the rest are (N) rollout constants. <paramref name="clipFraction"/>
    /// is the masked fraction of tokens where the clipped term wins.</summary>
    public static Tensor ClippedValueLoss(Tensor values, ReadOnlySpan<float> oldValues, ReadOnlySpan<float> returns,
        ReadOnlySpan<float> mask, float clip, out float clipFraction)
    {
        const string Op = "ClippedValueLoss";
        LossInputs.RequireTape(Op);
        int n = LossInputs.Vector(Op, "values", values);
        if (!(clip > 0f && float.IsFinite(clip))) throw new ArgumentException($"{Op}: clip = {clip} must be finite and > 0.");
        LossInputs.Finite(Op, "oldValues", oldValues, n);
        LossInputs.Finite(Op, "returns", returns, n);
        double maskSum = LossInputs.MaskSum(Op, mask, n);

        var negR = LossInputs.Constant(returns, -1f);
        var step = Ops.Clamp(Ops.Add(values, LossInputs.Constant(oldValues, -1f)), -clip, clip);   // (N)
        var clippedValues = Ops.Add(step, LossInputs.Constant(oldValues));
        var e1 = Ops.Add(values, negR);
        var e2 = Ops.Add(clippedValues, negR);
        var sq1 = Ops.Mul(e1, e1);
        var sq2 = Ops.Mul(e2, e2);
        var loss = Ops.Affine(LossInputs.MaskedMean(Ops.Maximum(sq1, sq2), mask, maskSum), 0.5f);

        var a = sq1.AsSpan();
        var b = sq2.AsSpan();
        double clippedMass = 0;
        for (int i = 0; i < n; i++)
            if (b[i] > a[i]) clippedMass += mask[i];
        clipFraction = (float)(clippedMass / maskSum);
        return loss;
    }
    /// <summary>Masked mean over rows of logits (N, V) of the softmax entropy H = log Σ e^x − Σ softmax(x)·x — PPO's
    /// logged <c>objective/entropy</c>. A statistic, not a loss: no tape, no gradient. Rows with mask 0 are not read.</summary>
    public static unsafe float MaskedEntropy(Tensor logits, ReadOnlySpan<float> mask)
    {
        const string Op = "MaskedEntropy";
        if (logits.Rank != 2) throw new ArgumentException($"{Op}: logits has shape {Tensor.ShapeString(logits.Shape)}, expected (N, V).");
        int n = logits.Shape[0], vocab = logits.Shape[1];
        double maskSum = LossInputs.MaskSum(Op, mask, n);
        if (!logits.IsContiguous) throw new ArgumentException($"{Op}: logits must be contiguous.");
        // Per-row entropies on the pool (Lathe.Tensors.Kernels.SoftmaxEntropyKernel), then the masked sum in row order.
        float* h = Lathe.Tensors.Kernels.Scratch.GetForCall(n);
        fixed (float* m = mask)
            Lathe.Tensors.Kernels.SoftmaxEntropyKernel.Rows(logits.Data, n, vocab, m, h);
        double total = 0;
        for (int r = 0; r < n; r++)
            if (mask[r] != 0f) total += mask[r] * (double)h[r];
        return (float)(total / maskSum);
    }
}
