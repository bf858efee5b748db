using System.Diagnostics;
using Lathe.Data;
using Lathe.Distributed;
using Lathe.Formats;
using Lathe.Inference;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Training;
using Lathe.Training.Distributed;
using Lathe.Tuning;

namespace Lathe.Alignment;

/// <summary>What one PPO phase measured (TRL's names in metrics.jsonl): the mean score of the rollouts (after the
/// missing-EOS penalty), the mean per-sequence KL to the reference (Σₜ KLₜ), the mean per-token entropy of the policy
/// on its rollouts, the clipped fractions, the losses and approximate KL averaged over the minibatch steps, the mean
/// response length and the KL coefficient used for the phase's rewards.</summary>
public readonly record struct PpoPhaseStats(int Phase, float Score, float Kl, float Entropy, float ClipFraction, float PolicyLoss,
    float ValueLoss, float ValueClipFraction, float ApproxKl, float ResponseLength, float KlCoef, double GradNorm, int Rollouts, int ResponseTokens)
{
    /// <summary>The figures written into the phase's metrics.jsonl line.</summary>
    public KeyValuePair<string, double>[] Metrics() =>
    [
        new("objective/scores", Score), new("objective/kl", Kl), new("objective/entropy", Entropy), new("policy/clipfrac_avg", ClipFraction),
        new("loss/policy_avg", PolicyLoss), new("loss/value_avg", ValueLoss), new("val/clipfrac_avg", ValueClipFraction),
        new("policy/approxkl_avg", ApproxKl), new("response_length", ResponseLength), new("kl_coef", KlCoef),
    ];
}

/// <summary>RLHF with PPO (Ouyang et al. 2022 after Ziegler et al. 2019; TRL's PPO as the reference for names and
/// formulas). A phase samples responses to the next prompts with the policy (<see cref="GenerateRollouts"/>), scores
/// them (<see cref="Score"/>) and optimises over them (<see cref="OptimisePhase"/>): old log-probabilities, values and
/// the reference's log-probabilities in no-grad forwards; per-token rewards (<see cref="TokenRewards"/>); GAE and
/// whitened advantages; <see cref="PpoOptions.PpoEpochs"/> passes over shuffled minibatches of the clipped policy loss
/// plus vf_coef × the clipped value loss; then the KL controller's update.</summary>
/// <remarks>The value head shares the policy's trunk. The reference is the policy as it starts: for full fine-tuning a
/// second copy of the initial weights, for an adapter method the same base with the adapter detached (no copy).
/// Dropout is off (the ratios compare the same deterministic function before and after an update). Every random draw of
/// a phase is keyed by (seed, phase), so a resumed run repeats the uninterrupted one bit for bit. The learning rate is
/// constant.</remarks>
public sealed class PpoTrainer : IDisposable
{
    readonly LoadedModel _loaded;
    readonly CausalLM _model;
    readonly ITuningMethod _method;
    readonly CausalLM? _reference;           // full fine-tuning's frozen copy; null: detach the adapter instead
    readonly IRewardFunction _reward;
    readonly IReadOnlyList<AlignmentPrompt> _prompts;
    readonly RolloutGenerator _generator;
    readonly AdamWOptimizer _optimizer;
    readonly Tape _tape = new();
    readonly SequenceLogProbs _scorer = new();
    readonly MetricsLog? _metrics;
    readonly string? _runDir, _tokenizerJson;
    readonly int[] _promptOrder;
    readonly Communicator _world;
    readonly DataParallel? _dp;             // null in a one-process run
    readonly Dictionary<int, ResponseRows> _shareRows = [];   // a rank's rows of a minibatch, by count
    readonly double[] _stepFigures = new double[6];
    long _promptEpoch = -1, _promptPosition, _tokensSeen;

