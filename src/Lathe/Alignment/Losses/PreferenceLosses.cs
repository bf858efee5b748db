using Lathe.Tensors;

namespace Lathe.Alignment;

/// <summary>The DPO loss variants, by TRL's <c>loss_type</c> names.</summary>
public enum DpoLossType
{
    /// <summary>TRL "sigmoid": −log σ(β·logits) (Rafailov et al. 2023, eq. 7); with label smoothing ε, cDPO.</summary>
    Sigmoid,
    /// <summary>TRL "ipo": (logits − 1/(2β))² (Azar et al. 2023, eq. 17).</summary>
    Ipo,
}

/// <summary>DPO settings with TRL's names: <c>beta</c>, <c>loss_type</c>, <c>label_smoothing</c>.</summary>
public sealed record DpoSettings(float Beta = 0.1f, DpoLossType Loss = DpoLossType.Sigmoid, float LabelSmoothing = 0f)
{
    /// <summary>Throws an ArgumentException naming the bad parameter.</summary>
    public void Validate()
    {
        if (!(Beta > 0f && float.IsFinite(Beta))) throw new ArgumentException($"DpoSettings: Beta = {Beta} must be finite and > 0.");
        if (!Enum.IsDefined(Loss)) throw new ArgumentException($"DpoSettings: Loss = {(int)Loss} is not a DPO loss type (Sigmoid, Ipo).");
        // ε is the probability that a label is flipped (cDPO); at ε = ½ the labels carry no information.
        if (!(LabelSmoothing >= 0f && LabelSmoothing < 0.5f)) throw new ArgumentException($"DpoSettings: LabelSmoothing = {LabelSmoothing} must be in [0, 0.5).");
        if (LabelSmoothing != 0f && Loss != DpoLossType.Sigmoid)
            throw new ArgumentException($"DpoSettings: LabelSmoothing = {LabelSmoothing} applies to the Sigmoid loss only, not {Loss}.");
    }
}

/// <summary>What DPO logs per step, by TRL's names: <c>rewards/chosen</c>, <c>rewards/rejected</c>,
/// <c>rewards/accuracies</c>, <c>rewards/margins</c>. The implicit reward of a response is β(log π − log π_ref).</summary>
public readonly record struct DpoStats(float RewardsChosen, float RewardsRejected, float Accuracy, float Margin);

/// <summary>Losses over preference pairs: the reward model's Bradley–Terry loss and DPO with its IPO and conservative
/// variants. Each returns a scalar on the active tape whose gradient flows to the Tensor inputs; span inputs are
/// constants (reference log-probs, margins).</summary>
public static class PreferenceLosses
{
    /// <summary>Bradley–Terry loss of a reward model: −mean log σ(r_c − r_r − m) over pairs (InstructGPT eq. 1; the
    /// margin m is Llama 2's, eq. 2). <paramref name="chosenRewards"/> and <paramref name="rejectedRewards"/> are (B);
    /// <paramref name="margins"/> is (B) or empty for 0.</summary>
    public static Tensor BradleyTerry(Tensor chosenRewards, Tensor rejectedRewards, ReadOnlySpan<float> margins = default)
    {
        const string Op = "BradleyTerry";
        LossInputs.RequireTape(Op);
        int b = PairCount(Op, "chosenRewards", chosenRewards, "rejectedRewards", rejectedRewards);
        var diff = Ops.Sub(chosenRewards, rejectedRewards);                       // (B)
        if (!margins.IsEmpty)
        {
            LossInputs.Finite(Op, "margins", margins, b);
            diff = Ops.Add(diff, LossInputs.Constant(margins, -1f));
        }
        return Ops.Affine(Ops.MeanAll(Ops.LogSigmoid(diff)), -1f);
    }

    /// <summary>DPO over B pairs. Inputs are each response's summed log-prob under the policy (Tensors, (B)) and the
    /// frozen reference (spans, (B)); logits = (π_c − π_r) − (ref_c − ref_r).
    /// Sigmoid: mean of −(1−ε)·log σ(β·logits) − ε·log σ(−β·logits) (ε = LabelSmoothing; ε = 0 is plain DPO).
    /// IPO: mean of (logits − 1/(2β))². TRL feeds IPO log-probs averaged over each response's tokens rather than
    /// summed; this function takes whatever the caller passes, so for TRL's IPO pass the per-token means.
    /// At policy = reference the sigmoid loss is ln 2 and every implicit reward is 0.</summary>
    public static Tensor Dpo(Tensor policyChosen, Tensor policyRejected, ReadOnlySpan<float> referenceChosen,
        ReadOnlySpan<float> referenceRejected, DpoSettings s, out DpoStats stats)
    {
        const string Op = "Dpo";
        ArgumentNullException.ThrowIfNull(s);
        s.Validate();
        LossInputs.RequireTape(Op);
        int b = PairCount(Op, "policyChosen", policyChosen, "policyRejected", policyRejected);
        LossInputs.Finite(Op, "referenceChosen", referenceChosen, b);
        LossInputs.Finite(Op, "referenceRejected", referenceRejected, b);
        stats = Stats(policyChosen, policyRejected, referenceChosen, referenceRejected, s.Beta);

        // logits = (π_c − π_r) − (ref_c − ref_r), in TRL's order of operations.
        var logits = Ops.Sub(Ops.Sub(policyChosen, policyRejected), LossInputs.Difference(referenceChosen, referenceRejected));  // (B)
        if (s.Loss == DpoLossType.Ipo)
        {
            var gap = Ops.Affine(logits, 1f, -1f / (2f * s.Beta));
            return Ops.MeanAll(Ops.Mul(gap, gap));
        }
        var z = Ops.Affine(logits, s.Beta);
        var loss = Ops.Affine(Ops.LogSigmoid(z), -(1f - s.LabelSmoothing));
        if (s.LabelSmoothing != 0f)
            loss = Ops.Add(loss, Ops.Affine(Ops.LogSigmoid(Ops.Affine(z, -1f)), -s.LabelSmoothing));
        return Ops.MeanAll(loss);
    }

    static DpoStats Stats(Tensor policyChosen, Tensor policyRejected, ReadOnlySpan<float> referenceChosen, ReadOnlySpan<float> referenceRejected, float beta)
    {
        var pc = Ops.Contiguous(policyChosen).AsSpan();
        var pr = Ops.Contiguous(policyRejected).AsSpan();
        int b = pc.Length;
        double chosen = 0, rejected = 0, margin = 0;
        int correct = 0;
        for (int i = 0; i < b; i++)
        {
            // Rewards as TRL computes them: β(π − ref) in float, per pair; the means are taken in double.
            float rc = beta * (pc[i] - referenceChosen[i]), rr = beta * (pr[i] - referenceRejected[i]);
            chosen += rc;
            rejected += rr;
            margin += rc - rr;
            if (rc > rr) correct++;
        }
        return new DpoStats((float)(chosen / b), (float)(rejected / b), (float)correct / b, (float)(margin / b));
    }

    static int PairCount(string op, string nameA, Tensor a, string nameB, Tensor b)
    {
        int n = LossInputs.Vector(op, nameA, a);
        if (LossInputs.Vector(op, nameB, b) != n)
            throw new ArgumentException($"{op}: {nameA} has {n} pairs but {nameB} has {b.Length}.");
        if (n == 0) throw new ArgumentException($"{op}: no pairs ({nameA} is empty).");
        return n;
    }
}
