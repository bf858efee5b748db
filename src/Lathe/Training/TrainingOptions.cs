using System.Text.Json.Serialization;

namespace Lathe.Training;

/// <summary>Hyper-parameters of a pre-training run (saved in trainer_state.json; a resumed run uses them).</summary>
public sealed record TrainingOptions
{
    [JsonPropertyName("max_steps")] public int Steps { get; init; } = 1000;
    [JsonPropertyName("batch_size")] public int BatchSize { get; init; } = 8;
    [JsonPropertyName("block_size")] public int BlockSize { get; init; } = 128;
    [JsonPropertyName("grad_accum")] public int GradAccum { get; init; } = 1;
    [JsonPropertyName("learning_rate")] public float LearningRate { get; init; } = 1e-3f;
    [JsonPropertyName("min_lr_fraction")] public float MinLrFraction { get; init; } = 0.1f;
    [JsonPropertyName("warmup_steps")] public int WarmupSteps { get; init; } = 50;
    [JsonPropertyName("weight_decay")] public float WeightDecay { get; init; } = 0.1f;
    [JsonPropertyName("beta1")] public float Beta1 { get; init; } = 0.9f;
    [JsonPropertyName("beta2")] public float Beta2 { get; init; } = 0.95f;
    [JsonPropertyName("clip_norm")] public float ClipNorm { get; init; } = 1f;
    [JsonPropertyName("eval_every")] public int EvalEvery { get; init; } = 100;
    [JsonPropertyName("eval_batches")] public int EvalBatches { get; init; } = 8;
    [JsonPropertyName("checkpoint_every")] public int CheckpointEvery { get; init; } = 200;
    [JsonPropertyName("seed")] public ulong Seed { get; init; } = 1337;

    /// <summary>One-line errors naming the option.</summary>
    public TrainingOptions Validate()
    {
        static void Check(bool ok, string name, object value) { if (!ok) throw new ArgumentException($"--{name}: {value} is out of range"); }
        Check(Steps > 0, "steps", Steps);
        Check(BatchSize > 0, "batch-size", BatchSize);
        Check(BlockSize > 0, "block-size", BlockSize);
        Check(GradAccum > 0, "grad-accum", GradAccum);
        Check(LearningRate > 0 && float.IsFinite(LearningRate), "lr", LearningRate);
        Check(WarmupSteps >= 0, "warmup", WarmupSteps);
        Check(WeightDecay >= 0, "weight-decay", WeightDecay);
        Check(ClipNorm >= 0, "clip-norm", ClipNorm);
        Check(EvalEvery >= 0, "eval-every", EvalEvery);
        Check(EvalBatches > 0, "eval-batches", EvalBatches);
        Check(CheckpointEvery >= 0, "checkpoint-every", CheckpointEvery);
        return this;
    }
}
