using Lathe.Inference;
using Lathe.Tuning;

namespace Lathe.Alignment;

/// <summary>What judges a rollout: a trained reward model, Llama 2's combination of two, or (in tests) a rule whose
/// optimum is known. One number per whole response; PPO adds its per-token KL penalty itself.</summary>
public interface IRewardFunction
{
    /// <summary>The reward of each rollout's response to its prompt (<see cref="Rollout.Prompt"/> indexes
    /// <paramref name="promptKinds"/>, the prompts' kinds — "unsafe", "fact", … or null when unknown).</summary>
    void Score(IReadOnlyList<Rollout> rollouts, IReadOnlyList<string?> promptKinds, Span<float> rewards);

    /// <summary>Rollouts scored per forward: a list of whole batches of this size, cut where one list of all the
    /// rollouts would be cut, is scored bit for bit as within that list (how ranks share the scoring).</summary>
    int BatchRows => 1;
}

/// <summary>One reward model scoring rollouts: its decoder reads the rollout's ids as they are, so it must share the
/// policy's tokenizer (checked when it is opened against a policy). Scores are the head's raw output (the logit of
/// P(preferred)), batched without gradients.</summary>
public sealed class RewardModelScorer : IRewardFunction, IDisposable
{
    readonly AlignedModel? _owner;
    readonly ITuningMethod? _adapter;
    readonly RolloutBatches _batches;

    /// <summary>A scorer over a reward model already in memory (with its trunk's adapter, if any); <paramref name="padId"/>
    /// fills the short rows of a batch.</summary>
    public RewardModelScorer(RewardModel reward, ITuningMethod? adapter = null, int batch = 8, int padId = 0)
        : this(null, reward, adapter, batch, padId) { }

    RewardModelScorer(AlignedModel? owner, RewardModel reward, ITuningMethod? adapter, int batch, int padId)
    {
        _owner = owner; Reward = reward; _adapter = adapter; _batches = new RolloutBatches(batch, padId);
    }

    public RewardModel Reward { get; }
    public RewardInfo Info => Reward.Info;

    /// <summary>Opens the reward model at <paramref name="path"/> (a run of `align reward`) for a policy with
    /// <paramref name="policy"/>'s tokenizer; a reward model whose tokenizer differs is a one-line error.</summary>
    public static RewardModelScorer Open(string path, LoadedModel policy, int batch = 8)
    {
        var model = AlignedModel.Open(path);
        try
        {
            TokenizerMatch.Require(policy, model.Loaded, path);
            var reward = new RewardModel(model.Loaded.Decoder);
            reward.LoadHead(AlignedModel.FilesOf(path));
            return new RewardModelScorer(model, reward, model.Adapter, batch, model.Loaded.PadId ?? model.Loaded.EosId ?? 0);
        }
        catch { model.Dispose(); throw; }
    }

    public void Score(IReadOnlyList<Rollout> rollouts, IReadOnlyList<string?> promptKinds, Span<float> rewards) =>
        _batches.Evaluate(rollouts, rows => Reward.Scores(_adapter, rows), rewards);

    public int BatchRows => _batches.Batch;

    public void Dispose()
    {
        _batches.Dispose();
        _owner?.Dispose();
    }
}

/// <summary>Llama 2's combined reward (Touvron et al. 2023, §3.2.2): the safety model's score where the prompt is
/// safety-related or the safety model finds the response unsafe (σ(safety score) &lt; 0.15), the helpfulness model's
/// score otherwise; the chosen model's logit is whitened by that model's own score statistics (its mean and standard
/// deviation over its training responses, reward.json), so the two scales are comparable.</summary>
public sealed class Llama2Reward(IRewardFunction helpfulness, RewardInfo helpfulnessInfo, IRewardFunction safety, RewardInfo safetyInfo,
    float threshold = 0.15f) : IRewardFunction
{
    /// <summary>Prompt kinds treated as safety-related (IS_SAFETY(p) in the paper).</summary>
    public static readonly HashSet<string> SafetyKinds = ["unsafe", "safety"];

    public void Score(IReadOnlyList<Rollout> rollouts, IReadOnlyList<string?> promptKinds, Span<float> rewards)
    {
        var h = new float[rollouts.Count];
        var s = new float[rollouts.Count];
        helpfulness.Score(rollouts, promptKinds, h);
        safety.Score(rollouts, promptKinds, s);
        for (int i = 0; i < rollouts.Count; i++)
        {
            string? kind = promptKinds[rollouts[i].Prompt];
            bool useSafety = (kind is not null && SafetyKinds.Contains(kind)) || Sigmoid(s[i]) < threshold;
            rewards[i] = useSafety ? Whiten(s[i], safetyInfo) : Whiten(h[i], helpfulnessInfo);
        }
    }

    /// <summary>A batch of both models: the least common multiple of theirs.</summary>
    public int BatchRows
    {
        get
        {
            int a = Math.Max(1, helpfulness.BatchRows), b = Math.Max(1, safety.BatchRows), x = a, y = b;
            while (y != 0) (x, y) = (y, x % y);
            return a / x * b;
        }
    }

    static float Sigmoid(float x) => 1f / (1f + MathF.Exp(-x));
    static float Whiten(float x, RewardInfo info) => (float)((x - info.ScoreMean) / Math.Max(info.ScoreStd, 1e-6));
}
