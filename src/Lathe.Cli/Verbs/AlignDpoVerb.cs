using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Lathe.Alignment;
using Lathe.Data;
using Lathe.Formats;
using Lathe.Tensors.Autograd;
using Lathe.Tensors.Threading;
using Lathe.Training;
using Lathe.Tuning;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe align dpo`: direct preference optimisation of a policy on preference pairs (sigmoid loss, IPO, or
/// conservative DPO by label smoothing), with the frozen reference's log-probabilities computed once into the run
/// folder; held-out preference accuracy and (with --heldout) the behaviour table before and after.</summary>
internal static class AlignDpoVerb
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "The policy to start from (an SFT checkpoint or run folder); it is also the frozen reference.", Required = true };
        var data = new Option<string>("--data") { Description = "Preference pairs: JSONL of {\"prompt\",\"chosen\",\"rejected\"} (TRL's shape; .gz too).", Required = true };
        var val = new Option<string?>("--val") { Description = "Held-out pairs for preference accuracy (default: --val-fraction of --data)." };
        var valFraction = new Option<double>("--val-fraction") { Description = "Fraction of --data held out when --val is not given.", DefaultValueFactory = _ => 0.1 };
        var kinds = new Option<string?>("--kinds") { Description = "Train only on pairs of these kinds (the pairs' \"kind\" field)." };
        var heldout = new Option<string?>("--heldout") { Description = "Held-out prompts (JSONL of {\"prompt\",\"kind\",\"answer\"}): behaviour metrics of greedy replies before and after." };
        var beta = new Option<float>("--beta") { Description = "β: the strength of the KL constraint to the reference.", DefaultValueFactory = _ => 0.1f };
        var loss = new Option<string>("--loss") { Description = "sigmoid (DPO) or ipo.", DefaultValueFactory = _ => "sigmoid" };
        var smoothing = new Option<float>("--label-smoothing") { Description = "Conservative DPO: the assumed probability ε that a label is flipped.", DefaultValueFactory = _ => 0 };
        var rpoAlpha = new Option<float>("--rpo-alpha") { Description = "TRL's rpo_alpha: α × the chosen replies' NLL added to the loss (keeps them likely; 0: plain DPO).", DefaultValueFactory = _ => 0 };
        var epochs = new Option<double>("--epochs") { Description = "Passes over the pairs (sets --steps when it is not given).", DefaultValueFactory = _ => 1 };
        var output = new Option<string>("--out") { Description = "Run folder.", Required = true };
        var resume = new Option<bool>("--resume") { Description = "Continue the run in --out where its checkpoint left off." };
        var template = new Option<string?>("--template") { Description = $"Chat template: {string.Join(", ", ChatTemplate.Names)} (default: the model's own, else chatml)." };
        var tuningSet = new TuningOptionSet(TuningOptions.Full);
        var o = new TrainingOptionSet(steps: 0, batch: 8, block: 128, lr: 5e-5f, warmup: 10, evalEvery: 0);
        var command = new Command("dpo", "Direct preference optimisation (DPO, IPO, conservative DPO) of a policy on preference pairs.")
        {
            model, data, val, valFraction, kinds, heldout, beta, loss, smoothing, rpoAlpha, epochs, output, resume, template,
        };
        tuningSet.AddTo(command);
        o.AddTo(command);
        command.SetAction(r =>
        {
            ComputePool.SetSharedThreads(o.Threads(r));
            var training = o.Read(r, allowZeroSteps: true);
            var tuning = tuningSet.Read(r);
            if (r.GetResult(o.Lr) is null or { Implicit: true } && tuning.Method != TuningOptions.Full) training = training with { LearningRate = 5e-4f };
            var type = r.GetValue(loss) switch
            {
                "sigmoid" => DpoLossType.Sigmoid,
                "ipo" => DpoLossType.Ipo,
                var s => throw new UserInputException($"--loss: '{s}' is not sigmoid or ipo"),
            };
            var settings = new DpoSettings(r.GetValue(beta), type, r.GetValue(smoothing));
            if (!(settings.Beta > 0) || !float.IsFinite(settings.Beta)) throw new UserInputException($"--beta: {settings.Beta} must be positive");
            if (!(settings.LabelSmoothing >= 0 && settings.LabelSmoothing < 0.5f)) throw new UserInputException($"--label-smoothing: {settings.LabelSmoothing} must be in [0, 0.5)");
            float alpha = r.GetValue(rpoAlpha);
            if (!(alpha >= 0 && float.IsFinite(alpha))) throw new UserInputException($"--rpo-alpha: {alpha} must be ≥ 0");
            return Run(r.GetValue(model)!, r.GetValue(data)!, r.GetValue(val), r.GetValue(valFraction), AlignCommon.ParseKinds(r.GetValue(kinds)),
                r.GetValue(heldout), settings, alpha, r.GetValue(epochs), r.GetValue(output)!, r.GetValue(resume), r.GetValue(template), tuning, training, o.Explicit(r).Contains("steps"), o.Parallel(r));
        });
        return command;
    }

    static int Run(string modelPath, string dataPath, string? valPath, double valFraction, IReadOnlySet<string>? kinds, string? heldoutPath,
        DpoSettings settings, float rpoAlpha, double epochs, string runDir, bool resume, string? template, TuningOptions tuning, TrainingOptions training, bool stepsGiven,
        ParallelChoice? parallel = null)
    {
        string? checkpoint = AlignCommon.CheckRunFolder("dpo", runDir, resume);
        if (!(epochs > 0)) throw new UserInputException($"--epochs: {epochs} must be positive");
        if (!(valFraction >= 0 && valFraction < 1)) throw new UserInputException($"--val-fraction: {valFraction} must be in [0, 1)");
        if (training.BatchSize % 2 != 0) throw new UserInputException($"--batch-size: {training.BatchSize} must be even (a pair takes two rows)");
        if (resume)
        {
            training = ResumedOptions.Read("dpo", checkpoint!, training, stepsGiven);
            if (AlignedModel.ReadSettings(runDir)?["dpo"] is JsonObject d)
            {
                settings = new DpoSettings(d["beta"]!.GetValue<float>(), Enum.Parse<DpoLossType>(d["loss"]!.GetValue<string>()), d["label_smoothing"]!.GetValue<float>());
                rpoAlpha = d["rpo_alpha"]?.GetValue<float>() ?? 0f;
            }
        }

        // 1. Data first.
        var all = AlignCommon.LoadPairs(dataPath, kinds, "--data");
        List<PreferencePair> trainPairs, valPairs;
        if (valPath is not null) { trainPairs = all; valPairs = AlignCommon.LoadPairs(valPath, kinds, "--val"); }
        else (trainPairs, valPairs) = ValidationSplit.Split(all, valFraction, training.Seed);
        var heldoutPrompts = heldoutPath is null ? null : PromptSet.Load(heldoutPath);

        using var policy = AlignCommon.OpenPolicy("dpo", modelPath, tuning, template, training.Seed);
        var decoder = policy.Loaded.Decoder;
        int T = Math.Min(training.BlockSize, decoder.Config.MaxPositions - policy.Method.VirtualTokens);
        training = training with { BlockSize = T };
        var (train, droppedTrain) = AlignCommon.Encode(policy, trainPairs, T);
        var (val, droppedVal) = AlignCommon.Encode(policy, valPairs, T);
        if (train.Count == 0) throw new UserInputException($"dpo: {dataPath}: no pair fits rows of {T} tokens");
        training = AlignCommon.StepsFor(training, train.Count, epochs).Validate();
        bool average = settings.Loss == DpoLossType.Ipo;
        int pad = policy.Loaded.PadId ?? policy.Loaded.EosId ?? 0;
        Console.Error.WriteLine($"dpo: {decoder.Config.ModelType} {decoder.ParameterCount / 1e6:F2}M parameters, method {policy.Method.Name}: " +
            $"{policy.Method.TrainableCount:N0} trainable; {train.Count} pairs ({droppedTrain} too long), {val.Count} held out ({droppedVal} too long); " +
            $"loss {settings.Loss.ToString().ToLowerInvariant()}, β {settings.Beta}, ε {settings.LabelSmoothing}, rpo α {rpoAlpha}; rows of {T}, batch {training.BatchSize / 2} pairs × {training.GradAccum}, " +
            $"{training.Steps} steps, lr {training.LearningRate:G3}");

        var before = resume ? null : AlignCommon.HeldOut("dpo", policy, heldoutPrompts, "before");
        var valRefBefore = ValidationPreference(decoder, policy.Method, val, training.BatchSize, T, pad, average);

        // 2. The first write. The reference's log-probabilities: computed now from the policy as it starts, or read
        // back on resume (the weights have moved since).
        Directory.CreateDirectory(runDir);
        string referencePath = Path.Combine(runDir, ReferenceLogProbs.FileName);
        float[] refC, refR;
        if (resume) (refC, refR) = ReferenceLogProbs.Load(referencePath, train.Count);
        else
        {
            AlignCommon.WriteSettings(runDir, "dpo", modelPath, policy, new JsonObject
            {
                ["dpo"] = new JsonObject { ["beta"] = settings.Beta, ["loss"] = settings.Loss.ToString(), ["label_smoothing"] = settings.LabelSmoothing, ["rpo_alpha"] = rpoAlpha },
            });
            (refC, refR) = ReferenceLogProbs.Compute(decoder, policy.Method, train, training.BatchSize, T, pad, average);
            ReferenceLogProbs.Save(referencePath, refC, refR);
        }
        var clock = System.Diagnostics.Stopwatch.StartNew();
        int startStep;
        using (var trainer = new Trainer(decoder, training, new PairBatchSource(train, training.Seed, pad), null, runDir, policy.TokenizerJson,
                   new DpoObjective(policy.Method, refC, refR, settings, rpoAlpha), policy.Method.Trainable, method: policy.Method, distributed: parallel?.Join()))
        {
            if (checkpoint is not null) trainer.Resume(checkpoint);
            startStep = trainer.Step;
            int code = PretrainVerb.Train(trainer, runDir, "dpo");
            if (code != 0) return code;
        }
        double seconds = clock.Elapsed.TotalSeconds;

        // 3. Held-out: how often the policy now prefers the chosen response more than the reference did.
        var valAfter = ValidationPreference(decoder, policy.Method, val, training.BatchSize, T, pad, average);
        double? accuracy = null, margin = null;
        if (val.Count > 0)
        {
            int correct = 0;
            double sum = 0;
            for (int i = 0; i < val.Count; i++)
            {
                double m = settings.Beta * ((valAfter.Chosen[i] - valRefBefore.Chosen[i]) - (valAfter.Rejected[i] - valRefBefore.Rejected[i]));
                if (m > 0) correct++;
                sum += m;
            }
            accuracy = (double)correct / val.Count;
            margin = sum / val.Count;
            Console.Error.WriteLine($"dpo: held-out rewards/accuracies {accuracy:P1}, rewards/margins {margin:F4} on {val.Count} pairs");
        }
        var after = AlignCommon.HeldOut("dpo", policy, heldoutPrompts, "after");
        double tokensPerSecond = (training.Steps - startStep) * (double)training.BatchSize * T * training.GradAccum * Lathe.Distributed.Job.LauncherSize / Math.Max(seconds, 1e-9); // all ranks
        BenchSupport.PrintJson([("align", "dpo"), ("loss", settings.Loss.ToString().ToLowerInvariant()), ("beta", settings.Beta), ("steps", training.Steps),
            ("pairs", train.Count), ("heldout_pairs", val.Count), ("rewards_accuracies", accuracy), ("rewards_margins", margin),
            .. AlignCommon.HeldOutFields(before, after), ("tokens_per_s", tokensPerSecond), ("wall_s", seconds), ("peak_rss_mb", BenchSupport.PeakRssMb())]);
        return 0;
    }

    // The policy's per-pair log-probabilities of held-out pairs (as the objective computes them), without gradients.
    static (float[] Chosen, float[] Rejected) ValidationPreference(Lathe.Models.CausalLM decoder, ITuningMethod method, List<EncodedPair> pairs,
        int B, int T, int pad, bool average) =>
        pairs.Count == 0 ? ([], []) : ReferenceLogProbs.Compute(decoder, method, pairs, B, T, pad, average);
}
