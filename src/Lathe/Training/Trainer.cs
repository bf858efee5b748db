using Lathe.Formats;
using System.Diagnostics;
using Lathe.Data;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Distributed;
using Lathe.Training.Distributed;
using Lathe.Training.Objectives;
using Lathe.Tuning;

namespace Lathe.Training;

/// <summary>A snapshot for the progress line.</summary>
public readonly record struct TrainingProgress(int Step, int TotalSteps, float Loss, double TokensPerSecond, TimeSpan Eta, double? ValidationLoss);

/// <summary>How a run ended.</summary>
public enum TrainingOutcome { Completed, Interrupted }

/// <summary>The training loop for every stage: a model, an objective that turns a batch into a loss, and the set of
/// parameters to train. AdamW, warm-up + cosine schedule, global-norm clipping, gradient accumulation, periodic
/// evaluation, metrics and crash-safe checkpoints that resume bit for bit.</summary>
/// <remarks>Parameters outside the trainable set are frozen: they get no gradient buffer and no optimizer state, and
/// the backward pass computes no gradient for them (ops skip the inputs that need none). One <see cref="Tape"/> is
/// reused step after step (Reset), so a steady-state step allocates nothing.</remarks>
public sealed class Trainer : IDisposable
{
    readonly LanguageModel _model;
    readonly ITrainingObjective _objective;
    readonly IBatchSource _train;   // this rank's share of the batches (RankSlice) in a data-parallel run
    readonly int[]? _validation;
    readonly IExampleBatchSource? _validationExamples;
    readonly ITuningMethod? _method;
    readonly string? _runDir, _tokenizerJson;
    readonly AdamWOptimizer? _optimizer;   // null when data parallelism shards the optimizer (ZeRO-1)
    readonly Communicator _world;
    readonly DataParallel? _dp;            // null in a one-process run
    readonly double[] _agree = new double[4];
    bool _stopRequested, _stopAgreed;
    readonly Tape _tape = new(), _evalTape = new();
    readonly int[] _inputs, _targets;
    readonly float[] _weights;   // per-target loss weights of an example source, filled in place each micro-batch
    readonly MetricsLog? _metrics;
    Philox _rng;   // for dropout masks; saved in trainer_state.json
    long _tokensSeen;
    double? _lastValidation;

    public TrainingOptions Options { get; }
    /// <summary>The validation loss of the last evaluation <see cref="Run"/> made (null before the first).</summary>
    public double? LastValidationLoss => _lastValidation;

    /// <summary>The objective's own figures for the last step (<see cref="ITrainingObjective.TakeStepMetrics"/>), or null.</summary>
    public IReadOnlyList<KeyValuePair<string, double>>? LastStepMetrics { get; private set; }

    /// <summary>The job's processes: <see cref="SingleProcess"/> unless the trainer was given a distributed world.</summary>
    public Communicator World => _world;
    /// <summary>The data-parallel machinery of a run over more than one rank (null otherwise).</summary>
    public DataParallel? DataParallel => _dp;

    /// <summary>Updates taken so far.</summary>
    public int Step { get; private set; }
    public LanguageModel Model => _model;
    public ITrainingObjective Objective => _objective;
    /// <summary>The parameters the optimizer updates (all of the model's unless a trainable set was given).</summary>
    public IReadOnlyList<ModelParameter> Trainable { get; }

