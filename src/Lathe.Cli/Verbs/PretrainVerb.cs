using Lathe.Formats;
using System.CommandLine;
using Lathe.Models;
using Lathe.Tensors.Threading;
using Lathe.Training;
using Lathe.Training.Objectives;
using Lathe.Distributed;
using Lathe.Training.Distributed;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe pretrain`: causal-LM pre-training from token shards into a run folder.</summary>
internal static class PretrainVerb
{
    // Config overrides: option name → config.json field.
    static readonly (string Option, string Field, string Help)[] ConfigOverrides =
    [
        ("--vocab-size", "vocab_size", "Vocabulary size (default: the data folder's tokenizer.json; needed only without one)."),
        ("--n-positions", "n_positions", "Context length (position table)."),
        ("--n-embd", "n_embd", "Model width d_model."),
        ("--n-layer", "n_layer", "Number of blocks."),
        ("--n-head", "n_head", "Attention heads."),
        ("--n-kv-head", "num_key_value_heads", "Key/value heads (Llama)."),
        ("--intermediate-size", "intermediate_size", "MLP width."),
        ("--num-experts", "num_local_experts", "Mixture-of-Experts: experts per MoE layer (0 = dense)."),
        ("--experts-per-token", "num_experts_per_tok", "Mixture-of-Experts: experts each token is routed to (k)."),
    ];

    public static Command Create()
    {
        var config = new Option<string>("--config") { Description = "Preset name (gpt2-tiny, S, M, gpt2, llama-tiny) or a config.json path.", DefaultValueFactory = _ => "gpt2-tiny" };
        var data = new Option<string>("--data") { Description = "Folder from `data prepare`: llm.c token shards (*_val_* ones are validation), tokenizer.json (sets the vocabulary) and manifest.json.", Required = true };
        var output = new Option<string>("--out") { Description = "Run folder (checkpoint/, metrics.jsonl, loss.svg).", Required = true };
        var resume = new Option<bool>("--resume") { Description = "Continue the run in --out exactly where its checkpoint left off." };
        var o = new TrainingOptionSet();
        var overrides = ConfigOverrides.Select(c => new Option<int?>(c.Option) { Description = c.Help }).ToArray();
        var dropout = new Option<float?>("--dropout") { Description = "Residual and embedding dropout rate (config field resid_pdrop)." };
        var attentionDropout = new Option<float?>("--attention-dropout") { Description = "Dropout rate on attention probabilities (config field attn_pdrop / attention_dropout)." };
        var command = new Command("pretrain", "Pre-train a decoder (GPT-2 / Llama) on token shards; Ctrl-C writes a checkpoint.") { config, data, output, resume };
        o.AddTo(command);
        foreach (var opt in overrides) command.Options.Add(opt);
        command.Options.Add(dropout);
        command.Options.Add(attentionDropout);
        command.SetAction(r =>
        {
            var cfg = ModelConfig.FromPresetOrFile(r.GetValue(config)!);
            for (int i = 0; i < overrides.Length; i++)
                if (r.GetValue(overrides[i]) is { } v) cfg = cfg.With(ConfigOverrides[i].Field, v.ToString(System.Globalization.CultureInfo.InvariantCulture));
            if (r.GetValue(dropout) is { } p) cfg = cfg.With("dropout", p.ToString(System.Globalization.CultureInfo.InvariantCulture));
            if (r.GetValue(attentionDropout) is { } pa) cfg = cfg.With("attention_dropout", pa.ToString(System.Globalization.CultureInfo.InvariantCulture));
            // A preset's vocab_size is a placeholder that the data folder's tokenizer replaces; --vocab-size or the
            // user's own config.json is a choice that is kept (when it is large enough).
            bool vocabGiven = r.GetValue(overrides[0]) is not null || !ModelConfig.PresetNames().Contains(r.GetValue(config)!);
            return Run(cfg, r.GetValue(data)!, r.GetValue(output)!, r.GetValue(resume), o.Read(r), o.Threads(r), o.Explicit(r), vocabGiven, o.Parallel(r));
        });
        return command;
    }

    internal static int Run(ModelConfig config, string dataDir, string runDir, bool resume, TrainingOptions options, int threads,
        HashSet<string> explicitOptions, bool vocabSizeGiven, ParallelChoice? parallel = null, TrainingRunHooks? hooks = null)
    {
        ComputePool.SetSharedThreads(threads);
        string verb = hooks?.Verb ?? "pretrain";
        PretrainSetup setup;
        string? checkpoint = null;
        if (resume)
        {
            checkpoint = Checkpoint.Find(runDir) ?? throw new UserInputException($"{verb}: --resume: no checkpoint in {runDir}");
            options = ResumedOptions.Read(verb, checkpoint, options, explicitOptions.Contains("steps"), explicitOptions.Contains("batch-size"));
            setup = PretrainSetup.ForResume(ModelConfig.Load(Path.Combine(checkpoint, Checkpoint.ConfigFile)), dataDir, checkpoint);
        }
        else
        {
            if (Checkpoint.Find(runDir) is not null)
                throw new UserInputException($"{verb}: {runDir} already holds a checkpoint; pass --resume to continue it or choose another --out");
            // A model to start from brings its own config and tokenizer; the shards must fit its vocabulary.
            setup = hooks?.InitialCheckpoint is { } start
                ? PretrainSetup.ForResume(ModelConfig.Load(Path.Combine(start, Checkpoint.ConfigFile)), dataDir, start)
                : PretrainSetup.ForNewRun(config, dataDir, vocabSizeGiven);
        }
        config = setup.Config;
        config.ValidateContext(options.BlockSize);
        // Under mpirun the job starts here, after every local check: the ranks then agree on the data before training.
        var distributed = parallel?.Join();
        int ranks = distributed?.World.Size ?? 1;
        var (train, validation) = JobFence.Run(distributed?.World ?? SingleProcess.Instance, () =>
        {
            var source = setup.CreateBatchSource(options);
            long perStep = (long)ranks * options.BatchSize * options.GradAccum;
            if (source.WindowCount < perStep)
            {
                source.Dispose();
                throw new InvalidDataException($"data: {dataDir} holds {source.WindowCount} training windows of {options.BlockSize + 1} tokens, fewer than one step " +
                    $"takes ({ranks} rank{(ranks == 1 ? "" : "s")} × batch {options.BatchSize} × grad-accum {options.GradAccum}); use {(ranks > 1 ? "fewer ranks, " : "")}a smaller batch or more data");
            }
            // Validation covers what one process with the whole batch (K·B rows) would score; the ranks split it.
            return (source, setup.ReadValidation(options with { EvalBatches = options.EvalBatches * ranks }));
        }, CliRunner.IsUserError);
        using var trainSource = train;
        distributed?.World.CheckAgreement("the data", $"{setup.Data.TrainTokens} train and {setup.Data.ValidationTokens} validation tokens, vocabulary {config.VocabSize}");
        // The verb's own checks and objective (distillation: the teacher, its tokenizer, a top-k file) come before any file is written.
        var objective = hooks?.Objective?.Invoke(setup, options);
        IBatchSource batches = hooks?.Batches?.Invoke(train, options) ?? train;
        bool root = distributed is null || distributed.World.IsRoot;
        string? tokenizer = root ? setup.WriteTokenizer(runDir) : null;   // the first file written: every check above has passed
        using var model = LanguageModel.Create(config, options.Seed);
        if (checkpoint is null && hooks?.InitialCheckpoint is { } initial) Checkpoint.LoadWeights(Path.Combine(initial, Checkpoint.ModelFile), model);
        using var trainer = new Trainer(model, options, batches, validation, runDir, tokenizer, objective, hooks?.Trainable?.Invoke(model), distributed: distributed);
        if (checkpoint is not null) trainer.Resume(checkpoint);
        string added = setup.Tokenizer is { } t && setup.Data.Manifest is { } m && t.VocabSize > m.VocabSize ? $" (+{t.VocabSize - m.VocabSize} special tokens)" : "";
        if (root) Console.Error.WriteLine($"{verb}: {config.ModelType} {model.ParameterCount / 1e6:F2}M parameters, vocabulary {config.VocabSize}{added}, " +
            $"{setup.Data.TrainTokens:N0} train / {setup.Data.ValidationTokens:N0} val tokens, " +
            $"batch {options.BatchSize}×{options.BlockSize}×{options.GradAccum}, {threads} threads{Ranks(trainer)}{hooks?.Describe?.Invoke(model)}{(checkpoint is null ? "" : $", resuming at step {trainer.Step}")}");
        int code = Train(trainer, runDir, verb);
        if (root && code == 0 && hooks?.Summary is { } summary) Console.Error.WriteLine(summary(trainer));
        return code;
    }

    /// <summary>", × K ranks (ZeRO-1)" for a data-parallel run; empty otherwise.</summary>
    internal static string Ranks(Trainer trainer) =>
        trainer.DataParallel is { } dp ? $" × {dp.World.Size} ranks ({(dp.ShardOptimizer ? "ZeRO-1 optimizer shards" : "all-reduce")}, {dp.BucketCount} gradient buckets)" : "";

    /// <summary>Runs the trainer with the progress line and signal handling; exit code. In a job, rank 0 alone prints.</summary>
    internal static int Train(Trainer trainer, string runDir, string verb = "pretrain")
    {
        using var console = new TrainingConsole();
        bool root = trainer.World.IsRoot;
        try
        {
            var outcome = trainer.Run(console.Token, root ? console.Report : null);
            console.EndLine();
            if (root) Console.Error.WriteLine(outcome == TrainingOutcome.Interrupted
                ? $"{verb}: interrupted at step {trainer.Step}; checkpoint in {Path.Combine(runDir, Checkpoint.Folder)} (continue with --resume)"
                : $"{verb}: done, step {trainer.Step}; checkpoint in {Path.Combine(runDir, Checkpoint.Folder)}, curves in {Path.Combine(runDir, "loss.svg")}");
            return outcome == TrainingOutcome.Interrupted ? 130 : 0;
        }
        catch (TrainingDivergedException e)
        {
            console.EndLine();
            if (root) Console.Error.WriteLine($"lathe: {e.Message}");   // every rank of a job stops at the same step
            return 1;
        }
    }
}

/// <summary>What a verb built on pretrain's run (distill) changes in it: its name in messages, a checkpoint the model
/// starts from (config, tokenizer and weights), the objective and the batches, each made after pretrain's own checks and
/// before anything is written; a start-line note and a summary line.</summary>
internal sealed record TrainingRunHooks(string Verb)
{
    public string? InitialCheckpoint { get; init; }
    public Func<PretrainSetup, TrainingOptions, ITrainingObjective>? Objective { get; init; }
    public Func<ShardBatchSource, TrainingOptions, IBatchSource>? Batches { get; init; }
    /// <summary>The trainable set (the model's parameters and an objective's own), or null for every model parameter.</summary>
    public Func<LanguageModel, IReadOnlyList<ModelParameter>?>? Trainable { get; init; }
    public Func<LanguageModel, string>? Describe { get; init; }
    public Func<Trainer, string>? Summary { get; init; }
}

/// <summary>The trainer's command-line options, shared by pretrain and demo.</summary>
internal sealed class TrainingOptionSet
{
    readonly TrainingOptions _d = new();
    public readonly Option<int> Steps, BatchSize, BlockSize, GradAccum, Warmup, EvalEvery, CheckpointEvery, ThreadCount;
    public readonly Option<float> Lr, WeightDecay, ClipNorm;
    public readonly Option<ulong> Seed;
    public readonly Option<int> Zero;
    public readonly Option<double> BucketMb;

    public TrainingOptionSet(int? steps = null, int? batch = null, int? block = null, float? lr = null, int? warmup = null, int? evalEvery = null)
    {
        Steps = new Option<int>("--steps") { Description = "Optimizer updates.", DefaultValueFactory = _ => steps ?? _d.Steps };
        BatchSize = new Option<int>("--batch-size") { Description = "Sequences per micro-batch (B).", DefaultValueFactory = _ => batch ?? _d.BatchSize };
        BlockSize = new Option<int>("--block-size") { Description = "Tokens per sequence (T).", DefaultValueFactory = _ => block ?? _d.BlockSize };
        GradAccum = new Option<int>("--grad-accum") { Description = "Micro-batches per update.", DefaultValueFactory = _ => _d.GradAccum };
        Lr = new Option<float>("--lr") { Description = "Peak learning rate.", DefaultValueFactory = _ => lr ?? _d.LearningRate };
        Warmup = new Option<int>("--warmup") { Description = "Linear warm-up steps.", DefaultValueFactory = _ => warmup ?? _d.WarmupSteps };
        WeightDecay = new Option<float>("--weight-decay") { Description = "AdamW decoupled weight decay (matrices only).", DefaultValueFactory = _ => _d.WeightDecay };
        ClipNorm = new Option<float>("--clip-norm") { Description = "Global gradient-norm clip (0 = off).", DefaultValueFactory = _ => _d.ClipNorm };
        EvalEvery = new Option<int>("--eval-every") { Description = "Validation every N steps (0 = off).", DefaultValueFactory = _ => evalEvery ?? _d.EvalEvery };
        CheckpointEvery = new Option<int>("--checkpoint-every") { Description = "Checkpoint every N steps (0 = only at the end).", DefaultValueFactory = _ => _d.CheckpointEvery };
        Seed = new Option<ulong>("--seed") { Description = "Seed of init and sampling.", DefaultValueFactory = _ => _d.Seed };
        ThreadCount = new Option<int>("--threads") { Description = "Compute threads (per rank under mpirun).", DefaultValueFactory = _ => Environment.ProcessorCount };
        Zero = new Option<int>("--zero") { Description = "Under mpirun: 1 shards AdamW's state over the ranks (ZeRO stage 1), 0 all-reduces whole gradients.", DefaultValueFactory = _ => 1 };
        BucketMb = new Option<double>("--bucket-mb") { Description = "Under mpirun: size of the gradient buckets sent while the backward runs, MB.", DefaultValueFactory = _ => DataParallel.DefaultBucketMb };
    }

    public void AddTo(Command c)
    {
        foreach (var o in new Option[] { Steps, BatchSize, BlockSize, GradAccum, Lr, Warmup, WeightDecay, ClipNorm, EvalEvery, CheckpointEvery, Seed, ThreadCount, Zero, BucketMb })
            c.Options.Add(o);
    }

    public TrainingOptions Read(ParseResult r, bool allowZeroSteps = false)
    {
        var o = new TrainingOptions
        {
        Steps = r.GetValue(Steps), BatchSize = r.GetValue(BatchSize), BlockSize = r.GetValue(BlockSize), GradAccum = r.GetValue(GradAccum),
        LearningRate = r.GetValue(Lr), WarmupSteps = r.GetValue(Warmup), WeightDecay = r.GetValue(WeightDecay), ClipNorm = r.GetValue(ClipNorm),
        EvalEvery = r.GetValue(EvalEvery), CheckpointEvery = r.GetValue(CheckpointEvery), Seed = r.GetValue(Seed),
        };
        if (allowZeroSteps && o.Steps == 0) return (o with { Steps = 1 }).Validate() with { Steps = 0 };
        return o.Validate();
    }

    public int Threads(ParseResult r)
    {
        int t = r.GetValue(ThreadCount);
        if (t <= 0) throw new UserInputException($"--threads: {t} must be positive");
        return t;
    }

    /// <summary>Optimizer steps in one pass over <paramref name="batches"/> batches: a step takes grad-accum batches on
    /// each rank of an mpirun job, so K ranks pass over the data in 1/K the steps (at least one).</summary>
    public static int StepsPerPass(int batches, TrainingOptions training) =>
        Math.Max(1, batches / (training.GradAccum * Job.LauncherSize));

    /// <summary>The data-parallel choices (--zero, --bucket-mb), checked.</summary>
    public ParallelChoice Parallel(ParseResult r)
    {
        int zero = r.GetValue(Zero);
        if (zero is not (0 or 1)) throw new UserInputException($"--zero: {zero} must be 0 (all-reduce) or 1 (ZeRO stage 1)");
        double mb = r.GetValue(BucketMb);
        if (!(mb > 0) || mb > 1024) throw new UserInputException($"--bucket-mb: {mb} must be in (0, 1024]");
        return new ParallelChoice(zero == 1, mb);
    }

    /// <summary>The option names given explicitly on the command line (without the dashes).</summary>
    public HashSet<string> Explicit(ParseResult r)
    {
        var set = new HashSet<string>();
        if (r.GetResult(Steps) is { Implicit: false }) set.Add("steps");
        if (r.GetResult(BatchSize) is { Implicit: false }) set.Add("batch-size");
        return set;
    }
}

/// <summary>How a training verb spreads over ranks when mpirun launched it.</summary>
internal sealed record ParallelChoice(bool ShardOptimizer, double BucketMb)
{
    /// <summary>Joins the MPI job (collective) when mpirun launched this process and it has more than one rank; null for
    /// a run of one process. Verbs call it after their local checks, just before building the trainer.</summary>
    public DistributedOptions? Join() =>
        Job.LaunchedByMpi && Job.World.Size > 1 ? new DistributedOptions(Job.World, ShardOptimizer, BucketMb) : null;
}
