using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Lathe.Data;
using Lathe.Evaluation;
using Lathe.Formats;
using Lathe.Inference;
using Lathe.IO;
using Lathe.Tensors.Quantized;
using Lathe.Tensors.Threading;
using Lathe.Training;
using Lathe.Training.Objectives;
using Lathe.Tuning;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe finetune`: supervised fine-tuning of a checkpoint or GGUF base on chat JSONL with one method — full,
/// lora, qlora, prefix, prompt or adapter — into a run folder (checkpoint/ with the adapter files or the tuned model,
/// metrics.jsonl, loss.svg, finetune.json). Every input is read and checked before the first byte is written.
/// --task classify (the default for a bert checkpoint) is <see cref="FinetuneClassify"/>'s.</summary>
internal static class FinetuneVerb
{
    /// <summary>What a run was started with (finetune.json in the run folder); --resume reads it back.</summary>
    sealed record RunSettings(TuningOptions Tuning, string Template, string Packing, string Overlong);

    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Base: checkpoint folder (or run folder), Hugging Face folder or .gguf file.", Required = true };
        var data = new Option<string>("--data") { Description = "Training conversations: JSONL of {\"messages\":[…]} or {\"prompt\":…,\"completion\":…} (.gz too); classify: JSONL of {\"text\",\"label\"} or a SpamAssassin data folder.", Required = true };
        var val = new Option<string?>("--val") { Description = "Validation JSONL (default: --val-fraction of --data, held out with the seed)." };
        var valFraction = new Option<double>("--val-fraction") { Description = "Fraction of --data held out for validation when --val is not given.", DefaultValueFactory = _ => 0.05 };
        var heldout = new Option<string?>("--heldout") { Description = "Held-out questions (JSONL, last message the reference answer): exact match of greedy answers, before and after." };
        var output = new Option<string>("--out") { Description = "Run folder.", Required = true };
        var resume = new Option<bool>("--resume") { Description = "Continue the run in --out exactly where its checkpoint left off." };
        var template = new Option<string?>("--template") { Description = $"Chat template: {string.Join(", ", ChatTemplate.Names)} (default: the model's own, else chatml)." };
        var packing = new Option<string>("--packing") { Description = "packed (examples back to back, attending only within each) or padded (one per row).", DefaultValueFactory = _ => "packed" };
        var overlong = new Option<string>("--overlong") { Description = "A conversation longer than the context: truncate (keep its start) or drop. Counted either way.", DefaultValueFactory = _ => "truncate" };
        var epochs = new Option<double>("--epochs") { Description = "Passes over the training set (sets --steps when it is not given).", DefaultValueFactory = _ => 1 };
        var tuningSet = new TuningOptionSet();
        var task = FinetuneClassify.TaskOption();
        var heldoutFraction = FinetuneClassify.HeldOutFractionOption();
        var o = new TrainingOptionSet(steps: 0, batch: 8, block: 256, lr: 1e-3f, warmup: 20, evalEvery: 50);
        var command = new Command("finetune", "Fine-tune a model on chat JSONL (full, lora, qlora, prefix, prompt or adapter) or a BERT classifier on labelled texts (--task classify: full, lora or adapter); Ctrl-C writes a checkpoint.")
        {
            model, data, val, valFraction, heldout, output, resume, template, packing, overlong, epochs, task, heldoutFraction,
        };
        tuningSet.AddTo(command);
        o.AddTo(command);
        command.SetAction(r =>
        {
            var tuning = tuningSet.Read(r);
            var settings = new RunSettings(tuning, r.GetValue(template) ?? "", r.GetValue(packing)!, r.GetValue(overlong)!);
            var training = o.Read(r, allowZeroSteps: true);
            if (r.GetResult(o.Lr) is null or { Implicit: true }) training = training with { LearningRate = DefaultLearningRate(tuning.Method) };
            if (FinetuneClassify.IsClassify(r, task, r.GetValue(model)!, heldoutFraction, val, valFraction, heldout, template, packing, overlong))
                return FinetuneClassify.Run(r.GetValue(model)!, r.GetValue(data)!, r.GetValue(output)!, r.GetValue(resume), tuning, r.GetValue(heldoutFraction),
                    training, r.GetValue(epochs), o.Threads(r), o.Explicit(r).Contains("steps"), r.GetResult(o.BlockSize) is { Implicit: false }, o.Parallel(r));
            return Run(r.GetValue(model)!, r.GetValue(data)!, r.GetValue(val), r.GetValue(valFraction), r.GetValue(heldout), r.GetValue(output)!,
                r.GetValue(resume), settings, training, r.GetValue(epochs), o.Threads(r), o.Explicit(r).Contains("steps"), o.Parallel(r));
        });
        return command;
    }

    /// <summary>Learning rates that work for each method on small models (adapters and soft prompts train a few
    /// parameters from scratch and want larger steps than the base's own weights).</summary>
    static float DefaultLearningRate(string method) => method switch
    {
        TuningOptions.Full => 1e-4f,
        TuningOptions.Prompt => 3e-2f,
        TuningOptions.Prefix => 3e-3f,
        _ => 1e-3f,
    };

    internal static QuantType ParseQuant(string s) => s.ToLowerInvariant() switch
    {
        "q4_0" => QuantType.Q4_0,
        "q8_0" => QuantType.Q8_0,
        _ => throw new UserInputException($"--quant: '{s}' is not q4_0 or q8_0"),
    };

    internal static int[]? ParseLayers(string? s)
    {
        if (string.IsNullOrWhiteSpace(s)) return null;
        var parts = s.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var layers = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out layers[i]))
                throw new UserInputException($"--layers: '{parts[i]}' is not a layer number");
        return layers;
    }

    const string SettingsFile = "finetune.json";

    static int Run(string modelPath, string dataPath, string? valPath, double valFraction, string? heldoutPath, string runDir, bool resume,
        RunSettings settings, TrainingOptions training, double epochs, int threads, bool stepsGiven, ParallelChoice? parallel = null)
    {
        ComputePool.SetSharedThreads(threads);
        string? checkpoint = null;
        if (resume)
        {
            checkpoint = Checkpoint.ResolveState(runDir);
            settings = JsonSerializer.Deserialize<RunSettings>(File.ReadAllText(Path.Combine(runDir, SettingsFile)))
                ?? throw new InvalidDataException($"{Path.Combine(runDir, SettingsFile)}: empty");
            training = ResumedOptions.Read("finetune", checkpoint, training, stepsGiven);
        }
        else if (Directory.Exists(Path.Combine(runDir, Checkpoint.Folder)))
            throw new UserInputException($"finetune: {runDir} already holds a checkpoint; pass --resume to continue it or choose another --out");
        if (!(epochs > 0)) throw new UserInputException($"--epochs: {epochs} must be positive");
        if (!(valFraction >= 0 && valFraction < 1)) throw new UserInputException($"--val-fraction: {valFraction} must be in [0, 1)");
        var tuning = settings.Tuning.Validate();
        var mode = settings.Packing switch
        {
            "packed" => SequenceMode.Packed,
            "padded" => SequenceMode.Padded,
            var p => throw new UserInputException($"--packing: '{p}' is not packed or padded"),
        };
        var policy = settings.Overlong switch
        {
            "truncate" => OverlongPolicy.Truncate,
            "drop" => OverlongPolicy.Drop,
            var p => throw new UserInputException($"--overlong: '{p}' is not truncate or drop"),
        };
        // Prompt tuning's virtual rows are per example, so its examples cannot share a row.
        if (tuning.Method == TuningOptions.Prompt) mode = SequenceMode.Padded;
        // Prefix rows sit in every attention layer, before each sequence: packing would let one example see another's.
        if (tuning.Method == TuningOptions.Prefix) mode = SequenceMode.Padded;

        // 1. The data, read and checked before the model is loaded.
        var conversations = ChatJsonl.Read(dataPath);
        List<ChatConversation> trainSet, valSet;
        if (valPath is not null) { trainSet = conversations; valSet = ChatJsonl.Read(valPath); }
        else (trainSet, valSet) = ValidationSplit.Split(conversations, valFraction, training.Seed);
        var heldout = heldoutPath is null ? null : ChatJsonl.Read(heldoutPath);

        // 2. The base: quantized GGUF weights stay quantized only under QLoRA; every other method trains from F32.
        bool quantizedBase = tuning.Method == TuningOptions.Qlora;
        using var loaded = ModelLoader.Load(modelPath, new LoadOptions { Dequantize = !quantizedBase });
        if (tuning.Method == TuningOptions.Full && loaded.Format == "gguf")
            throw new UserInputException("finetune: --method full on a GGUF base is not supported (its tokenizer cannot be written as tokenizer.json); use lora, qlora, prefix, prompt or adapter");
        ChatTemplate chat;
        try { chat = settings.Template.Length > 0 ? ChatTemplate.Named(settings.Template) : ChatTemplate.Detect(loaded.ChatTemplate); }
        catch (ArgumentException e) { throw new UserInputException("finetune: --template: " + e.Message); }
        string? tokenizerJson = loaded.Format == "gguf" ? null : Path.Combine(loaded.Source, Checkpoint.TokenizerFile);
        var method = TuningMethods.Create(loaded.Model, tuning, training.Seed, loaded.Tokenizer, tokenizerJson);
        try
        {
            int maxT = loaded.Model.Config.MaxPositions - method.VirtualTokens;
            if (training.BlockSize > maxT) training = training with { BlockSize = maxT };
            int T = training.BlockSize;
            var encoder = new SftEncoder(chat, loaded.Tokenizer, loaded.AddBos ? loaded.BosId : null, T, policy);
            var (trainExamples, trainStats) = encoder.EncodeAll(trainSet);
            var (valExamples, valStats) = encoder.EncodeAll(valSet);
            if (trainExamples.Count == 0) throw new UserInputException($"finetune: {dataPath}: no usable conversations ({trainStats})");
            int pad = loaded.PadId ?? loaded.EosId ?? 0;
            var train = new SftBatchSource(trainExamples, mode, training.Seed, pad);
            var validation = valExamples.Count == 0 ? null : new SftBatchSource(valExamples, mode, training.Seed, pad, shuffle: false, repeat: false);
            if (training.Steps == 0)
            {
                int perEpoch = TrainingOptionSet.StepsPerPass(train.BatchesPerPass(training.BatchSize, T), training);
                training = training with { Steps = Math.Max(1, (int)Math.Ceiling(perEpoch * epochs)) };
            }
            training = training with { WarmupSteps = Math.Min(training.WarmupSteps, training.Steps / 5), EvalEvery = Math.Min(training.EvalEvery, training.Steps),
                EvalBatches = validation is null ? 1 : Math.Max(1, validation.BatchesPerPass(training.BatchSize, T)) };
            training.Validate();

            Console.Error.WriteLine($"finetune: {loaded.Model.Config.ModelType} {loaded.Model.ParameterCount / 1e6:F2}M parameters ({loaded.Format}), method {method.Name}: " +
                $"{method.TrainableCount:N0} trainable, template {chat.Name}, {mode.ToString().ToLowerInvariant()} rows of {T}, batch {training.BatchSize}×{training.GradAccum}, " +
                $"{training.Steps} steps, lr {training.LearningRate:G3}, {threads} threads");
            Console.Error.WriteLine($"finetune: train: {trainStats}");
            Console.Error.WriteLine($"finetune: validation: {valStats}");

            ExactMatchResult? before = null;
            if (heldout is not null && !resume)
            {
                before = Ask(loaded, chat, heldout, method);
                Console.Error.WriteLine($"finetune: held-out exact match before: {before.Correct}/{before.Total} ({before.Accuracy:P1})");
            }

            // 3. The first write: every input has been checked.
            Directory.CreateDirectory(runDir);
            if (!resume) AtomicFile.WriteAllText(Path.Combine(runDir, SettingsFile), JsonSerializer.Serialize(settings with { Template = chat.Name }, new JsonSerializerOptions { WriteIndented = true }));
            using var trainer = new Trainer(loaded.Model, training, train, null, runDir, tokenizerJson, new SftObjective(method), method.Trainable,
                validation, method, parallel?.Join());
            if (checkpoint is not null) trainer.Resume(checkpoint);
            int startStep = trainer.Step;
            var clock = System.Diagnostics.Stopwatch.StartNew();
            int code = PretrainVerb.Train(trainer, runDir, "finetune");
            double seconds = clock.Elapsed.TotalSeconds;
            if (code != 0) return code;
            double validationLoss = trainer.LastValidationLoss ?? double.NaN;   // Run evaluates at the last step
            ExactMatchResult? after = null;
            if (heldout is not null)
            {
                after = Ask(loaded, chat, heldout, method);
                Console.Error.WriteLine($"finetune: held-out exact match after: {after.Correct}/{after.Total} ({after.Accuracy:P1})" +
                    (before is null ? "" : $", before {before.Correct}/{before.Total}"));
            }
            // Tokens/s counts the rows' slots, padding included (what the steps compute over).
            double tokensPerSecond = (trainer.Step - startStep) * (double)training.BatchSize * training.BlockSize * training.GradAccum * Lathe.Distributed.Job.LauncherSize / Math.Max(seconds, 1e-9); // all ranks
            BenchSupport.PrintJson(("finetune", method.Name), ("steps", trainer.Step), ("trainable_params", method.TrainableCount),
                ("tokens_per_s", tokensPerSecond), ("peak_rss_mb", BenchSupport.PeakRssMb()), ("validation_loss", validationLoss),
                ("exact_match", after?.Accuracy), ("exact_match_before", before?.Accuracy), ("heldout", after?.Total));
            return 0;
        }
        finally { method.Dispose(); }
    }


    static ExactMatchResult Ask(LoadedModel loaded, ChatTemplate chat, IReadOnlyList<ChatConversation> questions, ITuningMethod method) =>
        ExactMatch.Evaluate(loaded, chat, questions, promptRows: TuningMethods.ForDecoding(method));
}