    /// <param name="objective">The loss; null for the model's pre-training objective (<see cref="PretrainingObjective.For"/>).</param>
    /// <param name="trainable">The parameters to train — some of the model's and/or extra ones an adapter adds; the
    /// model's others are frozen. Null trains the method's <see cref="ITuningMethod.Trainable"/> set when a method is
    /// given, else every parameter of the model.</param>
    /// <param name="validationExamples">Validation as a source of examples (fine-tuning), evaluated whole; used instead
    /// of <paramref name="validation"/> tokens when given.</param>
    /// <param name="method">The tuning method attached to the model. Unless it is full fine-tuning, checkpoints hold
    /// its files (<see cref="ITuningMethod.Save"/>) instead of the whole model, and a resume loads them back.</param>
    /// <param name="distributed">The job to spread the run over (every rank constructs the same trainer): each rank
    /// trains on its own share of the batches, gradients are summed over ranks while the backward runs, and rank 0
    /// alone writes checkpoints and metrics. Null or a one-rank world: the run of one process.</param>
    /// <remarks>When <paramref name="train"/> is an <see cref="IExampleBatchSource"/>, each micro-batch carries its loss
    /// weights and packed layout (<see cref="TrainingBatch.Weights"/>, <see cref="TrainingBatch.Extra"/>).</remarks>
    public Trainer(LanguageModel model, TrainingOptions options, IBatchSource train, int[]? validation, string? runDir, string? tokenizerJson,
        ITrainingObjective? objective = null, IReadOnlyList<ModelParameter>? trainable = null,
        IExampleBatchSource? validationExamples = null, ITuningMethod? method = null, DistributedOptions? distributed = null)
    {
        if (method is not null && !ReferenceEquals(method.Model, model))
            throw new ArgumentException($"trainer: the {method.Name} method is attached to another model");
        Options = options.Validate();
        model.Config.ValidateContext(options.BlockSize);
        _model = model;
        _objective = objective ?? PretrainingObjective.For(model);
        Trainable = trainable ?? method?.Trainable ?? model.Parameters;
        Freeze(model, Trainable);
        _world = distributed?.World ?? SingleProcess.Instance;
        _train = RankSlice.Of(train, _world.Rank, _world.Size);
        if (_world.Size > 1) _dp = new DataParallel(_world, Trainable, distributed!.ShardOptimizer, distributed.BucketMb);
        _validation = validation;
        _validationExamples = validationExamples;
        _method = method;
        _runDir = runDir;
        _tokenizerJson = tokenizerJson;
        if (_dp is not { ShardOptimizer: true })
            _optimizer = new AdamWOptimizer(Trainable) { Beta1 = options.Beta1, Beta2 = options.Beta2, WeightDecay = options.WeightDecay };
        _inputs = new int[options.BatchSize * options.BlockSize];
        _targets = new int[options.BatchSize * options.BlockSize];
        _weights = new float[options.BatchSize * options.BlockSize];
        _rng = new Philox(options.Seed ^ 0x9E3779B97F4A7C15UL);
        if (runDir is not null && _world.IsRoot) _metrics = new MetricsLog(runDir);
    }

    // Every parameter of the model outside the trainable set stops requiring a gradient (and drops any buffer it
    // had); the trainable ones, the model's or an adapter's, require one.
    internal static void Freeze(LanguageModel model, IReadOnlyList<ModelParameter> trainable)
    {
        if (trainable.Count == 0) throw new ArgumentException("trainer: the trainable parameter set is empty");
        var train = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        foreach (var p in trainable) train.Add(p.Value);
        foreach (var p in model.Parameters)
        {
            bool on = train.Contains(p.Value);
            p.Value.RequiresGrad = on;
            if (!on) p.Value.ReleaseGrad();
        }
        foreach (var p in trainable) p.Value.RequiresGrad = true;
    }

    /// <summary>Restores weights, moments, step, RNG and data position from a checkpoint folder.</summary>
    public void Resume(string checkpointDir)
    {
        var state = TrainerState.Load(Path.Combine(checkpointDir, Checkpoint.StateFile));
        if (SavesAdapterOnly) _method!.Load(checkpointDir);
        else Checkpoint.LoadWeights(Path.Combine(checkpointDir, Checkpoint.ModelFile), _model);
        string moments = Path.Combine(checkpointDir, Checkpoint.OptimizerFile);
        if (_optimizer is not null) _optimizer.Load(moments);
        else
        {
            var (m, v, step) = AdamWOptimizer.LoadMoments(moments, Trainable);
            _dp!.ScatterMoments(m, v);
            _dp.StepCount = step;
        }
        Step = state.Step;
        _train.Position = state.DataPosition;
        _tokensSeen = state.TokensSeen;
        _rng = Philox.FromState(state.RngSeed, state.RngCounter, state.RngUsed);
        _lastValidation = state.LastValidationLoss;
        _metrics?.ResumeAt(Step);
    }

