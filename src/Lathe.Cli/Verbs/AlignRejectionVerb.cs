using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lathe.Alignment;
using Lathe.Formats;
using Lathe.Inference;
using Lathe.IO;
using Lathe.Tensors.Threading;
using Lathe.Tuning;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe align rejection`: Llama 2's rejection-sampling fine-tuning. Per round: K samples per prompt from
/// the policy, the best by a reward model (or Llama 2's helpfulness/safety combination) kept, SFT on the winners; the
/// run folder holds round-N/ (winners.jsonl, the round's checkpoint and metrics), rounds.jsonl, align.json and the
/// last round's checkpoint as checkpoint/ (so the run opens as a model).</summary>
internal static class AlignRejectionVerb
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "The policy to start from (an SFT checkpoint or run folder, or a GGUF file).", Required = true };
        var prompts = new Option<string>("--prompts") { Description = "Prompts: JSONL of {\"prompt\",\"kind\"?} (.gz too; preference-pair files work).", Required = true };
        var limit = new Option<int>("--limit") { Description = "Use only the first N prompts (0: all)." };
        var rewards = new RewardOptionSet();
        var samples = new Option<int>("--samples") { Description = "Samples per prompt (K).", DefaultValueFactory = _ => 4 };
        var rounds = new Option<int>("--rounds") { Description = "Rounds (R): each samples from the policy as the last left it.", DefaultValueFactory = _ => 1 };
        var temperature = new Option<float>("--temperature") { Description = "Sampling temperature (no top-k/top-p).", DefaultValueFactory = _ => 1f };
        var maxNew = new Option<int>("--max-new-tokens") { Description = "Longest sampled response.", DefaultValueFactory = _ => 48 };
        var epochs = new Option<double>("--epochs") { Description = "Passes over a round's winners (sets --steps per round when it is not given).", DefaultValueFactory = _ => 1 };
        var heldout = new Option<string?>("--heldout") { Description = "Held-out prompts (JSONL of {\"prompt\",\"kind\",\"answer\"}): behaviour metrics of greedy replies before and after." };
        var output = new Option<string>("--out") { Description = "Run folder.", Required = true };
        var template = new Option<string?>("--template") { Description = $"Chat template: {string.Join(", ", ChatTemplate.Names)} (default: the model's own, else chatml)." };
        var tuningSet = new TuningOptionSet(TuningOptions.Full, "full, lora, qlora or adapter");
        var o = new TrainingOptionSet(steps: 0, batch: 8, block: 128, lr: 5e-5f, warmup: 5, evalEvery: 0);
        var command = new Command("rejection", "Rejection-sampling fine-tuning (Llama 2): best of K samples per prompt by a reward model, then SFT on the winners, for R rounds.")
        {
            model, prompts, limit, samples, rounds, temperature, maxNew, epochs, heldout, output, template,
        };
        rewards.AddTo(command);
        tuningSet.AddTo(command);
        o.AddTo(command);
        command.SetAction(r =>
        {
            ComputePool.SetSharedThreads(o.Threads(r));
            var training = o.Read(r, allowZeroSteps: true);
            var tuning = tuningSet.Read(r);
            if (r.GetResult(o.Lr) is null or { Implicit: true } && tuning.Method != TuningOptions.Full) training = training with { LearningRate = 5e-4f };
            var options = new RejectionOptions
            {
                Samples = r.GetValue(samples), Rounds = r.GetValue(rounds), Temperature = r.GetValue(temperature), Seed = training.Seed,
                Training = training, Epochs = r.GetValue(epochs),
            }.Validate();
            if (r.GetValue(limit) < 0) throw new UserInputException($"--limit: {r.GetValue(limit)} must be ≥ 0");
            return Run(r.GetValue(model)!, r.GetValue(prompts)!, r.GetValue(limit), rewards.Read(r, "rejection"),
                r.GetValue(maxNew), r.GetValue(heldout), r.GetValue(output)!, r.GetValue(template), tuning, options);
        });
        return command;
    }

    static int Run(string modelPath, string promptsPath, int limit, RewardOptionSet.Choice rewards, int maxNewTokens,
        string? heldoutPath, string runDir, string? template, TuningOptions tuning, RejectionOptions options)
    {
        var (rewardPath, helpfulnessPath, safetyPath) = (rewards.Reward, rewards.Helpfulness, rewards.Safety);
        if (tuning.Method is TuningOptions.Prompt or TuningOptions.Prefix)
            throw new UserInputException($"--method {tuning.Method}: rejection sampling samples through the batched engine, which does not see virtual tokens; use full, lora, qlora or adapter");
        AlignCommon.CheckRunFolder("rejection", runDir, resume: false);
        if (Directory.Exists(Path.Combine(runDir, "round-1")))
            throw new UserInputException($"rejection: {runDir} already holds a run (round-1/); choose another --out");

        // 1. Data first.
        var prompts = PromptSet.Load(promptsPath);
        if (limit > 0 && limit < prompts.Count) prompts = prompts.GetRange(0, limit);
        var heldoutPrompts = heldoutPath is null ? null : PromptSet.Load(heldoutPath);

        // 2. The policy and the reward, which must read the policy's token ids.
        using var policy = AlignCommon.OpenPolicy("rejection", modelPath, tuning, template, options.Training.Seed);
        var (opened, scorers) = rewards.Open(policy.Loaded);
        try
        {
            var rewardFunction = opened!;
            var generator = new RolloutGenerator(policy.Loaded, policy.Chat, maxNewTokens);
            var sampler = new RejectionSampler(policy.Loaded, policy.Method, generator, rewardFunction, options, policy.TokenizerJson);
            var decoder = policy.Loaded.Decoder;
            Console.Error.WriteLine($"rejection: {decoder.Config.ModelType} {decoder.ParameterCount / 1e6:F2}M parameters, method {policy.Method.Name}: " +
                $"{AlignCommon.TrainableCount(policy.Method):N0} trainable; {prompts.Count} prompts × {options.Samples} samples at temperature {options.Temperature}, " +
                $"{options.Rounds} round(s); reward {(rewardPath is not null ? rewardPath : $"Llama 2 ({helpfulnessPath}, {safetyPath})")}");
            var before = AlignCommon.HeldOut("rejection", policy, heldoutPrompts, "before");

            // 3. The first write: every input has been checked.
            AlignCommon.WriteSettings(runDir, "rejection", modelPath, policy, new JsonObject
            {
                ["rejection"] = new JsonObject
                {
                    ["samples"] = options.Samples, ["rounds"] = options.Rounds, ["temperature"] = options.Temperature, ["max_new_tokens"] = maxNewTokens,
                    ["reward"] = rewardPath is null ? null : Path.GetFullPath(rewardPath),
                    ["helpfulness"] = helpfulnessPath is null ? null : Path.GetFullPath(helpfulnessPath),
                    ["safety"] = safetyPath is null ? null : Path.GetFullPath(safetyPath),
                },
            });
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var results = new List<RejectionRound>();
            var lines = new List<string>();
            for (int round = 1; round <= options.Rounds; round++)
            {
                string roundDir = Path.Combine(runDir, $"round-{round}");
                RejectionRound result;
                bool interrupted;
                using (var console = new TrainingConsole())
                {
                    result = sampler.Run(prompts, round, roundDir, console.Token, console.Report);
                    console.EndLine();
                    interrupted = console.Token.IsCancellationRequested;
                }
                results.Add(result);
                Console.Error.WriteLine($"rejection: round {round}: mean best-of-{options.Samples} reward {result.MeanBestReward:F4}, mean reward {result.MeanReward:F4}, " +
                    $"winners' mean length {result.WinnersMeanTokens:F1} tokens; SFT {result.TrainSteps} steps, last loss {result.LastLoss:F4}");
                lines.Add(JsonSerializer.Serialize(new Dictionary<string, object>
                {
                    ["round"] = round, ["mean_best_reward"] = result.MeanBestReward, ["mean_reward"] = result.MeanReward,
                    ["winners_mean_tokens"] = result.WinnersMeanTokens, ["steps"] = result.TrainSteps,
                    ["last_loss"] = double.IsFinite(result.LastLoss) ? result.LastLoss : -1,
                }));
                AtomicFile.WriteAllText(Path.Combine(runDir, "rounds.jsonl"), string.Join("", lines.Select(l => l + "\n")));
                if (interrupted)
                {
                    Console.Error.WriteLine($"rejection: interrupted in round {round}; its checkpoint is in {Path.Combine(roundDir, Checkpoint.Folder)}");
                    return 130;
                }
            }
            PublishCheckpoint(Path.Combine(runDir, $"round-{options.Rounds}", Checkpoint.Folder), Path.Combine(runDir, Checkpoint.Folder));
            double seconds = clock.Elapsed.TotalSeconds;
            var after = AlignCommon.HeldOut("rejection", policy, heldoutPrompts, "after");
            Console.Error.WriteLine($"rejection: done; the policy is {runDir} (checkpoint/ is round {options.Rounds}'s)");
            var fields = new List<(string, object?)>
            {
                ("align", "rejection"), ("rounds", options.Rounds), ("samples", options.Samples), ("prompts", prompts.Count),
                ("best_of_k_reward", results[^1].MeanBestReward), ("mean_reward", results[^1].MeanReward), ("winners_mean_tokens", results[^1].WinnersMeanTokens),
            };
            for (int i = 0; i < results.Count; i++)
            {
                fields.Add(($"best_of_k_reward_round{i + 1}", results[i].MeanBestReward));
                fields.Add(($"mean_reward_round{i + 1}", results[i].MeanReward));
            }
            fields.AddRange(AlignCommon.HeldOutFields(before, after));
            fields.Add(("wall_s", seconds));
            fields.Add(("peak_rss_mb", BenchSupport.PeakRssMb()));
            BenchSupport.PrintJson([.. fields]);
            return 0;
        }
        finally { foreach (var s in scorers) s.Dispose(); }
    }

    // The last round's checkpoint copied to the run's own checkpoint/ through a temporary folder and one rename, so a
    // reader never finds half of it.
    static void PublishCheckpoint(string from, string to)
    {
        string temp = to + ".tmp-" + Guid.NewGuid().ToString("N");
        Copy(from, temp);
        if (Directory.Exists(to)) Directory.Delete(to, recursive: true);
        Directory.Move(temp, to);
    }

    static void Copy(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (string file in Directory.GetFiles(from)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        foreach (string dir in Directory.GetDirectories(from)) Copy(dir, Path.Combine(to, Path.GetFileName(dir)));
    }
}
