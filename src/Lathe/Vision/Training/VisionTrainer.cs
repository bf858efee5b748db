using System.Text.Json;
using System.Text.Json.Serialization;
using Lathe.Formats;
using Lathe.IO;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Training;

namespace Lathe.Vision.Training;

/// <summary>Options of a vision training run (the trainer's share; each model's verb adds its own).</summary>
public sealed record VisionTrainingOptions
{
    [JsonPropertyName("steps")] public int Steps { get; init; } = 1000;
    [JsonPropertyName("batch_size")] public int BatchSize { get; init; } = 64;
    [JsonPropertyName("learning_rate")] public float LearningRate { get; init; } = 1e-3f;
    [JsonPropertyName("warmup_steps")] public int WarmupSteps { get; init; } = 100;
    [JsonPropertyName("min_lr_fraction")] public float MinLrFraction { get; init; } = 0.1f;
    [JsonPropertyName("weight_decay")] public float WeightDecay { get; init; } = 0.05f;
    [JsonPropertyName("beta1")] public float Beta1 { get; init; } = 0.9f;
    [JsonPropertyName("beta2")] public float Beta2 { get; init; } = 0.999f;
    /// <summary>Global gradient-norm clip; 0 turns clipping off.</summary>
    [JsonPropertyName("clip_norm")] public float ClipNorm { get; init; } = 1f;
    [JsonPropertyName("seed")] public ulong Seed { get; init; } = 1;
    /// <summary>Steps between checkpoints (0: only at the end).</summary>
    [JsonPropertyName("checkpoint_every")] public int CheckpointEvery { get; init; }

    /// <summary>Checks the options, naming the first bad one.</summary>
    public VisionTrainingOptions Validate()
    {
        if (Steps <= 0) throw new ArgumentException($"--steps {Steps} must be positive");
        if (BatchSize <= 0) throw new ArgumentException($"--batch-size {BatchSize} must be positive");
        if (!(LearningRate > 0) || float.IsInfinity(LearningRate)) throw new ArgumentException($"--lr {LearningRate} must be a positive number");
        if (WarmupSteps < 0) throw new ArgumentException($"--warmup {WarmupSteps} must not be negative");
        if (WeightDecay < 0) throw new ArgumentException($"--weight-decay {WeightDecay} must not be negative");
        if (ClipNorm < 0) throw new ArgumentException($"--clip-norm {ClipNorm} must not be negative");
        if (CheckpointEvery < 0) throw new ArgumentException($"--checkpoint-every {CheckpointEvery} must not be negative");
        return this;
    }
}

/// <summary>The training loop of the vision models: AdamW over a trainable set (frozen parameters get no gradient and no
/// optimizer state), warm-up + cosine schedule, global-norm clipping, one reused tape, metrics.jsonl, and crash-safe
/// checkpoints (config + weights + optimizer moments + trainer state, each written atomically) that resume bit for bit.
/// What a step computes is the caller's: <see cref="TrainStep"/> takes the loss as a function, so one loop serves
/// classification, contrastive, captioning, reconstruction, diffusion, likelihood and adversarial objectives (a GAN runs
/// two trainers, one per player).</summary>
/// <remarks>Same seed, same thread count → same numbers: the data order comes from <see cref="BatchOrder"/> (a seeded
/// permutation per epoch), and every op of the engine is deterministic for a fixed thread count.</remarks>
public sealed class VisionTrainer : IDisposable
{
    readonly ModelParameter[] _trainable;
    readonly AdamWOptimizer _optimizer;
    readonly Tape _tape = new();
    readonly LearningRateSchedule _schedule;
    readonly MetricsLog? _metrics;
    readonly string? _runDir;
    readonly string _name;

    public VisionTrainingOptions Options { get; }
    /// <summary>Updates taken so far.</summary>
    public int Step { get; private set; }
    /// <summary>The loss and gradient norm of the last step.</summary>
    public float LastLoss { get; private set; }
    public double LastGradNorm { get; private set; }
    /// <summary>The learning rate of the last step.</summary>
    public float LastLearningRate { get; private set; }

