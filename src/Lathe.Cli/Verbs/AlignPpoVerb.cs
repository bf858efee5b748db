using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lathe.Alignment;
using Lathe.Distributed;
using Lathe.Formats;
using Lathe.Inference;
using Lathe.Tensors.Threading;
using Lathe.Training;
using Lathe.Tuning;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe align ppo`: RLHF with PPO from an SFT policy against one reward model (--reward) or Llama 2's
/// helpfulness + safety pair, into a run folder (checkpoint/ with the policy's files and value_head.safetensors,
/// metrics.jsonl with a line per phase, align.json so the run opens as a model). Every input is read and checked before
/// the first byte is written; Ctrl-C writes a checkpoint; --resume continues it bit for bit.</summary>
internal static class AlignPpoVerb
{
    internal static Command Create()
    {
        var model = new Option<string>("--model") { Description = "The SFT policy: checkpoint or run folder (or .gguf for lora/qlora/adapter).", Required = true };
        var prompts = new Option<string>("--prompts") { Description = "Training prompts: JSONL of {\"prompt\", \"kind\"?, \"answer\"?} (.gz too).", Required = true };
        var rewardSet = new RewardOptionSet();
        var output = new Option<string>("--out") { Description = "Run folder.", Required = true };
        var resume = new Option<bool>("--resume") { Description = "Continue the run in --out exactly where its checkpoint left off." };
        var template = new Option<string?>("--template") { Description = $"Chat template: {string.Join(", ", ChatTemplate.Names)} (default: the model's own, else chatml)." };
        var heldout = new Option<string?>("--heldout") { Description = "Held-out prompts (prompts.heldout JSONL): behaviour metrics of greedy replies, before and after." };
        var d = new PpoOptions();
        var phases = new Option<int>("--phases") { Description = "Phases (rollouts + optimisation) to run.", DefaultValueFactory = _ => d.Phases };
        var perPhase = new Option<int>("--prompts-per-phase") { Description = "Prompts per phase.", DefaultValueFactory = _ => d.PromptsPerPhase };
        var samples = new Option<int>("--samples") { Description = "Responses sampled per prompt.", DefaultValueFactory = _ => d.SamplesPerPrompt };
        var maxNew = new Option<int>("--max-new-tokens") { Description = "Longest response.", DefaultValueFactory = _ => d.MaxNewTokens };
        var temperature = new Option<float>("--temperature") { Description = "Rollout temperature (no top-k/top-p: PPO's ratios assume the policy's own distribution).", DefaultValueFactory = _ => d.Temperature };
        var epochs = new Option<int>("--ppo-epochs") { Description = "Passes over each phase's rollouts.", DefaultValueFactory = _ => d.PpoEpochs };
        var minibatch = new Option<int>("--minibatch-size") { Description = "Rollouts per optimisation step.", DefaultValueFactory = _ => d.MinibatchSize };
        var clip = new Option<float>("--clip-range") { Description = "PPO's ε.", DefaultValueFactory = _ => d.ClipRange };
        var valueClip = new Option<float>("--value-clip") { Description = "Value-function clip range.", DefaultValueFactory = _ => d.ValueClip };
        var vfCoef = new Option<float>("--vf-coef") { Description = "Weight of the value loss.", DefaultValueFactory = _ => d.VfCoef };
        var gamma = new Option<float>("--gamma") { Description = "Discount γ.", DefaultValueFactory = _ => d.Gamma };
        var lambda = new Option<float>("--lambda") { Description = "GAE λ.", DefaultValueFactory = _ => d.Lambda };
        var estimator = new Option<string>("--kl-estimator") { Description = "Per-token KL estimate: k1 (log π − log π_ref) or k3.", DefaultValueFactory = _ => "k1" };
        var klCoef = new Option<float>("--kl-coef") { Description = "KL penalty coefficient β (initial value when adaptive).", DefaultValueFactory = _ => d.KlCoef };
        var klTarget = new Option<float?>("--kl-target") { Description = "Adaptive β (Ziegler et al.): the target KL (default: β fixed)." };
        var klHorizon = new Option<int>("--kl-horizon") { Description = "Adaptive β: the horizon.", DefaultValueFactory = _ => d.KlHorizon };
        var whiten = new Option<bool>("--whiten-rewards") { Description = "Whiten the per-token rewards (scale only)." };
        var missingEos = new Option<float?>("--missing-eos-penalty") { Description = "Subtracted from the score of a response that never ends." };
        var klStop = new Option<float?>("--kl-stop") { Description = "Stop (checkpoint kept) when a phase's mean KL to the reference exceeds this." };
        var lr = new Option<float>("--lr") { Description = "Learning rate (constant).", DefaultValueFactory = _ => d.LearningRate };
        var weightDecay = new Option<float>("--weight-decay") { Description = "AdamW weight decay.", DefaultValueFactory = _ => d.WeightDecay };
        var clipNorm = new Option<float>("--clip-norm") { Description = "Global gradient-norm clip (0 = off).", DefaultValueFactory = _ => d.ClipNorm };
        var checkpointEvery = new Option<int>("--checkpoint-every") { Description = "Checkpoint every N phases (0 = only at the end and on Ctrl-C).", DefaultValueFactory = _ => d.CheckpointEvery };
        var threads = new Option<int>("--threads") { Description = "Compute threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var seed = new Option<ulong>("--seed") { Description = "Seed of every random draw.", DefaultValueFactory = _ => d.Seed };
        var tuningSet = new TuningOptionSet(TuningOptions.Full, "full, lora, qlora or adapter (prefix and prompt tuning are not supported)");
        var command = new Command("ppo", "RLHF with PPO: a policy, its value head and a frozen reference against a reward model; Ctrl-C writes a checkpoint.")
        {
            model, prompts, output, resume, template, heldout, phases, perPhase, samples, maxNew, temperature, epochs, minibatch,
            clip, valueClip, vfCoef, gamma, lambda, estimator, klCoef, klTarget, klHorizon, whiten, missingEos, klStop, lr, weightDecay, clipNorm,
            checkpointEvery, threads, seed,
        };
        tuningSet.AddTo(command);
        rewardSet.AddTo(command);
        command.SetAction(r =>
        {
            var options = new PpoOptions
            {
                Phases = r.GetValue(phases), PromptsPerPhase = r.GetValue(perPhase), SamplesPerPrompt = r.GetValue(samples), MaxNewTokens = r.GetValue(maxNew),
                Temperature = r.GetValue(temperature), PpoEpochs = r.GetValue(epochs), MinibatchSize = r.GetValue(minibatch), ClipRange = r.GetValue(clip),
                ValueClip = r.GetValue(valueClip), VfCoef = r.GetValue(vfCoef), Gamma = r.GetValue(gamma), Lambda = r.GetValue(lambda),
                KlEstimator = ParseEstimator(r.GetValue(estimator)!), KlCoef = r.GetValue(klCoef), KlTarget = r.GetValue(klTarget), KlHorizon = r.GetValue(klHorizon),
                WhitenRewards = r.GetValue(whiten), MissingEosPenalty = r.GetValue(missingEos), KlStop = r.GetValue(klStop), LearningRate = r.GetValue(lr),
                WeightDecay = r.GetValue(weightDecay), ClipNorm = r.GetValue(clipNorm), CheckpointEvery = r.GetValue(checkpointEvery), Seed = r.GetValue(seed),
            };
            var rewards = rewardSet.Read(r, Verb);
            return Run(r.GetValue(model)!, r.GetValue(prompts)!, rewards, r.GetValue(output)!, r.GetValue(resume), r.GetValue(template), r.GetValue(heldout),
                options, r.GetResult(phases) is { Implicit: false }, tuningSet.Read(r), r.GetValue(threads));
        });
        return command;
    }

    const string Verb = "align ppo";

    static KlEstimator ParseEstimator(string s) => s.ToLowerInvariant() switch
    {
        "k1" => KlEstimator.K1,
        "k3" => KlEstimator.K3,
        _ => throw new UserInputException($"--kl-estimator: '{s}' is not k1 or k3"),
    };

    static int Run(string modelPath, string promptsPath, RewardOptionSet.Choice rewards, string runDir, bool resume, string? templateName, string? heldoutPath,
        PpoOptions options, bool phasesGiven, TuningOptions tuning, int threads)
    {
        if (threads < 1) throw new UserInputException($"--threads: {threads} must be at least 1");
        ComputePool.SetSharedThreads(threads);
        string? checkpoint = null;
        if (resume)
        {
            checkpoint = PpoState.Resolve(runDir);
            var settings = AlignedModel.ReadSettings(runDir) ?? throw new UserInputException($"--resume: {runDir} has no {AlignedModel.SettingsFile}");
            if (settings["method"]?.GetValue<string>() != "ppo") throw new UserInputException($"--resume: {runDir} is not a PPO run");
            tuning = settings[TuningKey].Deserialize<TuningOptions>() ?? throw new InvalidDataException($"{Path.Combine(runDir, AlignedModel.SettingsFile)}: no {TuningKey}");
            templateName = settings["template"]?.GetValue<string>();
            var saved = PpoState.Load(Path.Combine(checkpoint, PpoState.FileName)).Options;
            options = phasesGiven ? saved with { Phases = options.Phases } : saved;   // more phases: the run goes on
        }
        else if (Directory.Exists(Path.Combine(runDir, Checkpoint.Folder)))
            throw new UserInputException($"{Verb}: {runDir} already holds a checkpoint; pass --resume to continue it or choose another --out");
        options.Validate();
        if (tuning.Method is TuningOptions.Prefix or TuningOptions.Prompt)
            throw new UserInputException($"--method: {tuning.Method} is not supported by PPO (rollouts decode without its virtual rows); use full, lora, qlora or adapter");

        // 1. The data, read and checked before any model is loaded.
        var trainPrompts = PromptSet.Load(promptsPath);
        var heldout = heldoutPath is null ? null : PromptSet.Load(heldoutPath);

        // 2. The policy with its method, the reward model(s). Under mpirun the job starts here, after the checks every
        // rank makes alike; the ranks agree that each opened them before anything is written.
        var world = Job.LaunchedByMpi && Job.World.Size > 1 ? Job.World : SingleProcess.Instance;
        var (policy, scorer, owned) = JobFence.Run(world, () =>
        {
            var p = AlignCommon.OpenPolicy(Verb, modelPath, tuning, templateName, options.Seed);
            try { var (o, s) = rewards.Open(p.Loaded); return (p, o, s); }
            catch { p.Dispose(); throw; }
        }, CliRunner.IsUserError);
        using var _ = policy;
        try
        {
            var loaded = policy.Loaded;
            Console.Error.WriteLine($"{Verb}: {loaded.Model.Config.ModelType} {loaded.Model.ParameterCount / 1e6:F2}M parameters ({loaded.Format}), method {policy.Method.Name}: " +
                $"{policy.Method.TrainableCount:N0} trainable, template {policy.Chat.Name}, {trainPrompts.Count} prompts, {options.PromptsPerPhase}×{options.SamplesPerPrompt} " +
                $"rollouts of ≤ {options.MaxNewTokens} tokens per phase, {options.Phases} phases, {options.PpoEpochs} epochs of minibatches of {options.MinibatchSize}, " +
                $"lr {options.LearningRate:G3}, {threads} threads");
            // Held-out greedy replies are rank 0's alone (the others would only repeat them).
            var before = resume || !world.IsRoot ? null : AlignCommon.HeldOut(Verb, policy, heldout, "before");

            // 3. The first write: every input has been checked.
            using var ppo = new PpoTrainer(loaded, policy.Method, scorer!, policy.Chat, trainPrompts, options, runDir, policy.TokenizerJson, world: world);
            if (!resume && world.IsRoot)
                AlignCommon.WriteSettings(runDir, "ppo", modelPath, policy, new JsonObject
                {
                    [TuningKey] = JsonSerializer.SerializeToNode(tuning), ["reward"] = Full(rewards.Reward), ["helpfulness"] = Full(rewards.Helpfulness),
                    ["safety"] = Full(rewards.Safety),
                });
            if (checkpoint is not null) ppo.Resume(checkpoint);
            int startPhase = ppo.Phase;
            var clock = Stopwatch.StartNew();
            TrainingOutcome outcome;
            using (var console = new TrainingConsole())
            {
                try
                {
                    outcome = ppo.Run(console.Token, (s, elapsed) => Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"{Verb}: phase {s.Phase}/{options.Phases}: score {s.Score:F4}, kl {s.Kl:F4}, entropy {s.Entropy:F3}, clipfrac {s.ClipFraction:F3}, " +
                        $"value loss {s.ValueLoss:F4}, approx kl {s.ApproxKl:F5}, length {s.ResponseLength:F1}, β {s.KlCoef:G3} ({elapsed.TotalSeconds:F1} s)")));
                }
                catch (TrainingDivergedException e)
                {
                    Console.Error.WriteLine($"lathe: {e.Message}");
                    return 1;
                }
            }
            double seconds = clock.Elapsed.TotalSeconds;
            if (outcome == TrainingOutcome.Interrupted)
            {
                Console.Error.WriteLine($"{Verb}: interrupted at phase {ppo.Phase}; checkpoint in {Path.Combine(runDir, Checkpoint.Folder)} (continue with --resume)");
                return 130;
            }
            if (!world.IsRoot) return 0;
            Console.Error.WriteLine($"{Verb}: done, phase {ppo.Phase}; checkpoint in {Path.Combine(runDir, Checkpoint.Folder)}, metrics in {Path.Combine(runDir, "metrics.jsonl")}");
            var after = AlignCommon.HeldOut(Verb, policy, heldout, "after");
            BenchSupport.PrintJson([
                ("align", "ppo"), ("method", policy.Method.Name), ("phases", ppo.Phase), ("phases_run", ppo.Phase - startPhase),
                ("mean_reward", ppo.Last?.Score), ("kl", ppo.Last?.Kl), ("kl_coef", ppo.Kl.Value), ("wall_s", seconds), ("peak_rss_mb", BenchSupport.PeakRssMb()),
                .. AlignCommon.HeldOutFields(before, after)]);
            return 0;
        }
        finally
        {
            foreach (var d in owned) d.Dispose();
        }
    }

    // The full tuning options (align.json's "tuning" is the method's name): what --resume re-creates the method from.
    const string TuningKey = "tuning_options";

    static string? Full(string? path) => path is null ? null : Path.GetFullPath(path);
}
