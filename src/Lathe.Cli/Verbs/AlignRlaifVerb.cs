using System.CommandLine;
using Lathe.Alignment;
using Lathe.Distributed;
using Lathe.Formats;
using Lathe.Inference;
using Lathe.Tensors.Threading;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe align rlaif`: preference labels from AI feedback. Two samples of the policy per prompt, judged by
/// another model against written principles in both orders (position bias cancels), the confident ones written as
/// preference pairs for `align reward` or `align dpo`.</summary>
internal static class AlignRlaifVerb
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "The policy whose samples are labelled (a model folder, align run or GGUF file).", Required = true };
        var judge = new Option<string>("--judge") { Description = "The judge (a model folder, align run or GGUF file).", Required = true };
        var prompts = new Option<string>("--prompts") { Description = "Prompts: JSONL of {\"prompt\",\"kind\"?} (.gz too; preference-pair files work).", Required = true };
        var limit = new Option<int>("--limit") { Description = "Use only the first N prompts (0: all)." };
        var principles = new Option<string?>("--principles") { Description = "The principles the judge applies (a text file; default: data/alignment/principles.md's)." };
        var output = new Option<string>("--out") { Description = "Preference pairs to write: JSONL (.gz: compressed).", Required = true };
        var minConfidence = new Option<double>("--min-confidence") { Description = "Keep a pair when the judge's max(P, 1 − P) is at least this.", DefaultValueFactory = _ => 0.6 };
        var temperature = new Option<float>("--temperature") { Description = "Sampling temperature of the policy's two responses (no top-k/top-p).", DefaultValueFactory = _ => 1f };
        var maxNew = new Option<int>("--max-new-tokens") { Description = "Longest sampled response.", DefaultValueFactory = _ => 48 };
        var template = new Option<string?>("--template") { Description = $"The policy's chat template: {string.Join(", ", ChatTemplate.Names)} (default: the run's or model's own, else chatml)." };
        var judgeTemplate = new Option<string?>("--judge-template") { Description = $"Ask the judge through this chat template ({string.Join(", ", ChatTemplate.Names)}): the judge prompt is the user's message, the verdict the reply's first token (default: plain text ending \"Answer: \")." };
        var batch = new Option<int>("--judge-batch") { Description = "Judge prompts per forward.", DefaultValueFactory = _ => 4 };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the policy's samples.", DefaultValueFactory = _ => 1 };
        var threads = new Option<int>("--threads") { Description = "Compute threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var command = new Command("rlaif", "Label pairs of the policy's samples with an AI judge (both orders, confident pairs kept) as preference JSONL.")
        {
            model, judge, prompts, limit, principles, output, minConfidence, temperature, maxNew, template, judgeTemplate, batch, seed, threads,
        };
        command.SetAction(r =>
        {
            int t = r.GetValue(threads);
            if (t <= 0) throw new UserInputException($"--threads: {t} must be positive");
            ComputePool.SetSharedThreads(t);
            return Run(r.GetValue(model)!, r.GetValue(judge)!, r.GetValue(prompts)!, r.GetValue(limit), r.GetValue(principles), r.GetValue(output)!,
                r.GetValue(minConfidence), r.GetValue(temperature), r.GetValue(maxNew), r.GetValue(template), r.GetValue(judgeTemplate), r.GetValue(batch), r.GetValue(seed));
        });
        return command;
    }

    static int Run(string modelPath, string judgePath, string promptsPath, int limit, string? principlesPath, string outPath, double minConfidence,
        float temperature, int maxNewTokens, string? template, string? judgeTemplate, int batch, ulong seed)
    {
        // 1. Every setting and input checked before a model is loaded.
        if (!(minConfidence >= 0.5 && minConfidence <= 1)) throw new UserInputException($"--min-confidence: {minConfidence} must be in [0.5, 1]");
        if (!(temperature > 0) || !float.IsFinite(temperature)) throw new UserInputException($"--temperature: {temperature} must be a finite number > 0");
        if (limit < 0) throw new UserInputException($"--limit: {limit} must be ≥ 0");
        if (batch < 1) throw new UserInputException($"--judge-batch: {batch} must be at least 1");
        string principles = Principles(principlesPath);
        ChatTemplate? judgeChat = null;
        if (judgeTemplate is not null)
            try { judgeChat = ChatTemplate.Named(judgeTemplate); }
            catch (ArgumentException e) { throw new UserInputException("rlaif: --judge-template: " + e.Message); }
        var all = PromptSet.Load(promptsPath);
        var set = limit > 0 && limit < all.Count ? all.GetRange(0, limit) : all;

        var clock = System.Diagnostics.Stopwatch.StartNew();
        // Under mpirun the job starts here: each rank samples and judges its share of the prompts, rank 0 writes them all.
        var world = Job.LaunchedByMpi && Job.World.Size > 1 ? Job.World : SingleProcess.Instance;
        var (policy, chat, judgeModel) = JobFence.Run(world, () => Open(modelPath, judgePath, template), CliRunner.IsUserError);
        using var _p = policy;
        using var _j = judgeModel;
        var modelJudge = new ModelJudge(judgeModel.Loaded, judgeModel.Adapter, batch, judgeChat);

        // 2. Two samples per prompt, then one judge forward per pair and order.
        var generator = new RolloutGenerator(policy.Loaded, chat, maxNewTokens);
        var share = RankedRollouts.Share(world, set.Count);
        var mine = share.Select(i => set[i]).ToList();
        var rollouts = mine.Count == 0 ? [] : generator.Generate(mine.Select(p => p.Prompt).ToList(), 2,
            new SamplingOptions { Temperature = temperature, TopK = 0, TopP = 1, MinP = 0, Seed = seed }, share);
        double sampleSeconds = clock.Elapsed.TotalSeconds;
        var result = AiFeedback.Gather(world, AiFeedback.Label(modelJudge, principles, mine, rollouts), share, set.Count);
        if (!world.IsRoot) return 0;
        int kept = AiFeedback.WritePairs(outPath, set, result.Judged, minConfidence);
        double seconds = clock.Elapsed.TotalSeconds;
        double? meanConfidence = result.Judged.Count == 0 ? null : result.Judged.Average(p => p.Confidence);
        Console.Error.WriteLine($"rlaif: {set.Count} prompts: {result.Judged.Count} pairs labelled ({result.Unjudgeable} with identical or empty samples skipped), " +
            $"{kept} kept at confidence ≥ {minConfidence} → {outPath}");
        BenchSupport.PrintJson(("align", "rlaif"), ("prompts", set.Count), ("labelled", result.Judged.Count), ("unjudgeable", result.Unjudgeable), ("kept", kept),
            ("mean_confidence", meanConfidence), ("min_confidence", minConfidence), ("sample_s", sampleSeconds), ("wall_s", seconds),
            ("peak_rss_mb", BenchSupport.PeakRssMb()));
        return 0;
    }

    // The policy (sampled through the batched engine, so no virtual tokens), its chat template and the judge.
    static (AlignedModel Policy, ChatTemplate Chat, AlignedModel Judge) Open(string modelPath, string judgePath, string? template)
    {
        var policy = AlignedModel.Open(modelPath);
        try
        {
            if (policy.Adapter is not null && policy.Adapter.VirtualTokens > 0)
                throw new UserInputException($"--model: {modelPath}: a {policy.Adapter.Name} run samples through the batched engine, which does not see virtual tokens");
            ChatTemplate chat;
            try { chat = ChatTemplate.Named(template ?? policy.Template ?? ChatTemplate.Detect(policy.Loaded.ChatTemplate).Name); }
            catch (ArgumentException e) { throw new UserInputException("rlaif: --template: " + e.Message); }
            return (policy, chat, AlignedModel.Open(judgePath));
        }
        catch { policy.Dispose(); throw; }
    }

    /// <summary>The principles text: the file's, or the shipped default.</summary>
    internal static string Principles(string? path)
    {
        if (path is null) return AiFeedback.DefaultPrinciples;
        if (!File.Exists(path)) throw new UserInputException($"--principles: {path}: file not found");
        string text = File.ReadAllText(path);
        if (string.IsNullOrWhiteSpace(text)) throw new UserInputException($"--principles: {path}: the file is empty");
        return text;
    }
}