    /// <param name="trainable">The parameters to update (the others stay frozen: their RequiresGrad is cleared).</param>
    /// <param name="allParameters">Every parameter of the model(s), to freeze those not in <paramref name="trainable"/>; null
    /// when the trainable set is all there is.</param>
    /// <param name="runDir">Where metrics.jsonl and checkpoint/ go; null for an in-memory run (tests, benchmarks).</param>
    /// <param name="name">A prefix for this trainer's files when one run has several (a GAN's "generator" and
    /// "discriminator"); null for the usual names.</param>
    public VisionTrainer(IReadOnlyList<ModelParameter> trainable, VisionTrainingOptions options, string? runDir,
        IReadOnlyList<ModelParameter>? allParameters = null, string? name = null)
    {
        Options = options.Validate();
        _trainable = trainable.ToArray();
        if (allParameters is not null)
        {
            var keep = new HashSet<Tensor>(_trainable.Select(p => p.Value), ReferenceEqualityComparer.Instance);
            foreach (var p in allParameters)
                if (!keep.Contains(p.Value)) { p.Value.RequiresGrad = false; p.Value.ReleaseGrad(); }
        }
        foreach (var p in _trainable) p.Value.RequiresGrad = true;
        _optimizer = new AdamWOptimizer(_trainable) { Beta1 = options.Beta1, Beta2 = options.Beta2, WeightDecay = options.WeightDecay };
        _schedule = new LearningRateSchedule(options.LearningRate, options.WarmupSteps, options.Steps, options.MinLrFraction);
        _runDir = runDir;
        _name = name ?? "";
        if (runDir is not null)
        {
            Directory.CreateDirectory(runDir);
            Directory.CreateDirectory(MetricsDir(runDir, _name));
            _metrics = new MetricsLog(MetricsDir(runDir, _name));
        }
    }

    static string MetricsDir(string runDir, string name) => name.Length == 0 ? runDir : Path.Combine(runDir, name);

    /// <summary>One update: runs <paramref name="loss"/> on a fresh tape, back-propagates, clips, steps AdamW. Returns the
    /// loss. A loss that is not finite stops the run with an error naming the step (the weights are left as they were).</summary>
    /// <param name="extra">Figures of the step to log beside the loss (accuracy, KL, …); read after the loss ran.</param>
    public float TrainStep(Func<Tensor> loss, Func<IReadOnlyList<KeyValuePair<string, double>>>? extra = null)
    {
        _tape.Reset();
        _optimizer.ZeroGrad();
        float value;
        using (_tape.Activate())
        {
            var l = loss();
            if (l.Length != 1) throw new InvalidOperationException($"VisionTrainer: the loss has shape {Tensor.ShapeString(l.Shape)}, not a scalar");
            value = l.Item();
            if (!float.IsFinite(value)) throw new TrainingDivergedException($"training: loss is {value} at step {Step + 1}; lower --lr or check the data");
            _tape.Backward(l);
        }
        double norm = _optimizer.GradientNorm();
        if (Options.ClipNorm > 0 && norm > Options.ClipNorm) _optimizer.ScaleGradients((float)(Options.ClipNorm / (norm + 1e-6)));
        Step++;
        float lr = _schedule.At(Step);
        _optimizer.Step(lr);
        LastLoss = value; LastGradNorm = norm; LastLearningRate = lr;
        _metrics?.Add(Step, value, lr, norm, null, (long)Step * Options.BatchSize, extra?.Invoke());
        return value;
    }

    /// <summary>Records a validation figure for the current step in metrics.jsonl.</summary>
    public void SetValidation(double value) => _metrics?.SetValidation(Step, value);

    /// <summary>True when a checkpoint is due after the current step (every N steps, and at the last).</summary>
    public bool CheckpointDue => Step == Options.Steps || (Options.CheckpointEvery > 0 && Step % Options.CheckpointEvery == 0);

