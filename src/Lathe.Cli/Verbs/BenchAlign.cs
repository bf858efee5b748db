using System.CommandLine;
using System.Diagnostics;
using Lathe.Alignment;
using Lathe.Data;
using Lathe.Models;
using Lathe.Tensors.Threading;
using Lathe.Training;
using Lathe.Training.Objectives;
using Lathe.Tuning;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe bench align`: the training step of an alignment method on a preset with random weights and random
/// token ids, full fine-tuning, as tokens/s (median step after warm-up) and peak RSS. DPO: a batch of preference pairs
/// through <see cref="DpoObjective"/>, the reference's log-probabilities precomputed once as TRL's
/// precompute_ref_log_probs does (that pass is timed and reported on its own); reward: the same batch through
/// <see cref="RewardObjective"/> (Bradley–Terry on a scalar head at the last token). scripts/bench/align-torch.py is the
/// PyTorch peer with the same model, shapes, losses and token count. PPO's phase is <see cref="BenchAlignPpo"/>.</summary>
/// <remarks>Tokens counted: every token of every sequence a step processes — prompt and response, of the chosen and
/// of the rejected row of each pair — so a step of P pairs counts 2·P·(prompt + response). Rows are exactly
/// prompt + response long (no padding), so every counted token is real work. Peak RSS is the high-water mark over the
/// timed steps, reset after the model is built and the reference pass is done (as `bench finetune` does); the figure
/// from process start is reported too.</remarks>
internal static class BenchAlign
{
    internal static Command Create()
    {
        var method = new Option<string>("--method") { Description = "dpo, reward or ppo.", DefaultValueFactory = _ => "dpo" };
        var preset = new Option<string>("--preset") { Description = "Model preset (S, M, …) or config.json.", DefaultValueFactory = _ => "S" };
        var threads = new Option<int>("--threads") { Description = "Compute threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var steps = new Option<int>("--steps") { Description = "Timed steps.", DefaultValueFactory = _ => 10 };
        var warmup = new Option<int>("--warmup") { Description = "Untimed warm-up steps.", DefaultValueFactory = _ => 3 };
        var pairs = new Option<int>("--pairs") { Description = "Preference pairs per step (two rows each).", DefaultValueFactory = _ => 8 };
        var rollouts = new Option<int>("--rollouts") { Description = "PPO: rollouts per phase.", DefaultValueFactory = _ => 8 };
        var minibatch = new Option<int>("--minibatch") { Description = "PPO: rollouts per optimiser step.", DefaultValueFactory = _ => 4 };
        var prompt = new Option<int>("--prompt-tokens") { Description = "Prompt tokens of every sequence.", DefaultValueFactory = _ => 128 };
        var response = new Option<int>("--response-tokens") { Description = "Response tokens of every sequence.", DefaultValueFactory = _ => 128 };
        var command = new Command("align", "Alignment training-step throughput (DPO, reward model, PPO phase) and peak memory; prints tokens/s and peak RSS as JSON last.")
        {
            method, preset, threads, steps, warmup, pairs, rollouts, minibatch, prompt, response,
        };
        command.SetAction(r => Run(r.GetValue(method)!, r.GetValue(preset)!, r.GetValue(threads), r.GetValue(steps), r.GetValue(warmup),
            r.GetValue(method) == "ppo" ? r.GetValue(rollouts) : r.GetValue(pairs), r.GetValue(prompt), r.GetValue(response), r.GetValue(minibatch)));
        return command;
    }

    /// <param name="pairs">Preference pairs per step; for PPO, rollouts per phase.</param>
    static int Run(string methodName, string preset, int threads, int steps, int warmup, int pairs, int prompt, int response, int minibatch)
    {
        if (methodName is not ("dpo" or "reward" or "ppo")) throw new UserInputException($"bench align: --method '{methodName}' is not dpo, reward or ppo");
        if (threads <= 0 || steps <= 0 || warmup < 0 || pairs <= 0 || prompt <= 0 || response <= 0)
            throw new UserInputException("bench align: --threads, --steps, --pairs, --rollouts, --prompt-tokens and --response-tokens must be positive, --warmup ≥ 0");
        ComputePool.SetSharedThreads(threads);
        var config = ModelConfig.FromPresetOrFile(preset);
        int T = prompt + response;
        if (T > config.MaxPositions)
            throw new UserInputException($"bench align: --prompt-tokens {prompt} + --response-tokens {response} exceed preset {preset}'s context of {config.MaxPositions}");
        if (methodName == "ppo") return BenchAlignPpo.Run(config, preset, threads, steps, warmup, pairs, prompt, response, minibatch);
        using var model = LanguageModel.Create(config, 1) as CausalLM ?? throw new UserInputException($"bench align: preset {preset} is not a causal language model");
        using var full = TuningMethods.Create(model, new TuningOptions { Method = TuningOptions.Full }, seed: 2);
        // Distinct pairs for every step (the warm-up's too), so no step replays another's batch.
        var data = SyntheticPairs(pairs * (steps + warmup), prompt, response, config.VocabSize, seed: 42);
        int B = 2 * pairs;
        const int Pad = 0;   // never read: every row is exactly T tokens long

        ITrainingObjective objective;
        ITuningMethod method = full;
        double? referenceTokensPerSecond = null, referenceMs = null;
        TrainingOptions options;
        if (methodName == "dpo")
        {
            // TRL's precompute_ref_log_probs: one no-grad pass of the (still untrained) policy over every pair. Batches
            // of it first, untimed, for 2 s (at least one), so tiered compilation is done before the timed pass.
            var warm = Stopwatch.StartNew();
            do ReferenceLogProbs.Compute(model, full, data.GetRange(0, pairs), B, T, Pad, average: false);
            while (warm.Elapsed.TotalSeconds < 2);
            long start = Stopwatch.GetTimestamp();
            var (refC, refR) = ReferenceLogProbs.Compute(model, full, data, B, T, Pad, average: false);
            double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            referenceTokensPerSecond = 2.0 * data.Count * T / seconds;
            referenceMs = seconds * 1e3 / (steps + warmup);
            objective = new DpoObjective(full, refC, refR, new DpoSettings(Beta: 0.1f));
            options = TrlDefaults(steps + warmup, B, T, learningRate: 1e-6f);   // DPOConfig's learning_rate
        }
        else
        {
            var reward = new RewardModel(model);
            method = new HeadedMethod(full, [reward.Head], reward.SaveHead, reward.LoadHead);
            objective = new RewardObjective(reward, full);
            options = TrlDefaults(steps + warmup, B, T, learningRate: 1e-5f);   // RewardConfig's learning_rate
        }
        using var trainer = new Trainer(model, options, new PairBatchSource(data, seed: 7, Pad), null, null, null, objective, method.Trainable, method: method);
        double startupPeak = BenchSupport.PeakRssMb();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        BenchSupport.ResetPeakRss();
        double baseRss = BenchSupport.CurrentRssMb();
        // The first step's loss is a check, not a timing: the policy is its own reference (DPO) and the score head is
        // zero (reward), so both losses start at exactly ln 2; the peer reports the same, and align-compare.sh checks both.
        float firstLoss = float.NaN;
        var (median, allocatedPerStep) = BenchSupport.TimeSteps(() =>
        {
            float loss = trainer.TrainStep();
            if (float.IsNaN(firstLoss)) firstLoss = loss;
        }, warmup, steps);
        double peak = BenchSupport.PeakRssMb();
        long trainable = method.TrainableCount;
        int tokensPerStep = B * T;
        double tokensPerSecond = tokensPerStep / median;
        Console.Error.WriteLine($"bench align {methodName} {preset}: {model.ParameterCount / 1e6:F2}M params, {trainable:N0} trainable, {pairs} pairs of " +
            $"{prompt}+{response} tokens ({tokensPerStep} tokens/step), {threads} threads: median step {median * 1e3:F1} ms over {steps}, {tokensPerSecond:F0} tok/s" +
            (referenceTokensPerSecond is { } rt ? $"; reference pass {rt:F0} tok/s (not in the step)" : "") +
            $", peak RSS {peak:F0} MB while training (from {baseRss:F0} MB; {startupPeak:F0} MB before), {allocatedPerStep} B allocated/step");
        BenchSupport.PrintJson(("bench", "align"), ("method", methodName), ("preset", preset), ("threads", threads), ("batch", pairs), ("rows", B),
            ("prompt_tokens", prompt), ("response_tokens", response), ("tokens_per_step", tokensPerStep),
            ("tokens_counted", "prompt and response tokens of every chosen and rejected row"), ("steps", steps), ("params_m", model.ParameterCount / 1e6),
            ("trainable_params", trainable), ("step_ms", median * 1e3), ("tokens_per_s", tokensPerSecond),
            ("reference_tokens_per_s", referenceTokensPerSecond), ("reference_ms_per_batch", referenceMs), ("first_loss", (double)firstLoss),
            ("peak_rss_mb", peak), ("startup_peak_rss_mb", startupPeak), ("rss_before_training_mb", baseRss), ("alloc_bytes_per_step", allocatedPerStep));
        return 0;
    }

    /// <summary>Hugging Face TrainingArguments' optimiser defaults (AdamW β = (0.9, 0.999), no weight decay, gradient
    /// norm clipped at 1), which TRL's configs inherit; the peer uses the same.</summary>
    static TrainingOptions TrlDefaults(int steps, int B, int T, float learningRate) => new()
    {
        Steps = steps, BatchSize = B, BlockSize = T, WarmupSteps = 1, EvalEvery = 0, CheckpointEvery = 0,
        LearningRate = learningRate, WeightDecay = 0, Beta1 = 0.9f, Beta2 = 0.999f, ClipNorm = 1f,
    };

    /// <summary><paramref name="count"/> pairs of random ids: a shared prompt, then a chosen and a rejected response of
    /// the same length (response tokens marked trainable). Seeded, so every run trains on the same tokens.</summary>
    internal static List<EncodedPair> SyntheticPairs(int count, int prompt, int response, int vocab, ulong seed)
    {
        var rng = new Lathe.Tensors.Philox(seed);
        var trainable = new bool[prompt + response];
        trainable.AsSpan(prompt).Fill(true);
        var pairs = new List<EncodedPair>(count);
        for (int i = 0; i < count; i++)
        {
            var chosen = new int[prompt + response];
            var rejected = new int[prompt + response];
            for (int t = 0; t < prompt; t++) chosen[t] = rejected[t] = rng.NextInt(vocab);
            for (int t = prompt; t < prompt + response; t++) { chosen[t] = rng.NextInt(vocab); rejected[t] = rng.NextInt(vocab); }
            pairs.Add(new EncodedPair(new SftExample(chosen, trainable), new SftExample(rejected, trainable)));
        }
        return pairs;
    }
}
