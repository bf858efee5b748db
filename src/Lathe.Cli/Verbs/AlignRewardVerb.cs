using System.CommandLine;
using System.Text.Json.Nodes;
using Lathe.Alignment;
using Lathe.Data;
using Lathe.Formats;
using Lathe.Tensors.Autograd;
using Lathe.Tensors.Threading;
using Lathe.Training;
using Lathe.Tuning;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe align reward`: trains a reward model (a decoder with HF's scalar <c>score</c> head on the last
/// token) on preference pairs with the Bradley–Terry loss, optionally with Llama 2's margin, and reports its pairwise
/// accuracy on held-out pairs; `--score` scores one prompt + response with a trained one. A helpfulness and a safety
/// model for Llama 2's combination are two runs over different --kinds, told apart by --kind.</summary>
internal static class AlignRewardVerb
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Trunk to start from (an SFT checkpoint or run folder); with --score, the reward model's run folder.", Required = true };
        var data = new Option<string?>("--data") { Description = "Preference pairs: JSONL of {\"prompt\",\"chosen\",\"rejected\"} (TRL's shape; .gz too)." };
        var val = new Option<string?>("--val") { Description = "Held-out pairs for pairwise accuracy (default: --val-fraction of --data)." };
        var valFraction = new Option<double>("--val-fraction") { Description = "Fraction of --data held out when --val is not given.", DefaultValueFactory = _ => 0.1 };
        var kinds = new Option<string?>("--kinds") { Description = "Train only on pairs of these kinds, e.g. \"unsafe,benign\" (the pairs' \"kind\" field)." };
        var kind = new Option<string>("--kind") { Description = "What this reward model judges, recorded in reward.json: helpfulness or safety (Llama 2), or any name.", DefaultValueFactory = _ => "helpfulness" };
        var margin = new Option<float>("--margin") { Description = "Llama 2's margin m in −log σ(r_c − r_r − m), for every pair (0: plain Bradley–Terry).", DefaultValueFactory = _ => 0 };
        var epochs = new Option<double>("--epochs") { Description = "Passes over the pairs (sets --steps when it is not given).", DefaultValueFactory = _ => 1 };
        var output = new Option<string?>("--out") { Description = "Run folder." };
        var resume = new Option<bool>("--resume") { Description = "Continue the run in --out where its checkpoint left off." };
        var template = new Option<string?>("--template") { Description = $"Chat template: {string.Join(", ", ChatTemplate.Names)} (default: the model's own, else chatml)." };
        var score = new Option<bool>("--score") { Description = "Score --prompt and --response with the reward model at --model and print the reward." };
        var prompt = new Option<string?>("--prompt") { Description = "With --score: the user's message." };
        var response = new Option<string?>("--response") { Description = "With --score: the assistant's reply." };
        var tuningSet = new TuningOptionSet(TuningOptions.Full);
        var o = new TrainingOptionSet(steps: 0, batch: 8, block: 128, lr: 1e-4f, warmup: 10, evalEvery: 0);
        var command = new Command("reward", "Train a reward model on preference pairs (Bradley–Terry, optional margin), or --score a response with one.")
        {
            model, data, val, valFraction, kinds, kind, margin, epochs, output, resume, template, score, prompt, response,
        };
        tuningSet.AddTo(command);
        o.AddTo(command);
        command.SetAction(r =>
        {
            ComputePool.SetSharedThreads(o.Threads(r));
            if (r.GetValue(score)) return Score(r.GetValue(model)!, r.GetValue(prompt), r.GetValue(response));
            var training = o.Read(r, allowZeroSteps: true);
            var tuning = tuningSet.Read(r);
            if (r.GetResult(o.Lr) is null or { Implicit: true } && tuning.Method != TuningOptions.Full) training = training with { LearningRate = 1e-3f };
            return Train(r.GetValue(model)!, r.GetValue(data) ?? throw new UserInputException("reward: --data is required to train (or pass --score)"),
                r.GetValue(val), r.GetValue(valFraction), AlignCommon.ParseKinds(r.GetValue(kinds)), r.GetValue(kind)!, r.GetValue(margin),
                r.GetValue(epochs), r.GetValue(output) ?? throw new UserInputException("reward: --out is required to train"), r.GetValue(resume),
                r.GetValue(template), tuning, training, o.Explicit(r).Contains("steps"), o.Parallel(r));
        });
        return command;
    }

    static int Train(string modelPath, string dataPath, string? valPath, double valFraction, IReadOnlySet<string>? kinds, string kind, float margin,
        double epochs, string runDir, bool resume, string? template, TuningOptions tuning, TrainingOptions training, bool stepsGiven,
        ParallelChoice? parallel = null)
    {
        string? checkpoint = AlignCommon.CheckRunFolder("reward", runDir, resume);
        if (!(epochs > 0)) throw new UserInputException($"--epochs: {epochs} must be positive");
        if (!(valFraction >= 0 && valFraction < 1)) throw new UserInputException($"--val-fraction: {valFraction} must be in [0, 1)");
        if (!float.IsFinite(margin) || margin < 0) throw new UserInputException($"--margin: {margin} must be ≥ 0");
        if (training.BatchSize % 2 != 0) throw new UserInputException($"--batch-size: {training.BatchSize} must be even (a pair takes two rows)");
        if (resume)
        {
            training = ResumedOptions.Read("reward", checkpoint!, training, stepsGiven);
        }

        // 1. Data first: every pair read and checked before the model is loaded.
        var all = AlignCommon.LoadPairs(dataPath, kinds, "--data");
        List<PreferencePair> trainPairs, valPairs;
        if (valPath is not null) { trainPairs = all; valPairs = AlignCommon.LoadPairs(valPath, kinds, "--val"); }
        else (trainPairs, valPairs) = ValidationSplit.Split(all, valFraction, training.Seed);

        using var policy = AlignCommon.OpenPolicy("reward", modelPath, tuning, template, training.Seed);
        var decoder = policy.Loaded.Decoder;
        int T = Math.Min(training.BlockSize, decoder.Config.MaxPositions - policy.Method.VirtualTokens);
        training = training with { BlockSize = T };
        var (train, droppedTrain) = AlignCommon.Encode(policy, trainPairs, T, margin);
        var (heldout, droppedVal) = AlignCommon.Encode(policy, valPairs, T, margin);
        if (train.Count == 0) throw new UserInputException($"reward: {dataPath}: no pair fits rows of {T} tokens");
        training = AlignCommon.StepsFor(training, train.Count, epochs).Validate();
        var reward = new RewardModel(decoder) { Info = new RewardInfo { Kind = kind } };
        ITuningMethod method = new HeadedMethod(policy.Method, [reward.Head], reward.SaveHead, reward.LoadHead);
        Console.Error.WriteLine($"reward: {decoder.Config.ModelType} {decoder.ParameterCount / 1e6:F2}M parameters, method {method.Name}: " +
            $"{method.TrainableCount:N0} trainable; {train.Count} pairs ({droppedTrain} too long), {heldout.Count} held out ({droppedVal} too long); " +
            $"rows of {T}, batch {training.BatchSize / 2} pairs × {training.GradAccum}, {training.Steps} steps, lr {training.LearningRate:G3}");

        // 2. The first write: every input has been checked.
        Directory.CreateDirectory(runDir);
        if (!resume) AlignCommon.WriteSettings(runDir, "reward", modelPath, policy, new JsonObject { ["kind"] = kind, ["margin"] = margin });
        int pad = policy.Loaded.PadId ?? policy.Loaded.EosId ?? 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        int startStep;
        using (var trainer = new Trainer(decoder, training, new PairBatchSource(train, training.Seed, pad), null, runDir, policy.TokenizerJson,
                   new RewardObjective(reward, policy.Method), method.Trainable, method: method, distributed: parallel?.Join()))
        {
            if (checkpoint is not null) trainer.Resume(checkpoint);
            startStep = trainer.Step;
            int code = PretrainVerb.Train(trainer, runDir, "reward");
            if (code != 0) return code;
        }
        double seconds = clock.Elapsed.TotalSeconds;

        // 3. Held-out accuracy, and the score statistics Llama 2's whitening uses, saved beside the head.
        var (accuracy, _) = PairwiseAccuracy(reward, policy.Method, heldout, training.BatchSize, T, pad);
        var (_, stats) = PairwiseAccuracy(reward, policy.Method, train, training.BatchSize, T, pad);
        reward.Info = reward.Info with { ScoreMean = stats.Mean, ScoreStd = stats.Std, PairwiseAccuracy = heldout.Count > 0 ? accuracy : null };
        reward.SaveHead(Path.Combine(runDir, Checkpoint.Folder));
        Console.Error.WriteLine($"reward: held-out pairwise accuracy {accuracy:P1} on {heldout.Count} pairs; training scores mean {stats.Mean:F3}, std {stats.Std:F3}");
        double tokensPerSecond = (training.Steps - startStep) * (double)training.BatchSize * T * training.GradAccum * Lathe.Distributed.Job.LauncherSize / Math.Max(seconds, 1e-9); // all ranks
        BenchSupport.PrintJson(("align", "reward"), ("kind", kind), ("steps", training.Steps), ("pairs", train.Count), ("heldout_pairs", heldout.Count),
            ("pairwise_accuracy", heldout.Count > 0 ? accuracy : null), ("score_mean", stats.Mean), ("score_std", stats.Std),
            ("tokens_per_s", tokensPerSecond), ("wall_s", seconds), ("peak_rss_mb", BenchSupport.PeakRssMb()));
        return 0;
    }

    /// <summary>The fraction of pairs whose chosen response scores higher, and the mean and standard deviation of every
    /// response's score — batched, without gradients.</summary>
    internal static (double Accuracy, (double Mean, double Std) Scores) PairwiseAccuracy(RewardModel reward, ITuningMethod? method,
        IReadOnlyList<EncodedPair> pairs, int B, int T, int pad)
    {
        if (pairs.Count == 0) return (double.NaN, (0, 1));
        var (chosen, rejected) = PairBatchSource.EvaluateInOrder(pairs, B, T, pad, rows => reward.Scores(method, rows).AsSpan().ToArray());
        int correct = 0;
        for (int i = 0; i < pairs.Count; i++) if (chosen[i] > rejected[i]) correct++;
        var all = chosen.Concat(rejected).Select(x => (double)x).ToArray();
        double mean = all.Average();
        double std = Math.Sqrt(all.Sum(x => (x - mean) * (x - mean)) / Math.Max(1, all.Length - 1));
        return ((double)correct / pairs.Count, (mean, std > 0 ? std : 1));
    }

    static int Score(string runPath, string? prompt, string? response)
    {
        if (prompt is null || response is null) throw new UserInputException("reward --score: give --prompt and --response");
        using var model = AlignedModel.Open(runPath);
        var reward = new RewardModel(model.Loaded.Decoder);
        reward.LoadHead(AlignedModel.FilesOf(runPath));
        var chat = model.Template is { } t ? ChatTemplate.Named(t) : ChatTemplate.Detect(model.Loaded.ChatTemplate);
        var encoder = new SftEncoder(chat, model.Loaded.Tokenizer, model.Loaded.AddBos ? model.Loaded.BosId : null, model.Loaded.Model.Config.MaxPositions, OverlongPolicy.Drop);
        var example = encoder.Encode([new ChatMessage("user", prompt), new ChatMessage("assistant", response)]);
        int context = model.Loaded.Model.Config.MaxPositions;
        if (example.Ids.Length > context) throw new UserInputException($"reward --score: the prompt and response take {example.Ids.Length} tokens, more than the context of {context}");
        var rows = new ResponseRows(1, Math.Max(2, example.Ids.Length));
        rows.Set(0, example, 0);
        rows.Complete();
        float value;
        using (var tape = new Tape())
        using (tape.Activate())
        using (Tape.NoGrad())
            value = reward.Scores(model.Adapter, rows).AsSpan()[0];
        double whitened = (value - reward.Info.ScoreMean) / reward.Info.ScoreStd;
        Console.WriteLine($"{value:R}");
        BenchSupport.PrintJson(("reward", value), ("kind", reward.Info.Kind), ("whitened", whitened), ("p_preferred", 1 / (1 + Math.Exp(-value))));
        return 0;
    }
}
