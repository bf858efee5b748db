namespace Lathe.Training;

/// <summary>One micro-batch as the trainer hands it to an objective: B rows of T input tokens and, for each, the T
/// tokens that follow them (so a row and its targets are T + 1 consecutive tokens of the corpus, or a prompt and
/// its completion). A causal objective predicts the targets; an encoder's objective (masked LM, span corruption)
/// builds its own inputs from them, drawing its random choices from <see cref="Seed"/> so a resumed run draws the
/// same ones.</summary>
/// <remarks>What later objectives need rides along: <see cref="Weights"/> — a per-target loss weight (SFT's loss
/// mask: 0 on prompt tokens, 1 on the reply) — and <see cref="Extra"/>, an objective-specific payload (paired
/// rows for DPO, rewards and reference log-probabilities for PPO, teacher logits for distillation).</remarks>
public readonly ref struct TrainingBatch
{
    public TrainingBatch(ReadOnlySpan<int> inputs, ReadOnlySpan<int> targets, int b, int t, ulong seed,
        ReadOnlySpan<float> weights = default, object? extra = null)
    {
        if (inputs.Length != b * t || targets.Length != b * t)
            throw new ArgumentException($"batch: {inputs.Length} inputs and {targets.Length} targets for B={b}, T={t}.");
        if (!weights.IsEmpty && weights.Length != b * t)
            throw new ArgumentException($"batch: {weights.Length} loss weights for B·T = {b * t} targets.");
        Inputs = inputs; Targets = targets; B = b; T = t; Seed = seed; Weights = weights; Extra = extra;
    }

    /// <summary>Input ids (B, T).</summary>
    public ReadOnlySpan<int> Inputs { get; }
    /// <summary>Target ids (B, T): the token after each input; −100 (HF's ignore index) is never predicted.</summary>
    public ReadOnlySpan<int> Targets { get; }
    public int B { get; }
    public int T { get; }
    /// <summary>A seed unique to this micro-batch of this run (a function of the run seed, step and micro-batch).</summary>
    public ulong Seed { get; }
    /// <summary>Per-target loss weights (B, T), or empty for all 1. The loss is Σ wᵢ·ℓᵢ / Σ wᵢ.</summary>
    public ReadOnlySpan<float> Weights { get; }
    /// <summary>An objective-specific payload, or null.</summary>
    public object? Extra { get; }
}
