using System.Text.Json;
using Lathe.Data;
using Lathe.Formats;
using Lathe.Inference;
using Lathe.IO;
using Lathe.Distributed;
using Lathe.Training;
using Lathe.Training.Distributed;
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
/// followed (its steps and last loss; 0 and NaN before training). A round read back from rounds.jsonl by a resumed
/// run has its figures but no winners.</summary>
public sealed record RejectionRound(int Round, double MeanBestReward, double MeanReward, double WinnersMeanTokens,
    IReadOnlyList<Rollout> Winners, IReadOnlyList<float> WinnerRewards)
{
    public int TrainSteps { get; init; }
    public double LastLoss { get; init; } = double.NaN;
    /// <summary>The SFT took all its steps (false when cancelled part-way, and for a round only sampled).</summary>
    public bool Finished { get; init; }
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
    readonly DistributedOptions? _distributed;
    readonly Communicator _world;

    /// <param name="method">The tuning method attached to <paramref name="policy"/>'s model (full, lora, qlora or
    /// adapter: the batched engine that samples sees their weights; prompt and prefix tuning's virtual rows it would
    /// not, so they are refused).</param>
    /// <param name="tokenizerJson">Copied into each round's checkpoint (null for a GGUF base).</param>
    /// <param name="distributed">The job's ranks when the run spreads over several: each samples and scores its share of
    /// the prompts (<see cref="RankedRollouts"/>), all see every winner, and the SFT is data-parallel; files are written
    /// by rank 0. Null: one process.</param>
    public RejectionSampler(LoadedModel policy, ITuningMethod method, RolloutGenerator generator, IRewardFunction reward,
        RejectionOptions options, string? tokenizerJson = null, DistributedOptions? distributed = null)
    {
        _distributed = distributed;
        _world = distributed?.World ?? SingleProcess.Instance;
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
        var (rollouts, rewards) = RankedRollouts.Sample(_world, _generator, _reward, prompts, _options.Samples, _options.Sampling(round));
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
    /// <param name="resume">Continue the round an interrupted run left in <paramref name="roundDir"/>: the samples are
    /// drawn again (the policy is as the round found it and the seed is the round's, so they are the same draws — checked
    /// against its winners.jsonl), then the trainer resumes from the round's checkpoint when it has one.</param>
    public RejectionRound Run(IReadOnlyList<AlignmentPrompt> prompts, int round, string? roundDir,
        CancellationToken cancel = default, Action<TrainingProgress>? progress = null, bool resume = false)
    {
        var sampled = Sample(prompts, round);
        if (roundDir is not null)
        {
            string path = Path.Combine(roundDir, WinnersFile);
            var lines = WinnerLines(prompts, sampled);
            // A resumed round must train on what the interrupted one trained on, or its checkpoint's steps would belong
            // to other data: the re-drawn winners are compared with the file the first attempt wrote.
            if (resume && File.Exists(path))
            {
                if (!File.ReadAllLines(path).SequenceEqual(lines))
                    throw new InvalidDataException($"{path}: round {round}'s samples drawn again differ from the winners written before (the policy or its sampling is not as the interrupted run had it); the round cannot continue bit for bit");
            }
            else if (_world.IsRoot) JsonlFile.Write(path, lines);
        }
        var examples = sampled.Winners.Select(w => w.Sequence).ToList();
        int pad = _policy.PadId ?? _policy.EosId ?? 0;
        ulong seed = Hash64.Combine(_options.Training.Seed, (ulong)round);
        var train = new SftBatchSource(examples, _options.Mode, seed, pad);
        int context = _policy.Model.Config.MaxPositions - _method.VirtualTokens;
        int T = Math.Min(context, Math.Max(_options.Training.BlockSize, train.LongestExample - 1));
        var training = _options.Training with { BlockSize = T, Seed = seed, EvalEvery = 0 };
        if (training.Steps == 0)
        {
            // A step takes one batch on each rank, so a pass over the winners takes 1/K as many steps on K ranks.
            int perEpoch = Math.Max(1, train.BatchesPerPass(training.BatchSize, T) / (training.GradAccum * _world.Size));
            training = training with { Steps = Math.Max(1, (int)Math.Ceiling(perEpoch * _options.Epochs)) };
        }
        training = training with { WarmupSteps = Math.Min(training.WarmupSteps, training.Steps / 5) };
        using var trainer = new Trainer(_policy.Model, training, train, null, roundDir, _tokenizerJson, new SftObjective(_method), _method.Trainable,
            null, _method, _distributed);
        string? state = resume && roundDir is not null ? StateOf(roundDir) : null;
        if (state is not null)
        {
            var saved = TrainerState.Load(Path.Combine(state, Checkpoint.StateFile)).Options;
            if (saved != training)
                throw new InvalidDataException($"{Path.Combine(state, Checkpoint.StateFile)}: round {round} was trained with other options than the run's settings give now; it cannot continue bit for bit");
            trainer.Resume(state);
        }
        float lastLoss = float.NaN;
        trainer.Run(cancel, p => { lastLoss = p.Loss; progress?.Invoke(p); });
        // Interrupted after its last step but before the round was recorded: no step ran now, its last loss is logged.
        double last = float.IsNaN(lastLoss) && state is not null ? LastLoggedLoss(roundDir!) : lastLoss;
        return sampled with { TrainSteps = trainer.Step, LastLoss = last, Finished = trainer.Step >= training.Steps };
    }

    public const string WinnersFile = "winners.jsonl";
    /// <summary>One line per finished round (<see cref="RoundLine"/>), in order.</summary>
    public const string RoundsFile = "rounds.jsonl";

    public static string RoundFolder(string runDir, int round) => Path.Combine(runDir, $"round-{round}");

    /// <summary>Rounds <c>1..Rounds</c> into <paramref name="runDir"/> (round-N/ per round, rounds.jsonl), stopping
    /// after the round a cancellation interrupts. <paramref name="resume"/> continues a run an interruption left: the
    /// rounds it finished (in rounds.jsonl, their checkpoint holding all their steps) are skipped, the last one's
    /// weights loaded through the tuning method; the next re-samples and resumes its trainer (<see cref="Run"/>); the
    /// rest run as usual — the same weights, bit for bit, as a run never interrupted. More rounds than the first run
    /// asked for extend it.</summary>
    /// <param name="finished">Called after each round that runs to its end, once it is in rounds.jsonl.</param>
    /// <returns>Every finished round (those read back carry no winners), and whether a cancellation stopped the run.</returns>
    public (List<RejectionRound> Rounds, bool Interrupted) RunAll(IReadOnlyList<AlignmentPrompt> prompts, string runDir, bool resume,
        CancellationToken cancel = default, Action<TrainingProgress>? progress = null, Action<RejectionRound>? finished = null)
    {
        var rounds = resume ? FinishedRounds(runDir) : [];
        if (!resume && (File.Exists(Path.Combine(runDir, RoundsFile)) || Directory.Exists(RoundFolder(runDir, 1))))
            throw new ArgumentException($"rejection: {runDir} already holds a run; resume it or choose another folder");
        if (rounds.Count > _options.Rounds)
            throw new ArgumentException($"--rounds: {_options.Rounds} is fewer than the {rounds.Count} rounds {runDir} has finished");
        // Each round's checkpoint holds the whole trained state (the model, or all the adapter's tensors), so the last
        // finished one is the policy the next round starts from.
        if (rounds.Count > 0) _method.Load(Checkpoint.ResolveState(RoundFolder(runDir, rounds.Count)));
        _world.Barrier();   // every rank has read the folder as it was before rank 0 writes to it
        WriteRounds(runDir, rounds);   // a line an interrupted attempt may have left for an unfinished round goes
        for (int round = rounds.Count + 1; round <= _options.Rounds; round++)
        {
            if (cancel.IsCancellationRequested) return (rounds, true);
            var result = Run(prompts, round, RoundFolder(runDir, round), cancel, progress, resume: resume && round == rounds.Count + 1);
            if (!result.Finished) return (rounds, true);
            rounds.Add(result);
            WriteRounds(runDir, rounds);
            finished?.Invoke(result);
        }
        return (rounds, false);
    }

    /// <summary>A round's line of rounds.jsonl (a last loss that is not a number is written −1).</summary>
    public static string RoundLine(RejectionRound r) => JsonSerializer.Serialize(new Dictionary<string, object>
    {
        ["round"] = r.Round, ["mean_best_reward"] = r.MeanBestReward, ["mean_reward"] = r.MeanReward,
        ["winners_mean_tokens"] = r.WinnersMeanTokens, ["steps"] = r.TrainSteps,
        ["last_loss"] = double.IsFinite(r.LastLoss) ? r.LastLoss : -1,
    });

    void WriteRounds(string runDir, IReadOnlyList<RejectionRound> rounds)
    {
        if (!_world.IsRoot) return;
        Directory.CreateDirectory(runDir);
        AtomicFile.WriteAllText(Path.Combine(runDir, RoundsFile), string.Concat(rounds.Select(r => RoundLine(r) + "\n")));
    }

    /// <summary>The rounds of <paramref name="runDir"/> that ran to their end: rounds.jsonl's lines 1, 2, … for as long
    /// as each round's checkpoint holds all its steps. A line that cannot be read is a one-line error naming it.</summary>
    public static List<RejectionRound> FinishedRounds(string runDir)
    {
        string path = Path.Combine(runDir, RoundsFile);
        var rounds = new List<RejectionRound>();
        if (!File.Exists(path)) return rounds;
        int lineNo = 0;
        foreach (string line in File.ReadLines(path))
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            RejectionRound r;
            try
            {
                using var doc = JsonDocument.Parse(line);
                var e = doc.RootElement;
                double loss = e.GetProperty("last_loss").GetDouble();
                r = new RejectionRound(e.GetProperty("round").GetInt32(), e.GetProperty("mean_best_reward").GetDouble(), e.GetProperty("mean_reward").GetDouble(),
                    e.GetProperty("winners_mean_tokens").GetDouble(), [], [])
                { TrainSteps = e.GetProperty("steps").GetInt32(), LastLoss = loss < 0 ? double.NaN : loss, Finished = true };
            }
            catch (Exception x) when (x is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
            {
                throw new InvalidDataException($"{path}:{lineNo}: not a round's line ({x.Message.Split('\n')[0]})");
            }
            if (r.Round != rounds.Count + 1) throw new InvalidDataException($"{path}:{lineNo}: round {r.Round} where round {rounds.Count + 1} was expected");
            string? state = StateOf(RoundFolder(runDir, r.Round));
            if (state is null) break;
            var s = TrainerState.Load(Path.Combine(state, Checkpoint.StateFile));
            if (s.Step < s.Options.Steps) break;
            rounds.Add(r);
        }
        return rounds;
    }

    // The folder of a round's trainer state, or null when the round never reached its first checkpoint.
    static string? StateOf(string roundDir)
    {
        try { return Checkpoint.ResolveState(roundDir); }
        catch (FileNotFoundException) { return null; }
    }

    static double LastLoggedLoss(string roundDir)
    {
        string path = Path.Combine(roundDir, "metrics.jsonl");
        string? last = File.Exists(path) ? File.ReadLines(path).LastOrDefault(l => !string.IsNullOrWhiteSpace(l)) : null;
        if (last is null) return double.NaN;
        using var doc = JsonDocument.Parse(last);
        return doc.RootElement.GetProperty("loss").GetDouble();
    }

    /// <summary>The winners as chat JSONL (the shape `lathe finetune` reads: <c>{"messages":[…, assistant]}</c>) with
    /// each one's reward, sample index and prompt kind, written atomically.</summary>
    public static void WriteWinners(string path, IReadOnlyList<AlignmentPrompt> prompts, RejectionRound round) =>
        JsonlFile.Write(path, WinnerLines(prompts, round));

    static List<string> WinnerLines(IReadOnlyList<AlignmentPrompt> prompts, RejectionRound round)
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
        return lines;
    }
}
