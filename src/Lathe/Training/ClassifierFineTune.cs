using System.Text.Json.Nodes;
using Lathe.Data;
using Lathe.Evaluation;
using Lathe.Formats;
using Lathe.IO;
using Lathe.Models;
using Lathe.Tokenizers;
using Lathe.Training.Objectives;

namespace Lathe.Training;

/// <summary>What a sequence-classification fine-tune reads and how it trains.</summary>
public sealed record ClassifierFineTuneOptions
{
    /// <summary>Labelled texts: a JSONL file or folder (<c>{"text":…, "label":…}</c>), or a SpamAssassin data folder
    /// (subfolders named *ham* / *spam*).</summary>
    public required string Data { get; init; }
    /// <summary>A pre-trained BERT checkpoint (folder or run folder) to put the head on; null trains from scratch with
    /// <see cref="ScratchConfig"/>.</summary>
    public string? BaseModel { get; init; }
    /// <summary>The BERT config to initialise from the seed when there is no <see cref="BaseModel"/>.</summary>
    public ModelConfig? ScratchConfig { get; init; }
    /// <summary>tokenizer.json; default the base model's.</summary>
    public string? Tokenizer { get; init; }
    /// <summary>Class names by id (default: from the data — ham/spam for SpamAssassin, the JSONL's names or ids).</summary>
    public ClassLabels? Labels { get; init; }
    /// <summary>Share of the texts held out for evaluation (split with <see cref="TrainingOptions.Seed"/>).</summary>
    public double HeldOutFraction { get; init; } = 0.2;
    /// <summary>Steps, batch size, context (block size: texts are truncated to it), learning rate, seed…</summary>
    public TrainingOptions Training { get; init; } = new();
    /// <summary>Run folder (checkpoint/, metrics.jsonl, classification.json); null keeps nothing on disk.</summary>
    public string? RunDir { get; init; }
    /// <summary>Continue the run in <see cref="RunDir"/> from its checkpoint.</summary>
    public bool Resume { get; init; }
    /// <summary>The job's ranks when the run spreads over several (data-parallel, rank 0 writing the files); null: one process.</summary>
    public Distributed.DistributedOptions? Distributed { get; init; }
}

/// <summary>How a fine-tune ended and scored on the held-out texts, beside the majority-class baseline.</summary>
public sealed record ClassifierFineTuneResult(TrainingOutcome Outcome, int TrainExamples, int HeldOutExamples,
    ClassificationMetrics HeldOut, ClassificationMetrics Majority)
{
    /// <summary>The result as one JSON object (what classification.json holds).</summary>
    public string ToJson()
    {
        JsonObject Scores(ClassificationMetrics m) => new()
        {
            ["accuracy"] = m.Accuracy, ["f1"] = m.F1, ["macro_f1"] = m.MacroF1,
            ["loss"] = double.IsNaN(m.Loss) ? null : m.Loss, ["correct"] = m.Correct, ["total"] = m.Total,
        };
        var o = new JsonObject
        {
            ["outcome"] = Outcome.ToString().ToLowerInvariant(),
            ["labels"] = new JsonArray([.. HeldOut.Labels.Names.Select(n => (JsonNode?)n)]),
            ["train_examples"] = TrainExamples, ["held_out_examples"] = HeldOutExamples,
            ["held_out"] = Scores(HeldOut), ["majority_baseline"] = Scores(Majority),
        };
        return o.ToJsonString();
    }
}

/// <summary>Fine-tunes a BERT sequence classifier end to end — the library call a `finetune` verb makes for a
/// classification task: read and split the labelled texts, put a fresh head on the pre-trained encoder (or start from
/// scratch), tokenize to the context with truncation counted, train every parameter (or <paramref name="trainable"/>)
/// with the shared <see cref="Trainer"/> (checkpoints, metrics and exact resume as for pre-training), then score the
/// held-out texts against the majority-class baseline.</summary>
public static class ClassifierFineTune
{
    /// <summary>Labelled texts from a SpamAssassin data folder (it has a *spam* subfolder) or JSONL.</summary>
    public static LabelledTexts ReadTexts(string path, ClassLabels? labels = null) =>
        Directory.Exists(path) && Directory.GetDirectories(path).Any(d => Path.GetFileName(d).Contains("spam", StringComparison.OrdinalIgnoreCase))
            ? LabelledTexts.FromSpamAssassin(path)
            : LabelledTexts.FromJsonl(path, labels);

