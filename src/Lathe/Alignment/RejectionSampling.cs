using System.Text.Json;
using Lathe.Data;
using Lathe.Inference;
using Lathe.Training;
using Lathe.Training.Objectives;
using Lathe.Tuning;

namespace Lathe.Alignment;

/// <summary>How rejection sampling runs: K samples per prompt at a temperature, R rounds, and each round's SFT on the
/// winners.</summary>
public sealed record RejectionOptions
{
    /// <summary>Samples per prompt (K): the more, the higher the best-of-K reward climbs (Llama 2, Fig. 7).</summary>
    public int Samples { get; init; } = 4;
    /// <summary>Rounds (R); each samples from the policy as the previous round's SFT left it.</summary>
    public int Rounds { get; init; } = 1;
    /// <summary>Sampling temperature; top-k, top-p and min-p are off, so every sample is a draw from the policy itself.</summary>
    public float Temperature { get; init; } = 1f;
    /// <summary>Seeds the samples (round r's from (Seed, r)) and each round's trainer.</summary>
    public ulong Seed { get; init; } = 1;
    /// <summary>Each round's SFT. Steps 0: <see cref="Epochs"/> passes over the winners. The block size grows to the
    /// longest winner (capped by the context).</summary>
    public TrainingOptions Training { get; init; } = new() { Steps = 0, BatchSize = 8, LearningRate = 1e-3f, WarmupSteps = 2, EvalEvery = 0, CheckpointEvery = 0 };
    /// <summary>Passes over a round's winners when <see cref="TrainingOptions.Steps"/> is 0.</summary>
    public double Epochs { get; init; } = 1;
    public SequenceMode Mode { get; init; } = SequenceMode.Packed;

    public RejectionOptions Validate()
    {
        if (Samples < 1) throw new ArgumentException($"--samples: {Samples} must be at least 1");
        if (Rounds < 1) throw new ArgumentException($"--rounds: {Rounds} must be at least 1");
        if (!(Temperature > 0) || !float.IsFinite(Temperature)) throw new ArgumentException($"--temperature: {Temperature} must be a finite number > 0");
        if (!(Epochs > 0)) throw new ArgumentException($"--epochs: {Epochs} must be positive");
        return this;
    }

    /// <summary>Round <paramref name="round"/>'s sampling: plain temperature sampling, seeded from (Seed, round) so
    /// rounds draw differently and a rerun draws the same.</summary>
    public SamplingOptions Sampling(int round) => new()
    {
        Temperature = Temperature, TopK = 0, TopP = 1, MinP = 0, Seed = Hash64.Combine(Seed, (ulong)round),
    };
}

/// <summary>One round: the figures Llama 2 plots (mean best-of-K and mean reward over all samples), the winners'
/// mean response length (rejection sampling is known to drift longer), the winners themselves and the SFT that
/// followed (its steps and last loss; 0 and NaN before training).</summary>
public sealed record RejectionRound(int Round, double MeanBestReward, double MeanReward, double WinnersMeanTokens,
    IReadOnlyList<Rollout> Winners, IReadOnlyList<float> WinnerRewards)
{
    public int TrainSteps { get; init; }
    public double LastLoss { get; init; } = double.NaN;
}

/// <summary>Rejection-sampling fine-tuning (Touvron et al. 2023, "Llama 2", §3.2.3): sample K responses per prompt
/// from the policy, keep the one the reward function scores highest, fine-tune on the winners with the ordinary SFT
/// loss, repeat. The policy is trained in place (the model behind the generator, through its tuning method).</summary>
public sealed class RejectionSampler
{
    readonly LoadedModel _policy;
    readonly ITuningMethod _method;
    readonly RolloutGenerator _generator;
    readonly IRewardFunction _reward;
    readonly RejectionOptions _options;
    readonly string? _tokenizerJson;

    /// <param name="method">The tuning method attached to <paramref name="policy"/>'s model (full, lora, qlora or
    /// adapter: the batched engine that samples sees their weights; prompt and prefix tuning's virtual rows it would
    /// not, so they are refused).</param>
    /// <param name="tokenizerJson">Copied into each round's checkpoint (null for a GGUF base).</param>
    public RejectionSampler(LoadedModel policy, ITuningMethod method, RolloutGenerator generator, IRewardFunction reward,
        RejectionOptions options, string? tokenizerJson = null)
    {
        if (!ReferenceEquals(method.Model, policy.Model)) throw new ArgumentException("rejection: the tuning method is attached to another model");
        if (method is PromptTuning or PrefixTuning)
            throw new ArgumentException($"--method {method.Name}: rejection sampling samples through the batched engine, which does not see virtual tokens; use full, lora, qlora or adapter");
        _policy = policy; _method = method; _generator = generator; _reward = reward; _options = options.Validate(); _tokenizerJson = tokenizerJson;
    }