    /// <summary>One optimizer update over <see cref="TrainingOptions.GradAccum"/> micro-batches; returns the mean loss.
    /// Throws <see cref="TrainingDivergedException"/> (before touching the weights) on a NaN/Inf loss or gradient.</summary>
    public float TrainStep()
    {
        int B = Options.BatchSize, T = Options.BlockSize, accum = Options.GradAccum, rank = _world.Rank, ranks = _world.Size;
        if (_optimizer is not null) _optimizer.ZeroGrad();
        else for (int i = 0; i < Trainable.Count; i++) Trainable[i].Value.ZeroGrad();   // indexed: no enumerator per step
        // Each rank draws its own dropout masks; in a data-parallel run they restart every step from (seed, step, rank),
        // so a run resumed on any number of ranks draws what an uninterrupted one would.
        if (_dp is not null) _rng.Restart(Hash64.Mix(Hash64.Mix(Options.Seed ^ 0x9E3779B97F4A7C15UL) ^ ((ulong)Step << 20 | (uint)rank)));
        _model.DropoutRng = _rng;
        float lossSum = 0;
        bool finite = true;
        for (int micro = 0; micro < accum; micro++)
        {
            object? extra = null;
            ReadOnlySpan<float> weights = default;
            if (_train is IExampleBatchSource examples)
            {
                extra = (object?)examples.Next(_inputs, _targets, _weights, B, T) ?? examples.Payload;
                weights = _weights;
            }
            else _train.Next(_inputs, _targets, B, T);
            _tape.Reset();
            using (_tape.Activate())
            {
                var loss = _objective.Loss(_model, new TrainingBatch(_inputs, _targets, B, T, BatchSeed(Step, micro * ranks + rank), weights, extra));
                float value = loss.Item();
                float share = WeightShare(weights, B * T);
                if (!float.IsFinite(value))
                {
                    // Alone, stop now; in a job, every rank must learn of it at the same point (below).
                    if (_dp is null) throw new TrainingDivergedException($"training diverged: loss is {value} at step {Step + 1}; stopped, last good checkpoint kept");
                    finite = false;
                }
                lossSum += value * share;
                if (_dp is not null && micro == accum - 1)
                {
                    // The last micro-batch's backward sends each bucket as soon as its gradients are final.
                    _dp.BeginBackward(_tape);
                    _tape.Backward(loss, share / accum, _dp);
                    _dp.FinishBackward();
                }
                else _tape.Backward(loss, share / accum);   // the mean over micro-batches
            }
        }
        _model.DropoutRng = null;
        double norm;
        if (_dp is null) norm = _optimizer!.GradientNorm();
        else
        {
            // One small collective per step: the loss, this rank's part of the gradient norm (ZeRO), and the flags every
            // rank must agree on (a non-finite loss somewhere, a stop requested somewhere), summed in rank order.
            _agree[0] = finite ? lossSum : 0;
            _agree[1] = _dp.ShardOptimizer ? _dp.ShardSquaredNorm() : 0;
            _agree[2] = finite ? 0 : 1;
            _agree[3] = _stopRequested ? 1 : 0;
            _world.SumInRankOrder(_agree);
            if (_agree[2] > 0)
                throw new TrainingDivergedException($"training diverged: the loss is not finite on {_agree[2]} of {ranks} ranks at step {Step + 1}; stopped, last good checkpoint kept");
            lossSum = (float)(_agree[0] / ranks);
            _stopAgreed = _agree[3] > 0;
            norm = _dp.ShardOptimizer ? Math.Sqrt(_agree[1]) : _optimizer!.GradientNorm();
        }
        if (!double.IsFinite(norm))
            throw new TrainingDivergedException($"training diverged: gradient norm is {norm} at step {Step + 1}; stopped, last good checkpoint kept");
        float clip = Options.ClipNorm > 0 && norm > Options.ClipNorm ? (float)(Options.ClipNorm / norm) : 1f;
        var schedule = new LearningRateSchedule(Options.LearningRate, Options.WarmupSteps, Options.Steps, Options.MinLrFraction);
        float lr = schedule.At(Step + 1);
        if (_optimizer is not null)
        {
            if (clip != 1f) _optimizer.ScaleGradients(clip);
            _optimizer.Step(lr);
        }
        else _dp!.Step(lr, clip, Options.Beta1, Options.Beta2, AdamWOptimizer.DefaultEps, Options.WeightDecay);
        Step++;
        _tokensSeen += (long)B * T * accum * ranks;
        float mean = lossSum / accum;
        LastStepMetrics = _objective.TakeStepMetrics();
        _metrics?.Add(Step, mean, lr, norm, null, _tokensSeen, LastStepMetrics);
        return mean;
    }