    /// <param name="policy">The SFT policy, loaded; <paramref name="method"/> is attached to its model.</param>
    /// <param name="method">full, lora, qlora or adapter. Prefix and prompt tuning are refused: the rollout engine
    /// decodes through the model's linear layers and knows nothing of their virtual rows.</param>
    /// <param name="runDir">Where checkpoints and metrics.jsonl go (null: none).</param>
    /// <param name="tokenizerJson">Copied into each checkpoint.</param>
    /// <param name="world">The job's ranks when a run spreads over several (null: one process): each samples and scores
    /// its share of a phase's prompts (<see cref="RankedRollouts"/>), makes the no-grad forwards of its share of the
    /// minibatches, and takes its share of each minibatch's rows in the optimisation, whose gradients are averaged
    /// (<see cref="DataParallel"/>, weighted by each rank's tokens) so every rank takes the step one process would.
    /// Rank 0 writes the files.</param>
    public PpoTrainer(LoadedModel policy, ITuningMethod method, IRewardFunction reward, ChatTemplate chat, IReadOnlyList<AlignmentPrompt> prompts,
        PpoOptions options, string? runDir = null, string? tokenizerJson = null, int parallel = 16, Communicator? world = null)
    {
        Options = options.Validate();
        if (method.Name is TuningOptions.Prefix or TuningOptions.Prompt)
            throw new ArgumentException($"ppo: --method {method.Name} is not supported (rollouts decode without its virtual rows); use full, lora, qlora or adapter");
        if (!ReferenceEquals(method.Model, policy.Model)) throw new ArgumentException($"ppo: the {method.Name} method is attached to another model");
        if (prompts.Count == 0) throw new ArgumentException("ppo: the prompt set is empty");
        _loaded = policy;
        _model = policy.Decoder;
        _method = method;
        _reward = reward;
        _prompts = prompts;
        _runDir = runDir;
        _tokenizerJson = tokenizerJson;
        _generator = new RolloutGenerator(policy, chat, options.MaxNewTokens, parallel);
        ValueHead = new ValueHead(_model.Config.Embd);
        Trainable = [.. method.Trainable, .. ValueHead.Parameters];
        if (method is FullFineTuning) _reference = CopyOf(_model);
        Trainer.Freeze(_model, Trainable);
        _optimizer = new AdamWOptimizer(Trainable) { Beta1 = 0.9f, Beta2 = 0.999f, WeightDecay = options.WeightDecay };
        Kl = options.KlController(options.KlCoef);
        _promptOrder = new int[prompts.Count];
        _world = world ?? SingleProcess.Instance;
        if (_world.Size > 1) _dp = new DataParallel(_world, Trainable, shardOptimizer: false);
        if (runDir is not null && _world.IsRoot) _metrics = new MetricsLog(runDir);
    }

    public PpoOptions Options { get; }
    public ValueHead ValueHead { get; }
    /// <summary>The method's parameters and the value head's: what the optimizer updates.</summary>
    public IReadOnlyList<ModelParameter> Trainable { get; }
    public IKlController Kl { get; private set; }
    /// <summary>Phases completed.</summary>
    public int Phase { get; private set; }
    /// <summary>The stats of the last phase run, or null.</summary>
    public PpoPhaseStats? Last { get; private set; }

    // A frozen copy of the initial weights: the reference of full fine-tuning, whose policy weights move.
    static CausalLM CopyOf(CausalLM model)
    {
        var copy = CausalLM.Create(model.Config, 0);
        for (int i = 0; i < model.Parameters.Count; i++)
        {
            model.Parameters[i].Value.AsSpan().CopyTo(copy.Parameters[i].Value.AsSpan());
            copy.Parameters[i].Value.RequiresGrad = false;
        }
        return copy;
    }

    /// <summary>The current phase's prompts: the next <see cref="PpoOptions.PromptsPerPhase"/> of a stream that visits
    /// the set in a fresh shuffled order each pass (keyed by (seed, pass)).</summary>
    public List<AlignmentPrompt> PhasePrompts()
    {
        var list = new List<AlignmentPrompt>(Options.PromptsPerPhase);
        int n = _prompts.Count;
        for (int i = 0; i < Options.PromptsPerPhase; i++)
        {
            long k = _promptPosition + i, pass = k / n;
            if (pass != _promptEpoch) { EpochPermutation.Fill(_promptOrder, Options.Seed, pass); _promptEpoch = pass; }
            list.Add(_prompts[_promptOrder[(int)(k % n)]]);
        }
        return list;
    }

