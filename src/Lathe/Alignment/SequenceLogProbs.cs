using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tuning;

namespace Lathe.Alignment;

/// <summary>The policy's log-probabilities of its responses, on the active tape: per scored token (M) and summed
/// per sequence (B). DPO compares sums; PPO works per token. The trunk runs over whole rows, the lm_head only over the
/// M response positions (its V×C product is most of a small model's work, and prompt positions are never scored).</summary>
/// <remarks>With prompt tuning the method's P virtual rows come first in every row; the scored positions shift by P.
/// One instance per objective: its index buffers are reused from step to step.</remarks>
public sealed class SequenceLogProbs
{
    int[] _rows = [], _targets = [];

    /// <summary>Final hidden states of the last <see cref="TokenLogProbs"/> call at the scored positions (M, C) — what a
    /// value head reads (it predicts the return from the state before each response token).</summary>
    public Tensor? ScoredHidden { get; private set; }

    /// <summary>The lm_head's logits of the last <see cref="TokenLogProbs"/> call at the scored positions (M, V): what
    /// PPO's entropy statistic reads, so the no-grad pass does not run the V×C product twice.</summary>
    public Tensor? ScoredLogits { get; private set; }

    /// <summary>log π(yₜ | x, y&lt;ₜ) for every scored target of <paramref name="rows"/>, in
    /// <see cref="ResponseRows.Scored"/> order (M).</summary>
    public Tensor TokenLogProbs(CausalLM model, ITuningMethod? method, ResponseRows rows)
    {
        int B = rows.B, T = rows.T, P = method?.VirtualTokens ?? 0;
        var scored = rows.Scored;
        int M = scored.Length;
        if (M == 0) throw new ArgumentException("sequence log-probs: no response token to score.");
        if (_rows.Length < M) { _rows = new int[M]; _targets = new int[M]; }
        for (int m = 0; m < M; m++)
        {
            int i = scored[m], b = i / T, t = i % T;
            _rows[m] = b * (P + T) + P + t;
            _targets[m] = rows.Targets[i];
        }
        var embeddings = method?.Embed(rows.Inputs, B, T) ?? model.Embed(rows.Inputs, B, T);
        var hidden = model.Hidden(embeddings, B, P + T);                 // (B·(P+T), C)
        var at = Ops.GatherRows(hidden, _rows.AsSpan(0, M));              // (M, C)
        ScoredHidden = at;
        ScoredLogits = model.Head(at);                                    // (M, V)
        return Ops.TokenLogProbs(ScoredLogits, _targets.AsSpan(0, M));   // (M)
    }

    /// <summary>Per-sequence sums (B) of per-token values (M) laid out as <paramref name="rows"/>' scored targets.</summary>
    public static Tensor SumPerSequence(Tensor perToken, ResponseRows rows)
    {
        int M = rows.Scored.Length;
        if (perToken.Length != M) throw new ArgumentException($"sequence log-probs: {perToken.Length} values for {M} scored tokens.");
        return Ops.Reshape(Ops.ScatterAddRows(Ops.Reshape(perToken, M, 1), rows.ScoredRow, rows.B), rows.B);
    }

    /// <summary>Σₜ log π(yₜ | x, y&lt;ₜ) per sequence (B): the response's log-probability.</summary>
    public Tensor Sums(CausalLM model, ITuningMethod? method, ResponseRows rows) =>
        SumPerSequence(TokenLogProbs(model, method, rows), rows);
}
