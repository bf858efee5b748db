using Lathe.Models;
using Lathe.Tensors;
using Lathe.Training;
using Lathe.Training.Objectives;
using Lathe.Tuning;

namespace Lathe.Alignment;

/// <summary>Reward modelling (InstructGPT; Llama 2): the reward of the chosen response should exceed the rejected
/// one's, by the pair's margin when it has one — the Bradley–Terry loss −log σ(r_c − r_r − m), averaged over the
/// batch's pairs. Logs the pairwise accuracy and mean rewards as TRL's RewardTrainer does.</summary>
public sealed class RewardObjective(RewardModel reward, ITuningMethod? method) : ITrainingObjective
{
    readonly StepAverages _metrics = new("accuracy", "rewards/chosen", "rewards/rejected", "rewards/margins");
    float[] _scores = [];

    public string Name => "reward";

    public double ForwardFlopsPerToken(LanguageModel model, int T) =>
        ((CausalLM)model).ForwardFlopsPerToken(T + (method?.VirtualTokens ?? 0)) - 2.0 * model.Config.Embd * model.Config.VocabSize;   // no lm_head

    public Tensor Loss(LanguageModel model, in TrainingBatch batch)
    {
        var pairs = batch.Extra as PairBatch ?? throw new ArgumentException("reward: the batch carries no preference pairs.");
        PairScores.RequireFull(pairs, Name);
        var scores = reward.Scores(method, pairs.Rows);
        var (chosen, rejected) = PairScores.Split(scores);
        bool margins = Array.Exists(pairs.Margins, m => m != 0f);
        var loss = PreferenceLosses.BradleyTerry(chosen, rejected, margins ? pairs.Margins : default);
        if (_scores.Length != scores.Length) _scores = new float[scores.Length];
        scores.AsSpan().CopyTo(_scores);
        double correct = 0, c = 0, r = 0;
        for (int i = 0; i < pairs.Pairs; i++)
        {
            c += _scores[2 * i]; r += _scores[2 * i + 1];
            if (_scores[2 * i] > _scores[2 * i + 1]) correct++;
        }
        int n = pairs.Pairs;
        _metrics.Add(correct / n, c / n, r / n, (c - r) / n);
        return reward.Decoder.AddAuxiliaryLosses(loss);
    }

    public IReadOnlyList<KeyValuePair<string, double>>? TakeStepMetrics() => _metrics.Take();
}