    ulong PhaseSeed(int phase) => Hash64.Mix(Hash64.Mix(Options.Seed ^ 0x5050_4F00UL) ^ (ulong)phase);

    /// <summary>The current phase's rollouts: <see cref="PpoOptions.SamplesPerPrompt"/> responses to each of
    /// <paramref name="prompts"/>, sampled at the options' temperature with no other reshaping.</summary>
    public List<Rollout> GenerateRollouts(IReadOnlyList<AlignmentPrompt> prompts) =>
        _generator.Generate(prompts.Select(p => p.Prompt).ToList(), Options.SamplesPerPrompt, PhaseSampling());

    SamplingOptions PhaseSampling() => new() { Temperature = Options.Temperature, TopK = 0, TopP = 1f, MinP = 0f, Seed = PhaseSeed(Phase) };

    /// <summary>The reward function's score of each rollout (<see cref="Rollout.Prompt"/> indexes <paramref name="prompts"/>).</summary>
    public float[] Score(IReadOnlyList<Rollout> rollouts, IReadOnlyList<AlignmentPrompt> prompts)
    {
        var scores = new float[rollouts.Count];
        _reward.Score(rollouts, prompts.Select(p => p.Kind).ToList(), scores);
        return scores;
    }

    /// <summary>One whole phase: prompts, rollouts, scores, optimisation; logs the phase's line of metrics.jsonl.</summary>
    /// <exception cref="TrainingDivergedException">The phase's KL exceeded <see cref="PpoOptions.KlStop"/>, or a loss or
    /// gradient was not finite; the weights of the last checkpoint are the run's result.</exception>
    public PpoPhaseStats RunPhase()
    {
        var prompts = PhasePrompts();
        var (rollouts, scores) = RankedRollouts.Sample(_world, _generator, _reward, prompts, Options.SamplesPerPrompt, PhaseSampling());
        var stats = OptimisePhase(rollouts, scores);
        Phase++;
        _promptPosition += prompts.Count;
        foreach (var r in rollouts) _tokensSeen += r.Sequence.Ids.Length;
        _metrics?.Add(Phase, stats.PolicyLoss + Options.VfCoef * stats.ValueLoss, Options.LearningRate, stats.GradNorm, null, _tokensSeen, stats.Metrics());
        Last = stats;
        return stats;
    }

