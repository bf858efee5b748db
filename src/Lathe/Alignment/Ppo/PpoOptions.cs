using System.Text.Json.Serialization;

namespace Lathe.Alignment;

/// <summary>The per-token KL estimator of PPO's reward penalty.</summary>
public enum KlEstimator { K1, K3 }

/// <summary>PPO's hyper-parameters, named as `lathe align ppo` names them. Defaults follow TRL's PPO where it has one
/// (4 epochs per rollout batch, ε = 0.2, value clip 0.2, vf_coef 0.1, γ = 1, λ = 0.95, KL coefficient 0.05).</summary>
public sealed record PpoOptions
{
    /// <summary>Prompts drawn per phase (one phase = rollouts, then optimisation over them).</summary>
    [JsonPropertyName("prompts_per_phase")] public int PromptsPerPhase { get; init; } = 8;
    /// <summary>Responses sampled per prompt.</summary>
    [JsonPropertyName("samples_per_prompt")] public int SamplesPerPrompt { get; init; } = 1;
    [JsonPropertyName("max_new_tokens")] public int MaxNewTokens { get; init; } = 32;
    /// <summary>Sampling temperature of the rollouts. Nothing else reshapes the distribution (no top-k/top-p/min-p):
    /// the importance ratios π/π_old assume the responses were drawn from the policy's own distribution.</summary>
    [JsonPropertyName("temperature")] public float Temperature { get; init; } = 1f;
    [JsonPropertyName("ppo_epochs")] public int PpoEpochs { get; init; } = 4;
    /// <summary>Rollouts per optimisation step.</summary>
    [JsonPropertyName("minibatch_size")] public int MinibatchSize { get; init; } = 4;
    [JsonPropertyName("clip_range")] public float ClipRange { get; init; } = 0.2f;
    [JsonPropertyName("value_clip")] public float ValueClip { get; init; } = 0.2f;
    [JsonPropertyName("vf_coef")] public float VfCoef { get; init; } = 0.1f;
    [JsonPropertyName("gamma")] public float Gamma { get; init; } = 1f;
    [JsonPropertyName("lambda")] public float Lambda { get; init; } = 0.95f;
    [JsonPropertyName("kl_estimator")] public KlEstimator KlEstimator { get; init; } = KlEstimator.K1;
    /// <summary>β of the per-token penalty −β·KL_t (the initial value when adaptive).</summary>
    [JsonPropertyName("kl_coef")] public float KlCoef { get; init; } = 0.05f;
    /// <summary>Target KL of Ziegler et al.'s adaptive controller; null: β stays fixed.</summary>
    [JsonPropertyName("kl_target")] public float? KlTarget { get; init; }
    [JsonPropertyName("kl_horizon")] public int KlHorizon { get; init; } = 10000;
    /// <summary>Whiten the per-token rewards (TRL's whiten_rewards: scale only, the mean kept).</summary>
    [JsonPropertyName("whiten_rewards")] public bool WhitenRewards { get; init; }
    /// <summary>Subtracted from the score of a response that never produced a stop token (TRL's missing_eos_penalty);
    /// null: none.</summary>
    [JsonPropertyName("missing_eos_penalty")] public float? MissingEosPenalty { get; init; }
    /// <summary>A phase whose mean per-sequence KL to the reference exceeds this stops the run (null: never).</summary>
    [JsonPropertyName("kl_stop")] public float? KlStop { get; init; }
    [JsonPropertyName("lr")] public float LearningRate { get; init; } = 1e-5f;
    [JsonPropertyName("weight_decay")] public float WeightDecay { get; init; }
    [JsonPropertyName("clip_norm")] public float ClipNorm { get; init; } = 1f;
    [JsonPropertyName("phases")] public int Phases { get; init; } = 10;
    /// <summary>Checkpoint every N phases (0: only at the end and on Ctrl-C).</summary>
    [JsonPropertyName("checkpoint_every")] public int CheckpointEvery { get; init; }
    [JsonPropertyName("seed")] public ulong Seed { get; init; } = 1;

    /// <summary>Rollouts per phase.</summary>
    [JsonIgnore] public int RolloutsPerPhase => PromptsPerPhase * SamplesPerPrompt;

    /// <summary>One-line errors naming the command-line option.</summary>
    public PpoOptions Validate()
    {
        static void Require(bool ok, string message) { if (!ok) throw new ArgumentException(message); }
        Require(PromptsPerPhase >= 1, $"--prompts-per-phase: {PromptsPerPhase} must be at least 1");
        Require(SamplesPerPrompt >= 1, $"--samples: {SamplesPerPrompt} must be at least 1");
        Require(MaxNewTokens >= 1, $"--max-new-tokens: {MaxNewTokens} must be at least 1");
        Require(Temperature > 0 && float.IsFinite(Temperature), $"--temperature: {Temperature} must be finite and > 0 (PPO samples the policy's own distribution)");
        Require(PpoEpochs >= 1, $"--ppo-epochs: {PpoEpochs} must be at least 1");
        Require(MinibatchSize >= 1, $"--minibatch-size: {MinibatchSize} must be at least 1");
        Require(MinibatchSize <= RolloutsPerPhase, $"--minibatch-size: {MinibatchSize} exceeds the {RolloutsPerPhase} rollouts of a phase (--prompts-per-phase × --samples)");
        Require(ClipRange > 0 && float.IsFinite(ClipRange), $"--clip-range: {ClipRange} must be finite and > 0");
        Require(ValueClip > 0 && float.IsFinite(ValueClip), $"--value-clip: {ValueClip} must be finite and > 0");
        Require(VfCoef >= 0 && float.IsFinite(VfCoef), $"--vf-coef: {VfCoef} must be finite and ≥ 0");
        Require(Gamma >= 0 && Gamma <= 1, $"--gamma: {Gamma} must be in [0, 1]");
        Require(Lambda >= 0 && Lambda <= 1, $"--lambda: {Lambda} must be in [0, 1]");
        Require(KlCoef >= 0 && float.IsFinite(KlCoef), $"--kl-coef: {KlCoef} must be finite and ≥ 0");
        Require(KlTarget is null || (KlTarget > 0 && float.IsFinite(KlTarget.Value)), $"--kl-target: {KlTarget} must be finite and > 0");
        Require(KlHorizon >= 1, $"--kl-horizon: {KlHorizon} must be at least 1");
        Require(MissingEosPenalty is null || float.IsFinite(MissingEosPenalty.Value), $"--missing-eos-penalty: {MissingEosPenalty} must be finite");
        Require(KlStop is null || KlStop > 0, $"--kl-stop: {KlStop} must be > 0");
        Require(LearningRate > 0 && float.IsFinite(LearningRate), $"--lr: {LearningRate} must be finite and > 0");
        Require(WeightDecay >= 0 && float.IsFinite(WeightDecay), $"--weight-decay: {WeightDecay} must be finite and ≥ 0");
        Require(ClipNorm >= 0 && float.IsFinite(ClipNorm), $"--clip-norm: {ClipNorm} must be finite and ≥ 0");
        Require(Phases >= 1, $"--phases: {Phases} must be at least 1");
        Require(CheckpointEvery >= 0, $"--checkpoint-every: {CheckpointEvery} must be ≥ 0");
        return this;
    }

    /// <summary>The KL controller these options ask for, starting at <paramref name="value"/> (a resumed run's β).</summary>
    public IKlController KlController(float value) =>
        KlTarget is { } target ? new AdaptiveKlController(value, target, KlHorizon) : new FixedKlController(value);
}