    /// <summary>Best of K per prompt: for each prompt index 0..<paramref name="promptCount"/>−1, the index into
    /// <paramref name="rollouts"/> of its highest reward, ties going to the lowest sample index. A prompt without
    /// rollouts or a reward that is not a number is a one-line error.</summary>
    public static int[] BestOfK(IReadOnlyList<Rollout> rollouts, ReadOnlySpan<float> rewards, int promptCount)
    {
        if (rewards.Length != rollouts.Count) throw new ArgumentException($"rejection: {rewards.Length} rewards for {rollouts.Count} rollouts");
        var best = new int[promptCount];
        Array.Fill(best, -1);
        for (int i = 0; i < rollouts.Count; i++)
        {
            var r = rollouts[i];
            if (!float.IsFinite(rewards[i])) throw new ArgumentException($"rejection: prompt {r.Prompt} sample {r.Sample}: the reward {rewards[i]} is not a finite number");
            if ((uint)r.Prompt >= (uint)promptCount) throw new ArgumentException($"rejection: rollout {i} names prompt {r.Prompt} of {promptCount}");
            int b = best[r.Prompt];
            // Strictly greater, or equal with a lower sample index: the tie rule does not depend on rollout order.
            if (b < 0 || rewards[i] > rewards[b] || (rewards[i] == rewards[b] && r.Sample < rollouts[b].Sample)) best[r.Prompt] = i;
        }
        for (int p = 0; p < promptCount; p++)
            if (best[p] < 0) throw new ArgumentException($"rejection: prompt {p} has no samples");
        return best;
    }

    /// <summary>Samples round <paramref name="round"/> (1-based) from the policy as it stands, scores every sample and
    /// picks the winners; no training.</summary>
    public RejectionRound Sample(IReadOnlyList<AlignmentPrompt> prompts, int round)
    {
        if (prompts.Count == 0) throw new ArgumentException("rejection: no prompts");
        var rollouts = _generator.Generate(prompts.Select(p => p.Prompt).ToList(), _options.Samples, _options.Sampling(round));
        var rewards = new float[rollouts.Count];
        _reward.Score(rollouts, prompts.Select(p => p.Kind).ToList(), rewards);
        var best = BestOfK(rollouts, rewards, prompts.Count);
        var winners = best.Select(i => rollouts[i]).ToList();
        var winnerRewards = best.Select(i => rewards[i]).ToList();
        double meanAll = 0;
        foreach (float r in rewards) meanAll += r;
        return new RejectionRound(round, winnerRewards.Average(r => (double)r), meanAll / rewards.Length,
            winners.Average(w => (double)w.ResponseTokens), winners, winnerRewards);
    }

    /// <summary>One round: <see cref="Sample"/>, then SFT on the winners through the <see cref="Trainer"/> (its
    /// checkpoint, metrics and the winners as winners.jsonl in <paramref name="roundDir"/>, when given). Cancellation
    /// stops the SFT after a checkpoint; the round then reports the steps it took.</summary>
    public RejectionRound Run(IReadOnlyList<AlignmentPrompt> prompts, int round, string? roundDir,
        CancellationToken cancel = default, Action<TrainingProgress>? progress = null)
    {
        var sampled = Sample(prompts, round);
        if (roundDir is not null) WriteWinners(Path.Combine(roundDir, "winners.jsonl"), prompts, sampled);
        var examples = sampled.Winners.Select(w => w.Sequence).ToList();
        int pad = _policy.PadId ?? _policy.EosId ?? 0;
        ulong seed = Hash64.Combine(_options.Training.Seed, (ulong)round);
        var train = new SftBatchSource(examples, _options.Mode, seed, pad);
        int context = _policy.Model.Config.MaxPositions - _method.VirtualTokens;
        int T = Math.Min(context, Math.Max(_options.Training.BlockSize, train.LongestExample - 1));
        var training = _options.Training with { BlockSize = T, Seed = seed, EvalEvery = 0 };
        if (training.Steps == 0)
        {
            int perEpoch = Math.Max(1, train.BatchesPerPass(training.BatchSize, T) / training.GradAccum);
            training = training with { Steps = Math.Max(1, (int)Math.Ceiling(perEpoch * _options.Epochs)) };
        }
        training = training with { WarmupSteps = Math.Min(training.WarmupSteps, training.Steps / 5) };
        using var trainer = new Trainer(_policy.Model, training, train, null, roundDir, _tokenizerJson, new SftObjective(_method), _method.Trainable,
            null, _method);
        float lastLoss = float.NaN;
        trainer.Run(cancel, p => { lastLoss = p.Loss; progress?.Invoke(p); });
        return sampled with { TrainSteps = trainer.Step, LastLoss = lastLoss };
    }

    /// <summary>The winners as chat JSONL (the shape `lathe finetune` reads: <c>{"messages":[…, assistant]}</c>) with
    /// each one's reward, sample index and prompt kind, written atomically.</summary>
    public static void WriteWinners(string path, IReadOnlyList<AlignmentPrompt> prompts, RejectionRound round)
    {
        var lines = new List<string>(round.Winners.Count);
        for (int i = 0; i < round.Winners.Count; i++)
        {
            var w = round.Winners[i];
            var p = prompts[w.Prompt];
            var messages = p.Prompt.Select(m => new Dictionary<string, string> { ["role"] = m.Role, ["content"] = m.Content })
                .Append(new Dictionary<string, string> { ["role"] = "assistant", ["content"] = w.Text }).ToList();
            lines.Add(JsonSerializer.Serialize(new Dictionary<string, object?>
            {
                ["messages"] = messages, ["reward"] = round.WinnerRewards[i], ["sample"] = w.Sample, ["kind"] = p.Kind,
            }));
        }
        AiFeedback.WriteJsonl(path, lines);
    }
}