    /// <summary>The optimisation over one phase's rollouts and their scores (generation excluded): what a benchmark
    /// times. Updates the policy, the value head and the KL coefficient; <see cref="Phase"/> is left as it is.</summary>
    public PpoPhaseStats OptimisePhase(IReadOnlyList<Rollout> rollouts, ReadOnlySpan<float> scores)
    {
        int R = rollouts.Count;
        if (R == 0) throw new ArgumentException("ppo: no rollouts to optimise over");
        if (scores.Length != R) throw new ArgumentException($"ppo: {scores.Length} scores for {R} rollouts");
        int T = 2, Tr = 1, mb = Math.Min(Options.MinibatchSize, R);
        foreach (var r in rollouts)
        {
            if (r.ResponseTokens < 1) throw new ArgumentException($"ppo: rollout {r.Prompt}/{r.Sample} has an empty response");
            T = Math.Max(T, r.Sequence.Ids.Length);
            Tr = Math.Max(Tr, r.ResponseTokens);
        }
        int pad = _loaded.PadId ?? _loaded.EosId ?? 0;
        // Rows of the phase: a full minibatch and, when R is not a multiple of it, the remainder.
        var rows = new ResponseRows(mb, T);
        var tail = R % mb == 0 ? null : new ResponseRows(R % mb, T);
        int n = R * Tr;   // the phase's (R, Tr) grid: row b holds rollout b's response tokens from position 0
        var mask = new float[n];
        var logp = new float[n];
        var refLogp = new float[n];
        var values = new float[n];
        var kl = new float[n];
        var rewards = new float[n];
        var advantages = new float[n];
        var returns = new float[n];
        var penalised = new float[R];
        var ended = new bool[R];
        double entropySum = 0;
        long tokens = 0;
        for (int b = 0; b < R; b++)
        {
            int len = rollouts[b].ResponseTokens;
            mask.AsSpan(b * Tr, len).Fill(1f);
            ended[b] = rollouts[b].Ended;
            tokens += len;
        }

        var ones = new float[mb * Tr];   // every scored token counts: the rows hold only response targets
        Array.Fill(ones, 1f);

        // 1. The policy's log-probabilities, values and entropy, and the reference's log-probabilities, without gradients.
        var identity = new int[R];
        for (int b = 0; b < R; b++) identity[b] = b;
        int minibatches = (R + mb - 1) / mb;
        var entropies = new double[minibatches];   // summed in minibatch order, as one process sums them
        foreach (int k in RankedRollouts.Share(_world, minibatches))
        {
            int start = k * mb;
            var batch = Fill(start + mb <= R ? rows : tail!, rollouts, identity.AsSpan(start, Math.Min(mb, R - start)), pad);
            _tape.Reset();
            using (_tape.Activate())
            using (Tape.NoGrad())
            {
                var lp = _scorer.TokenLogProbs(_model, _method, batch);   // (M)
                var hidden = _scorer.ScoredHidden!;                        // (M, C)
                Scatter(lp.AsSpan(), batch, start, Tr, logp);
                Scatter(ValueHead.Values(hidden).AsSpan(), batch, start, Tr, values);
                int M = lp.Length;
                entropies[k] = (double)PpoLosses.MaskedEntropy(_scorer.ScoredLogits!, ones.AsSpan(0, M)) * M;   // logits (M, V)
            }
            _tape.Reset();
            using (_tape.Activate())
            using (Tape.NoGrad())
                Scatter(ReferenceLogProbs(batch).AsSpan(), batch, start, Tr, refLogp);
        }
        if (_world.Size > 1) ShareForwards(minibatches, mb, R, Tr, logp, values, refLogp, entropies);
        foreach (double e in entropies) entropySum += e;

        // 2. Per-token KL, rewards, GAE and whitened advantages.
        if (Options.KlEstimator == KlEstimator.K3) Advantages.KlK3(logp, refLogp, kl);
        else Advantages.KlK1(logp, refLogp, kl);
        for (int i = 0; i < n; i++) if (mask[i] == 0f) kl[i] = 0f;
        double klSum = 0;
        foreach (float k in kl) klSum += k;
        float meanKl = (float)(klSum / R);
        if (!float.IsFinite(meanKl))
            throw new TrainingDivergedException($"ppo diverged: KL to the reference is {meanKl} at phase {Phase + 1}; stopped, last checkpoint kept");
        if (Options.KlStop is { } stop && meanKl > stop)
            throw new TrainingDivergedException($"ppo: the KL to the reference ({meanKl:G4}) exceeds --kl-stop {stop:G4} at phase {Phase + 1}; stopped, last checkpoint kept");
        float beta = Kl.Value;
        TokenRewards.Assemble(kl, mask, R, Tr, scores, ended, beta, Options.MissingEosPenalty, Options.WhitenRewards, rewards, penalised);
        Advantages.Gae(rewards, values, mask, R, Tr, Options.Gamma, Options.Lambda, advantages, returns);
        if (tokens > 1) Advantages.Whiten(advantages, mask);

        // 3. PPO epochs over shuffled minibatches of rollouts.
        var order = new int[R];
        var rankRows = new int[mb];
        var oldLp = new float[mb * Tr];
        var oldV = new float[mb * Tr];
        var adv = new float[mb * Tr];
        var ret = new float[mb * Tr];
        double clipSum = 0, policySum = 0, valueSum = 0, valueClipSum = 0, approxSum = 0, normSum = 0;
        int steps = 0;
        ulong phaseSeed = PhaseSeed(Phase);
        for (int epoch = 0; epoch < Options.PpoEpochs; epoch++)
        {
            EpochPermutation.Fill(order, phaseSeed, epoch);
            for (int start = 0; start < R; start += mb)
            {
                int size = Math.Min(mb, R - start);
                // In a job, this rank's rows of the minibatch (j ≡ rank mod K), its loss weighted by its share of the
                // minibatch's tokens; a rank left without rows runs one row at weight 0 to take part in the exchange.
                ReadOnlySpan<int> rowsOf = order.AsSpan(start, size);
                double weight = 1;
                if (_dp is not null) rowsOf = rankRows.AsSpan(0, RankRows(rollouts, rowsOf, rankRows, out weight));
                var batch = Fill(_dp is null ? (start + mb <= R ? rows : tail!) : RowsFor(rowsOf.Length, T), rollouts, rowsOf, pad);
                int M = Gather(batch, rowsOf, Tr, logp, values, advantages, returns, oldLp, oldV, adv, ret);
                _optimizer.ZeroGrad();
                _tape.Reset();
                bool finite;
                using (_tape.Activate())
                {
                    var lp = _scorer.TokenLogProbs(_model, _method, batch);   // (M)
                    var v = ValueHead.Values(_scorer.ScoredHidden!);          // (M, C) → (M)
                    var policyLoss = PpoLosses.ClippedPolicyLoss(lp, oldLp.AsSpan(0, M), adv.AsSpan(0, M), ones.AsSpan(0, M), Options.ClipRange, out var ps);
                    var valueLoss = PpoLosses.ClippedValueLoss(v, oldV.AsSpan(0, M), ret.AsSpan(0, M), ones.AsSpan(0, M), Options.ValueClip, out float vclip);
                    var loss = Ops.Add(policyLoss, Ops.Affine(valueLoss, Options.VfCoef));
                    float value = loss.Item();
                    finite = float.IsFinite(value);
                    if (!finite && _dp is null)
                        throw new TrainingDivergedException($"ppo diverged: loss is {value} at phase {Phase + 1}; stopped, last checkpoint kept");
                    var f = _stepFigures;
                    (f[0], f[1], f[2], f[3], f[4], f[5]) = (policyLoss.Item() * weight, valueLoss.Item() * weight, ps.ClipFraction * weight,
                        ps.ApproxKl * weight, vclip * weight, finite ? 0 : 1);
                    if (_dp is null) _tape.Backward(loss);
                    else
                    {
                        // DataParallel averages over the K ranks: K·weight makes the sum the minibatch's token mean.
                        _dp.BeginBackward(_tape);
                        _tape.Backward(loss, (float)(weight * _world.Size), _dp);
                        _dp.FinishBackward();
                        _world.SumInRankOrder(_stepFigures);
                        if (_stepFigures[5] > 0)
                            throw new TrainingDivergedException($"ppo diverged: the loss is not finite on {_stepFigures[5]} of {_world.Size} ranks at phase {Phase + 1}; stopped, last checkpoint kept");
                    }
                }
                policySum += _stepFigures[0];
                valueSum += _stepFigures[1];
                clipSum += _stepFigures[2];
                approxSum += _stepFigures[3];
                valueClipSum += _stepFigures[4];
                double norm = _optimizer.GradientNorm();
                if (!double.IsFinite(norm))
                    throw new TrainingDivergedException($"ppo diverged: gradient norm is {norm} at phase {Phase + 1}; stopped, last checkpoint kept");
                if (Options.ClipNorm > 0 && norm > Options.ClipNorm) _optimizer.ScaleGradients((float)(Options.ClipNorm / norm));
                _optimizer.Step(Options.LearningRate);
                normSum += norm;
                steps++;
            }
        }
        Kl.Update(meanKl, R);

        double scoreSum = 0;
        foreach (float s in penalised) scoreSum += s;
        return new PpoPhaseStats(Phase + 1, (float)(scoreSum / R), meanKl, (float)(entropySum / tokens), (float)(clipSum / steps),
            (float)(policySum / steps), (float)(valueSum / steps), (float)(valueClipSum / steps), (float)(approxSum / steps),
            (float)tokens / R, beta, normSum / steps, R, (int)tokens);
    }