    /// <summary>Runs the fine-tune. <paramref name="log"/> gets one line per decision (what was initialised fresh, how many
    /// texts were truncated); <paramref name="trainable"/> null trains every parameter (full fine-tuning) — a
    /// parameter-efficient method passes its set plus <see cref="BertClassifier.HeadParameters"/>, via
    /// <paramref name="attach"/> which receives the model before training.</summary>
    public static ClassifierFineTuneResult Run(ClassifierFineTuneOptions o, CancellationToken cancel = default, Action<string>? log = null,
        Action<TrainingProgress>? progress = null, Func<BertClassifier, IReadOnlyList<ModelParameter>>? attach = null)
    {
        var options = o.Training.Validate();
        var texts = ReadTexts(o.Data, o.Labels);
        var (trainTexts, heldTexts) = texts.Split(o.HeldOutFraction, options.Seed);
        string? tokenizerPath = o.Tokenizer ?? (o.BaseModel is { } b ? Path.Combine(Checkpoint.Resolve(b), Checkpoint.TokenizerFile) : null);
        if (tokenizerPath is null || !File.Exists(tokenizerPath))
            throw new FileNotFoundException($"finetune: tokenizer {tokenizerPath ?? "(none given)"} not found; pass a tokenizer.json");
        var tokenizer = TokenizerJson.LoadAny(tokenizerPath);

        BertClassifier model;
        if (o.BaseModel is { } basePath)
        {
            var loaded = BertClassifier.FromPretrained(basePath, texts.Labels, options.Seed);
            model = loaded.Model;
            log?.Invoke(loaded.Note);
        }
        else
        {
            var config = (o.ScratchConfig ?? throw new ArgumentException("finetune: give a base model or a config to train from scratch")) with { Labels = texts.Labels };
            if (config.ModelType != "bert") throw new ArgumentException($"finetune: classification needs a bert config, not {config.ModelType}");
            model = (BertClassifier)LanguageModel.Create(config, options.Seed);
            log?.Invoke("initialised fresh: every parameter (training from scratch)");
        }
        try
        {
            if (tokenizer.VocabSize > model.Config.VocabSize)
                throw new InvalidDataException($"finetune: {tokenizerPath} has {tokenizer.VocabSize} ids but the model's vocab_size is {model.Config.VocabSize}");
            var train = ClassificationExamples.Tokenize(trainTexts, tokenizer, model.Config, options.BlockSize);
            var heldOut = ClassificationExamples.Tokenize(heldTexts, tokenizer, model.Config, options.BlockSize);
            log?.Invoke($"train: {train.Summary()}");
            log?.Invoke($"held out: {heldOut.Summary()}");

            var trainable = attach?.Invoke(model);
            var source = new ClassificationBatchSource(train, model.Config.PadId, options.Seed);
            TrainingOutcome outcome;
            using (var trainer = new Trainer(model, options, source, null, o.RunDir, tokenizerPath, new SequenceClassificationObjective(), trainable,
                distributed: o.Distributed))
            {
                if (o.Resume)
                {
                    if (o.RunDir is null) throw new ArgumentException("finetune: --resume needs a run folder");
                    trainer.Resume(Checkpoint.Resolve(o.RunDir));
                }
                outcome = trainer.Run(cancel, progress);
            }
            var metrics = ClassificationMetrics.Evaluate(model, heldOut, options.BatchSize);
            var majority = ClassificationMetrics.MajorityBaseline(texts.Labels, train.Items.Select(e => e.Label).ToArray(), heldOut.Items.Select(e => e.Label).ToArray());
            var result = new ClassifierFineTuneResult(outcome, train.Items.Count, heldOut.Items.Count, metrics, majority);
            if (o.RunDir is not null && o.Distributed?.World.IsRoot != false) AtomicFile.WriteAllText(Path.Combine(o.RunDir, "classification.json"), result.ToJson() + "\n");
            return result;
        }
        finally { model.Dispose(); }
    }
}
