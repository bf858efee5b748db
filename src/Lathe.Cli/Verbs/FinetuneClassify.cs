using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lathe.Formats;
using Lathe.IO;
using Lathe.Models;
using Lathe.Tensors.Threading;
using Lathe.Training;
using Lathe.Tuning;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe finetune --task classify`: a BERT checkpoint fine-tuned as a sequence classifier on labelled texts
/// (JSONL of {"text","label"}, or a SpamAssassin data folder) with full fine-tuning, LoRA or bottleneck adapters, through
/// <see cref="ClassifierFineTune.Run"/>; prints held-out accuracy and F1 against the majority-class baseline, a JSON
/// line last.</summary>
/// <remarks>
/// <para>The run folder: <c>finetune.json</c> (task, method, options), <c>classification.json</c> (held-out scores),
/// <c>metrics.jsonl</c>, <c>loss.svg</c> and <c>checkpoint/</c> as ClassifierFineTune writes it — config.json (the
/// classifier's, with id2label), model.safetensors (the whole BertClassifier: for full the tuned model; for lora/adapter
/// the frozen base with the trained classifier head), tokenizer.json, optimizer and trainer state. For lora/adapter the
/// same checkpoint/ also holds the method's adapter folder files (<c>adapter_config.json</c> + <c>adapter_model.safetensors</c>)
/// in PEFT's SEQ_CLS shape (<see cref="ClassifierHeadFiles"/>): task_type SEQ_CLS, modules_to_save
/// ["classifier", "score"], the head under <c>base_model.model.classifier.weight/bias</c> beside the method's tensors.
/// So the head is saved twice, identically: in model.safetensors (Lathe's classifier) and in the adapter (PEFT's).</para>
/// <para>Only full fine-tuning resumes: the trainer's periodic checkpoints of a lora/adapter run hold the model, not the
/// adapter (ClassifierFineTune trains through a trainable set, not a tuning method).</para>
/// </remarks>
internal static class FinetuneClassify
{
    public const string Classify = "classify", Chat = "chat";
    static readonly string[] Supported = [TuningOptions.Full, TuningOptions.Lora, TuningOptions.Adapter];
    const string SettingsFile = "finetune.json";

    /// <summary>What a classification run was started with (finetune.json); --resume reads it back.</summary>
    sealed record Settings(string Task, string Method, TuningOptions Tuning, double HeldOutFraction);

    public static Option<string?> TaskOption() => new("--task")
    {
        Description = "classify (a BERT sequence classifier on {\"text\",\"label\"} JSONL or a SpamAssassin folder) or chat (default: classify for a bert checkpoint, else chat).",
    };

    public static Option<double> HeldOutFractionOption() => new("--heldout-fraction")
    {
        Description = "Classify: share of --data held out (seeded) for the accuracy/F1 evaluation.", DefaultValueFactory = _ => 0.2,
    };

    /// <summary>True for --task classify, or no --task and a bert checkpoint as --model; an option of the other task
    /// given explicitly is a one-line error naming it.</summary>
    public static bool IsClassify(ParseResult r, Option<string?> task, string modelPath, Option<double> heldOutFraction, params Option[] chatOnly)
    {
        bool classify = r.GetValue(task) switch
        {
            Classify => true,
            Chat => false,
            null => ModelTypeOf(modelPath) == "bert",
            var t => throw new UserInputException($"--task: '{t}' is not {Classify} or {Chat}"),
        };
        foreach (var option in classify ? chatOnly : [heldOutFraction])
            if (r.GetResult(option) is { Implicit: false })
                throw new UserInputException($"{option.Name}: only for --task {(classify ? Chat : Classify)} (this run is --task {(classify ? Classify : Chat)})");
        return classify;
    }

    // The model_type of a checkpoint folder (or run folder); null for a file (GGUF) or a folder without one.
    static string? ModelTypeOf(string path)
    {
        if (!Directory.Exists(path) || Checkpoint.Find(path) is not { } dir) return null;
        try { return JsonNode.Parse(File.ReadAllText(Path.Combine(dir, Checkpoint.ConfigFile)))?["model_type"]?.GetValue<string>(); }
        catch (Exception e) when (e is JsonException or InvalidOperationException) { return null; }
    }

    public static int Run(string modelPath, string dataPath, string runDir, bool resume, TuningOptions tuning, double heldOutFraction,
        TrainingOptions training, double epochs, int threads, bool stepsGiven, bool blockGiven, ParallelChoice? parallel = null)
    {
        ComputePool.SetSharedThreads(threads);
        if (!Supported.Contains(tuning.Method))
            throw new UserInputException($"--method: '{tuning.Method}' is not supported for --task classify (BERT); use {string.Join(", ", Supported)}");
        tuning.Validate();
        if (resume)
        {
            var saved = JsonSerializer.Deserialize<Settings>(File.ReadAllText(Path.Combine(runDir, SettingsFile)))
                ?? throw new InvalidDataException($"{Path.Combine(runDir, SettingsFile)}: empty");
            if (saved.Task != Classify) throw new UserInputException($"--resume: {runDir} is a --task {saved.Task} run");
            (tuning, heldOutFraction) = (saved.Tuning, saved.HeldOutFraction);
            if (tuning.Method != TuningOptions.Full)
                throw new UserInputException($"--resume: a --task classify run resumes with --method full only ({runDir} is {tuning.Method}); start it again");
            var state = TrainerState.Load(Path.Combine(Checkpoint.ResolveState(runDir), Checkpoint.StateFile)).Options;
            training = stepsGiven ? state with { Steps = training.Steps } : state;
        }
        else if (Directory.Exists(Path.Combine(runDir, Checkpoint.Folder)))
            throw new UserInputException($"finetune: {runDir} already holds a checkpoint; pass --resume to continue it or choose another --out");
        if (!(epochs > 0)) throw new UserInputException($"--epochs: {epochs} must be positive");
        if (!(heldOutFraction > 0 && heldOutFraction < 1)) throw new UserInputException($"--heldout-fraction: {heldOutFraction} must be in (0, 1)");

        // 1. The base's config and the data, checked before anything is written (ClassifierFineTune reads them again).
        string baseDir = Checkpoint.Resolve(modelPath);
        var config = ModelConfig.Load(Path.Combine(baseDir, Checkpoint.ConfigFile));
        if (config.ModelType != "bert")
            throw new UserInputException($"--task classify: {modelPath} is a {config.ModelType} model; classification needs a bert checkpoint");
        var texts = ClassifierFineTune.ReadTexts(dataPath);
        int trainCount = texts.Split(heldOutFraction, training.Seed).Train.Items.Count;
        if (!blockGiven && training.BlockSize > config.MaxPositions) training = training with { BlockSize = config.MaxPositions };
        if (!resume)
        {
            if (training.Steps == 0)
            {
                int perEpoch = TrainingOptionSet.StepsPerPass((int)Math.Ceiling((double)trainCount / training.BatchSize), training);
                training = training with { Steps = Math.Max(1, (int)Math.Ceiling(perEpoch * epochs)) };
            }
            // No validation stream in a classification run: the held-out texts are scored once, at the end.
            training = training with { WarmupSteps = Math.Min(training.WarmupSteps, training.Steps / 5), EvalEvery = 0 };
        }
        training.Validate();

        // Under mpirun the job starts here, after the checks every rank makes alike; rank 0 writes the files.
        var distributed = parallel?.Join();
        bool root = distributed is null || distributed.World.IsRoot;
        ITuningMethod? method = null;
        long trainable = 0;
        var clock = Stopwatch.StartNew();
        ClassifierFineTuneResult result;
        using var console = new TrainingConsole();
        try
        {
            result = ClassifierFineTune.Run(new ClassifierFineTuneOptions
            {
                Data = dataPath, BaseModel = modelPath, HeldOutFraction = heldOutFraction, Training = training, RunDir = runDir, Resume = resume,
                Distributed = distributed,
            }, console.Token, line => Console.Error.WriteLine("finetune: " + line), console.Report, model =>
            {
                // Reached once the data is tokenized and the classifier built: the run's first write follows.
                IReadOnlyList<ModelParameter>? set = null;
                if (tuning.Method != TuningOptions.Full || tuning.Layers is { Count: > 0 })
                {
                    method = TuningMethods.Create(model, tuning, training.Seed);
                    // PEFT's modules_to_save: the fresh head trains whole beside the method's parameters.
                    set = method.Trainable.Concat(model.HeadParameters.Where(h => !method.Trainable.Any(p => ReferenceEquals(p.Value, h.Value)))).ToList();
                }
                trainable = (set ?? model.Parameters).Sum(p => (long)p.Value.Length);
                Console.Error.WriteLine($"finetune: bert classifier {model.ParameterCount / 1e6:F2}M parameters, labels {string.Join("/", model.Labels.Names)}, method {tuning.Method}: " +
                    $"{trainable:N0} trainable, rows of ≤{training.BlockSize}, batch {training.BatchSize}×{training.GradAccum}, {training.Steps} steps, lr {training.LearningRate:G3}, {threads} threads");
                Directory.CreateDirectory(runDir);
                if (!resume && root) AtomicFile.WriteAllText(Path.Combine(runDir, SettingsFile),
                    JsonSerializer.Serialize(new Settings(Classify, tuning.Method, tuning, heldOutFraction), new JsonSerializerOptions { WriteIndented = true }));
                return set!;
            });
            console.EndLine();
            // ClassifierFineTune wrote checkpoint/ (the whole classifier); a method's own files go beside it, with the head.
            if (method is not null && method.Name != TuningOptions.Full && root)
            {
                string checkpoint = Checkpoint.Resolve(runDir);
                method.Save(checkpoint);
                ClassifierHeadFiles.AddHead(checkpoint, Path.Combine(checkpoint, Checkpoint.ModelFile));
            }
        }
        catch (TrainingDivergedException e)
        {
            console.EndLine();
            Console.Error.WriteLine($"lathe: {e.Message}");
            return 1;
        }
        finally { method?.Dispose(); }
        double seconds = clock.Elapsed.TotalSeconds;
        if (!root) return result.Outcome == TrainingOutcome.Interrupted ? 130 : 0;

        var (held, majority) = (result.HeldOut, result.Majority);
        string positive = held.Labels.Count == 2 ? $"F1({held.Labels.Names[1]})" : "macro-F1";
        Console.Error.WriteLine($"finetune: held out {held.Total} texts: accuracy {held.Accuracy:F4}, {positive} {held.F1:F4}, macro-F1 {held.MacroF1:F4}; " +
            $"majority class: accuracy {majority.Accuracy:F4}, {positive} {majority.F1:F4}");
        bool interrupted = result.Outcome == TrainingOutcome.Interrupted;
        Console.Error.WriteLine(interrupted
            ? $"finetune: interrupted; checkpoint in {Path.Combine(runDir, Checkpoint.Folder)}" + (tuning.Method == TuningOptions.Full ? " (continue with --resume)" : "")
            : $"finetune: done; checkpoint in {Path.Combine(runDir, Checkpoint.Folder)}, scores in {Path.Combine(runDir, "classification.json")}");
        BenchSupport.PrintJson(("finetune", tuning.Method), ("task", Classify), ("outcome", result.Outcome.ToString().ToLowerInvariant()),
            ("steps", training.Steps), ("trainable", trainable), ("train_examples", result.TrainExamples), ("held_out", held.Total),
            ("accuracy", held.Accuracy), ("f1", held.F1), ("macro_f1", held.MacroF1), ("loss", double.IsNaN(held.Loss) ? null : held.Loss),
            ("majority_accuracy", majority.Accuracy), ("majority_f1", majority.F1), ("seconds", Math.Round(seconds, 1)));
        return interrupted ? 130 : 0;
    }
}
