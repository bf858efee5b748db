using Lathe.Data;
using Lathe.Formats;
using Lathe.Inference;
using Lathe.Models;
using Lathe.Tuning;

namespace Lathe.Alignment;

/// <summary>How an aligned policy compares with its reference on held-out prompts — the columns of issue #14's table:
/// the behaviour metrics of its greedy replies (<see cref="HeldOutEvaluation"/>), the mean reward of those replies
/// under a reward function, and its KL divergence from the reference, estimated on replies sampled from the policy at
/// temperature 1 as the mean over them of Σₜ log π(yₜ) − log π_ref(yₜ) (the k1 estimator, unbiased for the
/// sequence-level KL(π ‖ π_ref)).</summary>
public sealed record PolicyReport(HeldOutResult HeldOut, double? MeanReward, double KlToReference, int KlSamples)
{
    /// <summary>Compares <paramref name="policy"/> (with its adapter attached, if any) with <paramref name="reference"/>,
    /// which must share its tokenizer. <paramref name="reward"/> null: no reward column.</summary>
    public static PolicyReport Run(LoadedModel policy, ITuningMethod? adapter, LoadedModel reference, ITuningMethod? referenceAdapter,
        ChatTemplate chat, IRewardFunction? reward, IReadOnlyList<AlignmentPrompt> prompts, int maxNewTokens = 48, ulong seed = 1)
    {
        TokenizerMatch.Require(policy, reference, "--reference");
        var heldOut = HeldOutEvaluation.Run(policy, prompts, new HeldOutOptions { Template = chat, MaxNewTokens = maxNewTokens });
        var messages = prompts.Select(p => p.Prompt).ToList();
        var kinds = prompts.Select(p => p.Kind).ToList();
        var generator = new RolloutGenerator(policy, chat, maxNewTokens);
        double? meanReward = null;
        if (reward is not null)
        {
            var greedy = generator.Generate(messages, 1, new SamplingOptions { Temperature = 0 });
            var scores = new float[greedy.Count];
            reward.Score(greedy, kinds, scores);
            meanReward = scores.Average(s => (double)s);
        }
        var sampled = generator.Generate(messages, 1, new SamplingOptions { Temperature = 1, TopK = 0, TopP = 1, MinP = 0, Seed = seed });
        var policyLogProbs = SumLogProbs(policy.Decoder, adapter, sampled);
        var referenceLogProbs = SumLogProbs(reference.Decoder, referenceAdapter, sampled);
        double kl = 0;
        for (int i = 0; i < sampled.Count; i++) kl += policyLogProbs[i] - referenceLogProbs[i];
        return new PolicyReport(heldOut, meanReward, kl / Math.Max(1, sampled.Count), sampled.Count);
    }

    /// <summary>Each rollout's response log-probability under <paramref name="model"/>, batched without gradients.</summary>
    public static float[] SumLogProbs(CausalLM model, ITuningMethod? method, IReadOnlyList<Rollout> rollouts, int batch = 8)
    {
        var scorer = new SequenceLogProbs();
        var sums = new float[rollouts.Count];
        using var batches = new RolloutBatches(batch, 0);
        batches.Evaluate(rollouts, rows => scorer.Sums(model, method, rows), sums);
        return sums;
    }
}
