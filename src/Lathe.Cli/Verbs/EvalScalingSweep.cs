using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Lathe.Evaluation.Scaling;
using Lathe.Formats;
using Lathe.Models;
using Lathe.Training;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe eval scaling sweep --plan plan.json --data SHARDS --out DIR`: makes the runs a plan (`eval scaling
/// plan`) lists — each a `pretrain` of its config for its steps into DIR/runs/NAME, the held-out run last — and records
/// each final validation loss (over the whole validation split) in DIR/runs/NAME/result.json. Resumable: a run with a
/// result is skipped, a run with a checkpoint continues from it, so a killed sweep loses at most one checkpoint
/// interval. At the end it writes DIR/runs.jsonl and DIR/heldout.jsonl for `eval scaling fit`.</summary>
internal static class EvalScalingSweep
{
    internal static Command Create()
    {
        var plan = new Option<string>("--plan") { Description = "Plan written by `lathe eval scaling plan`.", Required = true };
        var data = new Option<string>("--data") { Description = "Token shards (data prepare's folder) every run trains and validates on.", Required = true };
        var output = new Option<string>("--out") { Description = "Sweep folder: runs/NAME/ per run, runs.jsonl and heldout.jsonl.", Required = true };
        var batch = new Option<int>("--batch-size") { Description = "Batch size (batch × block must equal the plan's tokens per step).", DefaultValueFactory = _ => 8 };
        var block = new Option<int>("--block-size") { Description = "Block size.", DefaultValueFactory = _ => 128 };
        var threads = new Option<int>("--threads") { Description = "Compute threads.", DefaultValueFactory = _ => 2 };
        var command = new Command("sweep", "Run a scaling plan's pre-training runs (resumable) and record their final validation losses.")
        {
            plan, data, output, batch, block, threads,
        };
        command.SetAction(r => Run(r.GetValue(plan)!, r.GetValue(data)!, r.GetValue(output)!, r.GetValue(batch), r.GetValue(block), r.GetValue(threads)));
        return command;
    }

    sealed record Planned(string Name, string Config, double Parameters, double Tokens, double Compute, long Steps);

    static int Run(string planPath, string dataDir, string folder, int batch, int block, int threads)
    {
        if (batch <= 0 || block <= 0 || threads <= 0) throw new UserInputException("eval scaling sweep: --batch-size, --block-size and --threads must be positive");
        var (fitted, heldOut, tokensPerStep) = ReadPlan(planPath);
        if (tokensPerStep != (long)batch * block)
            throw new UserInputException($"eval scaling sweep: {planPath}: tokens_per_step {tokensPerStep} is not --batch-size {batch} × --block-size {block}");
        var done = new Dictionary<string, ScalingRun>();
        var all = fitted.Append(heldOut).ToList();
        for (int i = 0; i < all.Count; i++)
        {
            var p = all[i];
            string runDir = Path.Combine(folder, "runs", p.Name), resultPath = Path.Combine(runDir, "result.json");
            if (File.Exists(resultPath)) { done[p.Name] = ScalingRunsFile.Read(resultPath)[0]; Console.Error.WriteLine($"sweep: {p.Name}: done before, loss {done[p.Name].Loss:F4}"); continue; }
            Console.Error.WriteLine($"sweep: run {i + 1}/{all.Count} {p.Name}: {p.Config}, {p.Steps} steps ({p.Tokens:N0} tokens, {p.Tokens / p.Parameters:F1} per parameter)");
            var options = new TrainingOptions
            {
                Steps = (int)p.Steps, BatchSize = batch, BlockSize = block, WarmupSteps = (int)Math.Clamp(p.Steps / 10, 1, 50),
                EvalEvery = (int)p.Steps, EvalBatches = 1_000_000, CheckpointEvery = Math.Max(50, (int)p.Steps / 4), Seed = 1,
            };
            bool resume = Checkpoint.Find(runDir) is not null;
            int code = PretrainVerb.Run(ModelConfig.FromPresetOrFile(p.Config), dataDir, runDir, resume, options, threads, ["steps"], vocabSizeGiven: false);
            if (code != 0) return code;
            double loss = FinalValidationLoss(Path.Combine(runDir, "metrics.jsonl"));
            var run = ScalingRun.Create(p.Name, p.Parameters, p.Tokens, loss, p.Compute);
            ScalingRunsFile.Write(resultPath, [run]);
            done[p.Name] = run;
            Console.Error.WriteLine($"sweep: {p.Name}: validation loss {loss:F4}");
        }
        ScalingRunsFile.Write(Path.Combine(folder, "runs.jsonl"), fitted.Select(p => done[p.Name]).ToList());
        ScalingRunsFile.Write(Path.Combine(folder, "heldout.jsonl"), [done[heldOut.Name]]);
        Console.WriteLine($"sweep: {fitted.Count} runs and the held-out run in {folder}; fit with: lathe eval scaling fit --runs {Path.Combine(folder, "runs.jsonl")} --heldout {Path.Combine(folder, "heldout.jsonl")} --out {folder}");
        return 0;
    }

    static (List<Planned> Fitted, Planned HeldOut, long TokensPerStep) ReadPlan(string path)
    {
        if (!File.Exists(path)) throw new UserInputException($"eval scaling sweep: --plan {path} not found");
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            var root = doc.RootElement;
            if (!root.TryGetProperty("lathe_scaling_plan", out _)) throw new UserInputException($"eval scaling sweep: {path}: not a plan from `eval scaling plan` (no lathe_scaling_plan)");
            Planned Read(JsonElement e, string where) => new(
                e.GetProperty("name").GetString() ?? throw new UserInputException($"eval scaling sweep: {path}: {where}: field 'name' is null"),
                e.GetProperty("config").GetString()!, e.GetProperty("parameters").GetDouble(), e.GetProperty("tokens").GetDouble(),
                e.GetProperty("compute").GetDouble(), e.GetProperty("steps").GetInt64());
            var fitted = root.GetProperty("runs").EnumerateArray().Select((e, i) => Read(e, $"runs[{i}]")).ToList();
            return (fitted, Read(root.GetProperty("held_out"), "held_out"), root.GetProperty("tokens_per_step").GetInt64());
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new UserInputException($"eval scaling sweep: {path}: {e.Message.Split('\n')[0]}");
        }
    }

    // The last validation loss pretrain logged (it evaluates at its final step).
    static double FinalValidationLoss(string metrics) =>
        Lathe.Evaluation.Reports.TrainingMetrics.Load(metrics).LastOrDefault(r => r.ValLoss is not null)?.ValLoss
        ?? throw new InvalidDataException($"{metrics}: no val_loss logged");
}