    /// <summary>Writes the run's checkpoint: <paramref name="model"/>'s config and weights into runDir/checkpoint/, and this
    /// trainer's optimizer moments and state beside them; then metrics. Each file is written atomically, the state last,
    /// so a crash leaves the previous checkpoint's state pointing at complete files.</summary>
    public void Save(IVisionModel? model)
    {
        if (_runDir is null) return;
        string dir = Path.Combine(_runDir, Checkpoint.Folder);
        if (model is not null) VisionCheckpoint.Save(dir, model);
        else Directory.CreateDirectory(dir);
        _optimizer.Save(Path.Combine(dir, Prefix + Checkpoint.OptimizerFile));
        var state = new VisionTrainerState { Step = Step, Options = Options };
        AtomicFile.WriteAllText(Path.Combine(dir, Prefix + Checkpoint.StateFile), JsonSerializer.Serialize(state, JsonOptions));
        _metrics?.Flush();
    }

    /// <summary>Resumes from runDir/checkpoint/ (weights must already be loaded into the model by the caller, e.g. with
    /// <see cref="VisionCheckpoint.LoadWeights"/>): restores the optimizer moments and the step. Returns false when there
    /// is no checkpoint to resume from.</summary>
    public bool Resume()
    {
        if (_runDir is null) return false;
        string dir = Path.Combine(_runDir, Checkpoint.Folder), statePath = Path.Combine(dir, Prefix + Checkpoint.StateFile);
        if (!File.Exists(statePath)) return false;
        VisionTrainerState state;
        try { state = JsonSerializer.Deserialize<VisionTrainerState>(File.ReadAllText(statePath), JsonOptions) ?? throw new InvalidDataException($"{statePath}: empty"); }
        catch (JsonException e) { throw new InvalidDataException($"{statePath}: not a trainer state ({e.Message})"); }
        _optimizer.Load(Path.Combine(dir, Prefix + Checkpoint.OptimizerFile));
        Step = state.Step;
        _metrics?.ResumeAt(Step);
        return true;
    }

    string Prefix => _name.Length == 0 ? "" : _name + ".";

    static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };

    public void Dispose()
    {
        _tape.Dispose();
        _optimizer.Dispose();
    }
}

/// <summary>trainer_state.json of a vision run.</summary>
public sealed record VisionTrainerState
{
    [JsonPropertyName("step")] public int Step { get; init; }
    [JsonPropertyName("options")] public VisionTrainingOptions Options { get; init; } = new();
}

/// <summary>The order examples are visited in: a seeded permutation of [0, n) per epoch, so batch k of a run is the same
/// on every run with that seed, and a resumed run picks up at the same place.</summary>
public sealed class BatchOrder(int count, ulong seed)
{
    int[] _order = [];
    int _epoch = -1;

    /// <summary>The example indices of batch <paramref name="step"/> (0-based) of size <paramref name="batchSize"/>, written
    /// into <paramref name="indices"/>. Batches run through each epoch's permutation and wrap into the next epoch's.</summary>
    public void Batch(int step, int batchSize, Span<int> indices)
    {
        long start = (long)step * batchSize;
        for (int i = 0; i < batchSize; i++)
        {
            long k = start + i;
            int epoch = (int)(k / count), j = (int)(k % count);
            if (epoch != _epoch) Shuffle(epoch);
            indices[i] = _order[j];
        }
    }

    void Shuffle(int epoch)
    {
        if (_order.Length != count) _order = new int[count];
        for (int i = 0; i < count; i++) _order[i] = i;
        var rng = new Philox(seed ^ (0x9E3779B97F4A7C15UL * (ulong)(epoch + 1)));
        for (int i = count - 1; i > 0; i--)
        {
            int j = (int)(rng.NextUInt() % (uint)(i + 1));
            (_order[i], _order[j]) = (_order[j], _order[i]);
        }
        _epoch = epoch;
    }
}
