using System.CommandLine;
using System.Globalization;
using Lathe.Compression.Distillation;
using Lathe.Data;
using Lathe.Formats;
using Lathe.Inference;
using Lathe.Models;
using Lathe.Tensors.Threading;
using Lathe.Tokenizers;
using Lathe.Training;
using Lathe.Training.Objectives;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe distill`: trains a student decoder from a frozen teacher (Hinton et al. 2015's logit distillation)
/// through pretrain's run — same data order, checkpoints, resume, validation, metrics and Ctrl-C — or writes the
/// teacher's top-k log-probabilities once (--save-topk) for students trained later without it (--teacher-topk).</summary>
internal static class DistillVerb
{
    public static Command Create()
    {
        var teacher = new Option<string?>("--teacher") { Description = "The teacher: a checkpoint folder, a Hugging Face folder or a .gguf file (a quantized GGUF teacher stays quantized)." };
        var student = new Option<string?>("--student") { Description = "The student: a preset (gpt2-tiny, S, M, llama-tiny, bert-tiny with a bert teacher, …) or config.json, initialised fresh with the data's tokenizer, or a checkpoint folder to start from." };
        var data = new Option<string>("--data") { Description = "Folder from `data prepare` (token shards, tokenizer.json, manifest.json), read as pretrain reads it.", Required = true };
        var output = new Option<string?>("--out") { Description = "Run folder of the student (checkpoint/, metrics.jsonl, loss.svg): a normal checkpoint that generate, eval and quantize read." };
        var resume = new Option<bool>("--resume") { Description = "Continue the run in --out exactly where its checkpoint left off (pass the same --teacher or --teacher-topk)." };
        var alpha = new Option<float>("--alpha") { Description = "Weight of the distillation term; 1 − α weighs the hard-label loss (0 = training from scratch).", DefaultValueFactory = _ => 0.5f };
        var temperature = new Option<float>("--temperature") { Description = "Softmax temperature T of teacher and student in the KL term (the loss carries T²).", DefaultValueFactory = _ => 2f };
        var saveTopK = new Option<string?>("--save-topk") { Description = "Run the teacher once over the training windows (in the order --seed, --batch-size, --block-size, --steps, --grad-accum give) and write their top-k log-probabilities to this file; no training." };
        var topK = new Option<int>("--topk") { Description = "Ids kept per position by --save-topk.", DefaultValueFactory = _ => 32 };
        var teacherTopK = new Option<string?>("--teacher-topk") { Description = "Train from a --save-topk file instead of a live teacher (sparse KD; the file's temperature)." };
        var matchHidden = new Option<string>("--match-hidden") { Description = "Add hidden-state matching: cosine (DistilBERT; equal widths) or mse (TinyBERT; through a learned projection when widths differ, trained with the student and discarded after). none = off.", DefaultValueFactory = _ => "none" };
        var hiddenWeight = new Option<float>("--hidden-weight") { Description = "Weight of the hidden-state term.", DefaultValueFactory = _ => 1f };
        var matchAttention = new Option<bool>("--match-attention") { Description = "Add attention-map matching (MiniLM-style): KL(teacher ‖ student) per query row of each mapped layer pair's causal attention probabilities, averaged over heads (so head counts may differ)." };
        var attentionWeight = new Option<float>("--attention-weight") { Description = "Weight of the attention-map term.", DefaultValueFactory = _ => 1f };
        var layerMap = new Option<string?>("--layer-map") { Description = "Teacher layer for each student layer, comma-separated, for --match-hidden and --match-attention (default: uniform, student i ↔ teacher ⌊(i+1)·Lt/Ls⌋−1)." };
        var sequenceLevel = new Option<bool>("--sequence-level") { Description = "Sequence-level KD (Kim & Rush 2016): the teacher continues prompts from --data, the generations are written as token shards in <out>/sequence-level-data, and the student trains on them with the next-token loss." };
        var genTokens = new Option<int>("--gen-tokens") { Description = "--sequence-level: tokens the teacher generates per prompt.", DefaultValueFactory = _ => 64 };
        var prompts = new Option<int>("--prompts") { Description = "--sequence-level: prompts taken from the training windows (in the seeded order).", DefaultValueFactory = _ => 64 };
        var promptTokens = new Option<int>("--prompt-tokens") { Description = "--sequence-level: tokens per prompt.", DefaultValueFactory = _ => 16 };
        var genTemperature = new Option<float>("--gen-temperature") { Description = "--sequence-level: the teacher's sampling temperature (0 = greedy; sampling is seeded by --seed).", DefaultValueFactory = _ => 0f };
        var o = new TrainingOptionSet();
        var command = new Command("distill", "Distil a teacher into a smaller student decoder (logit KD; a bert student from a bert teacher on the masked positions), or save the teacher's top-k logits once; Ctrl-C writes a checkpoint.")
        {
            teacher, student, data, output, resume, alpha, temperature, saveTopK, topK, teacherTopK, matchHidden, hiddenWeight, matchAttention, attentionWeight, layerMap, sequenceLevel, genTokens, prompts, promptTokens, genTemperature,
        };
        o.AddTo(command);
        command.SetAction(r =>
        {
            var options = o.Read(r);
            int threads = o.Threads(r);
            string dataDir = r.GetValue(data)!;
            float a = r.GetValue(alpha), t = r.GetValue(temperature);
            if (!(a >= 0f && a <= 1f)) throw new UserInputException($"distill: --alpha {a.ToString(CultureInfo.InvariantCulture)} must be in [0, 1]");
            if (!(t > 0f && float.IsFinite(t))) throw new UserInputException($"distill: --temperature {t.ToString(CultureInfo.InvariantCulture)} must be finite and > 0");
            string? teacherPath = r.GetValue(teacher), topkFile = r.GetValue(teacherTopK);
            if (r.GetValue(saveTopK) is { } save)
            {
                if (teacherPath is null) throw new UserInputException("distill: --save-topk needs --teacher");
                if (topkFile is not null) throw new UserInputException("distill: --save-topk and --teacher-topk exclude each other");
                return SaveTopK(teacherPath, dataDir, save, r.GetValue(topK), t, options, threads);
            }
            string studentArg = r.GetValue(student) ?? throw new UserInputException("distill: --student is required (a preset, a config.json or a checkpoint folder)");
            string runDir = r.GetValue(output) ?? throw new UserInputException("distill: --out is required");
            if ((teacherPath is null) == (topkFile is null)) throw new UserInputException("distill: give one of --teacher and --teacher-topk");
            if (r.GetValue(sequenceLevel))
            {
                if (teacherPath is null) throw new UserInputException("distill: --sequence-level needs --teacher (it generates)");
                var generation = new SequenceLevelOptions(r.GetValue(prompts), r.GetValue(promptTokens), r.GetValue(genTokens), r.GetValue(genTemperature), options.Seed);
                return SequenceLevel(teacherPath, studentArg, dataDir, runDir, r.GetValue(resume), generation, options, threads, o.Explicit(r));
            }
            bool explicitTemperature = r.GetResult(temperature) is { Implicit: false };
            var attention = AttentionChoice.Parse(r.GetValue(matchAttention), r.GetValue(attentionWeight), r.GetValue(layerMap));
            var hidden = HiddenChoice.Parse(r.GetValue(matchHidden)!, r.GetValue(hiddenWeight), r.GetValue(layerMap), attention is not null);
            if (hidden is not null && teacherPath is null) throw new UserInputException("distill: --match-hidden needs a live --teacher (a top-k file holds no hidden states)");
            if (attention is not null && teacherPath is null) throw new UserInputException("distill: --match-attention needs a live --teacher (a top-k file holds no attention maps)");
            return Train(teacherPath, topkFile, studentArg, dataDir, runDir, r.GetValue(resume), a, t, explicitTemperature, options, threads, o.Explicit(r), hidden, attention);
        });
        return command;
    }

    static int Train(string? teacherPath, string? topkFile, string studentArg, string dataDir, string runDir, bool resume, float alpha, float temperature,
        bool explicitTemperature, TrainingOptions options, int threads, HashSet<string> explicitOptions, HiddenChoice? hidden = null, AttentionChoice? attention = null)
    {
        var (config, studentCheckpoint, vocabGiven) = Student(studentArg, allowBert: true);
        bool bert = config.ModelType == "bert";
        if (bert && topkFile is not null) throw new UserInputException($"distill: --student {studentArg}: a bert student distils from a live --teacher, not a top-k file");
        if (bert && (hidden is not null || attention is not null))
            throw new UserInputException($"distill: --student {studentArg}: --match-hidden and --match-attention are for decoder students (gpt2, llama), not bert");
        LoadedModel? teacher = null;
        IDisposable? live = null;
        HiddenStateMatching? matching = null;
        AttentionMapMatching? attentionMatching = null;
        TopKReader? reader = null;
        string teacherNote = "";
        try
        {
            var hooks = new TrainingRunHooks("distill")
            {
                InitialCheckpoint = studentCheckpoint,
                Objective = (setup, run) =>
                {
                    var studentTokenizer = setup.Tokenizer ?? throw new InvalidDataException($"data: {dataDir} has no tokenizer.json, so the student's tokenizer cannot be checked against the teacher's");
                    if (teacherPath is not null)
                    {
                        teacher = ModelLoader.Load(teacherPath);
                        if (bert) return (ITrainingObjective)(live = BertObjective(teacher, teacherPath, studentTokenizer, studentArg, setup.Config, alpha, temperature, out teacherNote));
                        var decoder = teacher.Model as CausalLM ?? throw new InvalidDataException($"--teacher {teacherPath}: model_type '{teacher.Model.Config.ModelType}' is not a decoder");
                        TokenizerAgreement.Require(teacher.Tokenizer, teacherPath, studentTokenizer, studentArg);
                        if (setup.Config.VocabSize != decoder.Config.VocabSize)
                            throw new InvalidDataException($"--student {studentArg}: vocab_size {setup.Config.VocabSize} differs from the teacher's {decoder.Config.VocabSize} (their logits are compared id by id)");
                        decoder.Config.ValidateContext(run.BlockSize);
                        teacherNote = $", teacher {teacher.Model.Config.ModelType} {teacher.Model.ParameterCount / 1e6:F2}M ({teacher.Format}), α {alpha.ToString(CultureInfo.InvariantCulture)}, T {temperature.ToString(CultureInfo.InvariantCulture)}";
                        if (hidden is not null)
                        {
                            try { matching = new HiddenStateMatching(setup.Config, decoder.Config, hidden.Loss, hidden.Weight, hidden.LayerMap, run.Seed); }
                            catch (ArgumentException e) { throw new UserInputException($"distill: {e.Message}"); }
                            // The projection is not part of the student's checkpoint, so a resumed run could not restore it.
                            if (resume && matching.Projection is not null)
                                throw new UserInputException("distill: --resume with --match-hidden mse across widths: the learned projection is not saved in the checkpoint; start a new run");
                            teacherNote += $", hidden {hidden.Loss.ToString().ToLowerInvariant()} ×{hidden.Weight.ToString(CultureInfo.InvariantCulture)} over layers [{string.Join(",", matching.LayerMap)}]";
                        }
                        if (attention is not null)
                        {
                            try { attentionMatching = new AttentionMapMatching(setup.Config, decoder.Config, attention.Weight, attention.LayerMap); }
                            catch (ArgumentException e) { throw new UserInputException($"distill: {e.Message}"); }
                            teacherNote += $", attention maps ×{attention.Weight.ToString(CultureInfo.InvariantCulture)} over layers [{string.Join(",", attentionMatching.LayerMap)}]";
                        }
                        var objective = new LogitDistillationObjective(decoder, alpha, temperature, matching, attentionMatching);
                        live = objective;
                        return objective;
                    }
                    reader = new TopKReader(topkFile!);
                    reader.RequireMatch(TokenizerAgreement.Fingerprint(studentTokenizer), TopKFile.DataFingerprint(setup.Data), run.BatchSize, run.BlockSize, run.Seed, (long)run.Steps * run.GradAccum);
                    if (setup.Config.VocabSize != reader.Header.VocabSize)
                        throw new InvalidDataException($"--student {studentArg}: vocab_size {setup.Config.VocabSize} differs from {topkFile}'s {reader.Header.VocabSize}");
                    float fileT = reader.Header.Temperature;
                    if (explicitTemperature && fileT != temperature)
                        throw new UserInputException($"distill: --temperature {temperature.ToString(CultureInfo.InvariantCulture)} differs from {topkFile}'s {fileT.ToString(CultureInfo.InvariantCulture)}; the file's log-probabilities are at its own temperature");
                    teacherNote = $", top-{reader.Header.K} teacher from {topkFile}, α {alpha.ToString(CultureInfo.InvariantCulture)}, T {fileT.ToString(CultureInfo.InvariantCulture)}";
                    return new TopKDistillationObjective(alpha, fileT);
                },
                Batches = topkFile is null ? null : (train, _) => new TopKBatchSource(train, reader!),   // after Objective opened the file
                Trainable = model => matching?.Projection is { } projection ? [.. model.Parameters, projection] : null,
                Describe = _ => teacherNote,
                Summary = trainer => $"distill: student {trainer.Model.ParameterCount / 1e6:F2}M parameters{(teacher is null ? "" : $" vs teacher {teacher.Model.ParameterCount / 1e6:F2}M")}, " +
                    $"step {trainer.Step}, val loss (the student's {(bert ? "MLM + NSP" : "next-token")} loss) {(trainer.LastValidationLoss ?? trainer.Evaluate()).ToString("F4", CultureInfo.InvariantCulture)}, out {runDir}",
            };
            return PretrainVerb.Run(config, dataDir, runDir, resume, options, threads, explicitOptions, vocabGiven, null, hooks);
        }
        finally
        {
            live?.Dispose();
            matching?.Dispose();
            attentionMatching?.Dispose();
            teacher?.Dispose();
            reader?.Dispose();
        }
    }

    // A bert student: the teacher must be a bert encoder with the student's tokenizer; the objective masks each batch once
    // for both (MaskedLmDistillationObjective).
    static MaskedLmDistillationObjective BertObjective(LoadedModel teacher, string teacherPath, ITokenizer studentTokenizer, string studentArg,
        ModelConfig student, float alpha, float temperature, out string note)
    {
        var encoder = teacher.Model as BertModel ?? throw new InvalidDataException($"--teacher {teacherPath}: model_type '{teacher.Model.Config.ModelType}' is not bert (a bert student needs a bert teacher)");
        TokenizerAgreement.Require(teacher.Tokenizer, teacherPath, studentTokenizer, studentArg);
        note = $", teacher bert {teacher.Model.ParameterCount / 1e6:F2}M ({teacher.Format}), KD on the masked positions, α {alpha.ToString(CultureInfo.InvariantCulture)}, T {temperature.ToString(CultureInfo.InvariantCulture)}";
        try { return new MaskedLmDistillationObjective(student, encoder, alpha, temperature); }
        catch (ArgumentException e) { throw new UserInputException($"distill: {e.Message}"); }
    }

    // The student from its argument: a checkpoint folder to start from, else a preset or config.json (fresh). Bert
    // students only where an objective for them exists (live logit KD).
    static (ModelConfig Config, string? Checkpoint, bool VocabGiven) Student(string studentArg, bool allowBert = false)
    {
        string? studentCheckpoint = Directory.Exists(studentArg) ? Checkpoint.Find(studentArg) : null;
        if (Directory.Exists(studentArg) && studentCheckpoint is null)
            throw new UserInputException($"distill: --student {studentArg}: no config.json + model.safetensors there (or in its checkpoint/)");
        var config = studentCheckpoint is null ? ModelConfig.FromPresetOrFile(studentArg) : ModelConfig.Load(Path.Combine(studentCheckpoint, Checkpoint.ConfigFile));
        if (config.ModelType is not ("gpt2" or "llama") && !(allowBert && config.ModelType == "bert"))
            throw new UserInputException($"distill: --student {studentArg}: model_type '{config.ModelType}' is not a decoder; distill trains gpt2 and llama students{(allowBert ? ", and bert students from a bert teacher" : "")}");
        return (config, studentCheckpoint, studentCheckpoint is not null || !ModelConfig.PresetNames().Contains(studentArg));
    }

    static int SequenceLevel(string teacherPath, string studentArg, string dataDir, string runDir, bool resume, SequenceLevelOptions generation,
        TrainingOptions options, int threads, HashSet<string> explicitOptions)
    {
        ComputePool.SetSharedThreads(threads);
        var (config, studentCheckpoint, vocabGiven) = Student(studentArg);
        string generated = Path.Combine(runDir, "sequence-level-data");
        if (!resume && Checkpoint.Find(runDir) is not null)
            throw new UserInputException($"distill: {runDir} already holds a checkpoint; pass --resume to continue it or choose another --out");
        if (!File.Exists(Path.Combine(generated, ShardManifest.FileName)))
        {
            var data = ShardFolder.Open(dataDir);
            string tokenizerPath = data.TokenizerPath ?? throw new InvalidDataException($"data: {dataDir} has no tokenizer.json, so the teacher's tokenizer cannot be checked against the student's");
            using var teacher = ModelLoader.Load(teacherPath);
            var studentTokenizer = TokenizerJson.LoadAny(studentCheckpoint is null ? tokenizerPath : Path.Combine(studentCheckpoint, Checkpoint.TokenizerFile));
            TokenizerAgreement.Require(teacher.Tokenizer, teacherPath, studentTokenizer, studentArg);
            data.CheckTokenIds(teacher.Model.Config.VocabSize, $"the teacher's vocabulary of {teacher.Model.Config.VocabSize}");
            var clock = System.Diagnostics.Stopwatch.StartNew();
            SequenceLevelData.Write(teacher, data, tokenizerPath, generated, generation);
            Console.Error.WriteLine($"distill: the teacher continued {generation.Prompts} prompts of {generation.PromptTokens} tokens by up to {generation.GenerationTokens} " +
                $"({(generation.Temperature == 0 ? "greedy" : $"T {generation.Temperature.ToString(CultureInfo.InvariantCulture)}")}) in {clock.Elapsed.TotalSeconds:F1} s → {generated}");
        }
        var hooks = new TrainingRunHooks("distill")
        {
            InitialCheckpoint = studentCheckpoint,
            Describe = _ => ", sequence-level (the teacher's generations, next-token loss)",
            Summary = trainer => $"distill: student {trainer.Model.ParameterCount / 1e6:F2}M parameters, sequence-level, step {trainer.Step}, " +
                $"val loss (the student's next-token loss on --data's validation) {(trainer.LastValidationLoss ?? trainer.Evaluate()).ToString("F4", CultureInfo.InvariantCulture)}, out {runDir}",
        };
        return PretrainVerb.Run(config, generated, runDir, resume, options, threads, explicitOptions, vocabGiven, null, hooks);
    }

    static int SaveTopK(string teacherPath, string dataDir, string path, int k, float temperature, TrainingOptions options, int threads)
    {
        ComputePool.SetSharedThreads(threads);
        var data = ShardFolder.Open(dataDir);
        string tokenizerPath = data.TokenizerPath ?? throw new InvalidDataException($"data: {dataDir} has no tokenizer.json, so the teacher's tokenizer cannot be checked against the data's");
        var dataTokenizer = TokenizerJson.LoadAny(tokenizerPath);
        using var teacher = ModelLoader.Load(teacherPath);
        var decoder = teacher.Model as CausalLM ?? throw new InvalidDataException($"--teacher {teacherPath}: model_type '{teacher.Model.Config.ModelType}' is not a decoder");
        TokenizerAgreement.Require(teacher.Tokenizer, teacherPath, dataTokenizer, dataDir, "--data");
        int V = decoder.Config.VocabSize;
        if (k < 1 || k > V) throw new UserInputException($"distill: --topk {k} must be in [1, {V}] (the teacher's vocabulary)");
        decoder.Config.ValidateContext(options.BlockSize);
        data.CheckTokenIds(V, $"the teacher's vocabulary of {V}");
        var header = new TopKHeader
        {
            K = k, Temperature = temperature, VocabSize = V, IdBytes = TopKFile.IdBytesFor(V), BatchSize = options.BatchSize, BlockSize = options.BlockSize,
            Seed = options.Seed, MicroBatches = (long)options.Steps * options.GradAccum, Tokenizer = TokenizerAgreement.Fingerprint(teacher.Tokenizer),
            Data = TopKFile.DataFingerprint(data), Teacher = teacherPath,
        };
        // The trainer's own batch source, from position 0: the windows a run with these options reads, in its order.
        using var source = new ShardBatchSource(data, options.BatchSize, options.BlockSize, options.Seed);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        TopKRecorder.Record(decoder, source, header, path);
        long bytes = new FileInfo(path).Length;
        Console.Error.WriteLine($"distill: wrote {path}: top-{k} at T {temperature.ToString(CultureInfo.InvariantCulture)} for {header.MicroBatches} micro-batches of " +
            $"{options.BatchSize}×{options.BlockSize} ({bytes / 1e6:F1} MB) in {clock.Elapsed.TotalSeconds:F1} s");
        return 0;
    }
}

/// <summary>--match-hidden, --hidden-weight and --layer-map, parsed; null when matching is off.</summary>
internal sealed record HiddenChoice(HiddenStateLoss Loss, float Weight, int[]? LayerMap)
{
    public static HiddenChoice? Parse(string kind, float weight, string? layerMap, bool attention = false)
    {
        var loss = kind.ToLowerInvariant() switch
        {
            "none" => (HiddenStateLoss?)null,
            "cosine" => HiddenStateLoss.Cosine,
            "mse" => HiddenStateLoss.Mse,
            _ => throw new UserInputException($"distill: --match-hidden '{kind}' is not one of none, cosine, mse"),
        };
        if (loss is null) return layerMap is null || attention ? null : throw new UserInputException("distill: --layer-map needs --match-hidden or --match-attention");
        if (!(weight >= 0f && float.IsFinite(weight))) throw new UserInputException($"distill: --hidden-weight {weight.ToString(CultureInfo.InvariantCulture)} must be finite and ≥ 0");
        return new HiddenChoice(loss.Value, weight, ParseLayerMap(layerMap));
    }

    internal static int[]? ParseLayerMap(string? layerMap)
    {
        if (layerMap is null) return null;
        try { return layerMap.Split(',').Select(p => int.Parse(p.Trim(), CultureInfo.InvariantCulture)).ToArray(); }
        catch (FormatException) { throw new UserInputException($"distill: --layer-map '{layerMap}' is not a comma-separated list of layer numbers"); }
    }
}

/// <summary>--match-attention, --attention-weight and the shared --layer-map, parsed; null when matching is off.</summary>
internal sealed record AttentionChoice(float Weight, int[]? LayerMap)
{
    public static AttentionChoice? Parse(bool on, float weight, string? layerMap)
    {
        if (!on) return null;
        if (!(weight >= 0f && float.IsFinite(weight))) throw new UserInputException($"distill: --attention-weight {weight.ToString(CultureInfo.InvariantCulture)} must be finite and ≥ 0");
        return new AttentionChoice(weight, HiddenChoice.ParseLayerMap(layerMap));
    }
}