    // This rank's rows of a minibatch (rollout indices, into buffer; returns how many) and their share of its response tokens.
    int RankRows(IReadOnlyList<Rollout> rollouts, ReadOnlySpan<int> minibatch, int[] buffer, out double weight)
    {
        long all = 0, mine = 0;
        int count = 0;
        for (int j = 0; j < minibatch.Length; j++)
        {
            int tokens = rollouts[minibatch[j]].ResponseTokens;
            all += tokens;
            if (j % _world.Size == _world.Rank) { buffer[count++] = minibatch[j]; mine += tokens; }
        }
        if (count == 0) { buffer[0] = minibatch[0]; weight = 0; return 1; }
        weight = (double)mine / all;
        return count;
    }

    ResponseRows RowsFor(int count, int T)
    {
        if (!_shareRows.TryGetValue(count, out var rows) || rows.T != T) _shareRows[count] = rows = new ResponseRows(count, T);
        return rows;
    }

    // The no-grad forwards' results of every rank's minibatches (Share of the minibatch indices) into every rank's grids.
    void ShareForwards(int minibatches, int mb, int R, int Tr, float[] logp, float[] values, float[] refLogp, double[] entropies)
    {
        using var stream = new MemoryStream();
        using (var w = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true))
            foreach (int k in RankedRollouts.Share(_world, minibatches))
            {
                w.Write(entropies[k]);
                int from = k * mb * Tr, count = Math.Min(mb, R - k * mb) * Tr;
                foreach (var grid in new[] { logp, values, refLogp })
                    w.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(grid.AsSpan(from, count)));
            }
        var parts = _world.AllGatherBytes(stream.ToArray());
        for (int r = 0; r < parts.Length; r++)
        {
            using var reader = new BinaryReader(new MemoryStream(parts[r]));
            foreach (int k in RankedRollouts.Share(r, _world.Size, minibatches))
            {
                entropies[k] = reader.ReadDouble();
                int from = k * mb * Tr, count = Math.Min(mb, R - k * mb) * Tr;
                foreach (var grid in new[] { logp, values, refLogp })
                    reader.BaseStream.ReadExactly(System.Runtime.InteropServices.MemoryMarshal.AsBytes(grid.AsSpan(from, count)));
            }
        }
    }

    // The reference's log-probabilities of the batch's response tokens: the frozen copy, or the base with the adapter off.
    Tensor ReferenceLogProbs(ResponseRows batch)
    {
        if (_reference is not null) return _scorer.TokenLogProbs(_reference, null, batch);
        _method.Detach();
        try { return _scorer.TokenLogProbs(_model, null, batch); }
        finally { _method.Attach(); }
    }

    static ResponseRows Fill(ResponseRows rows, IReadOnlyList<Rollout> rollouts, ReadOnlySpan<int> which, int pad)
    {
        for (int j = 0; j < rows.B; j++) rows.Set(j, rollouts[which[j]].Sequence, pad);
        rows.Complete();
        return rows;
    }

    // Scored values (in ResponseRows.Scored order: row by row, each row's response tokens in order) into the phase grid,
    // row j of the batch being rollout start + j.
    static void Scatter(ReadOnlySpan<float> scored, ResponseRows batch, int start, int Tr, float[] grid)
    {
        var rowOf = batch.ScoredRow;
        int k = 0;
        for (int m = 0; m < scored.Length; m++)
        {
            if (m > 0 && rowOf[m] != rowOf[m - 1]) k = 0;
            grid[(start + rowOf[m]) * Tr + k++] = scored[m];
        }
    }

    // The grid's values for a minibatch's scored tokens, in the order its forward produces them; returns their count.
    static int Gather(ResponseRows batch, ReadOnlySpan<int> order, int Tr, float[] logp, float[] values, float[] advantages, float[] returns,
        float[] oldLp, float[] oldV, float[] adv, float[] ret)
    {
        var rowOf = batch.ScoredRow;
        int k = 0;
        for (int m = 0; m < rowOf.Length; m++)
        {
            if (m > 0 && rowOf[m] != rowOf[m - 1]) k = 0;
            int i = order[rowOf[m]] * Tr + k++;
            oldLp[m] = logp[i]; oldV[m] = values[i]; adv[m] = advantages[i]; ret[m] = returns[i];
        }
        return rowOf.Length;
    }

    bool SavesAdapterOnly => _method is not FullFineTuning;

    /// <summary>Writes the checkpoint (the policy's files, value_head.safetensors, the optimizer's moments and
    /// ppo_state.json) through the crash-safe swap, and metrics.jsonl.</summary>
    public void SaveCheckpoint()
    {
        if (_runDir is null || !_world.IsRoot) return;
        _metrics?.Flush();   // before the swap, as the Trainer does: a resume drops rows past its checkpoint, but cannot make up missing ones
        Checkpoint.SwapIn(_runDir, dir =>
        {
            if (SavesAdapterOnly)
            {
                _method.Save(dir);
                Checkpoint.CopyTokenizer(dir, _tokenizerJson);
            }
            else Checkpoint.SaveModel(dir, _model, _tokenizerJson);
            ValueHead.Save(dir);
            _optimizer.Save(Path.Combine(dir, Checkpoint.OptimizerFile));
            new PpoState
            {
                Phase = Phase, PromptPosition = _promptPosition, KlCoef = Kl.Value, TokensSeen = _tokensSeen, Seed = Options.Seed, Options = Options,
            }.Save(Path.Combine(dir, PpoState.FileName));
        });
        Lathe.IO.KillPoints.Reach(Lathe.IO.KillPoints.CheckpointDone);
    }

    /// <summary>Restores the policy, value head, moments, phase, prompt position and KL coefficient from a checkpoint
    /// folder (<see cref="PpoState.Resolve"/>). The reference is untouched: it stays the initial policy.</summary>
    public void Resume(string checkpointDir)
    {
        var state = PpoState.Load(Path.Combine(checkpointDir, PpoState.FileName));
        if (state.Seed != Options.Seed)
            throw new InvalidDataException($"checkpoint: {checkpointDir}: the run's seed is {state.Seed}, not {Options.Seed}");
        if (SavesAdapterOnly) _method.Load(checkpointDir);
        else Checkpoint.LoadWeights(Path.Combine(checkpointDir, Checkpoint.ModelFile), _model);
        ValueHead.Load(checkpointDir);
        _optimizer.Load(Path.Combine(checkpointDir, Checkpoint.OptimizerFile));
        Phase = state.Phase;
        _promptPosition = state.PromptPosition;
        _tokensSeen = state.TokensSeen;
        Kl = Options.KlController(state.KlCoef);
        _metrics?.ResumeAt(Phase);
    }

    /// <summary>Runs phases until <see cref="PpoOptions.Phases"/> or cancellation; a checkpoint is written every
    /// <see cref="PpoOptions.CheckpointEvery"/> phases, on cancellation and at the end.</summary>
    public TrainingOutcome Run(CancellationToken cancel, Action<PpoPhaseStats, TimeSpan>? progress = null)
    {
        var clock = Stopwatch.StartNew();
        Span<double> stop = stackalloc double[1];
        while (Phase < Options.Phases)
        {
            // In a job every rank must stop at the same phase: a stop asked on any rank is agreed on first.
            stop[0] = cancel.IsCancellationRequested ? 1 : 0;
            if (_world.Size > 1) _world.SumInRankOrder(stop);
            if (stop[0] > 0) { SaveCheckpoint(); return TrainingOutcome.Interrupted; }
            var stats = RunPhase();
            if ((Options.CheckpointEvery > 0 && Phase % Options.CheckpointEvery == 0) || Phase == Options.Phases) SaveCheckpoint();
            progress?.Invoke(stats, clock.Elapsed);
        }
        return TrainingOutcome.Completed;
    }

    public void Dispose()
    {
        _optimizer.Dispose();
        _dp?.Dispose();
        _tape.Dispose();
        _reference?.Dispose();
    }
}
