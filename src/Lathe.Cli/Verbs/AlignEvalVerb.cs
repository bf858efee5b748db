using System.CommandLine;
using Lathe.Alignment;
using Lathe.Formats;
using Lathe.Tensors.Threading;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe align eval`: one row of the alignment table for a policy — held-out behaviour (fact and arithmetic
/// accuracy, format rate, refusal rate on unsafe prompts, answer rate on benign ones), the mean reward of its replies,
/// and its KL divergence from the reference it started from.</summary>
internal static class AlignEvalVerb
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "The policy: a run of an align verb, or any model folder.", Required = true };
        var reference = new Option<string?>("--reference") { Description = "The reference policy (default: the base the run started from, in its align.json)." };
        var prompts = new Option<string>("--prompts") { Description = "Held-out prompts (JSONL of {\"prompt\",\"kind\",\"answer\"}).", Required = true };
        var template = new Option<string?>("--template") { Description = $"Chat template: {string.Join(", ", ChatTemplate.Names)} (default: the run's, else the model's own)." };
        var maxNew = new Option<int>("--max-new-tokens") { Description = "Longest reply.", DefaultValueFactory = _ => 48 };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the replies sampled for the KL estimate.", DefaultValueFactory = _ => 1 };
        var threads = new Option<int>("--threads") { Description = "Compute threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var samples = new Option<string?>("--log-samples") { Description = "Write every greedy reply and its checks (JSONL) here." };
        var rewards = new RewardOptionSet();
        var command = new Command("eval", "Held-out behaviour, reward and KL to the reference of a policy: one row of the alignment table.")
        {
            model, reference, prompts, template, maxNew, seed, threads, samples,
        };
        rewards.AddTo(command);
        command.SetAction(r =>
        {
            int t = r.GetValue(threads);
            if (t <= 0) throw new UserInputException($"--threads: {t} must be positive");
            ComputePool.SetSharedThreads(t);
            return Run(r.GetValue(model)!, r.GetValue(reference), r.GetValue(prompts)!, r.GetValue(template), r.GetValue(maxNew), r.GetValue(seed),
                rewards.Read(r, "align eval", optional: true), r.GetValue(samples));
        });
        return command;
    }

    static int Run(string modelPath, string? referencePath, string promptsPath, string? template, int maxNew, ulong seed, RewardOptionSet.Choice rewards, string? samplesPath)
    {
        if (maxNew < 1) throw new UserInputException($"--max-new-tokens: {maxNew} must be at least 1");
        var prompts = PromptSet.Load(promptsPath);
        referencePath ??= AlignedModel.ReadSettings(modelPath)?["base"]?.GetValue<string>()
            ?? throw new UserInputException($"align eval: {modelPath} records no base (no align.json); pass --reference");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var policy = AlignedModel.Open(modelPath);
        using var refModel = AlignedModel.Open(referencePath);
        ChatTemplate chat;
        try { chat = ChatTemplate.Named(template ?? policy.Template ?? ChatTemplate.Detect(policy.Loaded.ChatTemplate).Name); }
        catch (ArgumentException e) { throw new UserInputException("align eval: --template: " + e.Message); }
        var (reward, owned) = rewards.Open(policy.Loaded);
        try
        {
            var report = PolicyReport.Run(policy.Loaded, policy.Adapter, refModel.Loaded, refModel.Adapter, chat, reward, prompts, maxNew, seed);
            if (samplesPath is not null) report.HeldOut.WriteSamples(samplesPath);
            var metrics = report.HeldOut.Metrics();
            Console.Error.WriteLine($"align eval: {modelPath}: " + string.Join(", ", metrics.Select(kv => $"{kv.Key} {kv.Value:F3}")) +
                (report.MeanReward is { } m ? $", reward {m:F3}" : "") + $", KL to the reference {report.KlToReference:F3} nats ({report.KlSamples} samples)");
            BenchSupport.PrintJson([("model", modelPath), ("reference", referencePath), .. metrics.Select(kv => (kv.Key, (object?)kv.Value)),
                ("mean_reward", report.MeanReward), ("kl_to_reference", report.KlToReference), ("wall_s", clock.Elapsed.TotalSeconds),
                ("peak_rss_mb", BenchSupport.PeakRssMb())]);
            return 0;
        }
        finally { foreach (var d in owned) d.Dispose(); }
    }
}
