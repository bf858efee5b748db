using Lathe.Models;
using Lathe.Tensors;
using Lathe.Training;
using Lathe.Training.Objectives;
using Lathe.Tuning;

namespace Lathe.Alignment;

/// <summary>Direct preference optimisation (Rafailov et al. 2023) and its IPO and conservative (label-smoothed)
/// variants: the policy's log-probability margin between chosen and rejected responses, measured against the frozen
/// reference's, is pushed up through −log σ(β·Δ) (or IPO's squared loss). The reference's log-probabilities were
/// computed once, before the first step (<see cref="ReferenceLogProbs"/>), so no reference model runs while training.
/// Logs TRL's rewards/chosen, rewards/rejected, rewards/accuracies and rewards/margins.</summary>
/// <remarks>IPO (Azar et al. 2023) works on length-averaged log-probabilities, as TRL's implementation does: each
/// sequence's sum is divided by its response length, for the policy and the reference alike.</remarks>
public sealed class DpoObjective : ITrainingObjective
{
    readonly ITuningMethod? _method;
    readonly float[] _referenceChosen, _referenceRejected;
    readonly DpoSettings _settings;
    readonly float _rpoAlpha;
    readonly SequenceLogProbs _logProbs = new();
    readonly StepAverages _metrics = new("rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins");
    float[] _refC = [], _refR = [];
    Tensor? _inverseLength;

    /// <param name="referenceChosen">The reference's summed response log-probability of every pair's chosen response
    /// (length-averaged for IPO), indexed by pair.</param>
    /// <param name="rpoAlpha">TRL's rpo_alpha (Pang et al. 2024): α × the chosen responses' mean next-token NLL added to
    /// the loss, which keeps the chosen replies likely while their margin over the rejected ones grows — without it a
    /// small model can push both down and drift far from the reference. 0: plain DPO.</param>
    public DpoObjective(ITuningMethod? method, float[] referenceChosen, float[] referenceRejected, DpoSettings settings, float rpoAlpha = 0f)
    {
        if (!(rpoAlpha >= 0f && float.IsFinite(rpoAlpha))) throw new ArgumentException($"dpo: rpo alpha {rpoAlpha} must be finite and ≥ 0.");
        _rpoAlpha = rpoAlpha;
        if (referenceChosen.Length != referenceRejected.Length)
            throw new ArgumentException($"dpo: {referenceChosen.Length} chosen and {referenceRejected.Length} rejected reference log-probabilities.");
        _method = method; _referenceChosen = referenceChosen; _referenceRejected = referenceRejected;
        settings.Validate();
        _settings = settings;
    }

    public string Name => _settings.Loss == DpoLossType.Ipo ? "ipo" : "dpo";

    public double ForwardFlopsPerToken(LanguageModel model, int T) => ((CausalLM)model).ForwardFlopsPerToken(T + (_method?.VirtualTokens ?? 0));

    public Tensor Loss(LanguageModel model, in TrainingBatch batch)
    {
        var pairs = batch.Extra as PairBatch ?? throw new ArgumentException("dpo: the batch carries no preference pairs.");
        PairScores.RequireFull(pairs, Name);
        var policy = (CausalLM)model;
        var raw = _logProbs.Sums(policy, _method, pairs.Rows);
        var sums = _settings.Loss == DpoLossType.Ipo ? Average(raw, pairs.Rows) : raw;
        var (chosen, rejected) = PairScores.Split(sums);
        int n = pairs.Pairs;
        if (_refC.Length != n) { _refC = new float[n]; _refR = new float[n]; }
        for (int i = 0; i < n; i++)
        {
            _refC[i] = _referenceChosen[pairs.PairIndex[i]];
            _refR[i] = _referenceRejected[pairs.PairIndex[i]];
        }
        var loss = PreferenceLosses.Dpo(chosen, rejected, _refC, _refR, _settings, out var stats);
        _metrics.Add(stats.RewardsChosen, stats.RewardsRejected, stats.Accuracy, stats.Margin);
        if (_rpoAlpha > 0)
        {
            int tokens = 0;
            for (int i = 0; i < n; i++) tokens += pairs.Rows.ResponseTokens(2 * i);
            var nll = Ops.Scale(Ops.SumAll(PairScores.Split(raw).Chosen), -1f / Math.Max(1, tokens));   // mean NLL per chosen token
            loss = Ops.Add(loss, Ops.Scale(nll, _rpoAlpha));
        }
        return policy.AddAuxiliaryLosses(loss);
    }

    /// <summary>IPO's per-row response log-probabilities: sums divided by the response length.</summary>
    Tensor Average(Tensor sums, ResponseRows rows)
    {
        if (_inverseLength is null || _inverseLength.Length != rows.B) _inverseLength = Tensor.Zeros(rows.B);
        var inv = _inverseLength.AsSpan();
        for (int b = 0; b < rows.B; b++) inv[b] = 1f / Math.Max(1, rows.ResponseTokens(b));
        return Ops.Mul(sums, _inverseLength);
    }

    public IReadOnlyList<KeyValuePair<string, double>>? TakeStepMetrics() => _metrics.Take();

    /// <summary>The same per-row log-probabilities the objective trains on, without gradients: what
    /// <see cref="ReferenceLogProbs"/> records for the reference and what evaluation reads.</summary>
    internal static float[] RowLogProbs(CausalLM policy, ITuningMethod? method, ResponseRows rows, bool average, SequenceLogProbs scorer)
    {
        var sums = scorer.Sums(policy, method, rows).AsSpan().ToArray();
        if (average) for (int b = 0; b < rows.B; b++) sums[b] *= 1f / Math.Max(1, rows.ResponseTokens(b));   // as Ops.Mul by 1/len: the same rounding
        return sums;
    }
}