    // In a job, a weighted-mean objective's loss on this rank counts by the rank's share of the micro-batch's weights:
    // K · wᵣ / Σ w (the average over ranks then gives Σ wᵣ·Lᵣ / Σ w, one process's mean over all the rows). 1 otherwise.
    float WeightShare(ReadOnlySpan<float> weights, int n)
    {
        if (_dp is null || !_objective.MeanOverWeights || weights.IsEmpty) return 1f;
        double mine = 0;
        for (int j = 0; j < n; j++) if (_targets[j] != -100) mine += weights[j];
        Span<double> total = [mine];
        _world.SumInRankOrder(total);
        return total[0] > 0 ? (float)(mine * _world.Size / total[0]) : 1f;
    }

    // The objective's random choices (masks, spans) for a micro-batch depend only on (run seed, step, micro-batch),
    // so a resumed run draws exactly what the uninterrupted one drew.
    ulong BatchSeed(int step, int micro) => Hash64.Mix(Hash64.Mix(Hash64.Mix(Options.Seed) ^ (uint)step) ^ (uint)micro);

    /// <summary>Mean loss over up to <see cref="TrainingOptions.EvalBatches"/> batches of the validation tokens, or over
    /// every trainable token of the validation examples (one whole pass, deterministic).</summary>
    public double Evaluate()
    {
        Lathe.IO.KillPoints.Reach(Lathe.IO.KillPoints.Evaluation);
        _model.DropoutRng = null;
        if (_validationExamples is not null)
        {
            var (nats, weight) = LossEvaluator.Evaluate(_model, _validationExamples, Options.BatchSize, Options.BlockSize, Options.EvalBatches,
                _evalTape, _objective.ValidationObjective, _inputs, _targets, _weights, _world.Rank, _world.Size);
            return Combine(nats, weight);
        }
        if (_validation is null) return double.NaN;
        int T = Math.Min(Options.BlockSize, _validation.Length - 1);
        // EvalBatches batches of the job's whole batch (K·B rows), as B-row batches dealt round-robin to the ranks.
        var (sum, count) = LossEvaluator.Evaluate(_model, _validation, Options.BatchSize, T, Options.EvalBatches * _world.Size, _evalTape, _objective.ValidationObjective, _world.Rank, _world.Size);
        return Combine(sum, count);
    }

    // The ranks evaluate interleaved batches; their sums are added in rank order, so every rank gets the same figure.
    double Combine(double sum, double weight)
    {
        if (_world.Size > 1)
        {
            Span<double> both = [sum, weight];
            _world.SumInRankOrder(both);
            (sum, weight) = (both[0], both[1]);
        }
        return weight > 0 ? sum / weight : double.NaN;
    }

