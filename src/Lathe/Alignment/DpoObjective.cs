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
    readonly SequenceLogProbs _logProbs = new();
    readonly StepAverages _metrics = new("rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins");
    float[] _refC = [], _refR = [];
    Tensor? _inverseLength;

    /// <param name="referenceChosen">The reference's summed response log-probability of every pair's chosen response
    /// (length-averaged for IPO), indexed by pair.</param>
    public DpoObjective(ITuningMethod? method, float[] referenceChosen, float[] referenceRejected, DpoSettings settings)
    {
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
        var sums = PolicyLogProbs(policy, _method, pairs.Rows, _settings.Loss == DpoLossType.Ipo);
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
        return policy.AddAuxiliaryLosses(loss);
    }

    /// <summary>Per-row response log-probabilities (B): sums, or for IPO sums divided by the response length.</summary>
    Tensor PolicyLogProbs(CausalLM policy, ITuningMethod? method, ResponseRows rows, bool average)
    {
        var sums = _logProbs.Sums(policy, method, rows);
        if (!average) return sums;
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
