using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lathe.Alignment;
using Lathe.Distributed;
using Lathe.Formats;
using Lathe.Inference;
using Lathe.IO;
using Lathe.Tensors.Threading;
using Lathe.Training;
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
        var model = new Option<string?>("--model") { Description = "The policy to start from (an SFT checkpoint or run folder, or a GGUF file)." };
        var prompts = new Option<string?>("--prompts") { Description = "Prompts: JSONL of {\"prompt\",\"kind\"?} (.gz too; preference-pair files work)." };
        var limit = new Option<int>("--limit") { Description = "Use only the first N prompts (0: all)." };
        var rewards = new RewardOptionSet();
        var samples = new Option<int>("--samples") { Description = "Samples per prompt (K).", DefaultValueFactory = _ => 4 };
        var rounds = new Option<int>("--rounds") { Description = "Rounds (R): each samples from the policy as the last left it.", DefaultValueFactory = _ => 1 };
        var temperature = new Option<float>("--temperature") { Description = "Sampling temperature (no top-k/top-p).", DefaultValueFactory = _ => 1f };
        var maxNew = new Option<int>("--max-new-tokens") { Description = "Longest sampled response.", DefaultValueFactory = _ => 48 };
        var epochs = new Option<double>("--epochs") { Description = "Passes over a round's winners (sets --steps per round when it is not given).", DefaultValueFactory = _ => 1 };
        var heldout = new Option<string?>("--heldout") { Description = "Held-out prompts (JSONL of {\"prompt\",\"kind\",\"answer\"}): behaviour metrics of greedy replies before and after." };
        var output = new Option<string>("--out") { Description = "Run folder.", Required = true };
        var resume = new Option<bool>("--resume") { Description = "Continue the run in --out bit for bit: its settings come from its align.json (only --rounds, to extend it, --heldout and --threads apply)." };
        var template = new Option<string?>("--template") { Description = $"Chat template: {string.Join(", ", ChatTemplate.Names)} (default: the model's own, else chatml)." };
        var tuningSet = new TuningOptionSet(TuningOptions.Full, "full, lora, qlora or adapter");
        var o = new TrainingOptionSet(steps: 0, batch: 8, block: 128, lr: 5e-5f, warmup: 5, evalEvery: 0);
        var command = new Command("rejection", "Rejection-sampling fine-tuning (Llama 2): best of K samples per prompt by a reward model, then SFT on the winners, for R rounds.")
        {
            model, prompts, limit, samples, rounds, temperature, maxNew, epochs, heldout, output, resume, template,
        };
        rewards.AddTo(command);
        tuningSet.AddTo(command);
        o.AddTo(command);
        command.SetAction(r =>
        {
            ComputePool.SetSharedThreads(o.Threads(r));
            string runDir = r.GetValue(output)!;
            var parallel = o.Parallel(r);
            if (r.GetValue(resume))
                return Resume(runDir, r.GetResult(rounds) is { Implicit: false } ? r.GetValue(rounds) : null, r.GetValue(heldout), parallel);
            var training = o.Read(r, allowZeroSteps: true);
            var tuning = tuningSet.Read(r);
            if (r.GetResult(o.Lr) is null or { Implicit: true } && tuning.Method != TuningOptions.Full) training = training with { LearningRate = 5e-4f };
            var options = new RejectionOptions
            {
                Samples = r.GetValue(samples), Rounds = r.GetValue(rounds), Temperature = r.GetValue(temperature), Seed = training.Seed,
                Training = training, Epochs = r.GetValue(epochs),
            }.Validate();
            if (r.GetValue(limit) < 0) throw new UserInputException($"--limit: {r.GetValue(limit)} must be ≥ 0");
            string modelPath = r.GetValue(model) ?? throw new UserInputException("rejection: --model is required (unless --resume)");
            string promptsPath = r.GetValue(prompts) ?? throw new UserInputException("rejection: --prompts is required (unless --resume)");
            return Run(modelPath, promptsPath, r.GetValue(limit), rewards.Read(r, "rejection"),
                r.GetValue(maxNew), r.GetValue(heldout), runDir, r.GetValue(template), tuning, options, resume: false, parallel);
        });
        return command;
    }

    // align.json keys this verb writes under "rejection" beyond the figures: what --resume rebuilds the run from.
    const string TuningKey = "tuning_options", TrainingKey = "training";

    // Everything from the run's align.json as the first run wrote it; a larger --rounds extends the run.
    static int Resume(string runDir, int? rounds, string? heldoutPath, ParallelChoice parallel)
    {
        string file = Path.Combine(runDir, AlignedModel.SettingsFile);
        var settings = AlignedModel.ReadSettings(runDir) ?? throw new UserInputException($"rejection: --resume: {runDir} holds no run ({AlignedModel.SettingsFile} not found)");
        if (settings["method"] is not JsonValue m || m.GetValueKind() != JsonValueKind.String || m.GetValue<string>() != "rejection")
            throw new UserInputException($"rejection: --resume: {file} is not a rejection-sampling run's");
        if (settings["rejection"] is not JsonObject rs) throw new UserInputException($"rejection: --resume: {file}: no \"rejection\" settings");
        T Get<T>(JsonObject o, string key, bool nullable = false)
        {
            try
            {
                var node = o[key];
                if (node is null && !nullable) throw new InvalidOperationException("missing");
                return node is null ? default! : node.Deserialize<T>()!;
            }
            catch (Exception e) when (e is InvalidOperationException or JsonException or FormatException or NotSupportedException)
            {
                throw new UserInputException($"rejection: --resume: {file}: \"{key}\" cannot be read (a run from before --resume existed cannot be resumed)");
            }
        }
        var training = Get<TrainingOptions>(rs, TrainingKey);
        var tuning = Get<TuningOptions>(rs, TuningKey);
        RejectionOptions options;
        try
        {
            options = new RejectionOptions
            {
                Samples = Get<int>(rs, "samples"), Rounds = rounds ?? Get<int>(rs, "rounds"), Temperature = Get<float>(rs, "temperature"),
                Seed = training.Seed, Training = training, Epochs = Get<double>(rs, "epochs"),
            }.Validate();
        }
        catch (ArgumentException e) { throw new UserInputException($"rejection: --resume: {e.Message}"); }
        // Checked before anything is loaded or align.json rewritten with the new count.
        int finished = RejectionSampler.FinishedRounds(runDir).Count;
        if (finished > options.Rounds) throw new UserInputException($"--rounds: {options.Rounds} is fewer than the {finished} rounds {runDir} has finished");
        var reward = new RewardOptionSet.Choice(Get<string?>(rs, "reward", true), Get<string?>(rs, "helpfulness", true), Get<string?>(rs, "safety", true));
        if (!reward.Given) throw new UserInputException($"rejection: --resume: {file}: no reward model");
        return Run(Get<string>(settings, "base"), Get<string>(rs, "prompts"), Get<int>(rs, "limit"), reward, Get<int>(rs, "max_new_tokens"), heldoutPath, runDir,
            Get<string>(settings, "template"), tuning, options, resume: true, parallel);
    }

    static int Run(string modelPath, string promptsPath, int limit, RewardOptionSet.Choice rewards, int maxNewTokens,
        string? heldoutPath, string runDir, string? template, TuningOptions tuning, RejectionOptions options, bool resume, ParallelChoice parallel)
    {
        var (rewardPath, helpfulnessPath, safetyPath) = (rewards.Reward, rewards.Helpfulness, rewards.Safety);
        if (tuning.Method is TuningOptions.Prompt or TuningOptions.Prefix)
            throw new UserInputException($"--method {tuning.Method}: rejection sampling samples through the batched engine, which does not see virtual tokens; use full, lora, qlora or adapter");
        if (!resume)
        {
            AlignCommon.CheckRunFolder("rejection", runDir, resume: false);
            if (Directory.Exists(RejectionSampler.RoundFolder(runDir, 1)))
                throw new UserInputException($"rejection: {runDir} already holds a run (round-1/); pass --resume to continue it or choose another --out");
        }

        // 1. Data first.
        var prompts = PromptSet.Load(promptsPath);
        if (limit > 0 && limit < prompts.Count) prompts = prompts.GetRange(0, limit);
        var heldoutPrompts = heldoutPath is null ? null : PromptSet.Load(heldoutPath);

        // 2. The policy and the reward, which must read the policy's token ids. Under mpirun the job starts here, after
        // the checks every rank makes alike; the ranks agree that each opened them before anything is written.
        var distributed = parallel.Join();
        var world = distributed?.World ?? SingleProcess.Instance;
        var (policy, opened, scorers) = JobFence.Run(world, () =>
        {
            var p = AlignCommon.OpenPolicy("rejection", modelPath, tuning, template, options.Training.Seed);
            try { var (o, s) = rewards.Open(p.Loaded); return (p, o, s); }
            catch { p.Dispose(); throw; }
        }, CliRunner.IsUserError);
        using var _ = policy;
        try
        {
            var rewardFunction = opened!;
            var generator = new RolloutGenerator(policy.Loaded, policy.Chat, maxNewTokens);
            var sampler = new RejectionSampler(policy.Loaded, policy.Method, generator, rewardFunction, options, policy.TokenizerJson, distributed);
            var decoder = policy.Loaded.Decoder;
            Console.Error.WriteLine($"rejection: {decoder.Config.ModelType} {decoder.ParameterCount / 1e6:F2}M parameters, method {policy.Method.Name}: " +
                $"{policy.Method.TrainableCount:N0} trainable; {prompts.Count} prompts × {options.Samples} samples at temperature {options.Temperature}, " +
                $"{options.Rounds} round(s); reward {(rewardPath is not null ? rewardPath : $"Llama 2 ({helpfulnessPath}, {safetyPath})")}");
            // Held-out greedy replies are rank 0's alone (the others would only repeat them).
            var before = resume || !world.IsRoot ? null : AlignCommon.HeldOut("rejection", policy, heldoutPrompts, "before");

            // 3. The first write: every input has been checked. align.json holds every setting, so --resume needs none.
            var settings = new JsonObject
            {
                ["rejection"] = new JsonObject
                {
                    ["samples"] = options.Samples, ["rounds"] = options.Rounds, ["temperature"] = options.Temperature, ["max_new_tokens"] = maxNewTokens,
                    ["reward"] = rewardPath is null ? null : Path.GetFullPath(rewardPath),
                    ["helpfulness"] = helpfulnessPath is null ? null : Path.GetFullPath(helpfulnessPath),
                    ["safety"] = safetyPath is null ? null : Path.GetFullPath(safetyPath),
                    ["prompts"] = Path.GetFullPath(promptsPath), ["limit"] = limit, ["epochs"] = options.Epochs,
                    [TuningKey] = JsonSerializer.SerializeToNode(tuning), [TrainingKey] = JsonSerializer.SerializeToNode(options.Training),
                },
            };
            if (world.IsRoot) AlignCommon.WriteSettings(runDir, "rejection", modelPath, policy, settings);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            List<RejectionRound> results;
            bool interrupted;
            using (var console = new TrainingConsole())
            {
                (results, interrupted) = sampler.RunAll(prompts, runDir, resume, console.Token, console.Report, result =>
                {
                    console.EndLine();
                    Console.Error.WriteLine($"rejection: round {result.Round}: mean best-of-{options.Samples} reward {result.MeanBestReward:F4}, mean reward {result.MeanReward:F4}, " +
                        $"winners' mean length {result.WinnersMeanTokens:F1} tokens; SFT {result.TrainSteps} steps, last loss {result.LastLoss:F4}");
                });
                console.EndLine();
            }
            if (interrupted)
            {
                string checkpoint = Path.Combine(RejectionSampler.RoundFolder(runDir, results.Count + 1), Checkpoint.Folder);
                Console.Error.WriteLine(Directory.Exists(checkpoint)
                    ? $"rejection: interrupted in round {results.Count + 1}; its checkpoint is in {checkpoint} (continue with --resume)"
                    : $"rejection: interrupted after round {results.Count} (continue with --resume)");
                return 130;
            }
            if (!world.IsRoot) return 0;
            PublishCheckpoint(Path.Combine(RejectionSampler.RoundFolder(runDir, options.Rounds), Checkpoint.Folder), Path.Combine(runDir, Checkpoint.Folder));
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