    /// <summary>Writes the checkpoint (weights, moments, state) through the crash-safe swap, and the metrics and curves.</summary>
    public void SaveCheckpoint()
    {
        if (_runDir is null) return;
        // The replicas must still agree before one of them is saved as the run (a cheap guard against silent drift).
        if (_dp is not null) _world.CheckAgreement("the model's weights (fingerprint)", $"{_dp.WeightsFingerprint():x16} at step {Step}");
        // ZeRO: the moments are gathered from every rank (collective), so the file is the one a single process writes.
        var sharded = _optimizer is null ? _dp!.GatherMoments() : default;
        if (!_world.IsRoot) { _ = _train.Position; _world.Barrier(); return; }
        // The metrics first: a kill after the swap but before them would leave a checkpoint ahead of metrics.jsonl, and
        // the resumed run would never write the rows in between. Rows past the checkpoint a resume drops (ResumeAt).
        _metrics?.Flush();
        Checkpoint.SwapIn(_runDir, dir =>
        {
            if (SavesAdapterOnly)
            {
                _method!.Save(dir);
                Checkpoint.CopyTokenizer(dir, _tokenizerJson);
            }
            else Checkpoint.SaveModel(dir, _model, _tokenizerJson);
            string moments = Path.Combine(dir, Checkpoint.OptimizerFile);
            if (_optimizer is not null) _optimizer.Save(moments);
            else AdamWOptimizer.SaveMoments(moments, Trainable, i => sharded.M[i], i => sharded.V[i], _dp!.StepCount);
            var (seed, counter, used) = _rng.State;
            new TrainerState
            {
                Step = Step, DataPosition = _train.Position, TokensSeen = _tokensSeen, RngSeed = seed, RngCounter = counter, RngUsed = used,
                LastValidationLoss = _lastValidation, Options = Options, Ranks = _world.Size,
            }.Save(Path.Combine(dir, Checkpoint.StateFile));
        });
        Lathe.IO.KillPoints.Reach(Lathe.IO.KillPoints.CheckpointDone);
        _world.Barrier();   // every rank returns once the checkpoint is on disk
    }

    // A parameter-efficient method's checkpoint is its own files; full fine-tuning's is the model, as in pre-training.
    bool SavesAdapterOnly => _method is not null and not FullFineTuning;

    /// <summary>Trains until <see cref="TrainingOptions.Steps"/> or cancellation; a checkpoint is written
    /// every <see cref="TrainingOptions.CheckpointEvery"/> steps, on cancellation and at the end.</summary>
    public TrainingOutcome Run(CancellationToken cancel, Action<TrainingProgress>? progress = null)
    {
        var clock = Stopwatch.StartNew();
        int startStep = Step;
        VerifyReplicas();
        long tokensPerStep = (long)Options.BatchSize * Options.BlockSize * Options.GradAccum;
        while (Step < Options.Steps)
        {
            if (_dp is null && cancel.IsCancellationRequested) { SaveCheckpoint(); return TrainingOutcome.Interrupted; }
            _stopRequested = cancel.IsCancellationRequested;   // a job stops after the step in which any rank asked
            float loss = TrainStep();
            double? val = null;
            if (Options.EvalEvery > 0 && (Step % Options.EvalEvery == 0 || Step == Options.Steps) && (_validation is not null || _validationExamples is not null))
            {
                val = Evaluate();
                _lastValidation = val;
                _metrics?.SetValidation(Step, val.Value);
            }
            if ((Options.CheckpointEvery > 0 && Step % Options.CheckpointEvery == 0) || Step == Options.Steps) SaveCheckpoint();
            if (progress is not null)
            {
                double seconds = clock.Elapsed.TotalSeconds;
                int done = Step - startStep;
                double rate = seconds > 0 ? done * tokensPerStep / seconds : 0;
                var eta = done > 0 ? TimeSpan.FromSeconds(seconds / done * (Options.Steps - Step)) : TimeSpan.Zero;
                progress(new TrainingProgress(Step, Options.Steps, loss, rate * _world.Size, eta, val ?? _lastValidation));
            }
            if (_stopAgreed && Step < Options.Steps) { SaveCheckpoint(); return TrainingOutcome.Interrupted; }
        }
        return TrainingOutcome.Completed;
    }

    /// <summary>In a job: checks that every rank holds the same options and the same weights before the first step
    /// (a rank started from another config, seed or checkpoint is named, not trained with).</summary>
    public void VerifyReplicas()
    {
        if (_dp is null) return;
        _world.CheckAgreement("the model config", System.Text.Json.JsonSerializer.Serialize(_model.Config));
        _world.CheckAgreement("the training options", System.Text.Json.JsonSerializer.Serialize(Options) + $" step {Step} data position {_train.Position}");
        _world.CheckAgreement("the model's weights (fingerprint)", $"{_dp.WeightsFingerprint():x16} over {Trainable.Count} parameters");
    }

    public void Dispose()
    {
        _optimizer?.Dispose();
        _dp?.Dispose();
        _tape.Dispose();
        _evalTape.Dispose();
    }
}
